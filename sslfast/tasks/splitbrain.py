"""Split-brain autoencoder (Zhang, Isola, Efros 2017).

Lab is split into L and ab. Sub-network F1 predicts ab from L (the 313-bin
rebalanced classification of colorization, prior counted once over the
training data and kept in the checkpoint); F2 predicts L from ab, with L
quantised into ``l_bins`` classes (default 50, 2 L units each, as
:func:`sslfast.ops.quantize_l`). Both predict at 1/4 resolution, like
colorization. Each sub-network has half the channels of the full network
(the small backbone's widths are halved; other backbones keep theirs), and
the encoder kept for transfer is their concatenation (:class:`SplitEncoder`),
fed the full normalised Lab image.

The paper's RGB <-> depth split is not offered: the Trainer hands tasks
images only, not the renderer's depth maps.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .. import ops
from ..models import Encoder
from .base import PretextTask, register_task
from .colorization import (AB_SCALE, ABPrior, DenseHead, PriorMixin, grayscale_flags, lab_input,
                           rebalanced_cross_entropy, target_size)


class SplitEncoder(Encoder):
    """Two encoders over disjoint input channels (L: 1, ab: 2), their maps
    concatenated: the split-brain representation."""

    def __init__(self, l_net: Encoder, ab_net: Encoder):
        super().__init__()
        self.l_net, self.ab_net = l_net, ab_net
        self.in_channels = l_net.in_channels + ab_net.in_channels
        self.out_channels = l_net.out_channels + ab_net.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.l_net(x[:, :1]), self.ab_net(x[:, 1:])], 1)

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [torch.cat(pair, 1) for pair in zip(self.l_net.stages(x[:, :1]), self.ab_net.stages(x[:, 1:]))]


class SplitTargets(NamedTuple):
    index: torch.Tensor      # int64 [B, k, h, w]: nearest ab bins
    weight: torch.Tensor     # float32 [B, k, h, w]: their soft weights
    grayscale: torch.Tensor  # bool [B]
    lightness: torch.Tensor  # int64 [B, h, w]: L classes


class SplitBrainNet(nn.Module):
    def __init__(self, encoder: SplitEncoder, ab_bins: int, l_bins: int, stride: int, hidden: int):
        super().__init__()
        self.encoder, self.stride = encoder, stride
        self.ab_head = DenseHead(encoder.l_net.out_channels, ab_bins, hidden)   # F1: L -> ab
        self.l_head = DenseHead(encoder.ab_net.out_channels, l_bins, hidden)    # F2: ab -> L
        self.prior = ABPrior(ab_bins)

    def forward(self, lab: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised Lab ``[B, 3, H, W]`` -> (ab logits, L logits) at 1/stride."""
        size = target_size(*lab.shape[-2:], self.stride)
        return (self.ab_head(self.encoder.l_net(lab[:, :1]), size),
                self.l_head(self.encoder.ab_net(lab[:, 1:]), size))


def majority_accuracy(labels: torch.Tensor) -> float:
    """Accuracy of always predicting the most frequent label of ``labels``."""
    return (torch.bincount(labels.flatten()).max().float() / labels.numel()).item()


@register_task
class SplitBrainTask(PriorMixin, PretextTask):
    """Options: ``l_bins`` (L classes, 50), ``k``/``sigma``/``lam`` of the ab
    targets and rebalancing (as colorization), ``temperature`` (annealed mean
    for the ab error), ``stride`` (4), ``hidden`` (head width),
    ``prior_images``."""

    name = "splitbrain"
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, l_bins: int = 50, k: int = 5, sigma: float = 5.0, lam: float = 0.5,
                 temperature: float = 0.38, stride: int = 4, hidden: int = 64, prior_images: int = 2048):
        super().__init__(l_bins=l_bins, k=k, sigma=sigma, lam=lam, temperature=temperature, stride=stride,
                         hidden=hidden, prior_images=prior_images)
        self.l_bins, self.k, self.sigma, self.lam = l_bins, k, sigma, lam
        self.temperature, self.stride, self.hidden, self.prior_images = temperature, stride, hidden, prior_images

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, SplitTargets]:
        lab = lab_input(images)
        ab = lab[:, 1:] * AB_SCALE
        bin_index, bin_weight = ops.ab_encode(ab, self.ab_bins(images.device), k=self.k, sigma=self.sigma,
                                              stride=self.stride)
        lightness = ops.quantize_l(lab[:, 0, ::self.stride, ::self.stride] * 50 + 50, self.l_bins)
        grayscale = grayscale_flags(ab[..., ::self.stride, ::self.stride])
        return lab, SplitTargets(bin_index, bin_weight, grayscale, lightness)

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return lab_input(images)

    def make_encoder(self, backbone: str, **backbone_options) -> SplitEncoder:
        if backbone == "small":  # half the channels of the full network in each half
            widths = backbone_options.pop("widths", (32, 64, 128))
            backbone_options["widths"] = tuple(max(1, w // 2) for w in widths)
        from ..models import build_backbone

        return SplitEncoder(build_backbone(backbone, in_channels=1, **backbone_options),
                            build_backbone(backbone, in_channels=2, **backbone_options))

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return SplitBrainNet(self.make_encoder(backbone, **dict(backbone_options)), self.ab_bins("cpu").shape[0],
                             self.l_bins, self.stride, self.hidden)

    def loss(self, outputs, targets: SplitTargets, class_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Sum of the two directions' losses (see :meth:`losses`)."""
        return sum(self.losses(outputs, targets, class_weights).values())

    def losses(self, outputs, targets: SplitTargets, class_weights: Optional[torch.Tensor] = None):
        ab_logits, l_logits = outputs
        return {"ab_loss": rebalanced_cross_entropy(ab_logits, targets.index, targets.weight, targets.grayscale,
                                                    class_weights),
                "l_loss": F.cross_entropy(l_logits.float(), targets.lightness)}

    def training_step(self, trainer, inputs, targets) -> Dict[str, float]:
        prior = trainer.raw_model.prior
        self.ensure_prior(trainer, prior)
        with trainer.autocast():
            parts = self.losses(trainer.model(inputs), targets, prior.class_weights)
            loss = sum(parts.values())
        trainer.backward_and_step(loss, "model")
        return {"loss": loss.item(), **{name: value.item() for name, value in parts.items()}}

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        inputs, targets = self.make_batch(images, index, seed)
        with torch.no_grad():
            ab_logits, l_logits = model.eval()(inputs)
        colour = ~targets.grayscale
        nearest = targets.index[:, 0][colour]
        # The rebalanced loss pulls the argmax towards rare bins; undoing the
        # weights (logits - log w, see ab_error_rows) gives the posterior's mode.
        undone = ab_logits - model.prior.class_weights.log().view(1, -1, 1, 1)
        ab_rows = [{"metric": f"L -> ab bin accuracy ({name})",
                    "model": (logits.argmax(1)[colour] == nearest).float().mean().item() if bool(colour.any()) else 0.0,
                    "baseline": majority_accuracy(nearest) if bool(colour.any()) else 0.0,
                    "baseline_name": "majority bin", "better": "higher"}
                   for name, logits in (("argmax", ab_logits), ("argmax, rebalancing undone", undone))]
        return [
            *ab_rows,
            {"metric": "ab -> L bin accuracy", "model": (l_logits.argmax(1) == targets.lightness).float().mean().item(),
             "baseline": majority_accuracy(targets.lightness), "baseline_name": "majority bin", "better": "higher"},
            *self.ab_error_rows(ab_logits.float(), images, model.prior.class_weights),
        ]

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Rows of (original, L -> colorized, ab -> predicted L); without a
        model, the target bins' values instead of predictions."""
        inputs, targets = self.make_batch(images, index, seed)
        bins = self.ab_bins(images.device)
        if model is not None:
            with torch.no_grad():
                ab_logits, l_logits = model.eval()(inputs)
            ab = ops.ab_decode(ab_logits.float(), bins, temperature=self.temperature)
            lightness = (F.softmax(l_logits.float(), 1) * ops.l_bin_centres(self.l_bins, device=images.device)
                         .view(1, -1, 1, 1)).sum(1, keepdim=True)
            names = ("original", "L->ab", "ab->L")
        else:
            ab = bins[targets.index[:, 0]].permute(0, 3, 1, 2)
            lightness = ops.l_bin_centres(self.l_bins, device=images.device)[targets.lightness].unsqueeze(1)
            names = ("original", "ab target", "L target")
        size = tuple(images.shape[-2:])
        up = lambda planes: F.interpolate(planes.float(), size=size, mode="bilinear", align_corners=False)  # noqa: E731
        lab = inputs * inputs.new_tensor([50.0, AB_SCALE, AB_SCALE]).view(1, 3, 1, 1)
        lab[:, 0] += 50
        colorized = ops.lab_to_rgb(torch.cat([lab[:, :1], up(ab)], 1))
        relit = ops.lab_to_rgb(torch.cat([up(lightness), lab[:, 1:]], 1))
        pictures = torch.stack([images.float() / 255, colorized, relit], 1).flatten(0, 1)
        return pictures.cpu(), [name for _ in range(len(images)) for name in names]
