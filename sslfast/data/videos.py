"""``videos``: short clips of camera pans over the bundled photographs with
moving objects on top, generated once into the cache folder (mp4v; this
OpenCV build has no H.264 encoder) and read back with decord.

Every clip alternates still stretches with moving ones (the camera pans and
the objects move, or everything stops), so motion-aware mining has windows
to reject. Train clips pan over the photographs' train regions, test clips
over their held-out regions (see :func:`sslfast.data.photos.split_region`).
Each frame carries its index in a code band of ``CODE_ROWS`` rows above the
picture: ``CODE_BITS`` black or white blocks, most significant bit first, so
tests can check the order of decoded frames; :class:`Videos` cuts the band
off unless asked to keep it.
"""
from __future__ import annotations

import os
import shutil
from typing import Optional, Tuple

import cv2
import numpy as np

from .photos import PHOTO_NAMES, load_photos, split_region
from .video import VideoFolder, VideoTuples, cache_root

CLIPS = {"train": 48, "test": 16}
FRAMES = 48
FPS = 24
SIDE = 64              # picture side in pixels
CODE_ROWS = 8          # height of the frame-index band above the picture
CODE_BITS = 8          # blocks of SIDE // CODE_BITS pixels: indices below 256
GENERATOR_VERSION = 1  # bump when the clips change, so caches regenerate
KEEP_DECODED = 64 << 20  # bytes: every clip stays decoded in memory (48 clips take 32 MiB)


def frame_code(index: int) -> np.ndarray:
    """The ``[CODE_ROWS, SIDE, 3]`` uint8 band that encodes frame ``index``."""
    block = SIDE // CODE_BITS
    bits = [(index >> (CODE_BITS - 1 - k)) & 1 for k in range(CODE_BITS)]
    row = np.repeat(np.asarray(bits, dtype=np.uint8) * 255, block)
    return np.broadcast_to(row[None, :, None], (CODE_ROWS, SIDE, 3)).copy()


def read_frame_code(frame: np.ndarray) -> int:
    """Frame index from the code band of an HWC (or CHW) uint8 frame: each
    block's central pixels thresholded at mid-grey (robust to compression)."""
    frame = np.asarray(frame)
    if frame.shape[0] == 3 and frame.shape[-1] != 3:
        frame = frame.transpose(1, 2, 0)
    block, value = SIDE // CODE_BITS, 0
    for k in range(CODE_BITS):
        centre = frame[CODE_ROWS // 4:CODE_ROWS - CODE_ROWS // 4, k * block + block // 4:(k + 1) * block - block // 4]
        value = 2 * value + int(centre.mean() > 127.5)
    return value


def render_clip(split: str, number: int) -> np.ndarray:
    """Clip ``number`` of ``split`` as uint8 ``[FRAMES, CODE_ROWS + SIDE, SIDE, 3]`` RGB."""
    rng = np.random.default_rng([GENERATOR_VERSION, ("train", "test").index(split), number])
    photos = load_photos()
    name = PHOTO_NAMES[number % len(PHOTO_NAMES)]
    region = split_region(name, photos[name].shape, split)
    photo = photos[name][region.top:region.top + region.height, region.left:region.left + region.width]
    view = int(min(region.height, region.width) * rng.uniform(0.35, 0.7))
    room = np.array([region.height - view, region.width - view], dtype=np.float64)
    place = rng.uniform(0, 1, 2) * room
    objects = [{"centre": rng.uniform(8, SIDE - 8, 2), "velocity": rng.uniform(-2.5, 2.5, 2),
                "radius": int(rng.integers(4, 10)), "color": tuple(int(v) for v in rng.integers(0, 256, 3)),
                "disc": bool(rng.integers(2))} for _ in range(int(rng.integers(1, 3)))]
    pan = np.zeros(2)
    clip = []
    for t in range(FRAMES):
        if t % 12 == 0:  # a new stretch: moving (2 in 3) or still
            moving = rng.uniform() < 2 / 3
            pan = rng.uniform(1.0, 3.0) * np.array([np.sin(a := rng.uniform(0, 2 * np.pi)), np.cos(a)]) if moving \
                else np.zeros(2)
        top, left = int(place[0]), int(place[1])
        picture = cv2.resize(photo[top:top + view, left:left + view], (SIDE, SIDE), interpolation=cv2.INTER_AREA)
        for obj in objects:
            y, x = (int(v) for v in obj["centre"])
            r = obj["radius"]
            if obj["disc"]:
                cv2.circle(picture, (x, y), r, obj["color"], -1, cv2.LINE_AA)
            else:
                cv2.rectangle(picture, (x - r, y - r), (x + r, y + r), obj["color"], -1)
            if pan.any():
                obj["centre"] = obj["centre"] + obj["velocity"]
                for axis in range(2):  # bounce off the edges
                    if not 4 <= obj["centre"][axis] <= SIDE - 4:
                        obj["velocity"][axis] *= -1
                        obj["centre"][axis] = np.clip(obj["centre"][axis], 4, SIDE - 4)
        clip.append(np.concatenate([frame_code(t), picture]))
        step = pan * view / SIDE  # pan speed in picture pixels per frame
        for axis in range(2):
            if not 0 <= place[axis] + step[axis] <= room[axis]:
                pan[axis] *= -1
                step[axis] *= -1
        place = np.clip(place + step, 0, room)
    return np.stack(clip)


def write_clip(path: str, frames: np.ndarray) -> None:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), FPS, (frames.shape[2], frames.shape[1]))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video to {path!r}")
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))  # OpenCV wants BGR
    writer.release()


def ensure_videos(root: Optional[str] = None) -> str:
    """The folder of generated clips (``train/`` and ``test/``), writing it on
    first use; returns its path. Written to a temporary folder and renamed,
    so concurrent first uses and interrupted writes leave no partial set."""
    root = root or os.path.join(cache_root(), f"videos-v{GENERATOR_VERSION}")
    if os.path.isdir(root):
        return root
    tmp = f"{root}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    for split, count in CLIPS.items():
        os.makedirs(os.path.join(tmp, split))
        for number in range(count):
            write_clip(os.path.join(tmp, split, f"clip_{number:03d}.mp4"), render_clip(split, number))
    try:
        os.rename(tmp, root)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return root


class Videos(VideoTuples):
    """The built-in ``videos`` data set: mined windows of the generated clips.

    Items are ``(uint8 [5, 3, S, S] frames a..e, -1)`` with
    ``S = size * 9 // 8``, so the default tuple crop (``8/9`` of the frame,
    see :func:`sslfast.data.video.frame_tuples`) is ``size``. ``code=True``
    keeps the frame-index band (and the frames' native size). ``length``
    defaults to 64 draws per clip (train) or 16 (test). The clips are small,
    so each process keeps them decoded after its first read of each; with
    no decoding left to share, every draw takes the next clip
    (``per_read=1``), which keeps batches as varied as possible.
    """

    def __init__(self, split: str = "train", size: int = 64, *, seed: int = 0, gaps: Tuple[int, int] = (2, 4),
                 top: float = 0.5, code: bool = False, length: Optional[int] = None, root: Optional[str] = None):
        if split not in CLIPS:
            raise ValueError(f"split: expected one of {', '.join(CLIPS)}, got {split!r}")
        folder = VideoFolder(os.path.join(ensure_videos(root), split), keep_decoded=KEEP_DECODED)
        super().__init__(folder, size=None if code else size * 9 // 8, gaps=gaps, top=top, seed=seed,
                         draws_per_video=64 if split == "train" else 16, crop_top=0 if code else CODE_ROWS,
                         length=length, per_read=1)
