"""pytest-benchmark suite of the mask family: sampling + applying random
blocks beside torchvision's and kornia's RandomErasing and a batched torch
masked_fill (see mask_impls.py).

    .venv/bin/python -m pytest benchmarks/bench_mask.py --benchmark-only
"""
from __future__ import annotations

import pytest

from . import mask_impls
from .suite import cases, run_benchmark

pytestmark = [pytest.mark.bench]


@pytest.fixture(scope="module")
def _cache():
    return {}


@pytest.mark.parametrize("module, shape, impl", cases(mask_impls))
def test_mask(benchmark, _cache, module, shape, impl, bench_device):
    run_benchmark(benchmark, _cache, module, shape, impl, bench_device)
