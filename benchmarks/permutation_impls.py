"""The jigsaw permutation set: sslfast's C++ greedy with running per-candidate
statistics (O(n * 9!)) beside the naive greedy of the reference
repositories in NumPy/SciPy, which recomputes every candidate's distance to
every chosen permutation at each step (O(n^2 * 9!)).

Both use the ``max_avg`` rule from the same first permutation, so they must
return the same set; that is checked at ``CHECK_N``. The naive greedy at
n = 1000 takes far too long to run here: its per-step time is linear in the
number already chosen, so the report times every step of the first
``NAIVE_STEPS`` and extrapolates the sum to n = 1000 (and says so).
"""
from __future__ import annotations

import itertools
import sys
import time

import numpy as np
import torch
from scipy.spatial.distance import cdist

import sslfast.ops  # noqa: F401  (registers torch.ops.sslfast)

FAMILY = "permutations"
N = 1000
CHECK_N = 20
NAIVE_STEPS = 60
TILES = 9


def sslfast_set(n: int, method: str = "max_avg", seed: int = 0) -> torch.Tensor:
    """Uncached: the op itself, not the Python wrapper's cache."""
    return torch.ops.sslfast.permutation_set(n, TILES, method, seed)[0]


def naive_greedy(n: int, first: int, step_times: list | None = None) -> np.ndarray:
    """The reference repositories' loop: all 9! permutations, delete the chosen
    one, mean Hamming distance of every remaining candidate to the whole
    chosen set by cdist, argmax (first maximum). Appends each step's seconds
    to `step_times` if given."""
    candidates = np.array(list(itertools.permutations(range(TILES))))
    chosen = candidates[first][None]
    candidates = np.delete(candidates, first, axis=0)
    while len(chosen) < n:
        start = time.perf_counter()
        mean_distance = cdist(chosen, candidates, metric="hamming").mean(axis=0)
        # Back to the exact integer distance sums, so that float rounding does
        # not break exact ties differently from sslfast's integer statistics.
        j = int(np.rint(mean_distance * (TILES * len(chosen))).argmax())
        chosen = np.concatenate([chosen, candidates[j][None]])
        candidates = np.delete(candidates, j, axis=0)
        if step_times is not None:
            step_times.append(time.perf_counter() - start)
    return chosen


def first_index(seed: int = 0) -> int:
    """Lexicographic index of the first permutation sslfast draws for `seed`."""
    first = tuple(sslfast_set(2, seed=seed)[0].tolist())
    return next(i for i, p in enumerate(itertools.permutations(range(TILES))) if p == first)


def check_same_set() -> None:
    ours = sslfast_set(CHECK_N)
    theirs = torch.from_numpy(naive_greedy(CHECK_N, first_index()))
    if not torch.equal(ours, theirs):
        raise AssertionError("naive greedy and sslfast.permutation_set disagree")


def naive_extrapolated(n: int, steps: int) -> tuple[float, float]:
    """(measured seconds for the first `steps` steps, fitted seconds for n):
    step k costs a + b * k; the fit is least squares over the measured steps."""
    times: list = []
    naive_greedy(steps + 1, first_index(), times)
    k = np.arange(1, len(times) + 1)
    b, a = np.polyfit(k, np.asarray(times), 1)
    total = float(sum(a + b * j for j in range(1, n)))
    return float(sum(times)), total


def run_report(device: str, quick: bool, out=sys.stdout) -> None:
    if device != "cpu":
        print("\n(permutation_set runs on the host; nothing to time on CUDA)", file=out)
        return
    check_same_set()
    start = time.perf_counter()
    sslfast_set(N)
    ours = time.perf_counter() - start
    steps = NAIVE_STEPS // 3 if quick else NAIVE_STEPS
    measured, fitted = naive_extrapolated(N, steps)
    print(f"\n### permutation_set({N}), 9 tiles, max_avg (cpu)\n", file=out)
    print("| implementation | seconds | ratio (naive / sslfast) |", file=out)
    print("|---|---:|---:|", file=out)
    print(f"| sslfast (C++, running statistics) | {ours:.2f} | 1.00 |", file=out)
    print(f"| naive NumPy/SciPy greedy (reference repos), extrapolated | {fitted:,.0f} | {fitted / ours:,.0f} |",
          file=out)
    print(f"\nThe naive loop was timed for its first {steps} steps ({measured:.1f} s) and its linear per-step cost "
          f"extrapolated to {N}; both give the same set (checked at n = {CHECK_N}).", file=out)
