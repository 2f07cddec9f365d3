"""Shared plumbing of the benchmark suites: the implementation record, the
equivalence check, timing and allocator control.

An op family's benchmark lives in its own ``<family>_impls.py`` module (see
:mod:`benchmarks.rotate_impls`) and is listed in ``benchmarks.report.FAMILIES``;
this module holds what every family shares.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

try:  # page-fault counts (Linux / macOS); absent elsewhere
    import resource
except ImportError:  # pragma: no cover
    resource = None


class Unavailable(Exception):
    """Raised by an implementation's factory when it cannot run here (library
    missing, device not supported); the suites skip it and say why."""


def require(module: str):
    """Import a peer's optional library, or raise Unavailable saying it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} not installed ({exc})") from None


@dataclass(frozen=True)
class Impl:
    """One implementation of a family's job.

    ``factory(inputs)`` does all per-input preparation that should stay out of
    the timing (building a transform, converting the input to the library's
    native layout) and returns a zero-argument callable that does the timed
    job and returns the output tensor. ``devices`` lists where it can run.
    """

    name: str
    factory: Callable[[Any], Callable[[], torch.Tensor]]
    devices: Sequence[str] = ("cpu", "cuda")
    note: str = ""
    ident: str = field(default="")  # short id for pytest parametrisation

    @property
    def id(self) -> str:
        return self.ident or self.name

    def build(self, inputs, device: str) -> Callable[[], torch.Tensor]:
        if device not in self.devices:
            raise Unavailable(f"{self.name}: runs on {', '.join(self.devices)} only")
        return self.factory(inputs)


def assert_equivalent(actual: torch.Tensor, expected: torch.Tensor, *, name: str, atol: float = 1e-5) -> None:
    """The peer must do the same work: same shape, dtype, device, a dense
    layout, and values within ``atol`` (no relative slack). A job with several
    outputs returns a tuple, compared element by element."""
    if isinstance(expected, tuple):
        if not isinstance(actual, tuple) or len(actual) != len(expected):
            raise AssertionError(f"{name}: expected a tuple of {len(expected)} outputs")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_equivalent(a, e, name=f"{name}[{i}]", atol=atol)
        return
    if not isinstance(actual, torch.Tensor):
        raise AssertionError(f"{name}: returned {type(actual).__name__}, not a tensor")
    if not (actual.is_contiguous() or actual.is_contiguous(memory_format=torch.channels_last)):
        raise AssertionError(f"{name}: output is not dense (strides {actual.stride()})")
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0,
                               msg=lambda m: f"{name} disagrees with the reference:\n{m}")


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def synchronized(fn: Callable[[], Any], device: str) -> Callable[[], Any]:
    """``fn`` followed by a device synchronisation, so a timer sees the work."""
    if not device.startswith("cuda"):
        return fn

    def run():
        out = fn()
        torch.cuda.synchronize()
        return out

    return run


@dataclass
class Timing:
    median_s: float
    min_s: float
    reps: int
    faults_per_call: float | None  # minor page faults per call (CPU runs), None if unknown


def _minor_faults() -> int | None:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt if resource else None


def time_interleaved(fns: Sequence[Callable[[], Any]], device: str, *, warmup: int = 2, rounds: int = 25,
                     min_time_s: float = 0.0, max_rounds: int = 500,
                     clock: Callable[[], float] = time.perf_counter) -> list[Timing]:
    """Median time of each of ``fns``, timed round-robin: every round
    calls each function once (in an order that rotates between rounds), so
    load from other processes on a shared machine hits all of them alike
    instead of whichever happened to be running. Runs ``rounds`` rounds, more
    if the total is under ``min_time_s``; each call is synchronised on CUDA.
    ``clock`` is wall time by default; ``time.process_time`` counts only this
    process's CPU time (see ``cpu_clock``), which other processes on a loaded
    machine do not inflate."""
    for fn in fns:
        for _ in range(warmup):
            fn()
    synchronize(device)
    times: list[list[float]] = [[] for _ in fns]
    faults = [0] * len(fns)
    counted = _minor_faults() is not None
    total, done = 0.0, 0
    while done < max_rounds and (done < rounds or total < min_time_s):
        for j in range(len(fns)):
            i = (j + done) % len(fns)
            f0 = _minor_faults()
            synchronize(device)
            start = clock()
            fns[i]()
            synchronize(device)
            elapsed = clock() - start
            if counted:
                faults[i] += _minor_faults() - f0
            times[i].append(elapsed)
            total += elapsed
        done += 1
    return [Timing(statistics.median(t), min(t), len(t), faults[i] / len(t) if counted else None)
            for i, t in enumerate(times)]


def cpu_clock(threads: int) -> Callable[[], float]:
    """The CPU-time clock for timing CPU ops on a shared, loaded machine: the
    calling thread's CPU time with one thread (torch then runs ops in the
    caller), the whole process's with more (the sum over its threads, so a
    parallel op's figure is its total CPU cost, not its wall time)."""
    return time.thread_time if threads == 1 else time.process_time


def reuse_freed_memory() -> bool:
    """Keep freed heap memory in the process (glibc ``mallopt``), so large
    outputs reuse already-touched pages instead of being mmap'ed afresh and
    page-faulted on every call. Models a steady-state training loop where the
    allocator has warmed up; it changes nothing on CUDA (PyTorch's caching
    allocator already does this). Returns False where unsupported."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1
        ok &= libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1
        return bool(ok)
    except (OSError, AttributeError):
        return False
