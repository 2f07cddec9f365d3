"""resize family: antialiased separable resampling, super-resolution pairs
(SRGAN), grayscale and Sobel gradients (DeepCluster's input), each fused with
dtype conversion and normalisation."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import check_choice, check_images, check_size, normalization, output_dtype

__all__ = ["LUMA_WEIGHTS", "grayscale", "resize", "sobel", "sr_pair"]

FILTERS = ("box", "bilinear", "bicubic")
# ITU-R BT.601 luma, as torchvision's rgb_to_grayscale.
LUMA_WEIGHTS = (0.2989, 0.587, 0.114)


# ---------------------------------------------------------------------------
def resize(images: torch.Tensor, size, *, filter: str = "bicubic", antialias: bool = True,
           out_dtype: Optional[torch.dtype] = None, mean: Optional[Sequence[float]] = None,
           std: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Resample a batch to ``size`` with a separable filter, in two passes.

    * ``'bilinear'`` / ``'bicubic'``: with ``antialias=True`` (default), the
      kernel is widened by the downscale factor, as PIL and
      ``F.interpolate(..., antialias=True, align_corners=False)`` do (bicubic
      with a = -0.5, as they do); with ``antialias=False``, the plain 2- or
      4-tap kernel of ``F.interpolate(..., antialias=False)`` (bicubic a = -0.75).
    * ``'box'``: area averaging, each output sample the exact mean of the input
      area it covers (OpenCV's ``INTER_AREA`` on downscaling); ``antialias``
      does not apply.

    Works up and down, with different factors per axis. All arithmetic is in
    float32 and a uint8 output is rounded once at the end (torch's CPU uint8
    path rounds between the passes as well, so on bicubic overshoot it can
    differ by more than one level).

    Args:
        images: ``[B, C, H, W]`` uint8, float16, bfloat16 or float32.
        size: output ``(height, width)``, or one int for both.
        filter: ``'box'``, ``'bilinear'`` or ``'bicubic'``.
        antialias: widen bilinear/bicubic when downscaling.
        out_dtype: output dtype; default the input's, or float32 when uint8
            input is normalised. uint8 input becomes [0, 1] in a floating output.
        mean, std: optional normalisation ``(x - mean[c]) / std[c]``, fused.

    Returns:
        ``[B, C, height, width]``: channels_last when ``images`` is
        channels_last (resampled in that layout, without a copy), else
        contiguous.
    """
    images = check_images(images)
    height, width = check_size(size)
    check_choice("filter", filter, FILTERS)
    if not isinstance(antialias, bool):
        raise TypeError(f"antialias: expected a bool, got {type(antialias).__name__}")
    mean, std = normalization(mean, std, images.shape[1])
    dtype = output_dtype(images, out_dtype, mean is not None)
    if not _is_channels_last(images):
        images = images.contiguous()
    return torch.ops.sslfast.resize(images, [height, width], filter, antialias, dtype, mean, std)


def _is_channels_last(images: torch.Tensor) -> bool:
    """NHWC memory that is not also NCHW-contiguous: the op's channels_last path."""
    return not images.is_contiguous() and images.is_contiguous(memory_format=torch.channels_last)


def sr_pair(images: torch.Tensor, scale: int, *, out_dtype: torch.dtype = torch.float32,
            mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
            filter: str = "bicubic", quantize: bool = True):
    """Super-resolution training pair from uint8 HR crops, in one pass.

    Returns ``(lr, hr)``: ``lr`` is the batch downsampled by ``scale`` with the
    antialiased ``filter`` (bicubic by default, as SRGAN's LR inputs), ``hr``
    the batch itself; both converted to ``out_dtype`` ([0, 1] range) and, with
    ``mean``/``std``, normalised.

    Args:
        images: uint8 ``[B, C, H, W]`` with ``H`` and ``W`` divisible by ``scale``.
        scale: integer downsampling factor (SRGAN uses 4).
        out_dtype: dtype of both outputs (default float32).
        mean, std: optional per-channel normalisation, fused, applied to both.
        filter: ``'bicubic'``, ``'bilinear'`` or ``'box'``, antialiased.
        quantize: round the LR image to whole uint8 levels before the
            conversion, as an 8-bit LR image saved by PIL would be (default).

    Returns:
        ``(lr [B, C, H // scale, W // scale], hr [B, C, H, W])``.
    """
    images = check_images(images)
    if images.dtype != torch.uint8:
        raise TypeError(f"images: sr_pair expects uint8 HR crops, got {str(images.dtype).replace('torch.', '')}")
    if isinstance(scale, bool) or not isinstance(scale, int):
        raise TypeError(f"scale: expected an int, got {type(scale).__name__}")
    height, width = images.shape[-2:]
    if scale < 1 or height % scale or width % scale:
        raise ValueError(f"scale: expected a positive integer dividing height {height} and width {width}, "
                         f"got {scale}")
    check_choice("filter", filter, FILTERS)
    if not isinstance(quantize, bool):
        raise TypeError(f"quantize: expected a bool, got {type(quantize).__name__}")
    mean, std = normalization(mean, std, images.shape[1])
    dtype = output_dtype(images, out_dtype, mean is not None)
    return torch.ops.sslfast.sr_pair(images.contiguous(), scale, filter, dtype, mean, std, quantize)


def _gray_weights(images: torch.Tensor, weights) -> list:
    channels = images.shape[1]
    if channels not in (1, 3):
        raise ValueError(f"images: expected 1 or 3 channels, got {channels}")
    if weights is None:
        return [1.0] if channels == 1 else list(LUMA_WEIGHTS)
    try:
        values = [float(w) for w in weights]
    except (TypeError, ValueError):
        raise TypeError(f"weights: expected a sequence of numbers, got {weights!r}") from None
    if len(values) != channels:
        raise ValueError(f"weights: expected {channels} values (one per channel), got {len(values)}")
    if any(v != v for v in values):
        raise ValueError("weights: contains NaN")
    return values


def grayscale(images: torch.Tensor, *, weights: Optional[Sequence[float]] = None,
              out_dtype: Optional[torch.dtype] = None, mean: Optional[float] = None,
              std: Optional[float] = None) -> torch.Tensor:
    """Gray ``[B, 1, H, W]`` as the weighted sum of the channels.

    Default weights are the BT.601 luma weights of torchvision's
    ``rgb_to_grayscale`` (0.2989, 0.587, 0.114); a 1-channel input passes
    through. A uint8 output is rounded to nearest (torchvision truncates).
    ``mean``/``std`` (one value each) normalise the gray output, fused.
    """
    images = check_images(images)
    gray_weights = _gray_weights(images, weights)
    mean, std = normalization(mean, std, 1)
    dtype = output_dtype(images, out_dtype, mean is not None)
    return torch.ops.sslfast.grayscale(images.contiguous(), gray_weights, dtype, mean, std)


def sobel(images: torch.Tensor, *, weights: Optional[Sequence[float]] = None,
          out_dtype: Optional[torch.dtype] = None, mean: Optional[Sequence[float]] = None,
          std: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Fused grayscale + 3x3 Sobel, DeepCluster's input: ``[B, 2, H, W]``.

    Channel 0 is d/dx (right minus left), channel 1 d/dy (below minus above),
    each the 3x3 Sobel response ``[[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]`` (and
    its transpose) of the gray image, zero-padded at the border (as
    DeepCluster's ``Conv2d(padding=1)``; DeepCluster's own kernels have the
    opposite sign, which a network does not notice).

    ``mean``/``std`` normalise the *input* channels before the gray
    conversion, as DeepCluster normalises and then filters; ``weights``
    default to the BT.601 luma weights (DeepCluster's code uses 1/3 each).
    uint8 input is scaled to [0, 1] first. ``out_dtype`` must be floating
    (default float32 for uint8 input, else the input's dtype).
    """
    images = check_images(images)
    gray_weights = _gray_weights(images, weights)
    mean, std = normalization(mean, std, images.shape[1])
    if out_dtype == torch.uint8:
        raise ValueError("out_dtype: Sobel gradients are signed; expected a floating dtype, got uint8")
    dtype = output_dtype(images, out_dtype, True)
    return torch.ops.sslfast.sobel(images.contiguous(), gray_weights, dtype, mean, std)


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::resize")
def _resize_fake(images, size, filter="bicubic", antialias=True, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4 and len(size) == 2)
    out = images.new_empty((images.shape[0], images.shape[1], size[0], size[1]), dtype=out_dtype or images.dtype)
    return out.contiguous(memory_format=torch.channels_last) if _is_channels_last(images) else out


@torch.library.register_fake("sslfast::sr_pair")
def _sr_pair_fake(images, scale, filter="bicubic", out_dtype=torch.float32, mean=None, std=None, quantize=True):
    torch._check(images.dim() == 4 and scale >= 1)
    b, c, h, w = images.shape
    lr = images.new_empty((b, c, h // scale, w // scale), dtype=out_dtype)
    return lr, images.new_empty((b, c, h, w), dtype=out_dtype)


@torch.library.register_fake("sslfast::grayscale")
def _grayscale_fake(images, weights, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4)
    b, _, h, w = images.shape
    return images.new_empty((b, 1, h, w), dtype=out_dtype or images.dtype)


@torch.library.register_fake("sslfast::sobel")
def _sobel_fake(images, weights, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4)
    b, _, h, w = images.shape
    return images.new_empty((b, 2, h, w), dtype=out_dtype or torch.float32)
