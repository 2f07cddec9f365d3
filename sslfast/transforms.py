"""Drop-in batched transforms (``nn.Module``) over the fused ops.

They work on whole batches, on the CPU (e.g. inside a DataLoader's
``collate_fn``) or on the GPU after the batch has been moved there.
"""
from __future__ import annotations

import itertools
from typing import Optional, Sequence

import torch
from torch import nn

from . import ops

__all__ = ["RandomRotation90"]


class RandomRotation90(nn.Module):
    """Turn each image by a random multiple of 90 degrees; return the labels.

    ``forward(images, index=None) -> (rotated, labels)``. Labels come from the
    counter-based sampler: with ``index`` (the samples' data-set indices) they
    are a pure function of ``(seed, index)``; without it, consecutive calls
    draw fresh labels from an internal counter.

    With ``all_rotations=True`` every image is returned in all four rotations
    (``[4B, ...]``, rotation-major), as the RotNet reference trains.

    Args:
        seed: seed of the sampler.
        all_rotations: return all four rotations instead of one random one.
        out_dtype, mean, std: fused dtype conversion and normalisation, as in
            :func:`sslfast.ops.rotate90`.
    """

    def __init__(self, seed: int = 0, *, all_rotations: bool = False, out_dtype: Optional[torch.dtype] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
        super().__init__()
        self.seed = seed
        self.all_rotations = all_rotations
        self.out_dtype, self.mean, self.std = out_dtype, mean, std
        self._next_index = itertools.count()

    def forward(self, images: torch.Tensor, index: Optional[torch.Tensor] = None):
        if self.all_rotations:
            return ops.rotate90_all(images, out_dtype=self.out_dtype, mean=self.mean, std=self.std)
        if index is None:
            start = next(self._next_index) * images.shape[0]
            index = torch.arange(start, start + images.shape[0], device=images.device)
        labels = ops.sample_rotation(self.seed, index.to(images.device))
        return ops.rotate90(images, labels, out_dtype=self.out_dtype, mean=self.mean, std=self.std), labels

    def extra_repr(self) -> str:
        return f"seed={self.seed}, all_rotations={self.all_rotations}, out_dtype={self.out_dtype}"
