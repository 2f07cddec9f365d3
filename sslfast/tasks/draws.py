"""Per-sample uniform draws for the tasks' own small augmentations (colour
jitter, which patches to blur), from the patch family's counter-based
sampler: a draw depends only on ``(seed, index, field)``, like every pretext
parameter, and runs on the index's device without a host sync."""
from __future__ import annotations

import torch

from .. import ops

RESOLUTION = 1 << 16


def uniform(seed: int, index: torch.Tensor, count: int, field: int) -> torch.Tensor:
    """float32 ``[B, count]`` uniform in (0, 1) with 16-bit resolution for
    samples ``index``; different ``field`` values give unrelated draws.

    ``sample_color_drop`` with ``drop=1`` keeps a uniform "channel" in
    ``0 .. channels - 1`` per patch; with 2**16 channels that is a uniform
    16-bit integer per (sample, draw)."""
    keep, _ = ops.sample_color_drop((seed ^ (field * 0x9E3779B97F4A7C15)) % 2**63, index, count, drop=1.0,
                                    channels=RESOLUTION)
    return (keep.float() + 0.5) / RESOLUTION


CROP_FIELD = 0x43726f70  # "Crop"
MIRROR_FIELD = 0x4d697272  # "Mirr"


def random_crop_flip(images: torch.Tensor, index: torch.Tensor, seed: int, pad: int = 4) -> torch.Tensor:
    """The CIFAR augmentation RotNet trains with: reflect-pad by ``pad``, cut
    a random crop of the original size and mirror half of the images
    left-right. Same dtype and shape as ``images``; one fused crop for the
    batch, parameters per sample from ``(seed, index)``."""
    if pad < 0:
        raise ValueError(f"pad: expected 0 or more, got {pad}")
    b, _, h, w = images.shape
    if pad:
        padded = torch.nn.functional.pad(images, (pad, pad, pad, pad), mode="reflect")
        origins = (uniform(seed, index, 2, CROP_FIELD) * (2 * pad + 1)).long().view(b, 1, 2)
        src = torch.arange(b, device=images.device).view(b, 1)
        images = ops.gather_patches(padded, src, origins, (h, w), out_dtype=images.dtype).view_as(images)
    mirrored = uniform(seed, index, 1, MIRROR_FIELD).view(b, 1, 1, 1) < 0.5
    return torch.where(mirrored, images.flip(-1), images)
