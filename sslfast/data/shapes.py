"""``shapes``: labelled synthetic renders made on the fly by the render op.

Each image shows one central object whose primitive type is the label, with
optional smaller distractors behind it, a random pose, colour, texture and
lights, in front of a crop of the bundled photographs (or a plain colour),
often above a textured ground plane. Scene ``i`` is a pure function of
``(seed, i)``; the train split uses scene indices ``0 .. length - 1`` and the
test split ``TEST_OFFSET + 0 ..``, so the splits never share a scene.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from torch.utils.data import Dataset

from .. import ops
from .photos import PhotoCrops

SPLITS = ("train", "test")
TEST_OFFSET = 1 << 40
BACKGROUNDS = ("photos", "color")


class Shapes(Dataset):
    """Synthetic labelled renders (see the module docstring).

    Args:
        split: "train" or "test".
        size: image side in pixels.
        length: number of images (default 10,000 for train, 2,000 for test).
        seed: seed of the scene sampler (and of the background crops).
        classes: primitive kinds, the labels in this order (distinct names
            among sphere, box, cylinder, cone).
        distractors: (low, high) extra objects per image.
        background: "photos" (crops of the bundled photographs from the same
            split's region) or "color" (a random plain colour).
        ground_plane: probability of a textured ground plane.
        samples: anti-aliasing rays per pixel and axis.

    Items are ``(uint8 [3, size, size] tensor, label)``. ``__getitems__``
    renders a whole DataLoader batch in one call; :meth:`render` returns the
    float image with its depth, normals, edges and ids for the
    synthetic-imagery task.
    """

    def __init__(self, split: str = "train", size: int = 64, *, length: Optional[int] = None, seed: int = 0,
                 classes: Sequence[str] = ops.render.SAMPLED_KINDS, distractors=(0, 2),
                 background: str = "photos", ground_plane: float = 0.5, samples: int = 2):
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {', '.join(SPLITS)}, got {split!r}")
        if background not in BACKGROUNDS:
            raise ValueError(f"background: expected one of {', '.join(BACKGROUNDS)}, got {background!r}")
        low, high = distractors
        if not 0 <= low <= high:
            raise ValueError(f"distractors: expected 0 <= low <= high, got {distractors}")
        self.split, self.size, self.seed, self.samples = split, int(size), int(seed), int(samples)
        self.length = int(length if length is not None else (10000 if split == "train" else 2000))
        self.classes = tuple(classes)
        if not self.classes or any(c not in ops.render.SAMPLED_KINDS for c in self.classes):
            raise ValueError(f"classes: expected names among {', '.join(ops.render.SAMPLED_KINDS)}, got {classes!r}")
        kinds = [ops.PRIMITIVES.index(c) for c in self.classes]
        self._label_of_kind = torch.full((len(ops.PRIMITIVES),), -1, dtype=torch.int64)
        self._label_of_kind[kinds] = torch.arange(len(kinds))
        self.n_objects = (1 + low, 1 + high)
        self.ground_plane = ground_plane
        self.offset = 0 if split == "train" else TEST_OFFSET
        self.photos = PhotoCrops(split, self.size, length=self.length, seed=seed) if background == "photos" else None

    def __len__(self) -> int:
        return self.length

    def scene_index(self, indices: Sequence[int]) -> torch.Tensor:
        """The sampler indices of data set items ``indices``."""
        index = torch.as_tensor(list(indices), dtype=torch.int64)
        if len(index) and (index.min() < 0 or index.max() >= self.length):
            raise IndexError(f"indices out of range for {self.length} images")
        return index + self.offset

    def render(self, indices: Sequence[int], *, rgb_dtype: torch.dtype = torch.float32) -> Dict[str, torch.Tensor]:
        """Items ``indices`` rendered in one call: the dict of
        :func:`sslfast.ops.render_scenes` plus ``labels`` (int64 ``[B]``)."""
        scenes = ops.sample_scenes(self.seed, self.scene_index(indices), n_objects=self.n_objects,
                                   classes=self.classes, ground_plane=self.ground_plane, central=True)
        background = None
        if self.photos is not None:
            background = torch.stack([self.photos.crop(i) for i in indices])
        out = ops.render_scenes(scenes, self.size, self.size, samples=self.samples, rgb_dtype=rgb_dtype,
                                background=background)
        out["labels"] = self._label_of_kind[scenes.kinds[:, 0]]
        return out

    def __getitems__(self, indices: Sequence[int]):
        out = self.render(indices, rgb_dtype=torch.uint8)
        return list(zip(out["rgb"].unbind(0), out["labels"].tolist()))

    def __getitem__(self, index: int):
        return self.__getitems__([index])[0]
