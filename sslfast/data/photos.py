"""The real colour photographs bundled inside scikit-image and scikit-learn:
the offline default data (nothing is downloaded)."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

# Photographs only (no drawings such as colorwheel or logo).
PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
               "retina", "motorcycle_left", "motorcycle_right", "china", "flower")

# Each photo's bottom strip is held out: held-out crops never overlap training crops.
HELD_OUT_FRACTION = 0.25


@lru_cache(maxsize=1)
def load_photos() -> Dict[str, np.ndarray]:
    """Name -> uint8 ``[H, W, 3]`` RGB array (read-only, cached) for every bundled photograph."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    photos = {name: getattr(skimage.data, name)() for name in PHOTO_NAMES[:7]}
    left, right, _disparity = skimage.data.stereo_motorcycle()
    photos["motorcycle_left"], photos["motorcycle_right"] = left, right
    photos["china"] = load_sample_image("china.jpg")
    photos["flower"] = load_sample_image("flower.jpg")
    out = {}
    for name in PHOTO_NAMES:
        array = np.ascontiguousarray(photos[name][..., :3], dtype=np.uint8).copy()
        array.setflags(write=False)
        out[name] = array
    return out


class PhotoCrops(Dataset):
    """Random square crops of the bundled photographs, resized to ``size``.

    Unlabelled: items are uint8 ``[3, size, size]`` tensors. Crop ``i`` is a
    pure function of ``(seed, split, i)``. ``split="train"`` crops come from
    the top 75% of every photo, ``"test"`` from the bottom 25%, so held-out
    crops share no pixel with training crops. Crop sides range from
    ``min_fraction`` of the region's short side to all of it.
    """

    def __init__(self, split: str = "train", size: int = 64, length: int = 0, seed: int = 0,
                 min_fraction: float = 0.3):
        if split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
        if size <= 0:
            raise ValueError(f"size: expected a positive number of pixels, got {size}")
        self.split, self.size, self.seed, self.min_fraction = split, size, seed, min_fraction
        self.length = length or (10000 if split == "train" else 1000)
        self.regions = []
        for photo in load_photos().values():
            cut = int(round(photo.shape[0] * (1 - HELD_OUT_FRACTION)))
            self.regions.append(photo[:cut] if split == "train" else photo[cut:])

    def __len__(self) -> int:
        return self.length

    def crop_box(self, index: int):
        """(photo, top, left, side) of crop ``index``."""
        rng = np.random.default_rng([self.seed, 0 if self.split == "train" else 1, index])
        photo = index % len(self.regions)
        h, w = self.regions[photo].shape[:2]
        short = min(h, w)
        side = int(rng.integers(max(1, int(short * self.min_fraction)), short + 1))
        return photo, int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1)), side

    def __getitem__(self, index: int) -> torch.Tensor:
        if not 0 <= index < self.length:
            raise IndexError(index)
        photo, top, left, side = self.crop_box(index)
        crop = self.regions[photo][top:top + side, left:left + side]
        interpolation = cv2.INTER_AREA if side > self.size else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (self.size, self.size), interpolation=interpolation)
        return torch.from_numpy(crop).permute(2, 0, 1).contiguous()
