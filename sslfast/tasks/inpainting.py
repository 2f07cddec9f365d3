"""Inpainting GAN (Context Encoders, Pathak et al. 2016).

Per sample, a mask from :func:`sslfast.ops.sample_masks` (``mask``:
"center" — the central half of each side, the paper's 64 of 128 px —,
"blocks" or "region", the latter per sample instead of the reference's one
per batch) is filled with the data-set mean (the normalisation mean, in
pixels) by the fused :func:`sslfast.ops.apply_mask`.

The generator is a context encoder: the chosen backbone (the encoder kept
for transfer), its map average-pooled to a ``bottleneck`` x ``bottleneck``
grid, a channel-wise fully connected layer (each channel's grid mapped to
itself by its own dense matrix, then a 1x1 conv across channels, as the
paper), and a decoder of upsampling + conv-BN-ReLU stages back to the full
image. The discriminator (:class:`~sslfast.tasks.gan.Discriminator`) judges
the completed image (the prediction pasted into the hole, the context kept),
so it works for every mask kind, not only the centre box.

Generator loss: 0.999 x L2 + 0.001 x adversarial. The L2 covers the hole
and an ``overlap`` ring of context pixels around it weighted 10x (the
paper's 4 px at 128 px, scaled to the crop size, at least 1 px). The
generator's learning rate is 10x the discriminator's.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional

import torch
from torch import nn
from torch.nn import functional as F

from .. import ops
from ..models import Encoder
from .base import DEFAULT_MEAN, DEFAULT_STD, register_task
from .gan import Discriminator, GANTask

OVERLAP_WEIGHT = 10.0


class ChannelwiseFC(nn.Module):
    """Each channel's ``cells`` positions -> ``cells`` positions by its own
    dense matrix (no mixing across channels), then a 1x1 conv mixing channels."""

    def __init__(self, channels: int, cells: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(channels, cells, cells) / cells ** 0.5)
        self.bias = nn.Parameter(torch.zeros(channels, cells))
        self.mix = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        flat = torch.einsum("bci,cio->bco", x.flatten(2), self.weight.to(x.dtype)) + self.bias.to(x.dtype)
        return self.mix(flat.view(b, c, h, w))


def _up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                         nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ContextEncoder(nn.Module):
    """Encoder -> pooled ``bottleneck`` grid -> channel-wise FC -> decoder."""

    def __init__(self, encoder: Encoder, bottleneck: int = 4):
        super().__init__()
        channels = encoder.out_channels
        self.encoder, self.bottleneck = encoder, bottleneck
        self.fc = ChannelwiseFC(channels, bottleneck * bottleneck)
        self.decoder = nn.Sequential(_up_block(channels, channels // 2), _up_block(channels // 2, channels // 4),
                                     _up_block(channels // 4, channels // 4))
        self.out = nn.Conv2d(channels // 4, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code = self.fc(F.adaptive_avg_pool2d(self.encoder(x), self.bottleneck))
        # The decoder doubles three times; start it at 1/8 of the image.
        start = (max(1, x.shape[-2] // 8), max(1, x.shape[-1] // 8))
        out = self.out(self.decoder(F.interpolate(code, size=start, mode="bilinear", align_corners=False)))
        if tuple(out.shape[-2:]) != tuple(x.shape[-2:]):
            out = F.interpolate(out, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return out


class InpaintingGAN(nn.Module):
    def __init__(self, encoder: Encoder, bottleneck: int):
        super().__init__()
        self.generator = ContextEncoder(encoder, bottleneck)
        self.discriminator = Discriminator(3)

    @property
    def encoder(self) -> Encoder:
        return self.generator.encoder

    def forward(self, masked: torch.Tensor) -> torch.Tensor:
        return self.generator(masked)


class InpaintTargets(NamedTuple):
    image: torch.Tensor  # normalised original [B, 3, H, W]
    mask: torch.Tensor   # bool [B, 1, H, W], True = hole


def paste(prediction: torch.Tensor, masked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The completed image: the prediction inside the hole, the input outside."""
    return torch.where(mask, prediction, masked.to(prediction.dtype))


@register_task
class InpaintingTask(GANTask):
    """Options: ``mask`` ("center", "blocks" or "region"), ``fraction`` (side
    of the centre box, 0.5), ``coverage`` (region masks, (0.2, 0.3)),
    ``overlap`` (ring width in px; None: 4 px per 128 px), ``bottleneck``
    (grid of the channel-wise FC, 4), ``adversarial_weight`` (1e-3),
    ``discriminator_lr_scale`` (0.1: the generator's lr is 10x)."""

    name = "inpainting"
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.0}

    def __init__(self, mask: str = "center", fraction: float = 0.5, coverage=(0.2, 0.3), overlap: Optional[int] = None,
                 bottleneck: int = 4, adversarial_weight: float = 1e-3, discriminator_lr_scale: float = 0.1,
                 mean=DEFAULT_MEAN, std=DEFAULT_STD):
        if mask not in ("center", "blocks", "region"):
            raise ValueError(f"mask: expected 'center', 'blocks' or 'region', got {mask!r}")
        super().__init__(mask=mask, fraction=fraction, coverage=tuple(coverage), overlap=overlap,
                         bottleneck=bottleneck, adversarial_weight=adversarial_weight,
                         discriminator_lr_scale=discriminator_lr_scale, mean=tuple(mean), std=tuple(std))
        self.mask, self.fraction, self.coverage, self.overlap = mask, fraction, tuple(coverage), overlap
        self.bottleneck, self.adversarial_weight = bottleneck, adversarial_weight
        self.discriminator_lr_scale, self.mean, self.std = discriminator_lr_scale, tuple(mean), tuple(std)

    # -- data --------------------------------------------------------------
    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int):
        mask = ops.sample_masks(seed, index, tuple(images.shape[-2:]), kind=self.mask, fraction=self.fraction,
                                coverage=self.coverage)
        fill = [255 * m for m in self.mean]
        masked = ops.apply_mask(images, mask, fill=fill, out_dtype=torch.float32, mean=self.mean, std=self.std)
        return masked, InpaintTargets(self.prepare_input(images), mask)

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return InpaintingGAN(self.make_encoder(backbone, **backbone_options), self.bottleneck)

    def loss_weights(self, mask: torch.Tensor) -> torch.Tensor:
        """1 in the hole, 10 on the ``overlap`` ring of context around it, 0 elsewhere."""
        overlap = self.overlap if self.overlap is not None else max(1, round(4 * mask.shape[-2] / 128))
        hole = mask.float()
        grown = F.max_pool2d(hole, 2 * overlap + 1, stride=1, padding=overlap)
        return hole + OVERLAP_WEIGHT * (grown - hole)

    # -- GAN pieces --------------------------------------------------------
    def judged(self, output: torch.Tensor, inputs, targets: InpaintTargets) -> torch.Tensor:
        return paste(output, inputs, targets.mask)

    def real(self, inputs, targets: InpaintTargets) -> torch.Tensor:
        return targets.image

    def generator_losses(self, model: nn.Module, output: torch.Tensor, inputs,
                         targets: InpaintTargets) -> Dict[str, torch.Tensor]:
        weights = self.loss_weights(targets.mask)
        squared = ((output.float() - targets.image) ** 2).mean(1, keepdim=True)
        return {"l2_loss": (1 - self.adversarial_weight) * (weights * squared).sum() / weights.sum().clamp_min(1)}

    # -- checks and pictures -----------------------------------------------
    def complete(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int):
        """([0, 1] masked input, completed image, original) and the mask."""
        masked, targets = self.make_batch(images, index, seed)
        with torch.no_grad():
            completed = paste(model.eval()(masked).float(), masked, targets.mask)
        return self.to_unit(masked), self.to_unit(completed), images.float() / 255, targets.mask

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        masked, completed, original, mask = self.complete(model, images, index, seed)
        holes = mask.float().flatten(1).sum(1).clamp_min(1) * 3

        def hole_l2(picture):
            return (((picture - original) ** 2) * mask).flatten(1).sum(1) / holes

        # A stronger baseline than the data-set mean: each image's own mean over its visible pixels.
        context = ~mask
        context_mean = (original * context).flatten(2).sum(2) / context.flatten(1).sum(1, keepdim=True).clamp_min(1)
        own_mean = torch.where(mask, context_mean[..., None, None], original)
        model_l2 = hole_l2(completed).mean().item()
        return [{"metric": f"masked-region L2 (MSE, [0,1] px){suffix}", "model": model_l2, "baseline": baseline,
                 "baseline_name": name, "better": "lower"}
                for suffix, name, baseline in (("", "mean fill", hole_l2(masked).mean().item()),
                                               (", 2nd baseline", "image's context mean", hole_l2(own_mean).mean().item()))]

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Rows of (masked input, inpainted when a model is given, original)."""
        if model is None:
            masked, targets = self.make_batch(images, index, seed)
            columns = {"masked": self.to_unit(masked), "original": images.float() / 255}
        else:
            masked, completed, original, _ = self.complete(model, images, index, seed)
            columns = {"masked": masked, "inpainted": completed, "original": original}
        pictures = torch.stack(list(columns.values()), 1).flatten(0, 1)
        return pictures.cpu(), [name for _ in range(len(images)) for name in columns]
