"""pytest-benchmark suite of the kmeans family: the assignment step
(sslfast's chunked GEMM + fused arg-min against torch.cdist + argmin and the
unchunked expanded form) and one Lloyd iteration (sslfast against
scikit-learn), at the report's quick size N=20,000, D=256, K=1,000. The
full-size table with peak memory is ``python -m benchmarks.report --family
kmeans``; the implementations live in kmeans_impls.py.

    .venv/bin/python -m pytest benchmarks/bench_kmeans.py --benchmark-only
"""
from __future__ import annotations

import pytest
import torch

from sslfast import ops

from . import kmeans_impls as K

pytestmark = [pytest.mark.bench]


@pytest.fixture(scope="module")
def points():
    n, d, k = K.QUICK_SHAPE
    return K.make_points(n, d, k)


@pytest.mark.parametrize("name", list(K.assignment_impls(torch.zeros(1, 1), torch.zeros(1, 1))))
def test_assignment(benchmark, points, name, bench_device):
    if bench_device != "cpu":
        pytest.skip("the kmeans comparison is on the CPU")
    x, init = points
    impls = K.assignment_impls(x, init)
    assign, _ = impls[name]()
    reference, _ = ops.kmeans_assign(x, init)
    assert (assign == reference).float().mean() > 0.999
    benchmark.group = f"kmeans assignment {x.shape[0]}x{x.shape[1]}, K={init.shape[0]}"
    benchmark(impls[name])


@pytest.mark.parametrize("library", ["sslfast", "sklearn"])
def test_lloyd_iteration(benchmark, points, library, bench_device):
    if bench_device != "cpu":
        pytest.skip("the kmeans comparison is on the CPU")
    from sklearn.cluster import KMeans

    x, init = points
    k = init.shape[0]
    if library == "sslfast":
        def fit():
            return ops.kmeans(x, k, iters=1, init=init)
    else:
        def fit():
            return KMeans(k, init=init.numpy(), n_init=1, max_iter=1, tol=0, algorithm="lloyd").fit(x.numpy())
    benchmark.group = f"kmeans one Lloyd iteration {x.shape[0]}x{x.shape[1]}, K={k}"
    benchmark.pedantic(fit, rounds=3, iterations=1)
