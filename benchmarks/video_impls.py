"""Frame tuples end to end: decode + mine + assemble, in tuples per second.

The job: for ``B`` draws of the tuple miner over the built-in clips, the
normalised float32 tuples ``[B, 3, 3, crop, crop]`` whose three frames and
crop place are those sslfast's samplers choose (so every loader produces the
same batch; checked once, within decoder rounding). Timed:

- sslfast: :class:`~sslfast.data.VideoTuples` (readers opened once and
  kept, ``num_threads=1``, the five window frames a..e in one sorted
  ``get_batch``) then :func:`~sslfast.data.frame_tuples` (sampler +
  ``gather_patches``: crop, scale and normalise in one pass). Decode and
  assembly are also timed apart.
- sslfast, clips kept decoded: the same with ``keep_decoded`` (each clip
  decoded whole once per process, every later tuple cut from memory), as
  the built-in ``videos`` data set runs; its time includes that first
  decode of every clip, spread over the timed batches.
- naive decord: what a typical ``Dataset.__getitem__`` does: a new
  ``VideoReader`` per tuple with decord's default threads, ``get_batch`` of
  the three frames in tuple order, crop and normalise in NumPy, stack.
- OpenCV: a new ``cv2.VideoCapture`` per tuple, seek to the first needed
  frame (``CAP_PROP_POS_FRAMES``), read forward to the last, keep the three,
  BGR->RGB, crop and normalise in NumPy.

Everything runs in the main process (no DataLoader workers), on this
machine's CPU, at the clips' native 64 px (crop 56).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import torch

from sslfast.data.video import VideoFolder, VideoTuples, frame_tuples
from sslfast.data.videos import CODE_ROWS, ensure_videos
from sslfast import ops

FAMILY = "video_tuples"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SEED = 7


def _data(keep_decoded: int = 0) -> VideoTuples:
    cache = os.environ.get("SSLFAST_CACHE") or os.path.join(tempfile.gettempdir(), "sslfast-bench-cache")
    os.environ["SSLFAST_CACHE"] = cache
    folder = VideoFolder(os.path.join(ensure_videos(), "train"), keep_decoded=keep_decoded)
    return VideoTuples(folder, crop_top=CODE_ROWS, seed=SEED)


def plan(data: VideoTuples, index: torch.Tensor, crop: int):
    """Per draw: (path, three frame numbers in tuple order, crop y, crop x), and labels,
    from the same miner and samplers sslfast uses."""
    h = w = data.folder.videos[0].width
    src, origins, labels = ops.sample_tuples(SEED, index, 5, (h, w), crop, positive=0.25)
    jobs = []
    for row, i in enumerate(index.tolist()):
        video, chosen = data.miner.draw(i)
        frames = [chosen[int(s) - 5 * row] for s in src[row]]
        y, x = origins[row, 0].tolist()
        jobs.append((data.folder.videos[video].path, frames, y + CODE_ROWS, x))
    return jobs, labels


def _normalise(frames: np.ndarray, y: int, x: int, crop: int) -> np.ndarray:
    """HWC uint8 frames -> normalised float32 [3, C, crop, crop]."""
    patch = frames[:, y:y + crop, x:x + crop].astype(np.float32) / 255
    return ((patch - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)).transpose(0, 3, 1, 2)


def ours(data: VideoTuples, index: torch.Tensor, crop: int, times: dict):
    start = time.perf_counter()
    frames = torch.stack([data[i][0] for i in index.tolist()])
    decoded = time.perf_counter()
    tuples, labels = frame_tuples(frames, index, SEED, crop=crop, mean=MEAN, std=STD)
    times["decode"] += decoded - start
    times["assemble"] += time.perf_counter() - decoded
    return tuples, labels


def naive_decord(jobs, crop: int) -> torch.Tensor:
    import decord

    out = []
    for path, frames, y, x in jobs:
        reader = decord.VideoReader(path)
        out.append(_normalise(reader.get_batch(frames).asnumpy(), y, x, crop))
    return torch.from_numpy(np.stack(out))


def opencv_capture(jobs, crop: int) -> torch.Tensor:
    import cv2

    out = []
    for path, frames, y, x in jobs:
        capture = cv2.VideoCapture(path)
        first, last = min(frames), max(frames)
        capture.set(cv2.CAP_PROP_POS_FRAMES, first)
        kept = {}
        for number in range(first, last + 1):
            ok, frame = capture.read()
            if not ok:
                raise RuntimeError(f"{path}: frame {number} did not decode")
            if number in frames:
                kept[number] = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        capture.release()
        out.append(_normalise(np.stack([kept[f] for f in frames]), y, x, crop))
    return torch.from_numpy(np.stack(out))


def run_report(device: str, quick: bool, out=sys.stdout) -> None:
    data = _data()
    crop, batch = 56, 64
    batches = 3 if quick else 10
    rounds = [torch.arange(b * batch, (b + 1) * batch) * 37 % len(data) for b in range(batches)]
    # Same job check, once: decord and OpenCV convert YUV to RGB slightly differently.
    jobs, labels = plan(data, rounds[0], crop)
    times = {"decode": 0.0, "assemble": 0.0}
    reference, want_labels = ours(data, rounds[0], crop, times)
    assert torch.equal(labels, want_labels)
    for name, peer in (("naive decord", naive_decord), ("OpenCV VideoCapture", opencv_capture)):
        difference = (peer(jobs, crop) - reference).abs().mean().item() * STD[1] * 255
        if difference > 3:
            raise AssertionError(f"{name}: tuples differ from sslfast's by {difference:.2f} grey levels on average")
    kept = _data(keep_decoded=1 << 30)
    totals = {"sslfast": 0.0, "sslfast, clips kept decoded": 0.0, "naive decord": 0.0, "OpenCV VideoCapture": 0.0}
    times = {"decode": 0.0, "assemble": 0.0}
    kept_times = {"decode": 0.0, "assemble": 0.0}
    for index in rounds:  # round-robin, so machine load hits all alike
        jobs, _ = plan(data, index, crop)
        for name, source, split in (("sslfast", data, times), ("sslfast, clips kept decoded", kept, kept_times)):
            start = time.perf_counter()
            ours(source, index, crop, split)
            totals[name] += time.perf_counter() - start
        for name, peer in (("naive decord", naive_decord), ("OpenCV VideoCapture", opencv_capture)):
            start = time.perf_counter()
            peer(jobs, crop)
            totals[name] += time.perf_counter() - start
    count = batch * batches
    print(f"\n### frame tuples, {count} tuples in batches of {batch}, 64 px clips, crop {crop} ({device}: CPU "
          f"decode)\n", file=out)
    print("| loader | tuples/s | ms per batch | ratio (peer time / sslfast) |", file=out)
    print("|---|---:|---:|---:|", file=out)
    for name, total in totals.items():
        print(f"| {name} | {count / total:,.0f} | {total / batches * 1e3:.1f} | {total / totals['sslfast']:.2f} |",
              file=out)
    fastest = min(t for n, t in totals.items() if not n.startswith("sslfast"))
    for name, split in (("sslfast", times), ("sslfast, clips kept decoded", kept_times)):
        print(f"\n{name}: {fastest / totals[name]:.2f}x the faster peer; time split: decode "
              f"{split['decode'] / batches * 1e3:.1f} ms per batch, assembly on the device "
              f"{split['assemble'] / batches * 1e3:.2f} ms per batch.", file=out)
