"""What the patch tasks (jigsaw, context) share: the pure-torch twin of
``ops.gather_patches`` used by their ``batch_ops="torch"`` option (to measure
what the fused op buys in pretext batch rate), per-image normalisation for
transfer, and the picture helpers of ``sslfast show``."""
from __future__ import annotations

from typing import Optional

import torch

from .. import ops

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # BT.601, as gather_patches


def torch_gather_patches(images: torch.Tensor, src: torch.Tensor, origins: torch.Tensor, size: int, *,
                         normalize: Optional[str], keep_channel: Optional[torch.Tensor] = None,
                         gray: Optional[torch.Tensor] = None, noise_std: float = 0.01,
                         eps: float = 1e-5) -> torch.Tensor:
    """``ops.gather_patches`` (float32 output) written with plain torch
    indexing and reductions; the colour-dropping noise comes from torch's
    global generator instead of the counter hash."""
    steps = torch.arange(size, device=images.device)
    ys = origins[..., 0, None] + steps  # [B, N, size]
    xs = origins[..., 1, None] + steps
    picked = images[src[..., None, None], :, ys[..., :, None], xs[..., None, :]]  # [B, N, size, size, C]
    patches = picked.permute(0, 1, 4, 2, 3).float() / 255
    if gray is not None:
        weights = torch.tensor(GRAY_WEIGHTS, device=images.device).view(1, 1, 3, 1, 1)
        luma = (patches * weights).sum(2, keepdim=True).expand_as(patches)
        patches = torch.where(gray[..., None, None, None], luma, patches)
    if keep_channel is not None:
        channel = keep_channel.clamp(min=0)[..., None, None, None].expand(-1, -1, 1, size, size)
        kept = patches.gather(2, channel)
        noise = kept.mean((-2, -1), keepdim=True) + noise_std * kept.std((-2, -1), unbiased=False, keepdim=True) \
            * torch.randn_like(patches)
        is_kept = torch.arange(patches.shape[2], device=images.device).view(1, 1, -1, 1, 1) == keep_channel[
            ..., None, None, None]
        patches = torch.where(is_kept | (keep_channel < 0)[..., None, None, None], patches, noise)
    centred = patches - patches.mean((-2, -1), keepdim=True)
    variance = centred.square().mean((-2, -1), keepdim=True)
    if normalize == "patch":
        return centred / torch.sqrt(variance + eps)
    if normalize == "rms":
        return centred / torch.sqrt(variance.mean(2, keepdim=True) + eps)
    return patches


def normalize_whole(images: torch.Tensor, mode: str) -> torch.Tensor:
    """uint8 ``[B, C, H, W]`` -> float, each image normalised as one patch
    (``mode`` as ``gather_patches``' ``normalize``): the transfer-time input of
    an encoder pretrained on per-patch-normalised patches."""
    b, _, h, w = images.shape
    src = torch.arange(b, device=images.device).view(b, 1)
    origins = torch.zeros(b, 1, 2, dtype=torch.int64, device=images.device)
    return ops.gather_patches(images, src, origins, (h, w), normalize=mode, out_dtype=torch.float32)[:, 0]


def to_picture(patches: torch.Tensor) -> torch.Tensor:
    """Normalised patches ``[..., C, H, W]`` stretched to [0, 1] each, 3 channels."""
    flat = patches.float().flatten(-3)
    low, high = flat.min(-1).values[..., None, None, None], flat.max(-1).values[..., None, None, None]
    pictures = (patches.float() - low) / (high - low).clamp(min=1e-6)
    return pictures.expand(*pictures.shape[:-3], 3, *pictures.shape[-2:]) if pictures.shape[-3] == 1 else pictures
