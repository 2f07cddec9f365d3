"""pytest-benchmark suite of the patch family: the jigsaw recipe and context
pairs (sslfast's sampler + fused gather against torch, kornia and
albumentations doing the same job; jigsaw_impls.py and context_impls.py,
shared with ``python -m benchmarks.report``), and permutation_set beside the
naive NumPy greedy (permutation_impls.py).

    .venv/bin/python -m pytest benchmarks/bench_patches.py --benchmark-only

One benchmark group per job, batch shape and device; each peer is first
checked against sslfast (within the job's ATOL), and sslfast against the
job's definition, outside the timing.
"""
from __future__ import annotations

import pytest
import torch

from . import context_impls, jigsaw_impls
from . import permutation_impls as P
from .common import Unavailable, assert_equivalent, synchronized

pytestmark = [pytest.mark.bench]
JOBS = [jigsaw_impls, context_impls]


@pytest.fixture(scope="module")
def _cache():
    return {}


def _reference(cache, job, shape, device):
    """Inputs and sslfast's output for (job, shape, device), checked against
    the definition once per module."""
    key = (job.FAMILY, tuple(shape), device)
    if key not in cache:
        inputs = job.make_inputs(shape, device)
        reference = next(i for i in job.IMPLS if i.name == job.REFERENCE).build(inputs, device)()
        assert_equivalent(reference, job.definition(inputs), name=f"{job.REFERENCE} vs definition", atol=job.ATOL)
        cache[key] = (inputs, reference)
    return cache[key]


@pytest.mark.parametrize("job, impl", [(job, impl) for job in JOBS for impl in job.IMPLS],
                         ids=lambda v: getattr(v, "FAMILY", None) or v.id)
@pytest.mark.parametrize("shape", jigsaw_impls.SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_patches(benchmark, _cache, job, impl, shape, bench_device):
    if bench_device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    inputs, reference = _reference(_cache, job, shape, bench_device)
    try:
        fn = impl.build(inputs, bench_device)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if impl.name != job.REFERENCE:
        assert_equivalent(fn(), reference, name=impl.name, atol=job.ATOL)
    benchmark.group = f"{job.group_name(shape)} {bench_device}"
    benchmark.extra_info.update(images=inputs.batch, note=impl.note)
    benchmark(synchronized(fn, bench_device))


def test_permutation_set_1000(benchmark):
    P.check_same_set()
    benchmark.group = f"permutation_set({P.N})"
    benchmark.pedantic(P.sslfast_set, args=(P.N,), rounds=3, iterations=1)


def test_permutation_set_naive_prefix(benchmark):
    """The naive greedy's first steps only (the whole n = 1000 run takes tens
    of minutes); ``python -m benchmarks.report --family permutations``
    extrapolates it."""
    first = P.first_index()
    benchmark.group = f"permutation_set({P.N})"
    benchmark.extra_info.update(steps=P.NAIVE_STEPS)
    benchmark.pedantic(P.naive_greedy, args=(P.NAIVE_STEPS + 1, first), rounds=1, iterations=1)
