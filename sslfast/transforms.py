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
from .ops._checks import check_choice, check_seed
from .ops.mask import KINDS as MASK_KINDS

__all__ = ["RandomMask", "RandomRotation90", "SuperResolutionPair"]


def _batch_index(counter, images: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
    """The samples' indices: given, or the next block of an internal counter."""
    if index is None:
        start = next(counter) * images.shape[0]
        return torch.arange(start, start + images.shape[0], device=images.device)
    return index.to(images.device)


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
        labels = ops.sample_rotation(self.seed, _batch_index(self._next_index, images, index))
        return ops.rotate90(images, labels, out_dtype=self.out_dtype, mean=self.mean, std=self.std), labels

    def extra_repr(self) -> str:
        return f"seed={self.seed}, all_rotations={self.all_rotations}, out_dtype={self.out_dtype}"


class RandomMask(nn.Module):
    """Mask each image for inpainting (Context Encoders); return the mask too.

    ``forward(images, index=None) -> (masked, mask)`` with ``mask`` bool
    ``[B, 1, H, W]`` (True = masked, the region to reconstruct). Masks come from
    the counter-based samplers: with ``index`` (the samples' data-set indices)
    they are a pure function of ``(seed, index)``; without it, consecutive
    calls draw fresh masks from an internal counter.

    Args:
        kind: ``'center'`` (default; the central ``fraction`` of each side),
            ``'blocks'`` or ``'region'``, as :func:`sslfast.ops.sample_masks`.
        fill: ``'mean'`` (default, each image's channel means), ``'zero'``,
            ``'noise'`` or a value per channel in the input's units (e.g. the
            data-set mean, as the paper), as :func:`sslfast.ops.apply_mask`.
            ``'noise'`` is seeded from ``seed`` and a call counter, so it
            differs from call to call.
        seed: seed of the sampler.
        out_dtype, mean, std: fused dtype conversion and normalisation.
        **sampler: ``fraction``, ``count``, ``block_size``, ``coverage``,
            ``cells`` of :func:`sslfast.ops.sample_masks`.
    """

    def __init__(self, kind: str = "center", *, fill="mean", seed: int = 0, out_dtype: Optional[torch.dtype] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None, **sampler):
        super().__init__()
        check_choice("kind", kind, MASK_KINDS)
        unknown = set(sampler) - {"fraction", "count", "block_size", "coverage", "cells"}
        if unknown:
            raise TypeError(f"sampler: unknown arguments {sorted(unknown)}")
        if kind != "region" and {"coverage", "cells"} & set(sampler):
            raise TypeError(f"sampler: coverage and cells apply to kind='region' only, not {kind!r}")
        self.kind, self.fill, self.seed = kind, fill, check_seed(seed)
        self.out_dtype, self.mean, self.std = out_dtype, mean, std
        self.sampler = sampler
        self._next_index = itertools.count()
        self._calls = itertools.count()

    def forward(self, images: torch.Tensor, index: Optional[torch.Tensor] = None):
        index = _batch_index(self._next_index, images, index)
        size = tuple(images.shape[-2:])
        noise_seed = (self.seed * 0x9E3779B1 + next(self._calls)) % 2**63
        convert = dict(fill=self.fill, noise_seed=noise_seed, out_dtype=self.out_dtype, mean=self.mean, std=self.std)
        if self.kind == "region":
            mask = ops.sample_masks(self.seed, index, size, kind="region", **self.sampler)
            return ops.apply_mask(images, mask, **convert), mask
        boxes = ops.sample_boxes(self.seed, index, size, kind=self.kind, **self.sampler)
        return ops.apply_mask(images, boxes, **convert)

    def extra_repr(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.sampler.items())
        return f"kind={self.kind!r}, fill={self.fill!r}, seed={self.seed}{options}"


class SuperResolutionPair(nn.Module):
    """``forward(hr_uint8) -> (lr, hr)``: SRGAN's training pair, LR the
    antialiased bicubic downsample by ``scale`` (default 4), both converted
    and normalised in one fused pass (:func:`sslfast.ops.sr_pair`)."""

    def __init__(self, scale: int = 4, *, out_dtype: torch.dtype = torch.float32,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                 filter: str = "bicubic", quantize: bool = True):
        super().__init__()
        self.scale, self.out_dtype, self.mean, self.std = scale, out_dtype, mean, std
        self.filter, self.quantize = filter, quantize

    def forward(self, images: torch.Tensor):
        return ops.sr_pair(images, self.scale, out_dtype=self.out_dtype, mean=self.mean, std=self.std,
                           filter=self.filter, quantize=self.quantize)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, filter={self.filter!r}, out_dtype={self.out_dtype}, quantize={self.quantize}"
