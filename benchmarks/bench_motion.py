"""pytest-benchmark suite of the motion family: sslfast.ops.frame_motion
beside torch and OpenCV doing the same job (motion_impls.py, shared with
``python -m benchmarks.report --family motion``). The end-to-end frame-tuple
loader comparison (decord and OpenCV loaders) is ``--family video_tuples``.

    .venv/bin/python -m pytest benchmarks/bench_motion.py --benchmark-only
"""
from __future__ import annotations

import pytest
import torch

from . import motion_impls as M
from .common import Unavailable, assert_equivalent, synchronized

pytestmark = [pytest.mark.bench]


@pytest.mark.parametrize("impl", M.IMPLS, ids=lambda i: i.id)
@pytest.mark.parametrize("shape", M.SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_motion(benchmark, shape, impl, bench_device):
    if bench_device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    inputs = M.make_inputs(shape, bench_device)
    try:
        fn = impl.build(inputs, bench_device)
    except Unavailable as exc:
        pytest.skip(str(exc))
    assert_equivalent(fn().to(bench_device), M.definition(inputs), name=impl.name, atol=M.ATOL)
    benchmark.group = f"{M.group_name(shape)} {bench_device}"
    benchmark.extra_info.update(images=inputs.batch, note=impl.note)
    benchmark(synchronized(fn, bench_device))


def test_video_tuples_report(capsys):
    """The end-to-end loader table, printed (timed by hand, not by pytest-benchmark)."""
    from . import video_impls

    video_impls.run_report("cpu", quick=True)
    assert "tuples/s" in capsys.readouterr().out
