import pytest
import torch

import sslfast


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available() and sslfast.built_with_cuda():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device and a CUDA build of sslfast")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)


@pytest.fixture(scope="session")
def video_cache(tmp_path_factory):
    """A private sslfast cache folder (generated clips, video scans) shared by
    the video tests; returns the folder of generated clips."""
    from sslfast.data.videos import ensure_videos

    root = tmp_path_factory.mktemp("sslfast-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSLFAST_CACHE", str(root))
        yield ensure_videos()
