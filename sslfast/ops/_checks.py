"""Argument checks shared by the op wrappers: each raises ValueError or
TypeError whose message starts with the argument's name."""
from __future__ import annotations

from typing import Optional

import torch

SUPPORTED_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)
MAX_NORMALIZED_CHANNELS = 64  # kMaxAffineChannels in csrc/kernels/common.h


# ---------------------------------------------------------------------------
def check_tensor(name: str, value, *, dims: Optional[int] = None, dtypes=None) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if dtypes is not None and value.dtype not in dtypes:
        names = ", ".join(str(d).replace("torch.", "") for d in dtypes)
        raise TypeError(f"{name}: expected dtype {names}, got {str(value.dtype).replace('torch.', '')}")
    if dims is not None and value.dim() != dims:
        raise ValueError(f"{name}: expected {dims} dimensions, got shape {tuple(value.shape)}")
    return value


def check_images(images, *, square: bool = False) -> torch.Tensor:
    check_tensor("images", images, dtypes=SUPPORTED_DTYPES)
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


def same_device(name: str, value: torch.Tensor, reference: torch.Tensor) -> None:
    if value.device != reference.device:
        raise ValueError(f"{name}: expected device {reference.device} (that of images), got {value.device}")


def output_dtype(images: torch.Tensor, out_dtype, normalizing: bool) -> torch.dtype:
    """Default: the input dtype, or float32 for uint8 input being normalised."""
    if out_dtype is None:
        return torch.float32 if (normalizing and images.dtype == torch.uint8) else images.dtype
    if not isinstance(out_dtype, torch.dtype) or out_dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"out_dtype: expected one of uint8, float16, bfloat16, float32, got {out_dtype!r}")
    if normalizing and out_dtype == torch.uint8:
        raise ValueError("out_dtype: normalised output (mean/std given) must be floating, got uint8")
    return out_dtype


def channel_values(name: str, values, channels: int) -> Optional[list]:
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
    if channels > MAX_NORMALIZED_CHANNELS and len(values) > 1:
        raise ValueError(f"{name}: per-channel values support at most {MAX_NORMALIZED_CHANNELS} channels")
    if any(v != v for v in values):
        raise ValueError(f"{name}: contains NaN")
    return values


def normalization(mean, std, channels: int):
    mean = channel_values("mean", mean, channels)
    std = channel_values("std", std, channels)
    if (mean is None) != (std is None):
        raise ValueError("mean and std: give both or neither")
    if std is not None:
        if any(s == 0 or s in (float("inf"), float("-inf")) for s in std):
            raise ValueError(f"std: values must be finite and non-zero, got {std}")
        if len(mean) != len(std):
            raise ValueError(f"mean and std: expected the same length, got {len(mean)} and {len(std)}")
    return mean, std


def check_seed(seed, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{name}: expected an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"{name}: expected 0 <= {name} < 2**63, got {seed}")
    return seed


def checking_values() -> bool:
    """Value checks read tensor data (a host sync on GPU): skip them while
    tracing for torch.compile or capturing a CUDA graph."""
    if torch.compiler.is_compiling():
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


def check_size(size, name: str = "size") -> tuple:
    """An image size: one positive int (square) or a (height, width) pair."""
    pair = (size, size) if isinstance(size, int) else size
    if isinstance(pair, torch.Size):
        pair = tuple(pair)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{name}: expected an int or a (height, width) pair, got {size!r}")
    if any(isinstance(v, bool) or not isinstance(v, int) for v in pair):
        raise TypeError(f"{name}: expected integer sizes, got {size!r}")
    if pair[0] <= 0 or pair[1] <= 0:
        raise ValueError(f"{name}: expected positive sizes, got {tuple(pair)}")
    if pair[0] >= 2**31 or pair[1] >= 2**31:
        raise ValueError(f"{name}: expected sizes below 2**31, got {tuple(pair)}")
    return int(pair[0]), int(pair[1])


def check_choice(name: str, value, choices) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value
