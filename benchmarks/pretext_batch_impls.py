"""Pretext batch rate of the jigsaw, context and DeepCluster tasks: each
task's ``make_batch`` with the fused sslfast ops (``batch_ops="sslfast"``)
beside the same batch built with plain torch (``batch_ops="torch"``:
advanced indexing, reductions, ``F.interpolate``, ``conv2d``), from a uint8
batch to the network's float32 input and labels.

The two agree (checked once outside the timing: labels equal, inputs within
a tolerance; context's colour-dropping noise differs by construction, so its
check runs without dropping). Images/s = batch size / median time.
"""
from __future__ import annotations

import sys

import torch

from sslfast.tasks import get_task

from .common import synchronized, time_interleaved

FAMILY = "pretext_batches"
BATCH = 64
SIZES = (32, 96)
QUICK_SIZES = (32,)
TASKS = {"jigsaw": {}, "context": {"drop": 1.0}, "deepcluster": {}}  # context timed with colour dropping


def _task(name: str, batch_ops: str, **options):
    task = get_task(name, batch_ops=batch_ops, **options)
    if name == "deepcluster":
        task.set_labels(torch.arange(BATCH) % task.k)
    return task


def _check(name: str, images, index) -> None:
    options = {"drop": 0.0} if name == "context" else {}
    fused = _task(name, "sslfast", **options).make_batch(images, index, 0)
    plain = _task(name, "torch", **options).make_batch(images, index, 0)
    assert torch.equal(fused[1], plain[1]), f"{name}: labels differ"
    torch.testing.assert_close(plain[0], fused[0], atol=0.05, rtol=0)


def run_report(device: str, quick: bool, out=sys.stdout) -> None:
    gen = torch.Generator().manual_seed(0)
    for size in QUICK_SIZES if quick else SIZES:
        images = torch.randint(0, 256, (BATCH, 3, size, size), dtype=torch.uint8, generator=gen).to(device)
        index = torch.arange(BATCH, device=device)
        print(f"\n### pretext batches, {BATCH} images of {size} px ({device})\n", file=out)
        print("| task | sslfast ms | torch ms | sslfast images/s | ratio (torch / sslfast) |", file=out)
        print("|---|---:|---:|---:|---:|", file=out)
        for name, options in TASKS.items():
            _check(name, images, index)
            fns = [synchronized(lambda t=_task(name, ops, **options): t.make_batch(images, index, 0), device)
                   for ops in ("sslfast", "torch")]
            fused, plain = time_interleaved(fns, device, warmup=2, rounds=5 if quick else 25)
            print(f"| {name} | {fused.median_s * 1e3:.2f} | {plain.median_s * 1e3:.2f} | "
                  f"{BATCH / fused.median_s:,.0f} | {plain.median_s / fused.median_s:.2f} |", file=out)
