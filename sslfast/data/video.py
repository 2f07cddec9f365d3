"""Folders of videos read with decord, motion-aware frame-tuple mining
(Shuffle & Learn, Misra et al. 2016) and tuple assembly on the device.

decord 0.6.0 facts this module is built around (measured here): ``seek()``
corrupts later reads, so only ``get_batch`` is used; a reader made in one
process hangs forked workers and cannot be pickled for spawned ones, so
readers are opened lazily in the process that reads (and dropped on pickling
or after a fork); ``num_threads=1`` is about twice as fast as the default on
two cores for tuple-sized reads; damaged files can hang it (upstream issues
269, 363, 373), so the metadata scan runs in a child process that is killed
when a file stalls, and every later open or read runs under a timeout.

Decoding in a process whose torch runs several OpenMP threads (the main
process with ``num_workers=0``) can be many times slower on a busy machine:
the OpenMP threads spin after each torch op and starve decord's decoder
thread. DataLoader workers run torch on one thread; in the main process use
``torch.set_num_threads(1)`` or ``OMP_WAIT_POLICY=PASSIVE``.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import warnings
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .folder import SPLITS, _in_split, fit_square

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov")
PROBE_TIMEOUT = 60.0     # seconds one file's scan may take before it counts as hung
STARTUP_TIMEOUT = 600.0  # seconds the scanning process may take to import torch and sslfast
READ_TIMEOUT = 30.0      # seconds one open or get_batch may take
MAX_OPEN_READERS = 64    # per process; least recently used readers are closed
# Videos of at most this many frames get a new reader per read instead of a
# kept one: for short clips decord's open (which indexes every packet) costs
# less than a kept reader's seek back (which restarts its decoder): 6.6 vs
# 9.9 ms per read of 48-frame clips here, while for 300 frames of 320x240
# a kept reader wins (20 vs 44 ms).
KEEP_READER_FRAMES = 150
TUPLE_FRAMES = 5         # a < b < c < d < e per mined window
CACHE_VERSION = 1
_FORKED_READERS: list = []  # readers inherited through fork (see VideoFolder._reader)


def cache_root() -> str:
    """Where sslfast keeps generated data and scan results: ``$SSLFAST_CACHE``,
    else ``~/.cache/sslfast``."""
    return os.environ.get("SSLFAST_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "sslfast")


# --------------------------------------------------------------------------- guarded calls
class _Guard:
    """A daemon thread that runs guarded calls, one after another. Kept
    between calls (in this process's idle pool): starting and joining a
    thread per read cost more than the read itself on a busy 2-core machine
    (about 2 ms each)."""

    def __init__(self):
        self.tasks: "queue.SimpleQueue" = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="sslfast-read", daemon=True).start()

    def _serve(self) -> None:
        while True:
            fn, result, done = self.tasks.get()
            try:
                result["value"] = fn()
            except BaseException as error:  # handed to the caller
                result["error"] = error
            done.set()


_idle_guards: List[_Guard] = []
_guards_pid = os.getpid()
_guard_lock = threading.Lock()


class _Guarded:
    """A call started on a guard thread by :func:`start_guarded`; its
    :meth:`result` waits for it under a timeout."""

    def __init__(self, fn: Callable, what: str):
        global _guards_pid
        self.what, self.result_box, self.done = what, {}, threading.Event()
        with _guard_lock:
            if _guards_pid != os.getpid():  # forked: the parent's guard threads do not exist here
                _idle_guards.clear()
                _guards_pid = os.getpid()
            self.guard = _idle_guards.pop() if _idle_guards else _Guard()
        self.guard.tasks.put((fn, self.result_box, self.done))

    def result(self, timeout: float):
        """``fn()``'s value (or its exception); TimeoutError if it has not
        returned ``timeout`` seconds after this call. A hung guard thread is
        abandoned (it cannot be killed) and never reused, so the caller goes
        on (and never reads that file again)."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"{self.what}: no answer after {timeout:.0f} s")
        with _guard_lock:
            if _guards_pid == os.getpid():
                _idle_guards.append(self.guard)
        if "error" in self.result_box:
            raise self.result_box["error"]
        return self.result_box["value"]


def start_guarded(fn: Callable, what: str) -> _Guarded:
    """Start ``fn()`` on an idle guard thread of this process (a new one if
    none is idle), so that several reads can run at once: decord's C calls
    release the GIL."""
    return _Guarded(fn, what)


def call_with_timeout(fn: Callable, timeout: float, what: str):
    """``fn()`` on a guard thread; TimeoutError if it has not returned after
    ``timeout`` seconds (see :meth:`_Guarded.result`)."""
    return start_guarded(fn, what).result(timeout)


# --------------------------------------------------------------------------- metadata scan
@dataclass
class VideoInfo:
    """What the scan learns about one readable video (cached on disk)."""

    path: str
    frames: int
    fps: float
    height: int
    width: int
    motion: List[float] = field(default_factory=list)  # frame_motion between consecutive frames, len frames - 1


def probe_video(path: str, motion_size: int = 32, chunk: int = 64) -> VideoInfo:
    """Open ``path`` with decord and score the motion of every step with
    :func:`sslfast.ops.frame_motion` (frames decoded in sorted chunks, with
    one frame of overlap between chunks). Raises on any decoding error."""
    from .. import ops

    reader = _open_reader(path)
    frames = len(reader)
    if frames < 2:
        raise ValueError(f"{frames} decodable frame(s)")
    first = reader.get_batch([0]).asnumpy()
    motion: List[float] = []
    for start in range(0, frames - 1, chunk):
        indices = list(range(start, min(start + chunk + 1, frames)))
        batch = torch.from_numpy(reader.get_batch(indices).asnumpy()).permute(0, 3, 1, 2)
        motion += ops.frame_motion(batch, size=motion_size).tolist()
    return VideoInfo(path, frames, float(reader.get_avg_fps()), int(first.shape[1]), int(first.shape[2]), motion)


def _probe_main() -> None:
    """Child-process side of :func:`scan_videos`: JSON list of paths on stdin,
    one JSON line per path on stdout, flushed as soon as it is known."""
    from .. import ops  # noqa: F401  (the slow imports, before the ready line)

    sys.stdout.write("ready\n")
    sys.stdout.flush()
    request = json.loads(sys.stdin.readline())
    for path in request["paths"]:
        try:
            answer = {"ok": asdict(probe_video(path, request["motion_size"]))}
        except Exception as error:  # decord raises its own error types
            answer = {"error": f"{type(error).__name__}: {error}".strip()[:300]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def scan_videos(paths: Sequence[str], motion_size: int = 32, timeout: float = PROBE_TIMEOUT):
    """Probe ``paths`` in a child process; one that hangs or crashes the child
    is recorded as failed and the child restarted on the rest.

    Returns ``(infos, failures)``: path -> :class:`VideoInfo`, path -> reason.
    """
    infos: Dict[str, VideoInfo] = {}
    failures: Dict[str, str] = {}
    pending = list(paths)
    while pending:
        package_parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_parent,
                                                                          os.environ.get("PYTHONPATH")]))}
        child = subprocess.Popen([sys.executable, "-c", "from sslfast.data.video import _probe_main; _probe_main()"],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env=env)
        child.stdin.write(json.dumps({"paths": pending, "motion_size": motion_size}) + "\n")
        child.stdin.flush()  # read by the child once its imports are done
        lines: "queue.Queue[str]" = queue.Queue()

        def pump(stream=child.stdout, lines=lines):
            for line in stream:
                lines.put(line)
            lines.put("")  # end of output: the child exited

        threading.Thread(target=pump, daemon=True).start()
        done = 0
        try:
            try:  # imports first: their time (long on a loaded machine) is not a file's fault
                ready = lines.get(timeout=STARTUP_TIMEOUT)
            except queue.Empty:
                ready = ""
            if ready != "ready\n":
                raise RuntimeError("scan_videos: the scanning process did not start (cannot import sslfast?)")
            for path in pending:
                line = lines.get(timeout=timeout)
                if not line:
                    failures[path] = f"the decoder crashed (exit code {child.wait()})"
                    done += 1
                    break
                answer = json.loads(line)
                if "ok" in answer:
                    infos[path] = VideoInfo(**answer["ok"])
                else:
                    failures[path] = answer["error"]
                done += 1
        except queue.Empty:
            failures[pending[done]] = f"decoding stalled for over {timeout:.0f} s"
            done += 1
        finally:
            child.kill()
            child.wait()
        pending = pending[done:]
    return infos, failures


class ScanCache:
    """Scan results of one folder in a JSON file under :func:`cache_root`,
    keyed by each file's size and modification time (failures too, so a file
    that hangs the decoder costs its timeout once)."""

    def __init__(self, root: str, motion_size: int, cache_dir: Optional[str] = None):
        key = hashlib.sha1(f"{os.path.abspath(root)}|{motion_size}|{CACHE_VERSION}".encode()).hexdigest()[:16]
        self.path = os.path.join(cache_dir or os.path.join(cache_root(), "video-scans"), f"{key}.json")
        try:
            with open(self.path) as f:
                self.entries = json.load(f)
        except (OSError, ValueError):
            self.entries = {}

    @staticmethod
    def stamp(path: str) -> List[int]:
        stat = os.stat(path)
        return [stat.st_size, stat.st_mtime_ns]

    def lookup(self, path: str) -> Optional[dict]:
        entry = self.entries.get(path)
        return entry if entry and entry["stamp"] == self.stamp(path) else None

    def store(self, infos: Dict[str, VideoInfo], failures: Dict[str, str]) -> None:
        for path, info in infos.items():
            self.entries[path] = {"stamp": self.stamp(path), "info": asdict(info)}
        for path, reason in failures.items():
            self.entries[path] = {"stamp": self.stamp(path), "error": reason}
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        tmp = f"{self.path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(self.entries, f)
        os.replace(tmp, self.path)


def _open_reader(path: str):
    import decord

    return decord.VideoReader(path, num_threads=1)


def _channels_first(frames: np.ndarray) -> torch.Tensor:
    """uint8 [T, H, W, C] -> contiguous [T, C, H, W]. The copy is NumPy's, on
    one thread: torch's parallel copy of these small arrays costs more in
    thread synchronisation than it saves (30 ms instead of 0.1 ms per window
    on a busy 2-core machine)."""
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2)))


# --------------------------------------------------------------------------- the folder
class VideoFolder(Dataset):
    """Every video under ``root`` (mp4, avi, mkv, webm, mov; any nesting).

    Labels as :class:`~sslfast.data.ImageFolder`: top-level sub-folders are
    classes, loose files are unlabelled (-1); ``split`` keeps the same fixed
    80/20 share by path hash ("all" keeps every file).

    The first construction scans each file in a child process (frame count,
    fps, size, and :func:`sslfast.ops.frame_motion` of every step for tuple
    mining) and caches the result on disk; later ones read the cache. Files
    that do not decode, decode fewer than 2 frames or stall the decoder for
    ``probe_timeout`` seconds are skipped and listed in ``skipped`` as
    ``(path, reason)`` with a warning. A file that fails later, when read, is
    skipped from then on in that process (reported the same way).

    Readers (``num_threads=1``) are opened in the process that reads, so
    the folder works in DataLoader workers started by fork or spawn: a new
    one per read for clips of at most ``KEEP_READER_FRAMES`` frames (cheaper
    than seeking a kept one back), else one kept per file (the least
    recently used closed beyond 64). :meth:`read_many` (a batch's reads)
    runs up to ``read_threads`` reads at once. With
    ``keep_decoded`` (a byte budget per process), :meth:`read` decodes a
    whole video once and serves later reads from memory while the decoded
    videos fit the budget: for small clip collections read over and over
    (the built-in ``videos``), where decoding would dominate training. Item ``i`` is
    ``(uint8 [T, 3, H, W] tensor of every frame, label)``; use :meth:`read`
    for chosen frames.
    """

    def __init__(self, root: str, *, split: str = "all", extensions: Tuple[str, ...] = VIDEO_EXTENSIONS,
                 motion_size: int = 32, probe_timeout: float = PROBE_TIMEOUT, read_timeout: float = READ_TIMEOUT,
                 cache_dir: Optional[str] = None, keep_decoded: int = 0, read_threads: int = 4):
        if not os.path.isdir(root):
            raise ValueError(f"root: {root!r} is not a directory")
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        if isinstance(read_threads, bool) or not isinstance(read_threads, int) or read_threads < 1:
            raise ValueError(f"read_threads: expected a positive int, got {read_threads!r}")
        self.root, self.read_timeout, self.read_threads = root, read_timeout, read_threads
        entries = sorted(os.scandir(root), key=lambda e: e.name)
        class_dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        self.classes = tuple(class_dirs) if class_dirs else None
        candidates: List[Tuple[str, int]] = []
        tops = [(os.path.join(root, name), label) for label, name in enumerate(class_dirs)] or [(root, -1)]
        for top, label in tops:
            for path in sorted(os.path.join(d, n) for d, _, files in os.walk(top) for n in files
                               if n.lower().endswith(extensions)):
                if _in_split(os.path.relpath(path, root), split):
                    candidates.append((path, label))
        cache = ScanCache(root, motion_size, cache_dir)
        known = {path: cache.lookup(path) for path, _ in candidates}
        unknown = [path for path, entry in known.items() if entry is None]
        if unknown:
            infos, failures = scan_videos(unknown, motion_size, probe_timeout)
            cache.store(infos, failures)
            known.update({path: cache.lookup(path) for path in unknown})
        self.videos: List[VideoInfo] = []
        self.labels: List[int] = []
        self.skipped: List[Tuple[str, str]] = []
        self._broken: set = set()
        for path, label in candidates:
            if "error" in known[path]:
                self._skip(len(self.videos), path, known[path]["error"], broken=False)
            else:
                self.videos.append(VideoInfo(**known[path]["info"]))
                self.labels.append(label)
        if not self.videos:
            raise ValueError(f"root: no readable videos with extensions {', '.join(extensions)} under {root!r} "
                             f"(split {split!r}; skipped: {len(self.skipped)})")
        self._readers: "OrderedDict[int, object]" = OrderedDict()
        self._pid = os.getpid()
        self.keep_decoded = int(keep_decoded)
        self._decoded: Dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.videos)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_readers"] = OrderedDict()  # decord readers cannot be pickled: reopen in the new process
        state["_decoded"] = {}
        return state

    def _skip(self, video: int, path: str, reason: str, broken: bool = True) -> None:
        self.skipped.append((path, reason))
        if broken:
            self._broken.add(video)
        warnings.warn(f"sslfast.data.VideoFolder: skipping {path}: {reason}", RuntimeWarning, stacklevel=3)

    def is_broken(self, video: int) -> bool:
        return video in self._broken

    def _reader(self, video: int):
        if self._pid != os.getpid():
            # Forked: the parent's readers are unusable here, and destroying
            # one would join decoder threads that do not exist in this process
            # (a hang), so they are parked, never used nor freed.
            _FORKED_READERS.append(self._readers)
            self._readers, self._pid = OrderedDict(), os.getpid()
        reader = self._readers.get(video)
        if reader is None:
            path = self.videos[video].path
            reader = call_with_timeout(lambda: _open_reader(path), self.read_timeout, f"opening {path}")
            self._readers[video] = reader
            while len(self._readers) > MAX_OPEN_READERS:
                self._readers.popitem(last=False)
        self._readers.move_to_end(video)
        return reader

    def read(self, video: int, frames: Sequence[int]) -> Optional[np.ndarray]:
        """uint8 ``[len(frames), H, W, 3]`` RGB frames of video ``video``, in
        the order asked, decoded by one sorted ``get_batch``; None (and the
        file skipped from now on) if the file fails or stalls."""
        if video in self._broken:
            return None
        frames = [int(f) for f in frames]
        if video not in self._decoded and self._fits_in_memory(video):
            whole = self._decode(video, range(self.videos[video].frames))
            if whole is None:
                return None
            self._decoded[video] = whole
        if video in self._decoded:
            return self._decoded[video][frames]
        return self._decode(video, frames)

    def _fits_in_memory(self, video: int) -> bool:
        info = self.videos[video]
        held = sum(v.nbytes for v in self._decoded.values())
        return held + info.frames * info.height * info.width * 3 <= self.keep_decoded

    def read_many(self, requests: Sequence[Tuple[int, Sequence[int]]]) -> List[Optional[np.ndarray]]:
        """:meth:`read` of each ``(video, frames)`` of ``requests`` (distinct
        videos), up to ``read_threads`` at once on guard threads: a decord
        read spends most of its time handing frames between its own decoder
        thread and the caller, so overlapping reads fills the idle time (a batch's
        reads took 2.4x less time here with 4 at once)."""
        results: List[Optional[np.ndarray]] = [None] * len(requests)
        direct = {i for i, (video, _) in enumerate(requests)
                  if video in self._broken or video in self._decoded or self._fits_in_memory(video)}
        for i in sorted(direct):  # from memory, or whole videos to keep
            results[i] = self.read(*requests[i])
        running: List[Tuple[int, object]] = []
        for i in (i for i in range(len(requests)) if i not in direct):
            if len(running) == self.read_threads:
                j, started = running.pop(0)
                results[j] = self._finish_decode(started)
            running.append((i, self._start_decode(*requests[i])))
        for j, started in running:
            results[j] = self._finish_decode(started)
        return results

    def _decode(self, video: int, frames: Sequence[int]) -> Optional[np.ndarray]:
        return self._finish_decode(self._start_decode(video, frames))

    def _start_decode(self, video: int, frames: Sequence[int]):
        """Starts decoding ``frames`` of ``video`` on a guard thread; the
        handle goes to :meth:`_finish_decode`."""
        frames = [int(f) for f in frames]
        order = sorted(set(frames))
        path = self.videos[video].path
        try:
            if self.videos[video].frames > KEEP_READER_FRAMES:
                reader = self._reader(video)
                started = start_guarded(lambda: reader.get_batch(order).asnumpy(), f"reading {path}")
            else:
                started = start_guarded(lambda: _open_reader(path).get_batch(order).asnumpy(), f"reading {path}")
        except Exception as error:  # opening a kept reader: decord's errors, TimeoutError
            started = error
        return video, frames, order, started

    def _finish_decode(self, handle) -> Optional[np.ndarray]:
        video, frames, order, started = handle
        path = self.videos[video].path
        try:
            if isinstance(started, Exception):
                raise started
            batch = started.result(self.read_timeout)
        except Exception as error:  # decord's errors, TimeoutError
            self._readers.pop(video, None)
            self._skip(video, path, f"{type(error).__name__}: {error}".strip()[:300])
            return None
        if batch.shape[0] != len(order):
            self._skip(video, path, f"asked for {len(order)} frames, got {batch.shape[0]}")
            return None
        position = {f: i for i, f in enumerate(order)}
        return batch[[position[f] for f in frames]]

    def __getitem__(self, index: int):
        for step in range(len(self.videos)):
            video = (index + step) % len(self.videos)
            frames = self.read(video, range(self.videos[video].frames))
            if frames is not None:
                return _channels_first(frames), self.labels[video]
        raise RuntimeError(f"root: none of the {len(self.videos)} videos under {self.root!r} could be read")


# --------------------------------------------------------------------------- mining
class TupleMiner:
    """Motion-aware choice of five frames ``a < b < c < d < e`` per draw.

    A window is ``span + 1`` consecutive frames, ``span = 4 * max_gap``
    (shortened for clips too short for it); its score is the mean
    frame_motion of its steps. Per video the ``top`` fraction of window
    starts (at least one) with the highest scores is kept, as Misra et al.
    keep high-motion windows. Draw ``i`` takes video ``(i // per_read) %
    videos`` (so ``per_read`` consecutive draws share a video and can be
    decoded together, as the paper mines many tuples per video), a kept
    window uniformly, four gaps uniform in ``gaps`` (clipped to the window)
    and a uniform offset of the five frames in the window. Draws are pure
    functions of ``(seed, i)``; every draw's distribution is the same for
    any ``per_read``.
    """

    def __init__(self, videos: Sequence[VideoInfo], *, gaps: Tuple[int, int] = (2, 4), top: float = 0.5,
                 seed: int = 0, per_read: int = 1):
        low, high = gaps
        if isinstance(low, bool) or not isinstance(low, int) or not isinstance(high, int) or not 1 <= low <= high:
            raise ValueError(f"gaps: expected integers 1 <= low <= high, got {gaps!r}")
        if not 0.0 < top <= 1.0:
            raise ValueError(f"top: expected a fraction in (0, 1], got {top!r}")
        if isinstance(per_read, bool) or not isinstance(per_read, int) or per_read < 1:
            raise ValueError(f"per_read: expected a positive int, got {per_read!r}")
        self.gaps, self.top, self.seed, self.per_read = (low, high), float(top), int(seed), per_read
        self.usable: List[int] = []
        self.windows: Dict[int, Tuple[int, np.ndarray]] = {}  # video -> (span, kept window starts)
        for v, info in enumerate(videos):
            span = min(4 * high, info.frames - 1)
            if span < 4 * low:
                continue  # too short for five frames at the smallest gap
            motion = np.asarray(info.motion, dtype=np.float64)
            sums = np.concatenate([[0.0], np.cumsum(motion)])
            scores = (sums[span:] - sums[:-span]) / span  # window starting at s covers steps s .. s + span - 1
            keep = max(1, int(round(self.top * len(scores))))
            starts = np.sort(np.argsort(-scores, kind="stable")[:keep])
            self.windows[v] = (span, starts)
            self.usable.append(v)
        if not self.usable:
            raise ValueError(f"gaps: no video has the {4 * low + 1} frames that gaps {gaps} need")

    def draw(self, index: int) -> Tuple[int, List[int]]:
        """(video, [a, b, c, d, e]) of draw ``index``."""
        videos, frames = self.draw_many([index])
        return int(videos[0]), frames[0].tolist()

    def draw_many(self, indices: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """Draws ``indices`` at once: (video int64 ``[N]``, frames a..e int64
        ``[N, 5]``). Its uniform numbers come from a splitmix64 hash of
        ``(seed, index, field)``, vectorised over the draws: a NumPy
        generator per draw cost 0.1 ms, 8 ms per batch of 64 in a worker."""
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        if not hasattr(self, "_table"):  # per usable video: span, first kept start, count of kept starts
            spans = [self.windows[v][0] for v in self.usable]
            counts = [len(self.windows[v][1]) for v in self.usable]
            self._table = (np.asarray(spans, np.int64), np.cumsum([0] + counts[:-1]).astype(np.int64),
                           np.asarray(counts, np.int64), np.concatenate([self.windows[v][1] for v in self.usable]))
        spans, first, counts, starts = self._table
        which = index // self.per_read % len(self.usable)
        span = spans[which]
        uniform = _uniform(self.seed, index, 6)  # [N, 6] in [0, 1)
        start = starts[first[which] + (uniform[:, 0] * counts[which]).astype(np.int64)]
        high = np.minimum(self.gaps[1], span // 4)
        low = np.minimum(self.gaps[0], high)
        steps = low[:, None] + (uniform[:, 1:5] * (high - low + 1)[:, None]).astype(np.int64)
        offset = (uniform[:, 5] * (span - steps.sum(1) + 1)).astype(np.int64)
        frames = (start + offset)[:, None] + np.concatenate([np.zeros((len(index), 1), np.int64),
                                                             np.cumsum(steps, 1)], 1)
        return np.asarray(self.usable, np.int64)[which], frames


def _uniform(seed: int, index: np.ndarray, fields: int) -> np.ndarray:
    """float64 ``[N, fields]`` uniform in [0, 1): splitmix64 of (seed, index, field)."""
    with np.errstate(over="ignore"):
        x = (np.uint64(seed & (2**64 - 1)) * np.uint64(0x9E3779B97F4A7C15)
             + index.astype(np.uint64)[:, None] * np.uint64(0xBF58476D1CE4E5B9)
             + np.arange(1, fields + 1, dtype=np.uint64)[None, :] * np.uint64(0x94D049BB133111EB))
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)


class VideoTuples(Dataset):
    """Mined five-frame windows of a :class:`VideoFolder`, ready for
    :func:`frame_tuples`.

    Item ``i`` is ``(uint8 [5, 3, H, W] frames a..e, label of the video)``
    from :meth:`TupleMiner.draw` ``(i)``. ``crop_top`` rows are cut off the
    top of every frame (the built-in clips' frame-index code); with ``size``
    each frame's shorter side is then resized to ``size`` and centre-cropped
    square. A draw from a file that fails is replaced by the next video's.
    ``length`` defaults to ``draws_per_video`` per usable video.

    The fast path is :meth:`__getitems__` (the DataLoader's batch fetch) over
    the order of :meth:`epoch_order`: ``per_read`` consecutive draws share a
    video (see :class:`TupleMiner`), the epoch order keeps each such group
    inside one batch, and a batch decodes the union of its draws' frames in
    one sorted ``get_batch`` per video, so opening, seeking and decoding a
    file is paid once per group instead of once per tuple. Use a batch size
    that is a multiple of ``per_read``.
    """

    def __init__(self, folder: VideoFolder, *, size: Optional[int] = None, gaps: Tuple[int, int] = (2, 4),
                 top: float = 0.5, seed: int = 0, draws_per_video: int = 64, crop_top: int = 0,
                 length: Optional[int] = None, per_read: int = 8):
        self.folder, self.size, self.crop_top = folder, size, int(crop_top)
        self.miner = TupleMiner(folder.videos, gaps=gaps, top=top, seed=seed, per_read=per_read)
        self.length = int(length if length is not None else draws_per_video * len(self.miner.usable))
        self.classes = folder.classes

    def __len__(self) -> int:
        return self.length

    def epoch_order(self, seed: int, epoch: int) -> torch.Tensor:
        """Epoch ``epoch``'s order of the draws (int64 ``[len(self)]``): the
        groups of ``per_read`` draws that share a video, in an order seeded
        by ``(seed, epoch)`` (with ``per_read`` 1, the Trainer's own default
        permutation)."""
        group = self.miner.per_read
        generator = torch.Generator().manual_seed(seed * 100003 + epoch)
        starts = torch.randperm(-(-self.length // group), generator=generator) * group
        order = (starts[:, None] + torch.arange(group)).flatten()
        return order[order < self.length]

    def _window(self, frames: np.ndarray) -> torch.Tensor:
        """Decoded HWC frames -> the item's ``[5, 3, H, W]`` (code band cut, resized)."""
        frames = frames[:, self.crop_top:]
        if self.size is not None:
            frames = np.stack([fit_square(frame, self.size) for frame in frames])
        return _channels_first(frames)

    def frames(self, index: int) -> Tuple[torch.Tensor, int, List[int]]:
        """``(uint8 [5, 3, H, W], video, [a, b, c, d, e])`` of draw ``index``."""
        for step in range(len(self.miner.usable)):
            video, chosen = self.miner.draw(index + step * self.miner.per_read)
            decoded = self.folder.read(video, chosen)
            if decoded is not None:
                return self._window(decoded), video, chosen
        raise RuntimeError(f"folder: none of the {len(self.miner.usable)} usable videos could be read")

    def _check(self, index: int) -> None:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} draws")

    def __getitem__(self, index: int):
        self._check(index)
        frames, video, _ = self.frames(index)
        return frames, self.folder.labels[video]

    def __getitems__(self, indices: Sequence[int]) -> List[Tuple[torch.Tensor, int]]:
        """The items of ``indices``, the draws that share a video decoded
        together: one sorted ``get_batch`` of the union of their frames."""
        for index in indices:
            self._check(index)
        videos, frames = self.miner.draw_many(indices)
        draws = list(zip(videos.tolist(), frames.tolist()))
        wanted: Dict[int, set] = {}
        for video, chosen in draws:
            wanted.setdefault(video, set()).update(chosen)
        requests = [(video, sorted(frames)) for video, frames in wanted.items()]
        decoded: Dict[int, Tuple[np.ndarray, Dict[int, int]]] = {}
        for (video, order), batch in zip(requests, self.folder.read_many(requests)):
            if batch is not None:
                decoded[video] = batch, {frame: row for row, frame in enumerate(order)}
        items = []
        for index, (video, chosen) in zip(indices, draws):
            if video not in decoded:  # the file failed: __getitem__ replaces the draw
                items.append(self[index])
                continue
            batch, row = decoded[video]
            items.append((self._window(batch[[row[frame] for frame in chosen]]), self.folder.labels[video]))
        return items


# --------------------------------------------------------------------------- on the device
def frame_tuples(frames: torch.Tensor, index: torch.Tensor, seed: int, *, crop: Optional[int] = None,
                 positive: float = 0.25, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None, out_dtype: torch.dtype = torch.float32):
    """Shuffle & Learn tuples from mined windows, on ``frames``' device.

    ``frames`` holds frames a..e of ``B`` windows (``[B, 5, C, H, W]``, as
    :class:`VideoTuples` yields them). :func:`sslfast.ops.sample_tuples` draws
    per window, from ``(seed, index)``: positive ``(b, c, d)`` with
    probability ``positive`` (0.25, the paper's share), else ``(b, a, d)`` or
    ``(b, e, d)`` equally, and one crop place shared by the three frames (the
    per-tuple jitter); :func:`sslfast.ops.gather_patches` cuts the three
    ``crop x crop`` patches and normalises them in one pass.

    Returns ``(tuples [B, 3, C, crop, crop], labels int64 [B])``, label 1 for
    frames in order. ``crop`` defaults to ``min(H, W) * 8 // 9``.
    """
    from .. import ops

    if not isinstance(frames, torch.Tensor) or frames.dim() != 5 or frames.shape[1] != TUPLE_FRAMES:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"frames: expected [B, {TUPLE_FRAMES}, C, H, W] mined windows, got {shape}")
    b, _, c, h, w = frames.shape
    crop = crop or max(1, min(h, w) * 8 // 9)
    src, origins, labels = ops.sample_tuples(seed, index, TUPLE_FRAMES, (h, w), crop, positive=positive)
    tuples = ops.gather_patches(frames.reshape(b * TUPLE_FRAMES, c, h, w), src, origins, crop, out_dtype=out_dtype,
                                mean=mean, std=std)
    return tuples, labels


def _indexed(batch):
    """Collate ``(frames, label)`` items with their data-set indices."""
    frames, index = zip(*batch)
    return torch.stack(frames), torch.as_tensor(index, dtype=torch.int64)


class _WithIndex(Dataset):
    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        return self.dataset[index][0], index

    def __getitems__(self, indices: List[int]):
        return [(item[0], index) for item, index in zip(self.dataset.__getitems__(indices), indices)]


def tuple_batches(dataset: VideoTuples, batch_size: int, *, seed: int = 0, epochs: int = 1, num_workers: int = 0,
                  multiprocessing_context: Optional[str] = None, device: str = "cpu", crop: Optional[int] = None,
                  positive: float = 0.25, mean: Optional[Sequence[float]] = None,
                  std: Optional[Sequence[float]] = None) -> Iterator[Tuple[torch.Tensor, torch.Tensor]]:
    """``(tuples [B, 3, C, crop, crop], labels [B])`` batches for training.

    Workers (``num_workers`` processes, started by ``multiprocessing_context``
    "fork" or "spawn", or the platform default) decode whole batches of
    mined windows (:meth:`VideoTuples.__getitems__`); each batch is moved to
    ``device`` and assembled there by :func:`frame_tuples`. Epoch ``e``
    visits the draws in :meth:`VideoTuples.epoch_order` ``(seed, e)`` and
    labels tuples with a seed derived from both, so every epoch gives new
    tuples. The last partial batch of an epoch is dropped.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size: expected a positive int, got {batch_size!r}")
    for epoch in range(epochs):
        order = dataset.epoch_order(seed, epoch)
        batches = order[:len(order) // batch_size * batch_size].view(-1, batch_size).tolist()
        loader = DataLoader(_WithIndex(dataset), batch_sampler=batches, num_workers=num_workers,
                            collate_fn=_indexed,
                            multiprocessing_context=multiprocessing_context if num_workers else None)
        for frames, index in loader:
            frames, index = frames.to(device, non_blocking=True), index.to(device, non_blocking=True)
            yield frame_tuples(frames, index, (seed * 1000003 + epoch) % 2**63, crop=crop, positive=positive,
                               mean=mean, std=std)
