"""Colorization (Zhang, Isola, Efros 2016).

The network sees the L channel of CIE Lab and predicts, at 1/4 resolution,
a distribution over the Q = 313 in-gamut ab bins (grid 10). Targets come
from the fused :func:`sslfast.ops.colorization_batch`: each ab value soft-
encoded onto its 5 nearest bins (Gaussian, sigma 5). The loss is the
class-rebalanced soft cross-entropy: a pixel whose nearest bin is ``q``
weighs ``w_q ∝ ((1 - lam) p~_q + lam / Q)^-1`` (lam 0.5, ``p~`` the
smoothed empirical bin distribution, E[w] = 1), and grayscale images are left
out. ``p~`` is counted once over the training images (the first training step
does it) and kept in the model's buffers, so it travels in the checkpoint.
Predictions are decoded with the annealed mean (T = 0.38).

Decoding and the quality check. The rebalanced cross-entropy is minimised by
``p_net(q | L) ∝ w_q p(q | L)`` (tested), so the network's distribution is
the true posterior tilted towards rare, saturated bins; the paper decodes it
with the annealed mean anyway because that gives vivid pictures, and its own
Table 1 shows the rebalanced model barely ahead of predicting gray on raw
per-pixel error. :meth:`ColorizationTask.show_batch` draws that vivid
decoding. :meth:`ColorizationTask.quality` reports two ab errors beside
predicting gray: the paper's decoding, and the same annealed mean (T = 0.38)
of ``logits - log w``, the estimate of ``p(q | L)`` with the rebalancing
divided out, which is the row the ab-error check rests on. On held-out
``photos`` crops (the last quarter of each of 11 photos, much less colourful
than the training quarters: gray scores 14.8 there against 26 on training
crops) the paper's decoding stays above gray (16.6-18.0 over 3 seeds at 32 px, 17.0 at
64 px after 300 steps, mostly from confidently orange/red guesses on the grey
held-out parts of ``chelsea`` and the motorcycles), while on training-region
crops it is well below (13.7 vs 26.2); the posterior's annealed mean is below
gray on both. Split-brain, trained without rebalancing, passes with the
paper's decoding directly.

``loss="l2"`` is the simpler variant: regress ab (scaled by 1/110) with an
L2 loss through the same encoder-decoder.

The paper trains on 176 px ImageNet crops with a VGG-style net; here the
encoder is any sslfast backbone (default the small convnet, whose two
poolings already give the 1/4-resolution map) on 32-96 px crops, with a small
convolutional head on top.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .. import ops
from ..models import Encoder
from .base import PretextTask, register_task

AB_SCALE = 110.0     # |a|, |b| of sRGB colours stay below ~110: ab / 110 is in [-1, 1]
GRAY_CHROMA = 5.0    # an image with no |a| or |b| above this is grayscale (as colorization_batch)


class ColorTargets(NamedTuple):
    """Targets at 1/``stride`` resolution."""

    index: torch.Tensor      # int64 [B, k, h, w]: nearest ab bins (classification) or unused
    weight: torch.Tensor     # float32 [B, k, h, w]: soft weights (classification) or ab / 110 [B, 2, h, w] (l2)
    grayscale: torch.Tensor  # bool [B]: left out of the loss


def lab_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB -> normalised Lab planes: (L - 50) / 50, a / 110, b / 110."""
    lab = ops.rgb_to_lab(images)
    scale = lab.new_tensor([50.0, AB_SCALE, AB_SCALE]).view(1, 3, 1, 1)
    offset = lab.new_tensor([50.0, 0.0, 0.0]).view(1, 3, 1, 1)
    return (lab - offset) / scale


def grayscale_flags(ab: torch.Tensor) -> torch.Tensor:
    """bool [B]: no value of the (subsampled) ab planes has |a| or |b| above 5."""
    return ~(ab.abs() > GRAY_CHROMA).flatten(1).any(1)


def rebalanced_cross_entropy(logits: torch.Tensor, index: torch.Tensor, weight: torch.Tensor,
                             grayscale: torch.Tensor, class_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Zhang et al.'s loss: ``-sum_q Z_q log softmax(logits)_q`` per pixel, times
    the rebalancing weight of the pixel's nearest bin (``index[:, 0]``),
    averaged over the pixels of the colour images (grayscale ones excluded).

    Args:
        logits: ``[B, Q, h, w]`` scores (any float dtype; computed in float32).
        index, weight: ``[B, k, h, w]`` sparse soft targets (nearest first).
        grayscale: bool ``[B]``.
        class_weights: ``[Q]`` rebalancing weights; None for plain soft CE.
    """
    log_p = F.log_softmax(logits.float(), dim=1)
    per_pixel = -(weight * log_p.gather(1, index)).sum(1)
    if class_weights is not None:
        per_pixel = per_pixel * class_weights[index[:, 0]]
    keep = (~grayscale).to(per_pixel.dtype).view(-1, 1, 1)
    pixels = keep.sum() * per_pixel.shape[1] * per_pixel.shape[2]
    return (per_pixel * keep).sum() / pixels.clamp_min(1)


class DenseHead(nn.Module):
    """Encoder map -> per-pixel scores at the target resolution: a 3x3
    conv-BN-ReLU then a 1x1 conv (the last layers of the reference net),
    bilinearly resized when the encoder's stride is not the target's."""

    def __init__(self, in_channels: int, outputs: int, hidden: int = 128):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1, bias=False), nn.BatchNorm2d(hidden),
                                    nn.ReLU(inplace=True), nn.Conv2d(hidden, outputs, 1))

    def forward(self, features: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
        out = self.layers(features)
        if tuple(out.shape[-2:]) != tuple(size):
            out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
        return out


class ABPrior(nn.Module):
    """The ab-bin prior as buffers (so it is saved in checkpoints):
    ``probability`` (empirical, unsmoothed), ``class_weights`` (rebalancing)
    and ``ready`` (set once counted)."""

    def __init__(self, bins: int):
        super().__init__()
        self.register_buffer("probability", torch.full((bins,), 1.0 / bins))
        self.register_buffer("class_weights", torch.ones(bins))
        self.register_buffer("ready", torch.tensor(False))

    def fit(self, accumulator: ops.ABPriorAccumulator, lam: float, sigma: float) -> None:
        self.probability.copy_(accumulator.probabilities())
        self.class_weights.copy_(accumulator.weights(lam=lam, sigma=sigma))
        self.ready.fill_(True)


def target_size(height: int, width: int, stride: int) -> Tuple[int, int]:
    return (height + stride - 1) // stride, (width + stride - 1) // stride


class ColorizationNet(nn.Module):
    def __init__(self, encoder: Encoder, outputs: int, bins: int, stride: int, hidden: int):
        super().__init__()
        self.encoder, self.stride = encoder, stride
        self.head = DenseHead(encoder.out_channels, outputs, hidden)
        self.prior = ABPrior(bins)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(lightness), target_size(*lightness.shape[-2:], self.stride))


class PriorMixin:
    """Shared by colorization and split-brain: the ab bins, counting the prior
    over the training data once, and the ab quality rows."""

    prior_images: int
    lam: float
    sigma: float
    stride: int

    def ab_bins(self, device) -> torch.Tensor:
        return ops.ab_gamut_bins(10.0, device=device)

    def bin_targets(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(nearest-bin index [B, k, h, w], grayscale [B]) of uint8 images."""
        batch = ops.colorization_batch(images, self.ab_bins(images.device), k=1, stride=self.stride)
        return batch.index, batch.grayscale

    @torch.no_grad()
    def fit_prior(self, prior: ABPrior, dataset, device, batch_size: int = 256) -> None:
        """Count the nearest ab bin of up to ``prior_images`` training images
        (evenly spaced over the data set, so the same on every rank and run)."""
        accumulator = ops.ABPriorAccumulator(self.ab_bins(device))
        count = min(self.prior_images, len(dataset))
        chosen = torch.linspace(0, len(dataset) - 1, count).round().long().tolist()
        for start in range(0, count, batch_size):
            items = dataset.__getitems__(chosen[start:start + batch_size])
            images = torch.stack([image for image, _ in items]).to(device)
            accumulator.update(*self.bin_targets(images))
        if not bool(accumulator.counts.sum() > 0):
            raise ValueError("data: every prior image is grayscale; colorization needs colour images")
        prior.fit(accumulator, self.lam, self.sigma)

    def ensure_prior(self, trainer, prior: ABPrior) -> None:
        if not bool(prior.ready):
            self.fit_prior(prior, trainer.dataset, trainer.device)

    def ab_error_rows(self, logits: torch.Tensor, images: torch.Tensor,
                      class_weights: Optional[torch.Tensor] = None) -> List[Dict]:
        """Mean ab distance to the true ab at the target pixels, beside
        predicting gray, of two decodings: the paper's annealed mean of the
        network's distribution, and the annealed mean (same T) of the estimated
        true posterior ``p(q | L)``. With rebalancing weights ``w`` the
        weighted cross-entropy is minimised by ``p_net(q) ∝ w_q p(q | L)``, so
        ``logits - log w`` estimates ``p(q | L)`` ("rebalancing undone");
        without (``class_weights`` None) the network's distribution already
        estimates it and the second row is its plain mean (T = 1), the
        L2-optimal ab."""
        ab = ops.rgb_to_lab(images)[:, 1:, ::self.stride, ::self.stride]
        bins = self.ab_bins(images.device)
        gray = ab.norm(dim=1).mean().item()
        decoded = {f"annealed mean T={self.temperature:g}": ops.ab_decode(logits, bins, temperature=self.temperature)}
        if class_weights is None:
            decoded["mean"] = ops.ab_decode(logits, bins, temperature=1.0)
        else:
            decoded[f"annealed mean T={self.temperature:g}, rebalancing undone"] = ops.ab_decode(
                logits - class_weights.log().view(1, -1, 1, 1), bins, temperature=self.temperature)
        return [{"metric": f"ab error ({name})", "model": (prediction - ab).norm(dim=1).mean().item(),
                 "baseline": gray, "baseline_name": "predict gray", "better": "lower"}
                for name, prediction in decoded.items()]


@register_task
class ColorizationTask(PriorMixin, PretextTask):
    """Options: ``loss`` ("classification": 313-bin rebalanced soft CE, the
    paper's; "l2": ab regression), ``k``/``sigma`` of the soft encoding (5 and
    5; the released code uses k = 10), ``lam`` (rebalancing mix, 0.5),
    ``temperature`` (annealed mean, 0.38), ``stride`` (target subsampling, 4),
    ``hidden`` (head width), ``prior_images`` (training images the prior is
    counted over)."""

    name = "colorization"
    input_channels = 1
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, loss: str = "classification", k: int = 5, sigma: float = 5.0, lam: float = 0.5,
                 temperature: float = 0.38, stride: int = 4, hidden: int = 64, prior_images: int = 2048):
        if loss not in ("classification", "l2"):
            raise ValueError(f"loss: expected 'classification' or 'l2', got {loss!r}")
        super().__init__(loss=loss, k=k, sigma=sigma, lam=lam, temperature=temperature, stride=stride, hidden=hidden,
                         prior_images=prior_images)
        self.loss_kind, self.k, self.sigma, self.lam = loss, k, sigma, lam
        self.temperature, self.stride, self.hidden, self.prior_images = temperature, stride, hidden, prior_images

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, ColorTargets]:
        if self.loss_kind == "l2":
            lab = lab_input(images)
            ab = lab[:, 1:, ::self.stride, ::self.stride]
            return lab[:, :1].contiguous(), ColorTargets(ab.new_zeros(0, dtype=torch.int64), ab.contiguous(),
                                                         grayscale_flags(ab * AB_SCALE))
        batch = ops.colorization_batch(images, self.ab_bins(images.device), k=self.k, sigma=self.sigma,
                                       stride=self.stride)
        return batch.lightness, ColorTargets(batch.index, batch.weight, batch.grayscale)

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return lab_input(images)[:, :1].contiguous()

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        outputs = 2 if self.loss_kind == "l2" else self.ab_bins("cpu").shape[0]
        return ColorizationNet(self.make_encoder(backbone, **backbone_options), outputs,
                               self.ab_bins("cpu").shape[0], self.stride, self.hidden)

    def loss(self, outputs: torch.Tensor, targets: ColorTargets,
             class_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.loss_kind == "l2":
            keep = (~targets.grayscale).float().view(-1, 1, 1, 1)
            squared = (outputs.float() - targets.weight) ** 2 * keep
            return squared.sum() / (keep.sum() * squared[0].numel()).clamp_min(1)
        return rebalanced_cross_entropy(outputs, targets.index, targets.weight, targets.grayscale, class_weights)

    def training_step(self, trainer, inputs, targets) -> Dict[str, float]:
        prior = trainer.raw_model.prior
        if self.loss_kind == "classification":
            self.ensure_prior(trainer, prior)
        with trainer.autocast():
            outputs = trainer.model(inputs)
            loss = self.loss(outputs, targets, prior.class_weights)
        trainer.backward_and_step(loss, "model")
        return {"loss": loss.item()}

    def predict_ab(self, model: nn.Module, images: torch.Tensor, temperature: Optional[float] = None):
        """(ab at 1/stride [B, 2, h, w], raw outputs) of uint8 images."""
        with torch.no_grad():
            outputs = model.eval()(self.prepare_input(images)).float()
        if self.loss_kind == "l2":
            return outputs * AB_SCALE, outputs
        bins = self.ab_bins(images.device)
        return ops.ab_decode(outputs, bins, temperature=temperature or self.temperature), outputs

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        ab, outputs = self.predict_ab(model, images)
        if self.loss_kind == "classification":
            return self.ab_error_rows(outputs, images, model.prior.class_weights)
        truth = ops.rgb_to_lab(images)[:, 1:, ::self.stride, ::self.stride]
        return [{"metric": "ab error (L2 regression)", "model": (ab - truth).norm(dim=1).mean().item(),
                 "baseline": truth.norm(dim=1).mean().item(), "baseline_name": "predict gray", "better": "lower"}]

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Rows of (L input, colorized, original); without a model, the
        colorization from the target bins' annealed mean instead."""
        lab = ops.rgb_to_lab(images)
        size = tuple(images.shape[-2:])
        if model is not None:
            ab, _ = self.predict_ab(model, images)
            label = "colorized"
        else:
            _, targets = self.make_batch(images, index, seed)
            ab = (targets.weight * AB_SCALE if self.loss_kind == "l2" else
                  ops.ab_decode(torch.log(ops.ab_encode(lab[:, 1:], self.ab_bins(images.device), k=self.k,
                                                        sigma=self.sigma, stride=self.stride, dense=True) + 1e-8),
                                self.ab_bins(images.device), temperature=1.0))
            label = "target"
        ab_full = F.interpolate(ab.float(), size=size, mode="bilinear", align_corners=False)
        colorized = ops.lab_to_rgb(torch.cat([lab[:, :1], ab_full], 1))
        gray = ops.lab_to_rgb(torch.cat([lab[:, :1], torch.zeros_like(ab_full)], 1))
        original = images.float() / 255
        pictures = torch.stack([gray, colorized.float(), original], 1).flatten(0, 1)
        captions = [name for _ in range(len(images)) for name in ("L input", label, "original")]
        return pictures.cpu(), captions
