"""rotate family (RotNet): quarter turns fused with dtype conversion and
normalisation, and the rotation-label sampler."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import (check_images, check_seed, check_tensor, checking_values, normalization, output_dtype,
                      same_device)

__all__ = ["rotate90", "rotate90_all", "sample_rotation"]


# ---------------------------------------------------------------------------
def rotate90(images: torch.Tensor, k: torch.Tensor, *, out_dtype: Optional[torch.dtype] = None,
             mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Turn each image by its own multiple of 90 degrees, in one fused pass.

    ``out[i] == torch.rot90(images[i], k[i], dims=(-2, -1))`` (counter-clockwise),
    converted to ``out_dtype`` (uint8 input is scaled to [0, 1] for a floating
    output, floating input scaled by 255 and rounded for a uint8 output) and, if
    ``mean``/``std`` are given, normalised as ``(x - mean[c]) / std[c]`` in the
    same pass.

    Args:
        images: ``[B, C, S, S]`` uint8, float16, bfloat16 or float32.
        k: int64 ``[B]`` with values in 0..3, on the device of ``images``.
        out_dtype: output dtype; default the input's, or float32 when uint8
            input is normalised.
        mean, std: one value or one per channel (at most 64 channels), in the
            output's units (the [0, 1] range for uint8 input).

    Returns:
        ``[B, C, S, S]`` contiguous tensor.
    """
    images = check_images(images, square=True)
    check_tensor("k", k, dims=1, dtypes=(torch.int64,))
    same_device("k", k, images)
    if k.shape[0] != images.shape[0]:
        raise ValueError(f"k: expected one value per image ({images.shape[0]}), got {k.shape[0]}")
    if checking_values():
        low, high = torch.aminmax(k)
        if low.item() < 0 or high.item() > 3:
            raise ValueError(f"k: expected values in 0..3, got values in {low.item()}..{high.item()}")
    mean, std = normalization(mean, std, images.shape[1])
    dtype = output_dtype(images, out_dtype, mean is not None)
    return torch.ops.sslfast.rotate90(images.contiguous(), k.contiguous(), dtype, mean, std)


def rotate90_all(images: torch.Tensor, *, out_dtype: Optional[torch.dtype] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
    """All four rotations of every image, as the RotNet reference feeds them.

    Returns ``(out, labels)``: ``out`` is ``[4B, C, S, S]``, rotation-major
    (``out[r * B + i]`` is image ``i`` turned ``r`` quarter turns
    counter-clockwise), and ``labels`` is int64 ``[4B]`` with ``labels[r * B + i]
    == r``. ``out_dtype``, ``mean`` and ``std`` are as in :func:`rotate90`.
    """
    images = check_images(images, square=True)
    mean, std = normalization(mean, std, images.shape[1])
    dtype = output_dtype(images, out_dtype, mean is not None)
    out = torch.ops.sslfast.rotate90_all(images.contiguous(), dtype, mean, std)
    labels = torch.arange(4, device=images.device).repeat_interleave(images.shape[0])
    return out, labels


def sample_rotation(seed: int, index: torch.Tensor) -> torch.Tensor:
    """Rotation labels (int64, uniform in 0..3) for samples ``index`` under ``seed``.

    Counter-based: label ``i`` depends only on ``(seed, index[i])``, so the same
    sample gets the same label in any batch, on any device. Runs on ``index``'s
    device without a host synchronisation.
    """
    check_seed(seed)
    check_tensor("index", index, dims=1, dtypes=(torch.int64,))
    return torch.ops.sslfast.sample_rotation(seed, index.contiguous())


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::rotate90")
def _rotate90_fake(images, k, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4 and k.dim() == 1 and k.shape[0] == images.shape[0])
    return images.new_empty(images.shape, dtype=out_dtype or images.dtype)


@torch.library.register_fake("sslfast::rotate90_all")
def _rotate90_all_fake(images, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4)
    b, c, h, w = images.shape
    return images.new_empty((4 * b, c, h, w), dtype=out_dtype or images.dtype)


@torch.library.register_fake("sslfast::sample_rotation")
def _sample_rotation_fake(seed, index):
    return torch.empty_like(index)
