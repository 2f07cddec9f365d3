"""Markdown timing tables for the op families: sslfast against its peers.

    python -m benchmarks.report [--quick] [--device cpu|cuda] [--family NAME|all] [--threads N] [--cpu-time]
                                [--reuse-freed-memory]    (NAME: a key of FAMILIES below)

For every family and batch shape it times each implementation (warm-up, then
the median of repeated calls, taken round-robin across the implementations so
that load from other processes hits all of them alike; on CUDA every call is
synchronised), checks once
that each one matches the reference (sslfast) and prints a table:
implementation, median ms, images/s, and ratio = peer time / sslfast time
(> 1 means sslfast is faster), then the ratio to the fastest peer.

Adding a family: write ``benchmarks/<family>_impls.py`` exposing FAMILY,
REFERENCE, SHAPES, QUICK_SHAPES, IMPLS (a list of common.Impl), make_inputs,
group_name, bytes_moved and definition (see rotate_impls.py), optionally ATOL
(the equivalence tolerance, default 1e-5), and list it in FAMILIES below;
bench_<family>.py can reuse the same module. A job that is not a batch of
images exposes ``run_report(device, quick, out)`` instead and prints its own
table (see permutation_impls.py). A module may define its own
``assert_equivalent`` (same signature as common's) where outputs legitimately
differ beyond a fixed tolerance (see render_impls.py).
"""
from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys

import torch

from .common import Unavailable, assert_equivalent, cpu_clock, reuse_freed_memory, synchronized, time_interleaved

# family -> module with its implementations
FAMILIES = {
    "rotate": "benchmarks.rotate_impls",
    "jigsaw": "benchmarks.jigsaw_impls",
    "context": "benchmarks.context_impls",
    "permutations": "benchmarks.permutation_impls",
    "render": "benchmarks.render_impls",
    "rgb_to_lab": "benchmarks.lab_impls",
    "colorization": "benchmarks.colorization_impls",
    "sr_pair": "benchmarks.sr_pair_impls",
    "resize": "benchmarks.resize_impls",
    "sobel": "benchmarks.sobel_impls",
    "grayscale": "benchmarks.grayscale_impls",
    "mask": "benchmarks.mask_impls",
    "kmeans": "benchmarks.kmeans_impls",
    "pretext_batches": "benchmarks.pretext_batch_impls",
    "motion": "benchmarks.motion_impls",
    "video_tuples": "benchmarks.video_impls",
}


def load_family(name: str):
    return importlib.import_module(FAMILIES[name])


def _fmt_rate(images_per_s: float) -> str:
    return f"{images_per_s:,.0f}"


def run_family(module, device: str, quick: bool, out=sys.stdout, clock=None) -> None:
    if hasattr(module, "run_report"):  # a family with its own table (not a batch of images)
        module.run_report(device, quick, out)
        return
    atol = getattr(module, "ATOL", 1e-5)  # equivalence tolerance of the family's job
    shapes = module.QUICK_SHAPES if quick else module.SHAPES
    timer_args = dict(warmup=1, rounds=5) if quick else dict(warmup=3, rounds=30, min_time_s=5.0)
    if clock is not None:
        timer_args["clock"] = clock
    for shape in shapes:
        inputs = module.make_inputs(shape, device)
        batch = inputs.batch
        print(f"\n### {module.group_name(shape)} ({device})\n", file=out)
        reference_fn = next(i for i in module.IMPLS if i.name == module.REFERENCE).build(inputs, device)
        reference = reference_fn()
        # sslfast is checked against the job's definition; the peers against sslfast
        # (with the family's own check where exact agreement is not the job's).
        check = getattr(module, "assert_equivalent", assert_equivalent)
        check(reference, module.definition(inputs), name=f"{module.REFERENCE} vs definition", atol=atol)
        impls, fns, skipped = [], [], []
        for impl in module.IMPLS:
            try:
                fn = impl.build(inputs, device)
            except Unavailable as exc:
                skipped.append((impl.name, str(exc)))
                continue
            if impl.name != module.REFERENCE:
                check(fn(), reference, name=impl.name, atol=atol)
            impls.append(impl)
            fns.append(synchronized(fn, device))
        del reference
        results = list(zip(impls, time_interleaved(fns, device, **timer_args)))
        del fns
        ref_time = next(t for i, t in results if i.name == module.REFERENCE).median_s
        show_faults = device == "cpu" and all(t.faults_per_call is not None for _, t in results)
        header = "| implementation | median ms | images/s | ratio (peer / sslfast) |"
        rule = "|---|---:|---:|---:|"
        if show_faults:
            header += " page faults/call |"
            rule += "---:|"
        print(header, file=out)
        print(rule, file=out)
        for impl, timing in results:
            row = (f"| {impl.name} | {timing.median_s * 1e3:.2f} | {_fmt_rate(batch / timing.median_s)} | "
                   f"{timing.median_s / ref_time:.2f} |")
            if show_faults:
                row += f" {timing.faults_per_call:,.0f} |"
            print(row, file=out)
        for name, why in skipped:
            print(f"| {name} | skipped: {why} | | |" + (" |" if show_faults else ""), file=out)
        # Variants of our own op ("sslfast channels_last") are not peers.
        peers = [(i, t) for i, t in results if not i.name.startswith(module.REFERENCE)]
        if peers:
            best, best_t = min(peers, key=lambda p: p[1].median_s)
            ratio = best_t.median_s / ref_time
            verdict = "faster" if ratio > 1 else "slower"
            print(f"\nFastest peer: {best.name} ({best_t.median_s * 1e3:.2f} ms); ratio fastest peer / sslfast = "
                  f"{ratio:.2f} (sslfast is {max(ratio, 1 / ratio):.2f}x {verdict}).", file=out)
        if hasattr(module, "bytes_moved"):
            moved = module.bytes_moved(inputs)
            print(f"sslfast achieved bandwidth: {moved / ref_time / 1e9:.1f} GB/s "
                  f"({moved / 1e6:.1f} MB read + written per call).", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--family", choices=(*FAMILIES, "all"), default="all")
    parser.add_argument("--reuse-freed-memory", action="store_true",
                        help="CPU: keep freed heap memory (glibc mallopt) so outputs reuse touched pages; "
                             "removes first-touch page faults from every implementation's timing")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--cpu-time", action="store_true",
                        help="CPU: time each call by this process's CPU time instead of wall time (one thread: "
                             "the calling thread's), which other processes on a loaded machine do not inflate")
    args = parser.parse_args(argv)

    if args.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device available here; nothing to time.")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    allocator = "default"
    if args.reuse_freed_memory:
        allocator = "freed memory reused (mallopt)" if reuse_freed_memory() else "mallopt unavailable: default"

    import sslfast
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"{platform.processor() or platform.machine()}"
    print(f"# sslfast benchmarks ({'quick' if args.quick else 'full'})\n")
    print(f"device: {args.device} ({where}); torch {torch.__version__}, {torch.get_num_threads()} threads "
          f"on {os.cpu_count()} CPUs; sslfast {sslfast.__version__}; allocator: {allocator}; "
          f"load average at start {_load()}")
    clock = cpu_clock(torch.get_num_threads()) if args.cpu_time and args.device == "cpu" else None
    if clock is not None:
        print(f"timing: per-call CPU time ({clock.__name__}), not wall time")
    families = list(FAMILIES) if args.family == "all" else [args.family]
    for name in families:
        print(f"\n## {name}")
        run_family(load_family(name), args.device, args.quick, clock=clock)
    print(f"\nload average at end {_load()} (other processes on the machine skew the timings, "
          f"multi-threaded implementations most)")
    return 0


def _load() -> str:
    try:
        return "%.2f" % os.getloadavg()[0]
    except (OSError, AttributeError):
        return "n/a"


if __name__ == "__main__":
    sys.exit(main())
