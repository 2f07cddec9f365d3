"""kmeans family (DeepCluster): Lloyd's k-means on CPU or CUDA without an
N x K distance matrix, with faiss's empty-cluster split, seeded random or
k-means++ initialisation, and the same clustering on every rank under
``torch.distributed``.

Design. One Lloyd iteration is three native ops:

1. :func:`kmeans_assign`: the points in chunks of ``chunk`` rows; per chunk a
   GEMM (``at::addmm``, i.e. MKL / cuBLAS) writes ``||c||^2 - 2 x.c`` into a
   ``[chunk, K]`` scratch block and our kernel reduces each row to its arg-min
   and adds ``||x||^2``. Memory is O(N + K·D + chunk·K), never O(N·K).
2. :func:`kmeans_update`: per-cluster sums (float64) and counts. Points are
   stably sorted by cluster and each output element sums its cluster's points
   in index order (no atomics), so the sums are deterministic and equal on
   CPU and CUDA.
3. :func:`kmeans_centroids`: means, then every empty cluster copies a large
   cluster's centroid (drawn with probability proportional to its size - 1)
   and the pair is pushed apart by a relative ±1/1024 (faiss's rule).

Under DDP (``distributed=True``) each rank passes its shard of the points
(shards in rank order make the global order); only the sums, counts,
inertia and initial centres cross ranks, so every rank ends with the same
centroids, equal to a single process clustering all the points.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

import torch
import torch.distributed as dist

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import check_choice, check_seed, check_tensor, checking_values

__all__ = ["KMeansResult", "kmeans", "kmeans_assign", "kmeans_update", "kmeans_centroids", "kmeans_init",
           "INIT_METHODS"]

INIT_METHODS = ("k-means++", "random")
# Scratch of one assignment chunk, in float32 values (8 MiB).
CHUNK_VALUES = 1 << 21


class KMeansResult(NamedTuple):
    """``centroids`` float32 ``[K, D]``; ``assignments`` int64 ``[N]`` (this
    rank's points under DDP); ``inertia``: the sum of squared distances of
    all points (every rank's) to their centroids, a float."""

    centroids: torch.Tensor
    assignments: torch.Tensor
    inertia: float


# --------------------------------------------------------------------------- checks
def _int(name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return value


def _points(x, name: str = "x") -> torch.Tensor:
    """x as a contiguous float32 [N, D] tensor with finite values."""
    check_tensor(name, x, dims=2)
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating tensor, got {str(x.dtype).replace('torch.', '')}")
    if x.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one feature (D >= 1), got shape {tuple(x.shape)}")
    x = x.to(torch.float32).contiguous()
    if checking_values() and x.numel():
        # Row chunks, so the check itself stays within the O(chunk) scratch budget.
        rows = max(1, CHUNK_VALUES // x.shape[1])
        finite = torch.stack([torch.isfinite(x[i:i + rows]).all() for i in range(0, x.shape[0], rows)])
        if not finite.all().item():
            raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _chunk(chunk, k: int) -> int:
    return max(1, CHUNK_VALUES // k) if chunk is None else _int("chunk", chunk, 1)


def _world(distributed: bool) -> Tuple[int, int]:
    """(rank, world size) of the run, (0, 1) when not distributed."""
    if not isinstance(distributed, bool):
        raise TypeError(f"distributed: expected a bool, got {type(distributed).__name__}")
    if distributed and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_reduce(t: torch.Tensor, world: int) -> torch.Tensor:
    if world > 1:
        dist.all_reduce(t)
    return t


def _all_gather(t: torch.Tensor, world: int) -> torch.Tensor:
    """[world, *t.shape], rank-major."""
    if world == 1:
        return t.unsqueeze(0)
    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t.contiguous())
    return torch.stack(parts)


# --------------------------------------------------------------------------- the three steps
def kmeans_assign(x: torch.Tensor, centroids: torch.Tensor, *,
                  chunk: Optional[int] = None) -> Tuple[torch.Tensor, torch.Tensor]:
    """Nearest centroid of every point and the squared distance to it.

    Computed chunk by chunk as ``||x||^2 + min_j(||c_j||^2 - 2 x.c_j)``: a
    GEMM per chunk, then our fused arg-min; only a ``[chunk, K]`` block
    exists at a time (default ``chunk = 2**21 // K`` rows, 8 MiB). Ties go to
    the lowest centroid index, as ``torch.argmin``.

    Args:
        x: floating ``[N, D]`` (computed in float32).
        centroids: floating ``[K, D]`` on ``x``'s device.
        chunk: rows per chunk.

    Returns:
        ``(assign, distance)``: int64 ``[N]`` and float32 ``[N]``.
    """
    x = _points(x)
    centroids = _points(centroids, "centroids")
    if centroids.shape[0] == 0 or centroids.shape[1] != x.shape[1]:
        raise ValueError(f"centroids: expected [K >= 1, {x.shape[1]}], got {tuple(centroids.shape)}")
    if centroids.device != x.device:
        raise ValueError(f"centroids: expected device {x.device} (that of x), got {centroids.device}")
    return torch.ops.sslfast.kmeans_assign(x, centroids, _chunk(chunk, centroids.shape[0]))


def kmeans_update(x: torch.Tensor, assign: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Per-cluster sums (float64 ``[k, D]``) and counts (int64 ``[k]``) of the
    points under ``assign`` (int64 ``[N]`` in ``0..k-1``). Deterministic: each
    cluster's points are added in index order."""
    x = _points(x)
    _int("k", k, 1)
    check_tensor("assign", assign, dims=1, dtypes=(torch.int64,))
    if assign.shape[0] != x.shape[0]:
        raise ValueError(f"assign: expected one cluster id per point ({x.shape[0]}), got {assign.shape[0]}")
    if assign.device != x.device:
        raise ValueError(f"assign: expected device {x.device} (that of x), got {assign.device}")
    if checking_values() and assign.numel():
        low, high = torch.aminmax(assign)
        if low.item() < 0 or high.item() >= k:
            raise ValueError(f"assign: expected cluster ids in 0..{k - 1}, got values in {low.item()}..{high.item()}")
    return torch.ops.sslfast.kmeans_update(x, assign.contiguous(), k)


def kmeans_centroids(sums: torch.Tensor, counts: torch.Tensor, previous: torch.Tensor, *, seed: int = 0,
                     round: int = 0) -> Tuple[torch.Tensor, torch.Tensor]:
    """New centroids from sums and counts, with empty clusters split.

    A cluster with points moves to their mean; an empty one copies the
    centroid of a cluster ``j`` drawn with probability proportional to
    ``counts[j] - 1`` (``counter_hash(seed, round * K + i)``), and the two are
    pushed apart: even dimensions of the empty one scaled by ``1 + 1/1024``
    and of ``j`` by ``1 - 1/1024``, odd ones the other way round (faiss).
    ``j``'s count is then shared between the two for later draws.

    Returns:
        ``(centroids, counts)``: float32 ``[K, D]`` and the int64 counts after
        splitting.
    """
    previous = _points(previous, "previous")
    k, d = previous.shape
    check_tensor("sums", sums, dims=2, dtypes=(torch.float64,))
    check_tensor("counts", counts, dims=1, dtypes=(torch.int64,))
    if tuple(sums.shape) != (k, d):
        raise ValueError(f"sums: expected shape {(k, d)} (that of previous), got {tuple(sums.shape)}")
    if counts.shape[0] != k:
        raise ValueError(f"counts: expected {k} counts, got {counts.shape[0]}")
    for name, t in (("sums", sums), ("counts", counts)):
        if t.device != previous.device:
            raise ValueError(f"{name}: expected device {previous.device} (that of previous), got {t.device}")
    check_seed(seed)
    check_seed(round, "round")
    return torch.ops.sslfast.kmeans_centroids(sums.contiguous(), counts.contiguous(), previous, seed, round)


# --------------------------------------------------------------------------- initialisation
def _shard_offset(n: int, rank: int, world: int, device) -> Tuple[int, int]:
    """(global index of this shard's first point, total number of points)."""
    sizes = _all_gather(torch.tensor([n], device=device), world).view(-1).tolist()
    return sum(sizes[:rank]), sum(sizes)


def kmeans_init(x: torch.Tensor, k: int, *, seed: int = 0, method: str = "k-means++",
                distributed: bool = False) -> torch.Tensor:
    """Initial centroids (float32 ``[k, D]``) by ``seed``.

    ``method='random'``: the ``k`` points whose keys
    ``counter_hash(seed, global index)`` are smallest, in key order (faiss's
    default is a random sample too). ``'k-means++'`` (Arthur & Vassilvitskii
    2007): the first centre is the point with the smallest key, each next one
    a point drawn with probability proportional to its squared distance to
    the nearest centre so far (draws from a CPU generator seeded by ``seed``;
    one host sync per centre). Both depend only on the seed and the global
    order of the points, so a sharded run picks the same centres.
    """
    x = _points(x)
    _int("k", k, 1)
    check_seed(seed)
    check_choice("method", method, INIT_METHODS)
    rank, world = _world(distributed)
    n, d = x.shape
    offset, total = _shard_offset(n, rank, world, x.device)
    if total < k:
        raise ValueError(f"k: expected at most as many clusters as points ({total}), got {k}")
    index = torch.arange(offset, offset + n, device=x.device)
    keys = torch.ops.sslfast.kmeans_init_keys(seed, index)
    take = min(k, n) if method == "random" else min(1, n)
    local_keys, local_rows = torch.topk(keys, take, largest=False, sorted=True)
    # Pad every shard's candidates to the same count for the all-gather.
    width = k if method == "random" else 1
    cand_keys = torch.full((width,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=x.device)
    cand_points = x.new_zeros((width, d))
    cand_keys[:take], cand_points[:take] = local_keys, x[local_rows]
    all_keys, all_points = _all_gather(cand_keys, world).view(-1), _all_gather(cand_points, world).view(-1, d)
    chosen = torch.topk(all_keys, width, largest=False, sorted=True).indices
    centres = all_points[chosen]
    if method == "random":
        return centres.contiguous()
    return _plus_plus(x, centres[0], k, seed, rank, world)


def _plus_plus(x: torch.Tensor, first: torch.Tensor, k: int, seed: int, rank: int, world: int) -> torch.Tensor:
    """k-means++ D^2 sampling from ``first``; each draw u * (sum of D^2 over
    all shards) is located with float64 running sums, on the rank owning it."""
    draws = torch.rand(k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).tolist()
    centres = [first.contiguous()]
    best = torch.full((x.shape[0],), float("inf"), device=x.device)
    for i in range(1, k):
        best = torch.ops.sslfast.kmeans_nearest(x, centres[-1], best)
        running = best.double().cumsum(0)
        local_total = running[-1:] if x.shape[0] else running.new_zeros(1)
        totals = _all_gather(local_total, world).view(-1).tolist()
        target = draws[i] * sum(totals)
        owner = next((r for r in range(world) if target < sum(totals[:r + 1])), world - 1)
        centre = x.new_zeros(x.shape[1])
        if rank == owner and x.shape[0]:
            row = torch.searchsorted(running, torch.tensor([target - sum(totals[:owner])], dtype=torch.float64,
                                                           device=x.device), right=True)
            centre = x[row.clamp(max=x.shape[0] - 1)].view(-1).clone()
        centres.append(_all_reduce(centre, world))
    return torch.stack(centres)


# --------------------------------------------------------------------------- the whole algorithm
def kmeans(x: torch.Tensor, k: int, *, iters: int = 20, seed: int = 0,
           init: Union[str, torch.Tensor] = "k-means++", chunk: Optional[int] = None,
           distributed: bool = False) -> KMeansResult:
    """Lloyd's k-means with faiss's empty-cluster split.

    ``iters`` rounds of (assign, update, split), then a last assignment, so
    ``assignments`` and ``inertia`` belong to the returned centroids (as
    scikit-learn's ``labels_`` and ``inertia_``). Runs on ``x``'s device.

    Args:
        x: floating ``[N, D]`` points (computed in float32).
        k: number of clusters, ``1 <= k <= N`` (over all ranks).
        iters: Lloyd iterations (>= 0).
        seed: seeds the initialisation and the split draws.
        init: ``'k-means++'`` (default), ``'random'``, or float ``[k, D]``
            initial centroids.
        chunk: rows per assignment chunk (default ``2**21 // k``).
        distributed: ``x`` is this rank's shard (rank order = global order);
            sums, counts and inertia are all-reduced over the default process
            group so every rank gets the same centroids.

    Returns:
        :class:`KMeansResult` ``(centroids, assignments, inertia)``.
    """
    x = _points(x)
    _int("k", k, 1)
    _int("iters", iters, 0)
    check_seed(seed)
    rank, world = _world(distributed)
    if isinstance(init, torch.Tensor):
        centroids = _points(init, "init")
        if tuple(centroids.shape) != (k, x.shape[1]):
            raise ValueError(f"init: expected shape {(k, x.shape[1])}, got {tuple(centroids.shape)}")
        if centroids.device != x.device:
            raise ValueError(f"init: expected device {x.device} (that of x), got {centroids.device}")
    elif isinstance(init, str):
        centroids = kmeans_init(x, k, seed=seed, method=check_choice("init", init, INIT_METHODS),
                                distributed=distributed)
    else:
        raise TypeError(f"init: expected 'k-means++', 'random' or a tensor, got {type(init).__name__}")
    rows = _chunk(chunk, k)
    for round_ in range(iters):
        assign, _ = torch.ops.sslfast.kmeans_assign(x, centroids, rows)
        sums, counts = torch.ops.sslfast.kmeans_update(x, assign, k)
        _all_reduce(sums, world)
        _all_reduce(counts, world)
        centroids, _ = torch.ops.sslfast.kmeans_centroids(sums, counts, centroids, seed, round_)
    assign, distance = torch.ops.sslfast.kmeans_assign(x, centroids, rows)
    inertia = _all_reduce(distance.double().sum().view(1), world)
    return KMeansResult(centroids, assign, float(inertia.item()))


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::kmeans_assign")
def _kmeans_assign_fake(x, centroids, chunk):
    torch._check(x.dim() == 2 and centroids.dim() == 2 and centroids.shape[1] == x.shape[1])
    n = x.shape[0]
    return x.new_empty((n,), dtype=torch.int64), x.new_empty((n,))


@torch.library.register_fake("sslfast::kmeans_update")
def _kmeans_update_fake(x, assign, k):
    torch._check(x.dim() == 2 and assign.dim() == 1)
    return x.new_empty((k, x.shape[1]), dtype=torch.float64), x.new_empty((k,), dtype=torch.int64)


@torch.library.register_fake("sslfast::kmeans_centroids")
def _kmeans_centroids_fake(sums, counts, previous, seed, round):
    torch._check(previous.dim() == 2 and sums.shape == previous.shape)
    return torch.empty_like(previous), torch.empty_like(counts)


@torch.library.register_fake("sslfast::kmeans_init_keys")
def _kmeans_init_keys_fake(seed, index):
    return torch.empty_like(index)


@torch.library.register_fake("sslfast::kmeans_nearest")
def _kmeans_nearest_fake(x, center, best):
    torch._check(x.dim() == 2 and best.dim() == 1)
    return torch.empty_like(best)
