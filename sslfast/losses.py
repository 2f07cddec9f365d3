"""Losses of the pretext tasks that are more than a call into torch.nn."""
from __future__ import annotations

from typing import Optional

import torch

__all__ = ["rebalanced_soft_cross_entropy"]


def rebalanced_soft_cross_entropy(logits: torch.Tensor, index: torch.Tensor, weight: torch.Tensor,
                                  class_weights: Optional[torch.Tensor] = None, *,
                                  grayscale: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Colorization's class-rebalanced cross-entropy on sparse soft targets
    (Zhang et al. 2016, eq. 2).

    Per target pixel: ``-v(q*) * sum_j weight_j * log softmax(logits)[index_j]``,
    where ``v`` are the rebalancing ``class_weights`` (e.g. from
    :func:`sslfast.ops.ab_prior`) taken at the pixel's nearest bin
    ``q* = index[:, 0]``. The loss is the mean over the pixels of the images
    not flagged ``grayscale`` (0 if every image is).

    Args:
        logits: ``[B, Q, h, w]`` scores over the Q ab bins.
        index, weight: ``[B, k, h, w]`` targets from
            :func:`sslfast.ops.colorization_batch` or :func:`sslfast.ops.ab_encode`.
        class_weights: ``[Q]``; default all ones (no rebalancing).
        grayscale: bool ``[B]``; default no image is left out.
    """
    for name, value in (("logits", logits), ("index", index), ("weight", weight)):
        if not isinstance(value, torch.Tensor) or value.dim() != 4:
            raise ValueError(f"{name}: expected a 4-D tensor [B, *, h, w]")
    if not logits.is_floating_point():
        raise TypeError(f"logits: expected a floating dtype, got {logits.dtype}")
    if index.dtype != torch.int64:
        raise TypeError(f"index: expected int64, got {index.dtype}")
    if index.shape != weight.shape:
        raise ValueError(f"weight: expected the shape of index {tuple(index.shape)}, got {tuple(weight.shape)}")
    if index.shape[0] != logits.shape[0] or index.shape[2:] != logits.shape[2:]:
        raise ValueError(f"index: expected [{logits.shape[0]}, k, {logits.shape[2]}, {logits.shape[3]}] to match "
                         f"logits, got {tuple(index.shape)}")
    log_probability = torch.log_softmax(logits, dim=1)
    per_pixel = -(weight.to(log_probability.dtype) * log_probability.gather(1, index)).sum(dim=1)
    if class_weights is not None:
        if class_weights.shape != (logits.shape[1],):
            raise ValueError(f"class_weights: expected [{logits.shape[1]}], got {tuple(class_weights.shape)}")
        per_pixel = per_pixel * class_weights.to(per_pixel.dtype)[index[:, 0]]
    if grayscale is None:
        return per_pixel.mean()
    if grayscale.dtype != torch.bool or grayscale.shape != (logits.shape[0],):
        raise ValueError(f"grayscale: expected bool [{logits.shape[0]}], got {grayscale.dtype} {tuple(grayscale.shape)}")
    keep = (~grayscale).to(per_pixel.dtype).view(-1, 1, 1)
    pixels = keep.sum() * per_pixel[0].numel()
    return (per_pixel * keep).sum() / pixels.clamp(min=1)
