"""Typed Python wrappers over ``torch.ops.sslfast``.

This module is the only place that calls the native ops. Each wrapper checks
its arguments and raises :class:`ValueError` or :class:`TypeError` naming the
argument, what was expected and what was given; each op also has a fake
(meta) kernel so it traces under ``torch.compile``.

Conventions: images are ``[B, C, H, W]``, uint8 in [0, 255] or floating in
[0, 1] as in torchvision. Per-sample randomness comes from *sampler* ops that
hash ``(seed, index)``: a sample's parameters depend only on the seed and its
index, never on batch size, device or call order.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from . import _C  # noqa: F401  (registers torch.ops.sslfast)

__all__ = ["rotate90", "rotate90_all", "sample_rotation", "SUPPORTED_DTYPES"]

SUPPORTED_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
_FLOAT_DTYPES = SUPPORTED_DTYPES[1:]
_MAX_NORMALIZED_CHANNELS = 64  # kMaxAffineChannels in csrc/kernels/common.h


# ---------------------------------------------------------------------------
# Shared argument checks
# ---------------------------------------------------------------------------
def _check_tensor(name: str, value, *, dims: Optional[int] = None, dtypes=None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if dtypes is not None and value.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise TypeError(f"{name}: expected dtype {names}, got {str(value.dtype).replace('torch.', '')}")
    if dims is not None and value.dim() != dims:
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {tuple(value.shape)}")
    return value


def _check_images(images, *, square: bool = False) -> torch.Tensor:
    _check_tensor("images", images, dtypes=SUPPORTED_DTYPES)
    if images.dim() != 4:
        raise ValueError(f"images: expected [B, C, H, W], got shape {tuple(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError("images: empty batch (B == 0)")
    if images.shape[1] == 0 or images.shape[2] == 0 or images.shape[3] == 0:
        raise ValueError(f"images: channels, height and width must be non-zero, got {tuple(images.shape)}")
    if square and images.shape[2] != images.shape[3]:
        raise ValueError(
            f"images: quarter turns need square images (H == W), got H={images.shape[2]}, W={images.shape[3]}")
    return images


def _same_device(name: str, value: torch.Tensor, reference: torch.Tensor) -> None:
    if value.device != reference.device:
        raise ValueError(f"{name}: expected device {reference.device} (that of images), got {value.device}")


def _output_dtype(images: torch.Tensor, out_dtype, normalizing: bool) -> torch.dtype:
    """Default: the input dtype, or float32 for uint8 input being normalised."""
    if out_dtype is None:
        return torch.float32 if (normalizing and images.dtype == torch.uint8) else images.dtype
    if not isinstance(out_dtype, torch.dtype) or out_dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"out_dtype: expected one of uint8, float16, bfloat16, float32, got {out_dtype!r}")
    if normalizing and out_dtype == torch.uint8:
        raise ValueError("out_dtype: normalised output (mean/std given) must be floating, got uint8")
    return out_dtype


def _channel_values(name: str, values, channels: int) -> Optional[list]:
    """mean/std as a list of floats: one value, or one per channel."""
    if values is None:
        return None
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().reshape(-1).tolist()
    elif isinstance(values, (int, float)):
        values = [values]
    try:
        values = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number or a sequence of numbers, got {values!r}") from None
    if len(values) not in (1, channels):
        raise ValueError(f"{name}: expected 1 or {channels} values (one per channel), got {len(values)}")
    if channels > _MAX_NORMALIZED_CHANNELS and len(values) > 1:
        raise ValueError(f"{name}: per-channel values support at most {_MAX_NORMALIZED_CHANNELS} channels")
    if any(v != v for v in values):
        raise ValueError(f"{name}: contains NaN")
    return values


def _normalization(mean, std, channels: int):
    mean = _channel_values("mean", mean, channels)
    std = _channel_values("std", std, channels)
    if (mean is None) != (std is None):
        raise ValueError("mean and std: give both or neither")
    if std is not None:
        if any(s == 0 or s in (float("inf"), float("-inf")) for s in std):
            raise ValueError(f"std: values must be finite and non-zero, got {std}")
        if len(mean) != len(std):
            raise ValueError(f"mean and std: expected the same length, got {len(mean)} and {len(std)}")
    return mean, std


def _checking_values() -> bool:
    """Value checks read tensor data (a host sync on GPU): skip them while
    tracing for torch.compile or capturing a CUDA graph."""
    if torch.compiler.is_compiling():
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


# ---------------------------------------------------------------------------
# rotate family (RotNet)
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
    images = _check_images(images, square=True)
    _check_tensor("k", k, dims=1, dtypes=(torch.int64,))
    _same_device("k", k, images)
    if k.shape[0] != images.shape[0]:
        raise ValueError(f"k: expected one value per image ({images.shape[0]}), got {k.shape[0]}")
    if _checking_values():
        low, high = torch.aminmax(k)
        if low.item() < 0 or high.item() > 3:
            raise ValueError(f"k: expected values in 0..3, got values in {low.item()}..{high.item()}")
    mean, std = _normalization(mean, std, images.shape[1])
    dtype = _output_dtype(images, out_dtype, mean is not None)
    return torch.ops.sslfast.rotate90(images.contiguous(), k.contiguous(), dtype, mean, std)


def rotate90_all(images: torch.Tensor, *, out_dtype: Optional[torch.dtype] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None):
    """All four rotations of every image, as the RotNet reference feeds them.

    Returns ``(out, labels)``: ``out`` is ``[4B, C, S, S]``, rotation-major
    (``out[r * B + i]`` is image ``i`` turned ``r`` quarter turns
    counter-clockwise), and ``labels`` is int64 ``[4B]`` with ``labels[r * B + i]
    == r``. ``out_dtype``, ``mean`` and ``std`` are as in :func:`rotate90`.
    """
    images = _check_images(images, square=True)
    mean, std = _normalization(mean, std, images.shape[1])
    dtype = _output_dtype(images, out_dtype, mean is not None)
    out = torch.ops.sslfast.rotate90_all(images.contiguous(), dtype, mean, std)
    labels = torch.arange(4, device=images.device).repeat_interleave(images.shape[0])
    return out, labels


def sample_rotation(seed: int, index: torch.Tensor) -> torch.Tensor:
    """Rotation labels (int64, uniform in 0..3) for samples ``index`` under ``seed``.

    Counter-based: label ``i`` depends only on ``(seed, index[i])``, so the same
    sample gets the same label in any batch, on any device. Runs on ``index``'s
    device without a host synchronisation.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected 0 <= seed < 2**63, got {seed}")
    _check_tensor("index", index, dims=1, dtypes=(torch.int64,))
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
