"""The real colour photographs bundled inside scikit-image and scikit-learn:
the offline default data (nothing is downloaded), and :class:`PhotoCrops`,
random crops of them from disjoint train and held-out regions."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, NamedTuple, Optional, Tuple

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

# Photographs only (no drawings such as colorwheel or logo).
PHOTO_NAMES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
               "retina", "motorcycle_left", "motorcycle_right", "china", "flower")
# A rectified stereo pair: the same scene, shifted horizontally between views.
STEREO_PAIR = ("motorcycle_left", "motorcycle_right")
HELD_OUT_FRACTION = 0.25
SPLITS = ("train", "test")


@lru_cache(maxsize=1)
def load_photos() -> Dict[str, np.ndarray]:
    """Name -> uint8 ``[H, W, 3]`` RGB array (read-only, cached), for every bundled photograph."""
    import skimage.data
    from sklearn.datasets import load_sample_image

    photos = {name: getattr(skimage.data, name)() for name in PHOTO_NAMES[:7]}
    left, right, _disparity = skimage.data.stereo_motorcycle()
    photos["motorcycle_left"], photos["motorcycle_right"] = left, right
    photos["china"] = load_sample_image("china.jpg")
    photos["flower"] = load_sample_image("flower.jpg")
    out = {}
    for name in PHOTO_NAMES:  # read-only: the cache is shared by every caller
        out[name] = np.array(photos[name][..., :3], dtype=np.uint8, order="C")
        out[name].setflags(write=False)
    return out


class Box(NamedTuple):
    """A rectangle of one photo, in pixels."""

    photo: str
    top: int
    left: int
    height: int
    width: int


def split_region(name: str, shape: Tuple[int, ...], split: str) -> Box:
    """The part of photo ``name`` that ``split`` may crop from: the held-out
    ("test") region is the last quarter along the photo's longer side, the
    train region the rest. The stereo pair is split by rows instead, since
    its horizontal disparity would show one view's held-out columns inside
    the other view's training columns."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
    height, width = shape[:2]
    by_rows = name in STEREO_PAIR or height > width
    extent = height if by_rows else width
    cut = int(round(extent * (1 - HELD_OUT_FRACTION)))
    start, stop = (0, cut) if split == "train" else (cut, extent)
    if by_rows:
        return Box(name, start, 0, stop - start, width)
    return Box(name, 0, start, height, stop - start)


class PhotoCrops(Dataset):
    """Random square crops of the bundled photographs (unlabelled: label -1).

    Crop ``i`` is a pure function of ``(seed, split, i)``: a photo drawn
    uniformly, a side of ``size * zoom`` source pixels (``zoom`` uniform in
    ``scale``; at most the region's shorter side) at a uniform position
    inside the split's region (see :func:`split_region`), resized to
    ``size`` x ``size`` (area averaging down, bilinear up). Train and
    held-out crops never share a pixel. ``length`` defaults to 10,000
    (train) or 2,000 (test).

    Items are ``(uint8 [3, size, size] tensor, -1)``.
    """

    classes = None  # unlabelled

    def __init__(self, split: str = "train", size: int = 64, *, length: Optional[int] = None, seed: int = 0,
                 scale: Tuple[float, float] = (1.0, 2.0)):
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale: expected 0 < low <= high, got {scale}")
        self.split, self.size, self.seed, self.scale = split, int(size), int(seed), scale
        self.length = int(length if length is not None else (10000 if split == "train" else 2000))
        self.photos = load_photos()
        self.regions = [split_region(name, photo.shape, split) for name, photo in self.photos.items()]

    def __len__(self) -> int:
        return self.length

    def crop_box(self, index: int) -> Box:
        """Where crop ``index`` comes from."""
        rng = np.random.default_rng([self.seed, SPLITS.index(self.split), int(index)])
        region = self.regions[rng.integers(len(self.regions))]
        side = int(round(self.size * rng.uniform(*self.scale)))
        side = max(1, min(side, region.height, region.width))
        top = region.top + int(rng.integers(region.height - side + 1))
        left = region.left + int(rng.integers(region.width - side + 1))
        return Box(region.photo, top, left, side, side)

    def crop(self, index: int) -> torch.Tensor:
        """Crop ``index`` as uint8 ``[3, size, size]``."""
        box = self.crop_box(index)
        pixels = self.photos[box.photo][box.top:box.top + box.height, box.left:box.left + box.width]
        if box.height != self.size:
            shrink = box.height > self.size
            pixels = cv2.resize(pixels, (self.size, self.size),
                                interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1).contiguous()

    def __getitem__(self, index: int):
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} crops")
        return self.crop(index), -1
