"""pytest-benchmark suites of the resize family: sr_pair (SRGAN pairs), plain
uint8 resize, Sobel and grayscale, each beside its peers in the same run (see
sr_pair_impls.py, resize_impls.py, sobel_impls.py, grayscale_impls.py).

    .venv/bin/python -m pytest benchmarks/bench_resize.py --benchmark-only
"""
from __future__ import annotations

import pytest

from . import grayscale_impls, resize_impls, sobel_impls, sr_pair_impls
from .suite import cases, run_benchmark

pytestmark = [pytest.mark.bench]


@pytest.fixture(scope="module")
def _cache():
    return {}


@pytest.mark.parametrize("module, shape, impl", cases(sr_pair_impls, resize_impls, sobel_impls, grayscale_impls))
def test_resize_family(benchmark, _cache, module, shape, impl, bench_device):
    run_benchmark(benchmark, _cache, module, shape, impl, bench_device)
