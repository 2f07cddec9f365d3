"""Data sets: user folders and the built-in offline data.

``get_dataset(name_or_path, split, size)`` is what the CLI and the Trainer use:
``photos`` (unlabelled crops of bundled photographs), ``digits`` (labelled),
``shapes`` (labelled renders, once the renderer is built) or a folder path.
"""
from __future__ import annotations

import os

from torch.utils.data import Dataset

from .digits import Digits
from .folder import ImageFolder
from .photos import PHOTO_NAMES, PhotoCrops, load_photos

BUILT_IN = ("photos", "digits")

__all__ = ["BUILT_IN", "Digits", "ImageFolder", "PHOTO_NAMES", "PhotoCrops", "get_dataset", "load_photos"]


def get_dataset(name_or_path: str, split: str = "train", size: int = 64, **options) -> Dataset:
    """A built-in data set by name, or an :class:`ImageFolder` for a path."""
    if name_or_path == "photos":
        return PhotoCrops(split, size, **options)
    if name_or_path == "digits":
        return Digits(split, size, **options)
    if os.path.isdir(name_or_path):
        return ImageFolder(name_or_path, split, size)
    raise ValueError(f"data: {name_or_path!r} is neither a built-in data set ({', '.join(BUILT_IN)}) "
                     "nor an existing folder")
