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
