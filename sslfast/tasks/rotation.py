"""Rotation prediction (RotNet, Gidaris et al. 2018).

Each image is turned by 0/90/180/270 degrees (exact quarter turns, no
interpolation) and the network predicts which. As the reference code does,
the default feeds all four rotations of every image in the same batch
(``mode="all"``, 4B inputs per B images); ``mode="one"`` draws one rotation
per image from the counter-based sampler instead. Small images (32-96 px)
stand in for the paper's CIFAR-10 32 px and ImageNet 224 px settings.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import torch
from torch import nn

from .. import ops
from ..models import ConvHead
from .base import DEFAULT_MEAN, DEFAULT_STD, PretextTask, accuracy, register_task
from .draws import CROP_FIELD, MIRROR_FIELD, random_crop_flip, uniform


class RotationNet(nn.Module):
    def __init__(self, encoder, hidden: int, head_convs: int):
        super().__init__()
        self.encoder = encoder
        self.head = ConvHead(encoder.out_channels, 4, convs=head_convs, hidden=hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


@register_task
class RotationTask(PretextTask):
    """Options: ``mode`` ("all" or "one"), ``hidden`` (width of the head's
    hidden layer, 0 for a linear head), ``head_convs`` (conv stages of the
    head's own above the encoder, see :class:`~sslfast.models.ConvHead`;
    0 puts the classifier straight on the encoder's pooled features),
    ``crop_pad`` (random crops after reflect-padding by this many pixels,
    plus random left-right mirroring, before the rotations, as RotNet trains
    on CIFAR-10; -1 turns both off), ``batch_ops`` ("sslfast": the fused
    ops; "torch": the plain torch.rot90 + normalise equivalent, kept to
    measure what the fused ops buy in training throughput)."""

    name = "rotation"

    def __init__(self, mode: str = "all", hidden: int = 0, head_convs: int = 1, crop_pad: int = 4,
                 mean=DEFAULT_MEAN, std=DEFAULT_STD, batch_ops: str = "sslfast"):
        if mode not in ("all", "one"):
            raise ValueError(f"mode: expected 'all' or 'one', got {mode!r}")
        if batch_ops not in ("sslfast", "torch"):
            raise ValueError(f"batch_ops: expected 'sslfast' or 'torch', got {batch_ops!r}")
        if head_convs < 0:
            raise ValueError(f"head_convs: expected 0 or more, got {head_convs}")
        if crop_pad < -1:
            raise ValueError(f"crop_pad: expected -1 (no augmentation) or more, got {crop_pad}")
        super().__init__(mode=mode, hidden=hidden, head_convs=head_convs, crop_pad=crop_pad, mean=tuple(mean),
                         std=tuple(std), batch_ops=batch_ops)
        self.mode, self.hidden, self.head_convs, self.crop_pad = mode, hidden, head_convs, crop_pad
        self.mean, self.std, self.batch_ops = tuple(mean), tuple(std), batch_ops

    def _torch_batch(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The same batch with plain torch ops (for throughput comparisons)."""
        if self.mode == "all":
            turned = torch.cat([torch.rot90(images, r, dims=(-2, -1)) for r in range(4)])
        else:
            turned = torch.stack([torch.rot90(img, int(k), dims=(-2, -1)) for img, k in zip(images, labels.tolist())])
        mean = torch.tensor(self.mean, device=images.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=images.device).view(1, -1, 1, 1)
        return (turned.float() / 255 - mean) / std

    def _torch_crop_flip(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> torch.Tensor:
        """``random_crop_flip`` the way a torchvision pipeline does it: one
        slice and one flip per image (same draws)."""
        pad, (h, w) = self.crop_pad, images.shape[-2:]
        padded = nn.functional.pad(images, (pad,) * 4, mode="reflect") if pad else images
        offsets = (uniform(seed, index, 2, CROP_FIELD) * (2 * pad + 1)).long().tolist()
        mirrored = (uniform(seed, index, 1, MIRROR_FIELD)[:, 0] < 0.5).tolist()
        crops = [padded[i, :, y:y + h, x:x + w] for i, (y, x) in enumerate(offsets)]
        return torch.stack([crop.flip(-1) if mirror else crop for crop, mirror in zip(crops, mirrored)])

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        if self.batch_ops == "torch":
            if self.crop_pad >= 0:
                images = self._torch_crop_flip(images, index, seed)
            labels = (torch.arange(4, device=images.device).repeat_interleave(images.shape[0]) if self.mode == "all"
                      else ops.sample_rotation(seed, index))
            return self._torch_batch(images, labels), labels
        if self.crop_pad >= 0:
            images = random_crop_flip(images, index, seed, self.crop_pad)
        if self.mode == "all":
            return ops.rotate90_all(images, out_dtype=torch.float32, mean=self.mean, std=self.std)
        labels = ops.sample_rotation(seed, index)
        return ops.rotate90(images, labels, out_dtype=torch.float32, mean=self.mean, std=self.std), labels

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return RotationNet(self.make_encoder(backbone, **backbone_options), self.hidden, self.head_convs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> Dict[str, float]:
        return {"accuracy": accuracy(outputs, targets)}

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        return self.classification_quality(model, images, index, seed, "rotation accuracy", 4)
