"""Data sets: user folders and the built-in offline data.

Every image data set yields ``(uint8 [3, H, W] tensor, label)`` items (label
-1 where there is none); the video data sets (``videos``,
:class:`VideoTuples`) yield mined five-frame windows, ``(uint8 [5, 3, H, W]
tensor, label)``, for the frame-order task. Each has a ``classes`` attribute
(label names, or None when unlabelled). :func:`get_dataset` is the one entry point the CLI and the
Trainer use.
"""
from __future__ import annotations

import os

from torch.utils.data import Dataset

from .digits import Digits
from .folder import IMAGE_EXTENSIONS, ImageFolder
from .photos import PHOTO_NAMES, PhotoCrops, load_photos
from .shapes import Shapes
from .video import VIDEO_EXTENSIONS, TupleMiner, VideoFolder, VideoTuples, frame_tuples, tuple_batches
from .videos import Videos

BUILT_IN = {"photos": PhotoCrops, "digits": Digits, "shapes": Shapes, "videos": Videos}

__all__ = ["get_dataset", "BUILT_IN", "Digits", "ImageFolder", "IMAGE_EXTENSIONS", "PhotoCrops", "Shapes",
           "PHOTO_NAMES", "load_photos", "VIDEO_EXTENSIONS", "TupleMiner", "VideoFolder", "VideoTuples", "Videos",
           "frame_tuples", "tuple_batches"]


def get_dataset(name_or_path: str, split: str = "train", size: int = 64, **options) -> Dataset:
    """A built-in data set by name, or a folder of images by path.

    Args:
        name_or_path: "photos" (:class:`PhotoCrops`, unlabelled crops of the
            bundled photographs), "digits" (:class:`Digits`), "shapes"
            (:class:`Shapes`), "videos" (:class:`Videos`, mined windows of
            the generated clips), or a directory (:class:`ImageFolder`; if it has
            ``train``/``test`` sub-folders, the one named by ``split`` is
            used, else a fixed 80/20 split of its files).
        split: "train" or "test" (held-out).
        size: image side in pixels (folders: shorter side resized, then
            centre-cropped).
        options: passed on to the data set's constructor (e.g. ``length``,
            ``seed``).
    """
    if name_or_path in BUILT_IN:
        return BUILT_IN[name_or_path](split, size, **options)
    if not os.path.isdir(name_or_path):
        raise ValueError(f"name_or_path: expected one of {', '.join(BUILT_IN)} or a directory of images, "
                         f"got {name_or_path!r}")
    split_dir = os.path.join(name_or_path, split)
    if os.path.isdir(split_dir):
        return ImageFolder(split_dir, size, **options)
    return ImageFolder(name_or_path, size, split=split, **options)
