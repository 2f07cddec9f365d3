"""pytest-benchmark suite of the render family: scenes per second of
sslfast.ops.render_scenes (3 objects per scene) at 64x64 and 128x128, beside
the numpy oracle on the small batches. The implementations live in
render_impls.py (shared with ``python -m benchmarks.report --family render``).

    .venv/bin/python -m pytest benchmarks/bench_render.py --benchmark-only

Each implementation is first checked against sslfast, and sslfast against
the numpy oracle, outside the timing (render_impls.assert_equivalent).
"""
from __future__ import annotations

import pytest
import torch

from . import render_impls as R
from .common import Unavailable, synchronized

pytestmark = [pytest.mark.bench]


@pytest.fixture(scope="module")
def _references():
    """(shape, device) -> (inputs, sslfast's output checked against the oracle)."""
    return {}


def _timed_callable(references, shape, device, impl):
    """The implementation's timed job for these inputs, after checking it."""
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if (shape, device) not in references:
        inputs = R.make_inputs(shape, device)
        output = next(i for i in R.IMPLS if i.name == R.REFERENCE).build(inputs, device)()
        R.assert_equivalent(output, R.definition(inputs), name=f"{R.REFERENCE} vs definition")
        references[shape, device] = (inputs, output)
    inputs, reference = references[shape, device]
    try:
        job = impl.build(inputs, device)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if impl.name != R.REFERENCE:
        R.assert_equivalent(job(), reference, name=impl.name)
    return inputs, synchronized(job, device)


@pytest.mark.parametrize("impl", R.IMPLS, ids=lambda i: i.id)
@pytest.mark.parametrize("shape", R.SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_render(benchmark, _references, shape, impl, bench_device):
    inputs, job = _timed_callable(_references, tuple(shape), bench_device, impl)
    benchmark.group = f"{R.group_name(shape)} {bench_device}"
    benchmark.extra_info.update(scenes=inputs.batch, note=impl.note)
    benchmark(job)
