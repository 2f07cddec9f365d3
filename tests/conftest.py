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
