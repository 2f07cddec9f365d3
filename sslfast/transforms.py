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

__all__ = ["RandomRotation90", "Jigsaw", "RelativePatch", "RandomMask", "SuperResolutionPair"]


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


class _SampleCounter:
    """Data-set indices for batches given without them: consecutive numbers
    across calls, so each call draws fresh parameters."""

    def __init__(self):
        self.seen = 0

    def index(self, images: torch.Tensor, index: Optional[torch.Tensor]) -> torch.Tensor:
        if index is not None:
            return index.to(images.device)
        start, self.seen = self.seen, self.seen + images.shape[0]
        return torch.arange(start, self.seen, device=images.device)


class Jigsaw(nn.Module):
    """Jigsaw puzzles (Noroozi & Favaro 2016): shuffled, normalised tiles and
    the permutation's label.

    ``forward(images, index=None) -> (tiles, labels)``: ``tiles`` is
    ``[B, grid², C, tile, tile]`` (slot ``j`` shows tile
    ``permutations[labels[b], j]``, tiles numbered row-major), ``labels``
    int64 ``[B]`` in ``0 .. n_perms-1``. Each image gets a ``grid x grid``
    block of cells, one tile at a random offset inside each cell, and each
    tile is normalised to zero mean and unit std per channel; a fraction
    ``gray`` of the RGB images is turned gray first. Everything is one fused
    :func:`sslfast.ops.gather_patches` call whose parameters depend only on
    ``(seed, index)`` (without ``index``, consecutive calls count on).

    Defaults follow the released code scaled to the image: cells of
    ``min(H, W) // grid`` px and tiles of ``round(cell * 64 / 85)`` px
    (255 px images: 85 and 64; 96 px: 32 and 24), 100 permutations of the
    ``'max_min'`` greedy set, 30% gray images.

    The permutation set is the buffer ``permutations``; move the module to
    the images' device (``.to(device)``) so no copy is made per call.

    Args:
        seed: seed of the samplers.
        grid, cell, tile: puzzle geometry (see :func:`sslfast.ops.jigsaw_geometry`).
        n_perms, method: the permutation set (:func:`sslfast.ops.permutation_set`).
        gray: probability that an RGB image is grayscaled (1-channel images
            are left as they are).
        normalize: per-tile normalisation, ``'patch'`` (default), ``'rms'`` or None.
        out_dtype, mean, std: as in :func:`sslfast.ops.gather_patches`.
    """

    def __init__(self, seed: int = 0, *, grid: int = 3, cell: Optional[int] = None, tile: Optional[int] = None,
                 n_perms: int = 100, method: str = "max_min", gray: float = 0.3, normalize: Optional[str] = "patch",
                 out_dtype: Optional[torch.dtype] = None, mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None):
        super().__init__()
        self.seed, self.grid, self.cell, self.tile = seed, grid, cell, tile
        self.gray, self.normalize = gray, normalize
        self.out_dtype, self.mean, self.std = out_dtype, mean, std
        self.register_buffer("permutations", ops.permutation_set(n_perms, grid * grid, method=method))
        self._counter = _SampleCounter()

    def forward(self, images: torch.Tensor, index: Optional[torch.Tensor] = None):
        index = self._counter.index(images, index)
        size = tuple(images.shape[-2:])
        _, tile = ops.jigsaw_geometry(size, self.grid, self.cell, self.tile)
        src, origins, labels = ops.sample_jigsaw(self.seed, index, size, grid=self.grid, cell=self.cell,
                                                 tile=self.tile, permutations=self.permutations.to(index.device))
        gray = None
        if self.gray > 0 and images.shape[1] == 3:
            _, gray = ops.sample_color_drop(self.seed, index, self.grid * self.grid, drop=0.0, gray=self.gray)
        tiles = ops.gather_patches(images, src, origins, tile, normalize=self.normalize, gray=gray,
                                   out_dtype=self.out_dtype, mean=self.mean, std=self.std)
        return tiles, labels

    def extra_repr(self) -> str:
        return (f"seed={self.seed}, grid={self.grid}, n_perms={self.permutations.shape[0]}, gray={self.gray}, "
                f"normalize={self.normalize!r}")


class RelativePatch(nn.Module):
    """Context prediction (Doersch, Gupta & Efros 2015): a centre patch, one
    of its 8 neighbours, and the neighbour's position as the label.

    ``forward(images, index=None) -> (patches, labels)``: ``patches`` is
    ``[B, 2, C, patch, patch]`` (centre first), ``labels`` int64 ``[B]`` in
    ``0..7``, row-major around the centre (0 up-left, 1 up, 2 up-right,
    3 left, 4 right, 5 down-left, 6 down, 7 down-right). Patch places depend
    only on ``(seed, index)``; the colour-dropping noise changes every call.

    Chromatic-aberration countermeasures of the recipe, fused in the same
    pass: colour dropping (each patch keeps one random channel with
    probability ``color_drop``; the others become Gaussian noise with 1/100
    of the kept channel's std) and per-patch mean/RMS normalisation.

    Defaults scale the recipe's 96 px patches, 48 px gap and 7 px jitter
    (for 398 px of image) by ``min(H, W) / 398`` (96 px images: 23, 11, 1).

    Args:
        seed: seed of the samplers.
        patch, gap, jitter: geometry (see :func:`sslfast.ops.context_geometry`).
        color_drop: probability that a patch is colour-dropped (default 1,
            as the released code).
        normalize: ``'rms'`` (default), ``'patch'`` or None.
        noise_std, out_dtype, mean, std: as in :func:`sslfast.ops.gather_patches`.
    """

    def __init__(self, seed: int = 0, *, patch: Optional[int] = None, gap: Optional[int] = None,
                 jitter: Optional[int] = None, color_drop: float = 1.0, normalize: Optional[str] = "rms",
                 noise_std: float = 0.01, out_dtype: Optional[torch.dtype] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
        super().__init__()
        self.seed, self.patch, self.gap, self.jitter = seed, patch, gap, jitter
        self.color_drop, self.normalize, self.noise_std = color_drop, normalize, noise_std
        self.out_dtype, self.mean, self.std = out_dtype, mean, std
        self._counter = _SampleCounter()
        self._calls = 0

    def forward(self, images: torch.Tensor, index: Optional[torch.Tensor] = None):
        index = self._counter.index(images, index)
        size = tuple(images.shape[-2:])
        patch, gap, jitter = ops.context_geometry(size, self.patch, self.gap, self.jitter)
        src, origins, labels = ops.sample_context(self.seed, index, size, patch=patch, gap=gap, jitter=jitter)
        keep = None
        if self.color_drop > 0:
            keep, _ = ops.sample_color_drop(self.seed, index, 2, drop=self.color_drop, channels=images.shape[1])
        # A fresh noise stream per call, derived on the host (no sync).
        noise_seed = (self.seed + self._calls * 0x9E3779B97F4A7C15) % 2**63
        self._calls += 1
        patches = ops.gather_patches(images, src, origins, patch, normalize=self.normalize, keep_channel=keep,
                                     noise_seed=noise_seed, noise_std=self.noise_std, out_dtype=self.out_dtype,
                                     mean=self.mean, std=self.std)
        return patches, labels

    def extra_repr(self) -> str:
        return (f"seed={self.seed}, patch={self.patch}, gap={self.gap}, jitter={self.jitter}, "
                f"color_drop={self.color_drop}, normalize={self.normalize!r}")


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
        self._counter = _SampleCounter()
        self._calls = itertools.count()

    def forward(self, images: torch.Tensor, index: Optional[torch.Tensor] = None):
        index = self._counter.index(images, index)
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
