"""A user's folder of images, decoded with OpenCV."""
from __future__ import annotations

import os
import warnings
from typing import List, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


class ImageFolder(Dataset):
    """Every image under ``root`` (any nesting), as ``(uint8 [3, size, size], label)``.

    As torchvision's ImageFolder, the first-level sub-folders are the classes
    (label = their sorted position); images directly in ``root`` get label -1.
    If ``root`` holds ``train/`` and ``test/`` folders, ``split`` picks one.
    Images are resized (shorter side to ``size``, area filter when shrinking)
    and centre-cropped. An unreadable file is skipped — replaced by the next
    readable one — counted in ``unreadable`` and reported once, never crashing
    a worker.
    """

    def __init__(self, root: str, split: str = "train", size: int = 64):
        if not os.path.isdir(root):
            raise FileNotFoundError(f"root: no such folder {root!r}")
        if os.path.isdir(os.path.join(root, split)):
            root = os.path.join(root, split)
        self.root, self.size = root, size
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.samples: List[Tuple[str, int]] = []
        for folder, _dirs, files in sorted(os.walk(root)):
            relative = os.path.relpath(folder, root)
            label = self.classes.index(relative.split(os.sep)[0]) if relative != "." else -1
            self.samples += [(os.path.join(folder, f), label) for f in sorted(files)
                             if f.lower().endswith(IMAGE_EXTENSIONS)]
        if not self.samples:
            raise ValueError(f"root: no images ({', '.join(IMAGE_EXTENSIONS)}) under {root!r}")
        self.unreadable: set = set()

    def __len__(self) -> int:
        return len(self.samples)

    def _decode(self, path: str):
        data = np.fromfile(path, dtype=np.uint8) if os.path.getsize(path) else np.zeros(0, np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if image is None:
            return None
        h, w = image.shape[:2]
        scale = self.size / min(h, w)
        resized = cv2.resize(image, (max(self.size, round(w * scale)), max(self.size, round(h * scale))),
                             interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        top, left = (resized.shape[0] - self.size) // 2, (resized.shape[1] - self.size) // 2
        crop = cv2.cvtColor(resized[top:top + self.size, left:left + self.size], cv2.COLOR_BGR2RGB)
        return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).contiguous()

    def __getitem__(self, index: int):
        for offset in range(len(self.samples)):
            path, label = self.samples[(index + offset) % len(self.samples)]
            try:
                image = self._decode(path)
            except OSError:
                image = None
            if image is not None:
                return image, label
            if path not in self.unreadable:
                self.unreadable.add(path)
                warnings.warn(f"ImageFolder: skipping unreadable image {path}", stacklevel=2)
        raise ValueError(f"root: none of the {len(self.samples)} images under {self.root!r} could be decoded")
