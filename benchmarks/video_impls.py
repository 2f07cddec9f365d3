"""Frame tuples end to end: decode + mine + assemble, in tuples per second.

The job: for ``B`` draws of the tuple miner over the built-in clips, the
normalised float32 tuples ``[B, 3, 3, crop, crop]`` whose three frames and
crop place are those sslfast's samplers choose (so every loader produces the
same batch; checked once, within decoder rounding). The draws are
:class:`~sslfast.data.VideoTuples`' defaults: ``per_read`` (8) consecutive
draws share a video, and batches hold whole groups in
:meth:`~sslfast.data.VideoTuples.epoch_order`, as a training run sees them.
Every loader gets exactly these draws, batch by batch. Timed:

- sslfast: :meth:`VideoTuples.__getitems__` (readers opened once per
  process and kept, ``num_threads=1``; per batch, the union of the frames
  of the draws that share a video decoded by one sorted ``get_batch``, up
  to ``read_threads`` (4) videos' reads at once on guard threads) then
  :func:`~sslfast.data.frame_tuples` (sampler + ``gather_patches``: crop,
  scale and normalise the whole batch in one call). Decode and assembly are
  timed apart.
- sslfast, one read per tuple: the same draws through
  ``VideoTuples.__getitem__`` (each tuple's five frames in their own
  ``get_batch``, readers kept), to show what reading groups buys.
- sslfast, clips kept decoded: ``keep_decoded`` (each clip decoded whole once
  per process, every later tuple cut from memory), as the built-in
  ``videos`` data set runs; its time includes that first decode of every clip.
- naive decord: what a typical ``Dataset.__getitem__`` does: a new
  ``VideoReader`` per tuple with decord's default threads, ``get_batch`` of
  the three frames in tuple order, crop and normalise in NumPy.
- OpenCV: a new ``cv2.VideoCapture`` per tuple, seek to the first needed
  frame (``CAP_PROP_POS_FRAMES``), read forward to the last, keep the three,
  BGR->RGB, crop and normalise in NumPy.

Each loader runs in a ``DataLoader`` over the same batches, with 0 workers
(everything in the main process) and with 2 forked workers (the peers' work
per tuple in the workers; sslfast's decoding in the workers, its assembly in
the main process), on this machine's CPU, at the clips' native 64 px (crop
56). Worker start-up and every reader opening are inside the timed runs.
The main process runs torch on one thread, as DataLoader workers do: with
torch's default OpenMP threads spinning between ops, decord's decoder thread
(every frame is handed between it and the reader) starved, and sslfast's
main-process decode measured 10-15x slower on this busy 2-core machine
(``OMP_WAIT_POLICY=PASSIVE`` cured it too). The last line compares the best
setting of each: sslfast's and the fastest peer's, whatever their workers.
"""
from __future__ import annotations

import os
import pickle
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from sslfast.data.video import VideoFolder, VideoTuples, _indexed, _WithIndex, frame_tuples
from sslfast.data.videos import CODE_ROWS, ensure_videos
from sslfast import ops

FAMILY = "video_tuples"
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SEED = 7
PER_READ = 8  # draws per video read (VideoTuples' default)


def _data(keep_decoded: int = 0) -> VideoTuples:
    cache = os.environ.get("SSLFAST_CACHE") or os.path.join(tempfile.gettempdir(), "sslfast-bench-cache")
    os.environ["SSLFAST_CACHE"] = cache
    folder = VideoFolder(os.path.join(ensure_videos(), "train"), keep_decoded=keep_decoded)
    return VideoTuples(folder, crop_top=CODE_ROWS, seed=SEED, per_read=PER_READ)


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


class _PerTuple(Dataset):
    """A peer loader's ``Dataset``: item ``j`` is job ``j`` done by ``load``
    (one tuple, float32 ``[3, C, crop, crop]``)."""

    def __init__(self, jobs, load, crop: int):
        self.jobs, self.load, self.crop = jobs, load, crop

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, j: int) -> torch.Tensor:
        return torch.from_numpy(self.load(self.jobs[j], self.crop))


class _OneReadPerTuple(Dataset):
    """sslfast's windows fetched one ``__getitem__`` at a time (no grouping)."""

    def __init__(self, data: VideoTuples):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        return self.data[index][0], index


def naive_decord(job, crop: int) -> np.ndarray:
    import decord

    path, frames, y, x = job
    return _normalise(decord.VideoReader(path).get_batch(frames).asnumpy(), y, x, crop)


def opencv_capture(job, crop: int) -> np.ndarray:
    import cv2

    path, frames, y, x = job
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
    return _normalise(np.stack([kept[f] for f in frames]), y, x, crop)


def run_ours(dataset: Dataset, batches, crop: int, workers: int, times: dict):
    """Yields every batch's ``(tuples, labels)``: windows from a DataLoader,
    assembled in the main process; ``times`` gathers the wait for decoded
    windows ("decode") and the assembly apart."""
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=workers, collate_fn=_indexed,
                        multiprocessing_context="fork" if workers else None)
    waiting = time.perf_counter()
    for frames, index in loader:
        decoded = time.perf_counter()
        times["decode"] += decoded - waiting
        assembled = frame_tuples(frames, index, SEED, crop=crop, mean=MEAN, std=STD)
        times["assemble"] += time.perf_counter() - decoded
        yield assembled
        waiting = time.perf_counter()


def run_peer(jobs, load, crop: int, workers: int):
    """Yields a peer's batches: its jobs in ``DataLoader`` batches of the same size."""
    flat = [job for batch in jobs for job in batch]
    yield from DataLoader(_PerTuple(flat, load, crop), batch_size=len(jobs[0]), num_workers=workers,
                          multiprocessing_context="fork" if workers else None)


def _fresh(data: VideoTuples) -> VideoTuples:
    """A copy with no reader open and nothing decoded (as a new run starts)."""
    return pickle.loads(pickle.dumps(data))


def _timed(runs: dict, workers: int, repeats: int, count: int):
    """Seconds each loader spent on its first ``count`` batches, summed over
    ``repeats``.

    In the main process (``workers`` 0) the loaders take turns batch by
    batch, so the load of this shared machine hits all alike; with workers
    (which fetch batches ahead) they take turns run by run, in reversed
    order every other repeat, each run long enough that starting the workers
    is a small part of it."""
    totals = dict.fromkeys(runs, 0.0)
    for repeat in range(repeats):
        if workers == 0:
            iterators = {name: iter(run(workers, count)) for name, run in runs.items()}
            for _ in range(count):
                for name, iterator in iterators.items():
                    start = time.perf_counter()
                    next(iterator)
                    totals[name] += time.perf_counter() - start
        else:
            for name in list(runs)[::-1 if repeat % 2 else 1]:
                start = time.perf_counter()
                for _ in runs[name](workers, count):
                    pass
                totals[name] += time.perf_counter() - start
    return totals


def run_report(device: str, quick: bool, out=sys.stdout) -> None:
    data, kept = _data(), _data(keep_decoded=1 << 30)
    crop, batch = 56, 64
    counts = {0: 3} if quick else {0: 10, 2: 30}  # batches per run, by DataLoader workers
    total = max(counts.values())
    batches = data.epoch_order(SEED, 0)[:total * batch].view(total, batch).tolist()
    jobs, labels = zip(*(plan(data, torch.tensor(b), crop) for b in batches))
    # Same job check, once: decord and OpenCV convert YUV to RGB slightly differently.
    unused = {"decode": 0.0, "assemble": 0.0}
    reference, want_labels = next(run_ours(_WithIndex(_fresh(data)), batches[:1], crop, 0, unused))
    assert torch.equal(labels[0], want_labels)
    for name, peer in (("naive decord", naive_decord), ("OpenCV VideoCapture", opencv_capture)):
        difference = (next(run_peer(jobs[:1], peer, crop, 0)) - reference).abs().mean().item() * STD[1] * 255
        if difference > 3:
            raise AssertionError(f"{name}: tuples differ from sslfast's by {difference:.2f} grey levels on average")
    splits = {}

    def ours(dataset_of, name):
        return lambda w, n: run_ours(dataset_of(), batches[:n], crop, w, splits[name])

    def peer(load):
        return lambda w, n: run_peer(jobs[:n], load, crop, w)

    runs = {
        "sslfast": ours(lambda: _WithIndex(_fresh(data)), "sslfast"),
        "sslfast, one read per tuple": ours(lambda: _OneReadPerTuple(_fresh(data)), "sslfast, one read per tuple"),
        "sslfast, clips kept decoded": ours(lambda: _WithIndex(_fresh(kept)), "sslfast, clips kept decoded"),
        "naive decord": peer(naive_decord),
        "OpenCV VideoCapture": peer(opencv_capture),
    }
    repeats = 1 if quick else 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in DataLoader workers; see the module docstring
    rates = {}  # (loader, workers) -> tuples/s
    try:
        for workers, count in counts.items():
            splits.update({name: {"decode": 0.0, "assemble": 0.0} for name in runs})
            totals = _timed(runs, workers, repeats, count)
            _print_table(out, totals, splits, workers, batch * count * repeats, count * repeats, batch, crop, device)
            rates.update({(name, workers): batch * count * repeats / total for name, total in totals.items()})
    finally:
        torch.set_num_threads(threads)
    ours, ours_workers = max((rate, w) for (name, w), rate in rates.items() if name == "sslfast")
    peer, peer_name, peer_workers = max((rate, name, w) for (name, w), rate in rates.items()
                                        if not name.startswith("sslfast"))
    print(f"\nBest settings: sslfast {ours:,.0f} tuples/s (num_workers={ours_workers}) vs {peer_name} "
          f"{peer:,.0f} tuples/s (num_workers={peer_workers}): {ours / peer:.2f}x.", file=out)


def _print_table(out, totals, splits, workers, tuples, batches, batch, crop, device) -> None:
    print(f"\n### frame tuples, {tuples} tuples in batches of {batch} ({PER_READ} per video read), 64 px clips, "
          f"crop {crop}, DataLoader num_workers={workers} ({device}: CPU decode)\n", file=out)
    print("| loader | tuples/s | ms per batch | ratio (loader time / sslfast time) |", file=out)
    print("|---|---:|---:|---:|", file=out)
    for name, total in totals.items():
        print(f"| {name} | {tuples / total:,.0f} | {total / batches * 1e3:.1f} | {total / totals['sslfast']:.2f} |",
              file=out)
    fastest = min(t for n, t in totals.items() if not n.startswith("sslfast"))
    wait = "decode" if workers == 0 else "wait for the workers' decoded windows"
    for name in (n for n in totals if n.startswith("sslfast")):
        split = splits[name]
        print(f"\n{name}: {fastest / totals[name]:.2f}x the faster peer; time split: {wait} "
              f"{split['decode'] / batches * 1e3:.1f} ms per batch, assembly on the device "
              f"{split['assemble'] / batches * 1e3:.2f} ms per batch.", file=out)
