"""Split-brain autoencoder (Zhang, Isola, Efros 2017).

Lab is split into L and ab. Sub-network F1 predicts ab from L (a per-pixel
classification over colorization's 313 ab bins); F2 predicts L from ab, with L
quantised into ``l_bins`` classes (default 50, 2 L units each, as
:func:`sslfast.ops.quantize_l`). Both predict at 1/4 resolution, like
colorization. Each sub-network has half the channels of the full network
(the small backbone's widths are halved; other backbones keep theirs), and
the encoder kept for transfer is their concatenation (:class:`SplitEncoder`),
fed the full normalised Lab image.

Both directions use a plain cross-entropy on 1-hot targets (each pixel's
nearest ab bin, its L class) by default: the paper describes its cross-channel
losses as "a classification loss with a basic 1-hot encoding scheme" and,
unlike colorization, adds no class-rebalancing term, since the goal is the
representation rather than vivid pictures. Colorization's rebalancing (prior
counted once over the training data and kept in the checkpoint) and soft
encoding are options (``rebalance=True``, ``k=5``). Without rebalancing the
L -> ab output estimates p(ab bin | L), so its argmax is the natural
prediction and the quality check scores it against the majority bin.

``pair="rgb_depth"`` is the paper's RGB-D split on rendered scenes: like the
``synthetic`` task, :meth:`SplitBrainTask.make_batch` draws one scene per
image with :func:`sslfast.ops.sample_scenes` keyed by ``(seed, index)`` and
renders it at the images' size with :func:`sslfast.ops.render_scenes` (the
data set's own images are not used), giving RGB and depth. F1 predicts log
depth from RGB and F2 predicts RGB from depth, both by L2 regression at
1/stride (the paper's "(reg, reg)" variant: neither depth nor RGB has a bin
set like ab's here). Depth is ``log(depth / 5 m)`` clamped to [0.5, 50] m,
rays that hit nothing at the far end. At transfer time images come without
depth, so :meth:`SplitBrainTask.prepare_input` gives the depth half a flat
far plane and the RGB half carries the representation.
"""
from __future__ import annotations

import math
from typing import Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .. import ops
from ..models import Encoder
from .base import DEFAULT_MEAN, DEFAULT_STD, PretextTask, register_task
from .colorization import (AB_SCALE, ABPrior, DenseHead, PriorMixin, grayscale_flags, lab_input,
                           rebalanced_cross_entropy, target_size)
from .synthetic import DEPTH_RANGE, DEPTH_REFERENCE, HELD_OUT_OFFSET, log_depth

PAIRS = ("lab", "rgb_depth")
# The log-depth input and target of rays that hit nothing (synthetic's log_depth of the far end).
FAR = math.log(DEPTH_RANGE[1] / DEPTH_REFERENCE)


class SplitEncoder(Encoder):
    """Two encoders over disjoint input channels, their maps concatenated:
    the split-brain representation. ``l_net`` reads the first
    ``l_net.in_channels`` channels (L of Lab, or RGB of RGB-D), ``ab_net``
    the rest (ab, or depth)."""

    def __init__(self, l_net: Encoder, ab_net: Encoder):
        super().__init__()
        self.l_net, self.ab_net = l_net, ab_net
        self.in_channels = l_net.in_channels + ab_net.in_channels
        self.out_channels = l_net.out_channels + ab_net.out_channels

    def halves(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        split = self.l_net.in_channels
        return x[:, :split], x[:, split:]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = self.halves(x)
        return torch.cat([self.l_net(first), self.ab_net(second)], 1)

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        first, second = self.halves(x)
        return [torch.cat(pair, 1) for pair in zip(self.l_net.stages(first), self.ab_net.stages(second))]


class SplitTargets(NamedTuple):
    index: torch.Tensor      # int64 [B, k, h, w]: nearest ab bins
    weight: torch.Tensor     # float32 [B, k, h, w]: their soft weights
    grayscale: torch.Tensor  # bool [B]
    lightness: torch.Tensor  # int64 [B, h, w]: L classes


class DepthTargets(NamedTuple):
    depth: torch.Tensor      # float32 [B, 1, h, w]: log depth
    rgb: torch.Tensor        # float32 [B, 3, h, w]: normalised RGB


class SplitBrainNet(nn.Module):
    """F1 (``ab_head`` on ``l_net``) and F2 (``l_head`` on ``ab_net``) with
    ``outputs = (F1's, F2's)`` channels: (313 ab bins, L bins) for Lab, (1
    log depth, 3 RGB) for RGB-D."""

    def __init__(self, encoder: SplitEncoder, outputs: Tuple[int, int], ab_bins: int, stride: int, hidden: int):
        super().__init__()
        self.encoder, self.stride = encoder, stride
        self.ab_head = DenseHead(encoder.l_net.out_channels, outputs[0], hidden)   # F1: L -> ab (RGB -> depth)
        self.l_head = DenseHead(encoder.ab_net.out_channels, outputs[1], hidden)   # F2: ab -> L (depth -> RGB)
        self.prior = ABPrior(ab_bins)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalised Lab ``[B, 3, H, W]`` (or RGB-D ``[B, 4, H, W]``) -> (F1's,
        F2's outputs) at 1/stride."""
        size = target_size(*x.shape[-2:], self.stride)
        first, second = self.encoder.halves(x)
        return self.ab_head(self.encoder.l_net(first), size), self.l_head(self.encoder.ab_net(second), size)


def majority_accuracy(labels: torch.Tensor) -> float:
    """Accuracy of always predicting the most frequent label of ``labels``."""
    return (torch.bincount(labels.flatten()).max().float() / labels.numel()).item()


@register_task
class SplitBrainTask(PriorMixin, PretextTask):
    """Options: ``pair`` ("lab": L <-> ab, the default; "rgb_depth": RGB <->
    depth on rendered scenes, see the module docstring), ``l_bins`` (L
    classes, 50), ``k``/``sigma`` of the ab targets (1: 1-hot, the paper's;
    5/5: colorization's soft encoding), ``rebalance`` (False: plain
    cross-entropy, the paper's; True: colorization's class rebalancing, mixed
    by ``lam``), ``temperature`` (annealed mean for the ab error),
    ``stride`` (4), ``hidden`` (head width), ``prior_images``; for
    "rgb_depth": ``objects``, ``ground_plane`` and ``samples`` of the scenes
    (as the ``synthetic`` task)."""

    name = "splitbrain"
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, pair: str = "lab", l_bins: int = 50, k: int = 1, sigma: float = 5.0, rebalance: bool = False,
                 lam: float = 0.5, temperature: float = 0.38, stride: int = 4, hidden: int = 64,
                 prior_images: int = 2048, objects: Tuple[int, int] = (1, 4), ground_plane: float = 0.7,
                 samples: int = 2):
        if pair not in PAIRS:
            raise ValueError(f"pair: expected one of {', '.join(PAIRS)}, got {pair!r}")
        if not isinstance(rebalance, bool):
            raise TypeError(f"rebalance: expected True or False, got {rebalance!r}")
        super().__init__(pair=pair, l_bins=l_bins, k=k, sigma=sigma, rebalance=rebalance, lam=lam,
                         temperature=temperature, stride=stride, hidden=hidden, prior_images=prior_images,
                         objects=tuple(objects), ground_plane=ground_plane, samples=samples)
        self.pair, self.l_bins, self.k, self.sigma, self.lam = pair, l_bins, k, sigma, lam
        self.rebalance = rebalance
        self.temperature, self.stride, self.hidden, self.prior_images = temperature, stride, hidden, prior_images
        self.objects, self.ground_plane, self.samples = tuple(objects), ground_plane, samples
        self.input_channels = 4 if pair == "rgb_depth" else 3

    # -- RGB-D -------------------------------------------------------------
    def render_rgbd(self, index: torch.Tensor, seed: int, height: int, width: int) -> torch.Tensor:
        """Scenes ``(seed, index)`` -> normalised RGB-D input ``[B, 4, H, W]``:
        RGB normalised as the other tasks, then log depth (far where nothing is hit)."""
        scenes = ops.sample_scenes(seed, index, n_objects=self.objects, ground_plane=self.ground_plane, central=True)
        out = ops.render_scenes(scenes, height, width, samples=self.samples, rgb_dtype=torch.uint8)
        depth = torch.where(out["depth"] > 0, log_depth(out["depth"]), torch.full_like(out["depth"], FAR))
        return torch.cat([super().prepare_input(out["rgb"]), depth], 1)

    def depth_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, DepthTargets]:
        rgbd = self.render_rgbd(index, seed, *images.shape[-2:])
        small = rgbd[..., ::self.stride, ::self.stride]
        return rgbd, DepthTargets(small[:, 3:].contiguous(), small[:, :3].contiguous())

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int):
        """Lab: ``(normalised Lab, SplitTargets)`` of the images; RGB-D:
        ``(normalised RGB-D, DepthTargets)`` of scenes ``(seed, index)``."""
        if self.pair == "rgb_depth":
            return self.depth_batch(images, index, seed)
        lab = lab_input(images)
        ab = lab[:, 1:] * AB_SCALE
        bin_index, bin_weight = ops.ab_encode(ab, self.ab_bins(images.device), k=self.k, sigma=self.sigma,
                                              stride=self.stride)
        lightness = ops.quantize_l(lab[:, 0, ::self.stride, ::self.stride] * 50 + 50, self.l_bins)
        grayscale = grayscale_flags(ab[..., ::self.stride, ::self.stride])
        return lab, SplitTargets(bin_index, bin_weight, grayscale, lightness)

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        if self.pair == "rgb_depth":  # no depth at transfer time: a flat far plane
            rgb = super().prepare_input(images)
            return torch.cat([rgb, torch.full_like(rgb[:, :1], FAR)], 1)
        return lab_input(images)

    def make_encoder(self, backbone: str, **backbone_options) -> SplitEncoder:
        if backbone == "small":  # half the channels of the full network in each half
            widths = backbone_options.pop("widths", (32, 64, 128))
            backbone_options["widths"] = tuple(max(1, w // 2) for w in widths)
        from ..models import build_backbone

        channels = (3, 1) if self.pair == "rgb_depth" else (1, 2)
        return SplitEncoder(*(build_backbone(backbone, in_channels=c, **backbone_options) for c in channels))

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        ab_bins = self.ab_bins("cpu").shape[0]
        outputs = (1, 3) if self.pair == "rgb_depth" else (ab_bins, self.l_bins)
        return SplitBrainNet(self.make_encoder(backbone, **dict(backbone_options)), outputs, ab_bins, self.stride,
                             self.hidden)

    def loss(self, outputs, targets: SplitTargets, class_weights: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Sum of the two directions' losses (see :meth:`losses`)."""
        return sum(self.losses(outputs, targets, class_weights).values())

    def losses(self, outputs, targets, class_weights: Optional[torch.Tensor] = None):
        """Lab: ``ab_loss`` (cross-entropy on the ab bins, weighted by
        ``class_weights`` when given) and ``l_loss`` (CE); RGB-D:
        ``depth_loss`` and ``rgb_loss`` (MSE)."""
        if self.pair == "rgb_depth":
            depth, rgb = outputs
            return {"depth_loss": F.mse_loss(depth.float(), targets.depth),
                    "rgb_loss": F.mse_loss(rgb.float(), targets.rgb)}
        ab_logits, l_logits = outputs
        return {"ab_loss": rebalanced_cross_entropy(ab_logits, targets.index, targets.weight, targets.grayscale,
                                                    class_weights),
                "l_loss": F.cross_entropy(l_logits.float(), targets.lightness)}

    def training_step(self, trainer, inputs, targets) -> Dict[str, float]:
        prior = trainer.raw_model.prior
        if self.pair == "lab" and self.rebalance:
            self.ensure_prior(trainer, prior)
        with trainer.autocast():
            parts = self.losses(trainer.model(inputs), targets, prior.class_weights if self.rebalance else None)
            loss = sum(parts.values())
        trainer.backward_and_step(loss, "model")
        return {"loss": loss.item(), **{name: value.item() for name, value in parts.items()}}

    def depth_quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        """RMSE of both directions on held-out scenes (indices offset by
        ``HELD_OUT_OFFSET``, which training never reaches) beside predicting
        the held-out batch's own mean (a constant that knows the answers' average)."""
        inputs, targets = self.depth_batch(images, index + HELD_OUT_OFFSET, seed)
        with torch.no_grad():
            predictions = model.eval()(inputs)
        rows = []
        for name, prediction, truth in (("RGB -> depth RMSE (log depth)", predictions[0], targets.depth),
                                        ("depth -> RGB RMSE (normalised RGB)", predictions[1], targets.rgb)):
            mean = truth.mean((0, 2, 3), keepdim=True)
            rows.append({"metric": name, "model": ((prediction.float() - truth) ** 2).mean().sqrt().item(),
                         "baseline": ((mean - truth) ** 2).mean().sqrt().item(), "baseline_name": "batch mean",
                         "better": "lower"})
        return rows

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        if self.pair == "rgb_depth":
            return self.depth_quality(model, images, index, seed)
        inputs, targets = self.make_batch(images, index, seed)
        with torch.no_grad():
            ab_logits, l_logits = model.eval()(inputs)
        colour = ~targets.grayscale
        nearest = targets.index[:, 0][colour]
        decodings = [("argmax", ab_logits)]
        if self.rebalance:
            # The rebalanced loss pulls the argmax towards rare bins; undoing the
            # weights (logits - log w, see ab_error_rows) gives the posterior's mode.
            decodings.append(("argmax, rebalancing undone",
                              ab_logits - model.prior.class_weights.log().view(1, -1, 1, 1)))
        ab_rows = [{"metric": f"L -> ab bin accuracy ({name})",
                    "model": (logits.argmax(1)[colour] == nearest).float().mean().item() if bool(colour.any()) else 0.0,
                    "baseline": majority_accuracy(nearest) if bool(colour.any()) else 0.0,
                    "baseline_name": "majority bin", "better": "higher"}
                   for name, logits in decodings]
        return [
            *ab_rows,
            {"metric": "ab -> L bin accuracy", "model": (l_logits.argmax(1) == targets.lightness).float().mean().item(),
             "baseline": majority_accuracy(targets.lightness), "baseline_name": "majority bin", "better": "higher"},
            *self.ab_error_rows(ab_logits.float(), images, model.prior.class_weights if self.rebalance else None),
        ]

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Rows of (original, L -> colorized, ab -> predicted L); without a
        model, the target bins' values instead of predictions. RGB-D: rows of
        (render, its depth, RGB -> depth, depth -> RGB)."""
        if self.pair == "rgb_depth":
            return self.show_depth(images, index, seed, model)
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

    def show_depth(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        inputs, _ = self.depth_batch(images, index + HELD_OUT_OFFSET, seed)
        size = tuple(images.shape[-2:])
        rgb, depth = unnormalise_rgb(inputs[:, :3]), depth_picture(inputs[:, 3:])
        columns = [("render", rgb), ("depth", depth)]
        if model is not None:
            with torch.no_grad():
                predicted_depth, predicted_rgb = model.eval()(inputs)
            up = lambda x: F.interpolate(x.float(), size=size, mode="nearest")  # noqa: E731
            columns += [("RGB->depth", depth_picture(up(predicted_depth))),
                        ("depth->RGB", unnormalise_rgb(up(predicted_rgb)))]
        pictures = torch.stack([picture for _, picture in columns], 1).flatten(0, 1)
        return pictures.cpu(), [name for _ in range(len(images)) for name, _ in columns]


def unnormalise_rgb(x: torch.Tensor) -> torch.Tensor:
    """Normalised RGB (the default statistics of :meth:`PretextTask.prepare_input`) -> [0, 1]."""
    return (x * x.new_tensor(DEFAULT_STD).view(1, 3, 1, 1) + x.new_tensor(DEFAULT_MEAN).view(1, 3, 1, 1)).clamp(0, 1)


def depth_picture(depth: torch.Tensor) -> torch.Tensor:
    """Log depth ``[B, 1, H, W]`` -> gray RGB in [0, 1], near bright, far dark."""
    low, high = math.log(DEPTH_RANGE[0] / DEPTH_REFERENCE), FAR
    return ((high - depth) / (high - low)).clamp(0, 1).expand(-1, 3, -1, -1)
