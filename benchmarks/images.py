"""Benchmark inputs: batches of random crops of the real photographs bundled
with scikit-image and scikit-learn (natural image statistics, which matters
for resampling: bicubic overshoot and rounding behave as on real data)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslfast.data.photos import load_photos


def photo_batch(shape, seed: int = 0) -> torch.Tensor:
    """uint8 ``[B, 3, S, S]`` random crops (photo and position drawn from ``seed``)."""
    batch, channels, height, width = shape
    if channels != 3:
        raise ValueError(f"photo_batch makes RGB crops, got {channels} channels")
    photos = [p for p in load_photos().values() if p.shape[0] >= height and p.shape[1] >= width]
    rng = np.random.default_rng(seed)
    out = np.empty((batch, height, width, 3), dtype=np.uint8)
    for i in range(batch):
        photo = photos[rng.integers(len(photos))]
        top = rng.integers(photo.shape[0] - height + 1)
        left = rng.integers(photo.shape[1] - width + 1)
        out[i] = photo[top:top + height, left:left + width]
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


@dataclass
class ImageBatch:
    """A job's inputs: a uint8 batch on a device (jobs with parameters subclass it)."""

    x: torch.Tensor  # uint8 [B, 3, S, S]
    device: str

    @property
    def batch(self) -> int:
        return self.x.shape[0]


def photo_inputs(shape, device: str = "cpu", seed: int = 0) -> ImageBatch:
    """``make_inputs`` of a job whose input is just a batch of photo crops."""
    return ImageBatch(photo_batch(shape, seed).to(device), device)


def batch_group_name(family: str, shape) -> str:
    """``group_name`` of such a job: the family and the batch shape."""
    return f"{family} {'x'.join(map(str, shape))}"
