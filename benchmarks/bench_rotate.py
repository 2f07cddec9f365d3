"""pytest-benchmark suite of the rotate family: sslfast.ops.rotate90 fused
(turn + uint8->float32 + normalise) against torch, kornia, numpy, opencv and
albumentations doing the same job. The implementations live in
rotate_impls.py (shared with ``python -m benchmarks.report``).

    .venv/bin/python -m pytest benchmarks/bench_rotate.py --benchmark-only

One benchmark group per batch shape and device; each implementation is first
checked against sslfast (atol 1e-5), and sslfast against the job's definition,
outside the timing.
"""
from __future__ import annotations

import pytest
import torch

from . import rotate_impls as R
from .common import Unavailable, assert_equivalent, synchronized

pytestmark = [pytest.mark.bench]


@pytest.fixture(scope="module")
def _cache():
    return {}


def _device_ok(device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")


def _reference(cache, shape, device):
    """Inputs and sslfast's output for (shape, device), checked against the
    definition once per module."""
    key = (tuple(shape), device)
    if key not in cache:
        inputs = R.make_inputs(shape, device)
        ref_impl = next(i for i in R.IMPLS if i.name == R.REFERENCE)
        reference = ref_impl.build(inputs, device)()
        assert_equivalent(reference, R.definition(inputs), name=f"{R.REFERENCE} vs definition")
        cache[key] = (inputs, reference)
    return cache[key]


@pytest.mark.parametrize("impl", R.IMPLS, ids=lambda i: i.id)
@pytest.mark.parametrize("shape", R.SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_rotate(benchmark, _cache, shape, impl, bench_device):
    _device_ok(bench_device)
    inputs, reference = _reference(_cache, shape, bench_device)
    try:
        fn = impl.build(inputs, bench_device)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if impl.name != R.REFERENCE:
        assert_equivalent(fn(), reference, name=impl.name)
    benchmark.group = f"{R.group_name(shape)} {bench_device}"
    benchmark.extra_info.update(images=inputs.batch, note=impl.note)
    benchmark(synchronized(fn, bench_device))
