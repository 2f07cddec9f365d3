"""kmeans family: chunked assignment, update, empty-cluster split, init, the
whole algorithm against scikit-learn, memory, and distributed runs."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from torch.library import opcheck

from sslfast import ops

from reference import counter_hash

INIT_FIELD = 0x4B6D496E  # kKmeansInitField in csrc/kernels/kmeans.h
SPLIT_FIELD = 0x4B6D5370  # kKmeansSplitField
EPS = 1 / 1024


def blobs(n=1500, d=6, centers=8, seed=0):
    x, _ = make_blobs(n_samples=n, n_features=d, centers=centers, cluster_std=1.5, random_state=seed)
    return torch.from_numpy(x).float()


# --------------------------------------------------------------------------- assignment
@pytest.mark.parametrize("chunk", [1, 7, 64, None])
@pytest.mark.parametrize("n,k,d", [(1, 1, 1), (50, 3, 5), (301, 17, 33)])
def test_assign_matches_cdist_argmin(n, k, d, chunk, generator):
    x = torch.randn(n, d, generator=generator)
    c = torch.randn(k, d, generator=generator)
    assign, distance = ops.kmeans_assign(x, c, chunk=chunk)
    exact = torch.cdist(x.double(), c.double()).square()
    nearest = exact.min(1).values
    # The chosen centroid is the nearest up to float32 rounding of the expanded form.
    chosen = exact.gather(1, assign.view(-1, 1)).view(-1)
    assert assign.dtype == torch.int64 and distance.dtype == torch.float32
    assert torch.all(chosen <= nearest + 1e-4 * (1 + nearest))
    assert torch.allclose(distance.double(), nearest, rtol=1e-4, atol=1e-4)


def test_assign_ties_go_to_lowest_index():
    x = torch.zeros(4, 2)
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    assign, distance = ops.kmeans_assign(x, c)
    assert assign.tolist() == [0, 0, 0, 0]
    assert distance.tolist() == [1.0, 1.0, 1.0, 1.0]


def test_assign_accepts_noncontiguous_and_other_floats(generator):
    x = torch.randn(8, 40, generator=generator).t()  # [40, 8], not contiguous
    c = torch.randn(5, 8, generator=generator)
    want = ops.kmeans_assign(x.contiguous(), c)
    got = ops.kmeans_assign(x, c)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    got64 = ops.kmeans_assign(x.double(), c.double())
    assert torch.equal(got64[0], want[0])


# --------------------------------------------------------------------------- update and split
def test_update_sums_and_counts_match_numpy(generator):
    x = torch.randn(500, 7, generator=generator)
    assign = torch.randint(0, 9, (500,), generator=generator)
    assign[assign == 4] = 3  # cluster 4 empty
    sums, counts = ops.kmeans_update(x, assign, 10)
    want_sums = np.zeros((10, 7))
    np.add.at(want_sums, assign.numpy(), x.double().numpy())
    assert sums.dtype == torch.float64 and counts.dtype == torch.int64
    np.testing.assert_allclose(sums.numpy(), want_sums, rtol=1e-12, atol=1e-12)
    assert counts.tolist() == np.bincount(assign.numpy(), minlength=10).tolist()


def test_centroids_are_means_without_empty_clusters(generator):
    sums = torch.randn(6, 4, generator=generator, dtype=torch.float64)
    counts = torch.randint(1, 50, (6,), generator=generator)
    previous = torch.randn(6, 4, generator=generator)
    centroids, new_counts = ops.kmeans_centroids(sums, counts, previous, seed=3, round=2)
    assert torch.allclose(centroids.double(), sums / counts.view(-1, 1).double(), rtol=1e-6)
    assert torch.equal(new_counts, counts)


def split_reference(centroids, counts, seed, round_):
    """faiss's split written from the spec, in numpy."""
    c, n = centroids.copy(), counts.copy()
    k = len(n)
    for i in range(k):
        if n[i] != 0:
            continue
        weights = np.maximum(n - 1, 0)
        if weights.sum() == 0:
            break
        target = (counter_hash(seed, round_ * k + i, SPLIT_FIELD) >> 1) % int(weights.sum())
        j = int(np.searchsorted(np.cumsum(weights), target, side="right"))
        even = np.arange(c.shape[1]) % 2 == 0
        up, down = c[j] * np.float32(1 + EPS), c[j] * np.float32(1 - EPS)
        c[i] = np.where(even, up, down)
        c[j] = np.where(even, down, up)
        n[i] = n[j] // 2
        n[j] -= n[i]
    return c, n


@pytest.mark.parametrize("seed", [0, 7, 123])
def test_empty_clusters_are_split_from_large_ones(seed, generator):
    k, d = 12, 5
    counts = torch.randint(2, 40, (k,), generator=generator)
    counts[[1, 5, 6]] = 0
    counts[2] = 1  # a singleton is never split
    previous = torch.randn(k, d, generator=generator)
    sums = previous.double() * counts.view(-1, 1)  # so means equal previous
    centroids, new_counts = ops.kmeans_centroids(sums, counts, previous, seed=seed, round=4)
    want_c, want_n = split_reference(previous.numpy(), counts.numpy(), seed, 4)
    np.testing.assert_allclose(centroids.numpy(), want_c, rtol=1e-6)
    assert new_counts.tolist() == want_n.tolist()
    assert new_counts.sum() == counts.sum() and (new_counts > 0).all()


def test_split_gives_up_when_no_cluster_has_two_points():
    previous = torch.randn(3, 2)
    counts = torch.tensor([1, 0, 1])
    centroids, new_counts = ops.kmeans_centroids(previous.double() * counts.view(-1, 1), counts, previous)
    assert torch.equal(centroids, previous) and torch.equal(new_counts, counts)


# --------------------------------------------------------------------------- init
def test_random_init_takes_the_points_with_the_smallest_keys(generator):
    x = torch.randn(200, 3, generator=generator)
    got = ops.kmeans_init(x, 6, seed=42, method="random")
    keys = [counter_hash(42, i, INIT_FIELD) >> 1 for i in range(200)]
    assert torch.equal(got, x[np.argsort(keys)[:6]])


def test_kmeans_plus_plus_picks_distinct_data_points_far_apart():
    x = blobs(n=600, d=2, centers=5, seed=3)
    centres = ops.kmeans_init(x, 5, seed=1, method="k-means++")
    keys = [counter_hash(1, i, INIT_FIELD) >> 1 for i in range(600)]
    assert torch.equal(centres[0], x[int(np.argmin(keys))])
    rows = [int((x == c).all(1).nonzero()[0]) for c in centres]
    assert len(set(rows)) == 5
    # D^2 sampling spreads the centres over the 5 well-separated blobs.
    _, labels = make_blobs(n_samples=600, n_features=2, centers=5, cluster_std=1.5, random_state=3)
    assert len(set(labels[rows].tolist())) >= 4


# --------------------------------------------------------------------------- the algorithm
@pytest.mark.parametrize("init", ["random", "k-means++"])
@pytest.mark.parametrize("seed", [0, 5])
def test_inertia_within_one_percent_of_sklearn(init, seed):
    x = blobs(n=2000, d=8, centers=10, seed=seed)
    start = ops.kmeans_init(x, 10, seed=seed, method=init)
    ours = ops.kmeans(x, 10, iters=30, seed=seed, init=start)
    theirs = KMeans(10, init=start.double().numpy(), n_init=1, max_iter=30, tol=0, algorithm="lloyd").fit(
        x.double().numpy())
    assert abs(ours.inertia - theirs.inertia_) <= 0.01 * theirs.inertia_
    assert ours.assignments.shape == (2000,) and ours.centroids.shape == (10, 8)
    # The inertia is that of the returned assignments and centroids.
    direct = (x.double() - ours.centroids.double()[ours.assignments]).square().sum().item()
    assert ours.inertia == pytest.approx(direct, rel=1e-5)


def test_named_init_equals_explicit_init():
    x = blobs(seed=2)
    a = ops.kmeans(x, 8, iters=5, seed=9, init="k-means++")
    b = ops.kmeans(x, 8, iters=5, seed=9, init=ops.kmeans_init(x, 8, seed=9))
    assert torch.equal(a.centroids, b.centroids) and torch.equal(a.assignments, b.assignments)


def test_run_seeded_to_make_an_empty_cluster_ends_with_none():
    x = blobs(n=800, d=4, centers=4, seed=1)
    start = ops.kmeans_init(x, 6, seed=0, method="random")
    start[2] = 1e4  # far from every point: empty after the first assignment
    start[4] = -1e4
    assert (ops.kmeans_assign(x, start)[0] == 2).sum() == 0
    result = ops.kmeans(x, 6, iters=10, seed=0, init=start)
    counts = torch.bincount(result.assignments, minlength=6)
    assert (counts > 0).all()
    assert result.centroids.abs().max() < 100


def test_zero_iterations_only_assigns():
    x = blobs(seed=4)
    start = ops.kmeans_init(x, 5, seed=2, method="random")
    result = ops.kmeans(x, 5, iters=0, init=start)
    assert torch.equal(result.centroids, start)
    assert torch.equal(result.assignments, ops.kmeans_assign(x, start)[0])


# --------------------------------------------------------------------------- memory
MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys, torch
    from sslfast import ops
    torch.set_num_threads(2)
    n, k, d = 300_000, 2_000, 4
    x = torch.randn(n, d)
    c = torch.randn(k, d)
    ops.kmeans_assign(x[:1000], c)  # threads and allocator arenas exist before the cap
    with open("/proc/self/statm") as f:
        virtual = int(f.read().split()[0]) * resource.getpagesize()
    cap = virtual + (384 << 20)  # an N x K float32 matrix needs 2.4 GB
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    assign, distance = ops.kmeans_assign(x, c)
    sums, counts = ops.kmeans_update(x, assign, k)
    try:
        torch.cdist(x, c).argmin(1)
        print("cdist fit")
    except (RuntimeError, MemoryError):
        print("cdist failed")
    print("ok", int(counts.sum()))
""")


def test_assignment_memory_is_linear_not_n_times_k():
    out = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.split()
    assert "failed" in out.stdout, "the cap must be too small for an N x K matrix, or the test proves nothing"
    assert lines[-2:] == ["ok", "300000"]


# --------------------------------------------------------------------------- distributed
def _distributed_worker(rank, world, port, x, init, out_dir):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        bounds = [0, 333, x.shape[0]]  # unequal shards
        shard = x[bounds[rank]:bounds[rank + 1]]
        result = ops.kmeans(shard, 7, iters=8, seed=11, init=init, distributed=True)
        torch.save(tuple(result), os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_two_gloo_processes_equal_one(init, tmp_path):
    x = blobs(n=900, d=5, centers=7, seed=6)
    mp.spawn(_distributed_worker, args=(2, _free_port(), x, init, str(tmp_path)), nprocs=2, join=True)
    single = ops.kmeans(x, 7, iters=8, seed=11, init=init)
    parts = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for centroids, _, inertia in parts:
        assert torch.allclose(centroids, single.centroids, rtol=1e-5, atol=1e-6)
        assert inertia == pytest.approx(single.inertia, rel=1e-6)
    assert torch.equal(torch.cat([parts[0][1], parts[1][1]]), single.assignments)


# --------------------------------------------------------------------------- opcheck and bad inputs
def test_opcheck(generator):
    x = torch.randn(40, 6, generator=generator)
    c = torch.randn(5, 6, generator=generator)
    assign = torch.randint(0, 5, (40,), generator=generator)
    opcheck(torch.ops.sslfast.kmeans_assign.default, (x, c, 16))
    opcheck(torch.ops.sslfast.kmeans_update.default, (x, assign, 5))
    sums, counts = ops.kmeans_update(x, assign, 5)
    opcheck(torch.ops.sslfast.kmeans_centroids.default, (sums, counts, c, 1, 0))
    opcheck(torch.ops.sslfast.kmeans_init_keys.default, (3, torch.arange(10)))
    opcheck(torch.ops.sslfast.kmeans_nearest.default, (x, c[0], torch.full((40,), float("inf"))))


X = torch.randn(20, 3)
C = torch.randn(4, 3)
BAD_CALLS = [
    (lambda: ops.kmeans(X.long(), 2), TypeError, "x"),
    (lambda: ops.kmeans([[1.0]], 2), TypeError, "x"),
    (lambda: ops.kmeans(X[0], 2), ValueError, "x"),
    (lambda: ops.kmeans(torch.zeros(20, 0), 2), ValueError, "x"),
    (lambda: ops.kmeans(torch.zeros(0, 3), 2), ValueError, "k"),
    (lambda: ops.kmeans(X.masked_fill(X > 1, float("nan")), 2), ValueError, "x"),
    (lambda: ops.kmeans(X, 0), ValueError, "k"),
    (lambda: ops.kmeans(X, 21), ValueError, "k"),
    (lambda: ops.kmeans(X, 2.0), TypeError, "k"),
    (lambda: ops.kmeans(X, 2, iters=-1), ValueError, "iters"),
    (lambda: ops.kmeans(X, 2, seed=-1), ValueError, "seed"),
    (lambda: ops.kmeans(X, 2, init="kmeans"), ValueError, "init"),
    (lambda: ops.kmeans(X, 2, init=3), TypeError, "init"),
    (lambda: ops.kmeans(X, 2, init=C), ValueError, "init"),
    (lambda: ops.kmeans(X, 2, chunk=0), ValueError, "chunk"),
    (lambda: ops.kmeans(X, 2, distributed=1), TypeError, "distributed"),
    (lambda: ops.kmeans_assign(X, C[:, :2]), ValueError, "centroids"),
    (lambda: ops.kmeans_assign(X, C.int()), TypeError, "centroids"),
    (lambda: ops.kmeans_update(X, torch.zeros(19, dtype=torch.int64), 4), ValueError, "assign"),
    (lambda: ops.kmeans_update(X, torch.zeros(20, dtype=torch.int32), 4), TypeError, "assign"),
    (lambda: ops.kmeans_update(X, torch.full((20,), 4), 4), ValueError, "assign"),
    (lambda: ops.kmeans_update(X, torch.full((20,), -1), 4), ValueError, "assign"),
    (lambda: ops.kmeans_centroids(torch.zeros(4, 3), torch.ones(4, dtype=torch.int64), C), TypeError, "sums"),
    (lambda: ops.kmeans_centroids(torch.zeros(4, 2, dtype=torch.float64), torch.ones(4, dtype=torch.int64), C),
     ValueError, "sums"),
    (lambda: ops.kmeans_centroids(torch.zeros(4, 3, dtype=torch.float64), torch.ones(3, dtype=torch.int64), C),
     ValueError, "counts"),
    (lambda: ops.kmeans_init(X, 2, method="farthest"), ValueError, "method"),
]


@pytest.mark.parametrize("call,error,name", BAD_CALLS)
def test_bad_inputs_name_the_argument(call, error, name):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_rejected():
    with pytest.raises(ValueError, match="^centroids"):
        ops.kmeans_assign(X.cuda(), C)


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_cuda_matches_cpu(init):
    x = blobs(n=3000, d=16, centers=12, seed=8)
    cpu = ops.kmeans(x, 12, iters=10, seed=4, init=init)
    gpu = ops.kmeans(x.cuda(), 12, iters=10, seed=4, init=init)
    assert torch.allclose(gpu.centroids.cpu(), cpu.centroids, rtol=1e-4, atol=1e-5)
    assert (gpu.assignments.cpu() == cpu.assignments).float().mean() > 0.999
    assert gpu.inertia == pytest.approx(cpu.inertia, rel=1e-4)
    sums_cpu = ops.kmeans_update(x, cpu.assignments, 12)
    sums_gpu = ops.kmeans_update(x.cuda(), cpu.assignments.cuda(), 12)
    assert torch.equal(sums_gpu[0].cpu(), sums_cpu[0]) and torch.equal(sums_gpu[1].cpu(), sums_cpu[1])
