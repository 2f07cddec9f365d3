"""A folder of images on disk, decoded with OpenCV, robust to bad files."""
from __future__ import annotations

import os
import warnings
import zlib
from typing import List, Optional, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".jp2")
SPLITS = ("train", "test", "all")
TEST_FRACTION = 0.2


def _in_split(relative_path: str, split: str) -> bool:
    """Fixed 80/20 train/test assignment by a hash of the file's path."""
    if split == "all":
        return True
    held_out = zlib.crc32(relative_path.encode()) % 1000 < TEST_FRACTION * 1000
    return held_out == (split == "test")


def fit_square(image: np.ndarray, size: Optional[int]) -> np.ndarray:
    """An HWC image with its shorter side resized to ``size`` (area averaging
    down, bilinear up), centre-cropped to ``size`` x ``size``; as is for None."""
    if size is None:
        return image
    h, w = image.shape[:2]
    scale = size / min(h, w)
    new_h, new_w = max(size, round(h * scale)), max(size, round(w * scale))
    if (new_h, new_w) != (h, w):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    return image[top:top + size, left:left + size]


class ImageFolder(Dataset):
    """Every image under ``root`` (any nesting, symlinks not followed).

    Labels as torchvision's ``ImageFolder``: when ``root`` has
    sub-folders, each top-level sub-folder is a class (sorted names, label =
    position; images directly in ``root`` are then ignored) and every image
    anywhere beneath it carries its label; a folder of loose images is
    unlabelled (label -1). Samples are in class order, then path order.
    ``split`` "train"/"test" keeps a fixed 80/20
    share of the files chosen by a hash of their paths; "all" keeps every
    file.

    Images are decoded as RGB with OpenCV and, with ``size``, resized so the
    shorter side is ``size`` and centre-cropped to ``size`` x ``size``.
    Files OpenCV cannot read are skipped, never raised: those whose header
    no decoder accepts when the folder is scanned, and those that fail to
    decode when loaded (the next readable file takes their place). Each is
    listed in ``skipped`` as ``(path, reason)`` and warned about once; in
    DataLoader workers each worker keeps its own list.

    Items are ``(uint8 [3, H, W] tensor, label)``.
    """

    def __init__(self, root: str, size: Optional[int] = None, *, split: str = "all",
                 extensions: Tuple[str, ...] = IMAGE_EXTENSIONS):
        if not os.path.isdir(root):
            raise ValueError(f"root: {root!r} is not a directory")
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        self.root, self.size = root, size
        self.skipped: List[Tuple[str, str]] = []
        self._broken = set()
        entries = sorted(os.scandir(root), key=lambda e: e.name)
        class_dirs = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
        self.classes = tuple(class_dirs) if class_dirs else None
        self.samples: List[Tuple[str, int]] = []
        tops = [(os.path.join(root, name), label) for label, name in enumerate(class_dirs)] or [(root, -1)]
        for top, label in tops:
            paths = sorted(os.path.join(directory, name) for directory, _, files in os.walk(top) for name in files
                           if name.lower().endswith(extensions))
            for path in paths:
                if not _in_split(os.path.relpath(path, root), split):
                    continue
                if cv2.haveImageReader(path):
                    self.samples.append((path, label))
                else:
                    self._skip(path, "no OpenCV decoder accepts its header")
        if not self.samples:
            raise ValueError(f"root: no readable images with extensions {', '.join(extensions)} under {root!r}"
                             f" (split {split!r})")

    def __len__(self) -> int:
        return len(self.samples)

    def _skip(self, path: str, reason: str) -> None:
        self.skipped.append((path, reason))
        self._broken.add(path)
        warnings.warn(f"sslfast.data.ImageFolder: skipping {path}: {reason}", RuntimeWarning, stacklevel=3)

    def _decode(self, path: str) -> Optional[np.ndarray]:
        try:
            image = cv2.imread(path, cv2.IMREAD_COLOR_RGB)
        except cv2.error:
            image = None
        if image is None:
            self._skip(path, "failed to decode")
        return image

    def __getitem__(self, index: int):
        for step in range(len(self.samples)):
            path, label = self.samples[(index + step) % len(self.samples)]
            if path in self._broken:
                continue
            image = self._decode(path)
            if image is not None:
                pixels = np.ascontiguousarray(fit_square(image, self.size))
                return torch.from_numpy(pixels).permute(2, 0, 1).contiguous(), label
        raise RuntimeError(f"root: none of the {len(self.samples)} images under {self.root!r} could be decoded")
