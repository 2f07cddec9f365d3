"""motion family (Shuffle & Learn tuple mining): how much a clip moves
between consecutive frames, measured cheaply at low resolution."""
from __future__ import annotations

import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import SUPPORTED_DTYPES, check_tensor, checking_values

__all__ = ["frame_motion"]


def frame_motion(frames: torch.Tensor, *, size: int = 32) -> torch.Tensor:
    """Mean absolute difference of consecutive frames at low resolution.

    Each frame is box-averaged to at most ``size x size`` cells (the bins of
    ``torch.nn.functional.adaptive_avg_pool2d``; a side shorter than ``size``
    keeps its pixels) in the same pass that reads it, and step ``t`` scores
    ``mean(|low[t + 1] - low[t]|)`` over channels and cells, in [0, 1] units
    (uint8 values are divided by 255). A still clip scores 0 everywhere; a
    cut shows as a spike. Misra et al. rank windows by optical flow; this is
    the cheap stand-in the tuple miner uses.

    Args:
        frames: ``[T, C, H, W]`` (one clip) or ``[N, T, C, H, W]`` (clips of
            equal length), uint8, float16, bfloat16 or float32, ``T >= 2``.
        size: side of the low-resolution grid (default 32).

    Returns:
        float32 ``[T - 1]`` (or ``[N, T - 1]``) on the device of ``frames``.
    """
    check_tensor("frames", frames, dtypes=SUPPORTED_DTYPES)
    if frames.dim() not in (4, 5):
        raise ValueError(f"frames: expected [T, C, H, W] or [N, T, C, H, W], got shape {tuple(frames.shape)}")
    if frames.dim() == 5 and frames.shape[0] == 0:
        raise ValueError("frames: empty batch of clips (N == 0)")
    if frames.shape[-4] < 2:
        raise ValueError(f"frames: expected at least 2 frames (T >= 2), got shape {tuple(frames.shape)}")
    if min(frames.shape[-3:]) == 0:
        raise ValueError(f"frames: channels, height and width must be non-zero, got {tuple(frames.shape)}")
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size: expected an int, got {type(size).__name__}")
    if size < 1:
        raise ValueError(f"size: expected a positive int, got {size}")
    if frames.is_floating_point() and checking_values() and bool(torch.isnan(frames).any()):
        raise ValueError("frames: contains NaN")
    return torch.ops.sslfast.frame_motion(frames.contiguous(), size)


@torch.library.register_fake("sslfast::frame_motion")
def _frame_motion_fake(frames, size=32):
    torch._check(frames.dim() in (4, 5))
    return frames.new_empty(tuple(frames.shape[:-4]) + (frames.shape[-4] - 1,), dtype=torch.float32)
