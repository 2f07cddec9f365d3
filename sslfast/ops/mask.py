"""mask family (Context Encoders inpainting): mask samplers on the
counter-based generator (centre square, random blocks, random regions) and
the fused apply op that fills the masked pixels."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import (channel_values, check_choice, check_images, check_seed, check_size, check_tensor, normalization,
                      output_dtype, same_device)

__all__ = ["apply_mask", "sample_boxes", "sample_masks"]

BOX_KINDS = ("center", "blocks")
KINDS = BOX_KINDS + ("region",)
FILL_MODES = ("mean", "zero", "noise")


# ---------------------------------------------------------------------------
def _number_range(name: str, value, low: float, high: float, *, integer: bool = False) -> tuple:
    """(min, max) with low <= min <= max <= high; one number means (v, v)."""
    pair = (value, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    kind = int if integer else (int, float)
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or any(isinstance(v, bool) or not isinstance(v, kind) for v in pair)):
        what = "an int or a (min, max) pair of ints" if integer else "a number or a (min, max) pair"
        raise TypeError(f"{name}: expected {what}, got {value!r}")
    lo, hi = pair
    if not low <= lo <= hi <= high:  # also false for NaN
        raise ValueError(f"{name}: expected {low} <= min <= max <= {high}, got {tuple(pair)}")
    return lo, hi


def _pixels(fraction: float, size: int) -> int:
    return min(size, max(1, round(fraction * size)))


def _check_index(index) -> torch.Tensor:
    check_tensor("index", index, dims=1, dtypes=(torch.int64,))
    return index.contiguous()


def sample_boxes(seed: int, index: torch.Tensor, size, *, kind: str = "center", fraction: float = 0.5,
                 count=(1, 4), block_size=(0.125, 0.25)) -> torch.Tensor:
    """Mask boxes per sample: int64 ``[N, M, 4]`` rows ``(x0, y0, x1, y1)``, half-open.

    * ``'center'``: one square-ish box, ``fraction`` of each side (rounded),
      centred: Context Encoders' central 64x64 of a 128x128 crop is
      ``fraction=0.5``. The same for every sample (M = 1).
    * ``'blocks'``: a count uniform in ``count`` (inclusive) of blocks, each
      with height and width uniform in ``block_size`` (fractions of the image
      height and width, rounded to pixels) and a position uniform among those
      inside the image; blocks may overlap. M = ``count[1]``; a sample with
      fewer blocks has empty ``(0, 0, 0, 0)`` rows. The defaults (1 to 4
      blocks of 1/8 to 1/4 of each side) cover at most a quarter of the image,
      as the paper's random blocks.

    Counter-based: sample ``i`` depends only on ``(seed, index[i])``. Runs on
    ``index``'s device without a host synchronisation.
    """
    check_seed(seed)
    index = _check_index(index)
    height, width = check_size(size)
    check_choice("kind", kind, BOX_KINDS)
    if kind == "center":
        fraction = _number_range("fraction", fraction, 0.0, 1.0)[0]
        if fraction == 0:
            raise ValueError("fraction: expected 0 < fraction <= 1, got 0")
        h, w = _pixels(fraction, height), _pixels(fraction, width)
        return torch.ops.sslfast.sample_boxes(seed, index, height, width, 1, 1, h, h, w, w, True)
    count_min, count_max = _number_range("count", count, 0, 2**16, integer=True)
    if count_max < 1:
        raise ValueError(f"count: expected max >= 1, got {count!r}")
    size_min, size_max = _number_range("block_size", block_size, 0.0, 1.0)
    if size_min == 0:
        raise ValueError(f"block_size: expected 0 < min, got {block_size!r}")
    h_min, h_max = _pixels(size_min, height), _pixels(size_max, height)
    w_min, w_max = _pixels(size_min, width), _pixels(size_max, width)
    return torch.ops.sslfast.sample_boxes(seed, index, height, width, count_min, count_max, h_min, h_max, w_min,
                                          w_max, False)


def sample_masks(seed: int, index: torch.Tensor, size, *, kind: str = "center", fraction: float = 0.5,
                 count=(1, 4), block_size=(0.125, 0.25), coverage=(0.2, 0.3), cells: int = 8) -> torch.Tensor:
    """Inpainting masks, bool ``[N, 1, H, W]`` (True = masked), per sample.

    ``'center'`` and ``'blocks'`` rasterise :func:`sample_boxes` (same
    arguments). ``'region'``: random regions as Context Encoders', but drawn
    per sample on the device: uniform noise on a ``cells`` x ``cells`` grid,
    smoothly upsampled (cubic B-spline) to the image, and thresholded so that
    the masked pixel count is exactly a per-sample target, uniform over the
    whole pixel counts in ``coverage`` (default 20-30%; the reference
    upsampled noise by ~16x, which is ``cells=8`` at 128 px; fewer cells give
    larger blobs).

    Counter-based: sample ``i`` depends only on ``(seed, index[i])`` (and the
    size and parameters); CPU and CUDA give identical masks.
    """
    check_choice("kind", kind, KINDS)
    height, width = check_size(size)
    if kind != "region":
        boxes = sample_boxes(seed, index, size, kind=kind, fraction=fraction, count=count, block_size=block_size)
        return torch.ops.sslfast.boxes_to_mask(boxes, height, width)
    check_seed(seed)
    index = _check_index(index)
    low, high = _number_range("coverage", coverage, 0.0, 1.0)
    pixels = height * width
    covered_min, covered_max = math.ceil(low * pixels), math.floor(high * pixels)
    if covered_min > covered_max:
        raise ValueError(f"coverage: ({low}, {high}) of a {height}x{width} image contains no whole pixel count")
    if isinstance(cells, bool) or not isinstance(cells, int):
        raise TypeError(f"cells: expected an int, got {type(cells).__name__}")
    if not 2 <= cells <= 4096:
        raise ValueError(f"cells: expected 2 <= cells <= 4096, got {cells}")
    return torch.ops.sslfast.sample_region_masks(seed, index, height, width, cells, covered_min, covered_max)


# ---------------------------------------------------------------------------
def _fill_arguments(fill, channels: int):
    """(mode, values) for the native op."""
    if isinstance(fill, str):
        return check_choice("fill", fill, FILL_MODES), None
    if isinstance(fill, bool) or not isinstance(fill, (int, float, Sequence, torch.Tensor)):
        raise TypeError(f"fill: expected 'mean', 'zero', 'noise', a number or one per channel, got {fill!r}")
    return "value", channel_values("fill", fill, channels)


def apply_mask(images: torch.Tensor, mask: torch.Tensor, *, fill="mean", noise_seed: int = 0,
               out_dtype: Optional[torch.dtype] = None, mean: Optional[Sequence[float]] = None,
               std: Optional[Sequence[float]] = None):
    """Fill the masked pixels of each image, fused with dtype conversion and
    normalisation; the other pixels pass through unchanged (bit for bit when
    the dtype is kept and nothing is normalised).

    Args:
        images: ``[B, C, H, W]`` uint8, float16, bfloat16 or float32.
        mask: bool or uint8 ``[B, 1, H, W]`` (non-zero = masked), or int64
            boxes ``[B, M, 4]`` as :func:`sample_boxes` returns (parts outside
            the image are ignored; empty boxes mask nothing).
        fill: ``'mean'`` (each image's own per-channel mean), ``'zero'``,
            ``'noise'`` (uniform: whole levels 0..255 for uint8 input, [0, 1)
            otherwise, hashed from ``(noise_seed, output element)``), or a
            number / one number per channel (e.g. a data-set mean), in the
            input's units (0..255 for uint8).
        noise_seed: seed of the ``'noise'`` fill.
        out_dtype, mean, std: fused conversion and normalisation as in
            :func:`sslfast.ops.rotate90`, applied to filled and kept pixels alike.

    Returns:
        The masked images; with boxes, ``(masked, mask)`` where ``mask`` is
        the bool ``[B, 1, H, W]`` rasterisation of the boxes.
    """
    images = check_images(images)
    check_tensor("mask", mask)
    same_device("mask", mask, images)
    mode, values = _fill_arguments(fill, images.shape[1])
    check_seed(noise_seed, "noise_seed")
    mean, std = normalization(mean, std, images.shape[1])
    dtype = output_dtype(images, out_dtype, mean is not None)
    batch, _, height, width = images.shape
    if mask.dtype == torch.int64 and mask.dim() == 3:
        if mask.shape[0] != batch or mask.shape[2] != 4:
            raise ValueError(f"mask: expected boxes [{batch}, M, 4], got shape {tuple(mask.shape)}")
        return torch.ops.sslfast.apply_boxes(images.contiguous(), mask.contiguous(), mode, values, noise_seed, dtype,
                                             mean, std)
    if mask.dtype not in (torch.bool, torch.uint8):
        raise TypeError("mask: expected a bool or uint8 mask [B, 1, H, W] or int64 boxes [B, M, 4], got dtype "
                        f"{str(mask.dtype).replace('torch.', '')} and shape {tuple(mask.shape)}")
    if tuple(mask.shape) != (batch, 1, height, width):
        raise ValueError(f"mask: expected shape {(batch, 1, height, width)}, got {tuple(mask.shape)}")
    if mask.dtype == torch.uint8:
        mask = mask != 0
    return torch.ops.sslfast.apply_mask(images.contiguous(), mask.contiguous(), mode, values, noise_seed, dtype,
                                        mean, std)


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::sample_boxes")
def _sample_boxes_fake(seed, index, height, width, count_min, count_max, h_min, h_max, w_min, w_max, centered):
    return index.new_empty((index.shape[0], count_max, 4))


@torch.library.register_fake("sslfast::boxes_to_mask")
def _boxes_to_mask_fake(boxes, height, width):
    return boxes.new_empty((boxes.shape[0], 1, height, width), dtype=torch.bool)


@torch.library.register_fake("sslfast::sample_region_masks")
def _sample_region_masks_fake(seed, index, height, width, cells, covered_min, covered_max):
    return index.new_empty((index.shape[0], 1, height, width), dtype=torch.bool)


@torch.library.register_fake("sslfast::apply_mask")
def _apply_mask_fake(images, mask, fill="zero", value=None, noise_seed=0, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4 and mask.dim() == 4)
    return images.new_empty(images.shape, dtype=out_dtype or images.dtype)


@torch.library.register_fake("sslfast::apply_boxes")
def _apply_boxes_fake(images, boxes, fill="zero", value=None, noise_seed=0, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4 and boxes.dim() == 3)
    b, _, h, w = images.shape
    return images.new_empty(images.shape, dtype=out_dtype or images.dtype), images.new_empty((b, 1, h, w),
                                                                                          dtype=torch.bool)
