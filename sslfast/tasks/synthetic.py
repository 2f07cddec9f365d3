"""Synthetic imagery with domain adaptation (Ren & Lee, CVPR 2018).

One trunk learns depth, surface normals and instance contours on scenes that
the fused renderer (:func:`sslfast.ops.render_scenes`) draws on the fly, and a
domain discriminator on the trunk's pooled features learns to tell those
renders from real images while the trunk learns to fool it.

Where the data comes from
-------------------------
The data set handed to the Trainer is the *real* domain (``sslfast pretrain
synthetic`` defaults to ``--data photos``; any folder or built-in set works);
its images only ever meet the discriminator. For every real batch,
:meth:`SyntheticTask.make_batch` draws as many scenes with
:func:`sslfast.ops.sample_scenes` keyed by ``(seed, index)`` -- the Trainer's
per-epoch pretext seed and the real images' data-set indices -- and renders
them at the real images' size, so each epoch sees new scenes and a batch is a
pure function of ``(images, index, seed)``. Held-out renders (for
:meth:`SyntheticTask.quality`) use scene indices offset by
:data:`HELD_OUT_OFFSET`, which training never reaches.

Targets and losses (weights 5 / 10 / 1 as in the paper)
-------------------------------------------------------
- depth: L1 on log depth (``log(depth / 5 m)``, depth clamped to
  [0.5, 50] m), over pixels that hit something. Log depth keeps the far
  ground plane near the horizon from dominating an L1 on metres.
- normals: ``1 - cos`` between the predicted and true camera-space normal,
  over pixels that hit something.
- contours: class-balanced binary cross-entropy (HED): positives weighted by
  the fraction of negative pixels in the batch and vice versa, since contours
  are one pixel wide and rare.

Domain adaptation by gradient reversal
--------------------------------------
The discriminator sees the trunk's pooled features through a gradient
reversal layer (Ganin & Lempitsky 2015): identity forward, gradient times
``-domain_weight`` backward. One backward pass then trains the discriminator
to *minimise* its cross-entropy at full strength while the trunk receives
``-domain_weight x`` that gradient, i.e. it *maximises* the discriminator's
loss with that weight, as Ren & Lee's adversarial term does (their weight is
0.05; ours is 2 by default, see below). We chose it over GAN-style
alternation because it needs one forward/backward per step instead of two
(this runs on small CPUs), and keeps a single optimiser, so the Trainer's
generic step, schedule, checkpoint and exact resume apply unchanged.

The discriminator's batch accuracy is logged (``disc_accuracy``), but it is
no measure of alignment: a discriminator that starts untrained sits near 50%
at step 0 whatever the features, and later it measures the race between the
discriminator and the trunk as much as the features. Alignment is measured
instead by a *fresh* domain classifier on *frozen* trunk features
(:func:`domain_probe_accuracy`): an L2-regularised logistic regression on the
standardised pooled last stage (what the discriminator sees), fitted on
renders vs real images with ``probe_folds``-fold cross-validation, so every
accuracy is on held-out images. :meth:`SyntheticTask.quality` runs it on the
trained trunk and on the trunk as it was at step 0 (kept frozen in the model
as ``initial_encoder``, so checkpoints carry it). Features that align bring
the fresh classifier toward 50%; a control run with ``domain_weight=0`` shows
how far training on renders alone moves it.

Four choices make the reversal align the features in runs of 150 steps
(all defaults): the discriminator's input is standardised over the batch
(a BatchNorm without affine parameters), so it weighs every channel as the
fresh classifier of the check does; it learns at ``disc_lr=10`` times the
trunk's learning rate, to track a moving trunk; with ``ramp`` the reversal
weight grows from 0 to ``domain_weight`` as in DANN, ``w * (2 / (1 +
exp(-10 p)) - 1)`` at progress ``p``, so the trunk is not pushed by a
discriminator that has not learnt anything yet; and ``domain_weight=2``,
not the paper's 0.05: with AdamW and the dense terms weighted 5 / 10 / 1,
a weight of 0.05 leaves the trunk's updates to the dense losses and the
features stay as domain-specific as without adaptation (below).

Measured (batch 64, 32 px, real domain ``photos``; ``sslfast quality --data
photos``: 256 held-out images in batches of 64, each batch's 64 renders and
64 real images probed with 4-fold cross-validation, 512 samples in all, about
+-2 points of noise), fresh classifier's accuracy, trained / initial trunk:

==============================================  ======  ======  ======
150 steps, ``domain_weight`` and options        seed 0  seed 1  seed 2
==============================================  ======  ======  ======
0 (control)                                     0.893   --      --
0.05, disc_lr 10, standardised input            0.879   --      --
1, disc_lr 10, ramp, standardised input         0.772   0.807   0.795
2, disc_lr 10, ramp, standardised (default)     0.764   0.799   0.811
2, disc_lr 10, ramp, raw input                  0.809   0.799   0.826
initial trunk                                   0.840   0.807   0.850
==============================================  ======  ======  ======

So the default takes the fresh classifier from the control's 89% to below
the initial trunk's accuracy on each seed (mean 0.791 +- 0.024 against
0.832 +- 0.023), while the depth / normal / contour errors stay well below
their constant baselines (log-depth L1 0.33-0.35 against 0.52, normal angle
18-20 deg against 27, contour balanced error 0.22-0.26 against 0.5; at
weight 0.05 they are 0.23, 14 deg and 0.16: alignment costs some accuracy).
The margin on seed 1 is within the noise, and weight 1 ties there at 150
steps (at 300 steps weight 1 gives 0.838 / 0.793 / 0.797). Weight, ramp
and ``disc_lr`` do the work; the standardised input adds 2 points on the
mean (0.791 against 0.811 on raw features), within the noise. In other runs
(seed 0 unless said) a linear discriminator, also one on every stage's
pooled features (probed on the same), overshot: the trunk pushed the domains
past a discriminator that could not turn fast enough and the fresh
classifier stayed at 0.82-0.89 (0.74-0.79 only with ``disc_lr`` 30-100,
which left the log-depth error at 0.44-0.48). The alignment stops near the
initial trunk's level, far from 50%: the fresh classifier still finds what
the discriminator of the moment does not use.

Scenes and sizes: the paper renders 224 px indoor scenes; here scenes of
analytic primitives (by default one large central object and smaller ones
behind it, over a ground plane with probability 0.7) are rendered at the real
images' size (32-96 px on CPU) and, by default, composited over another real
image of the batch (``background="real"``), so that the discriminator has to
look at the rendered objects, not at plain backgrounds. Grayscale input, as
in the paper, is ``grayscale=True``.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.nn import functional as F

from .. import ops
from ..evaluate import linear_probe
from ..models import global_pool
from .base import DEFAULT_MEAN, DEFAULT_STD, PretextTask, register_task

HELD_OUT_OFFSET = 1 << 41  # scene indices of held-out renders (training uses data-set indices)
DEPTH_REFERENCE = 5.0  # metres: log depth is taken relative to this (a typical object distance)
DEPTH_RANGE = (0.5, 50.0)  # clamp before the log: the ground plane reaches the horizon
GRAY_MEAN, GRAY_STD = 0.449, 0.226  # luma statistics matching DEFAULT_MEAN/STD
BACKGROUNDS = ("color", "real")


class GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient times ``-weight`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.weight * grad, None


def reverse_gradient(x: torch.Tensor, weight: float) -> torch.Tensor:
    """``x`` unchanged, but gradients flowing back through it are multiplied by ``-weight``."""
    return GradientReversal.apply(x, weight)


class DenseDecoder(nn.Module):
    """Hypercolumn decoder: each encoder stage projected by a 1x1 conv to
    ``width`` channels, upsampled (bilinear) to the input size and summed,
    then BN + ReLU. Deliberately this light (no convolution wider than 1x1)
    so the trunk, not the decoder, has to learn the geometry."""

    def __init__(self, stage_channels: Sequence[int], width: int):
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(c, width, 1) for c in stage_channels)
        self.mix = nn.Sequential(nn.BatchNorm2d(width), nn.ReLU(inplace=True))

    def forward(self, stages: List[torch.Tensor], size: Tuple[int, int]) -> torch.Tensor:
        total = 0
        for lateral, feature in zip(self.lateral, stages):
            total = total + F.interpolate(lateral(feature), size=size, mode="bilinear", align_corners=False)
        return self.mix(total)


class SyntheticNet(nn.Module):
    """Trunk + dense heads (log depth, normals, contour logits) + domain
    discriminator (behind gradient reversal) on the pooled last stage, and a
    frozen copy of the trunk as initialised (``initial_encoder``, for the
    alignment check; never trained nor used by ``forward``).

    ``reversal`` is the gradient reversal weight of the next forward pass
    (``domain_weight`` unless the task's ramp sets it).

    ``forward(x)`` returns a dict of ``depth [N, 1, H, W]``, ``normals
    [N, 3, H, W]`` (unit vectors), ``edges [N, 1, H, W]`` (logits) and
    ``domain [N]`` (logit of "real") for every input.
    """

    def __init__(self, encoder, decoder_width: int, disc_hidden: int, domain_weight: float):
        super().__init__()
        self.encoder, self.reversal = encoder, domain_weight
        self.initial_encoder = copy.deepcopy(encoder).requires_grad_(False)
        with torch.no_grad():
            probe = torch.zeros(1, encoder.in_channels, 32, 32)
            stage_channels = [f.shape[1] for f in encoder.eval().stages(probe)]
        encoder.train()
        self.decoder = DenseDecoder(stage_channels, decoder_width)
        self.heads = nn.Conv2d(decoder_width, 1 + 3 + 1, 1)
        # The features standardised over the batch (both domains) first, as the
        # fresh domain classifier of the alignment check sees them, so channels
        # of small spread weigh as much for the discriminator (and so for the
        # reversal) as for that classifier.
        self.discriminator = nn.Sequential(nn.BatchNorm1d(encoder.out_channels, affine=False),
                                           nn.Linear(encoder.out_channels, disc_hidden), nn.ReLU(inplace=True),
                                           nn.Linear(disc_hidden, 1))

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        stages = self.encoder.stages(x)
        maps = self.heads(self.decoder(stages, x.shape[-2:]))
        pooled = global_pool(stages[-1])
        domain = self.discriminator(reverse_gradient(pooled, self.reversal)).squeeze(1)
        return {"depth": maps[:, :1], "normals": F.normalize(maps[:, 1:4].float(), dim=1),
                "edges": maps[:, 4:5], "domain": domain}


def log_depth(depth: torch.Tensor) -> torch.Tensor:
    """The depth target: ``log(depth / DEPTH_REFERENCE)`` with depth clamped to ``DEPTH_RANGE``."""
    return torch.log(depth.clamp(*DEPTH_RANGE) / DEPTH_REFERENCE)


def balanced_bce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class-balanced BCE (HED's weighting, Xie & Tu 2015): contour and
    non-contour pixels of the batch each make up half of the loss, i.e.
    weights ``0.5 / p`` and ``0.5 / (1 - p)`` for a contour fraction ``p``
    (HED's ``1 - p`` and ``p``, rescaled so a constant 0.5 guess costs log 2
    as in plain BCE; the rescaling keeps the paper's loss weights meaningful)."""
    positive = target.mean().clamp(1e-6, 1 - 1e-6)
    weight = torch.where(target > 0.5, 0.5 / positive, 0.5 / (1 - positive))
    return F.binary_cross_entropy_with_logits(logits.float(), target, weight=weight)


def balanced_error(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - balanced accuracy of ``logits > 0`` (0.5 for any constant guess)."""
    predicted, positive = logits > 0, target > 0.5
    true_positive = (predicted & positive).sum() / positive.sum().clamp_min(1)
    true_negative = (~predicted & ~positive).sum() / (~positive).sum().clamp_min(1)
    return 1 - (true_positive + true_negative) / 2


def domain_probe_accuracy(features: torch.Tensor, domain: torch.Tensor, folds: int, seed: int) -> float:
    """Held-out accuracy of a fresh domain classifier on frozen ``features
    [N, D]`` with labels ``domain [N]`` (0 rendered, 1 real): the transfer
    protocol's logistic regression (:func:`sslfast.evaluate.linear_probe`),
    cross-validated over ``folds`` folds drawn by ``seed``, so each sample is
    classified once by a classifier that never saw it. Chance is 0.5 for
    balanced domains."""
    fold = torch.randperm(len(features), generator=torch.Generator().manual_seed(seed)) % folds
    features, domain = features.float().cpu(), domain.long().cpu()
    correct = 0.0
    for k in range(folds):
        test = fold == k
        correct += linear_probe(features[~test], domain[~test], features[test], domain[test]) * int(test.sum())
    return correct / len(features)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / mask.sum().clamp_min(1)


@register_task
class SyntheticTask(PretextTask):
    """Options: ``grayscale`` (gray input as in the paper), ``weights``
    (depth, normals, contours loss weights), ``domain_weight`` (gradient
    reversal strength; 0 turns domain adaptation off), ``background``
    ("color": the renderer's plain colour; "real": each render is composited
    over another real image of the batch, so the two domains share background
    statistics), ``objects`` (low, high objects per scene), ``ground_plane``
    (probability), ``central`` (object 0 large at the image centre, the
    others smaller behind it, as in the ``shapes`` data; else objects
    anywhere), ``samples`` (anti-aliasing rays per pixel and axis),
    ``decoder_width``, ``disc_hidden`` (discriminator width), ``disc_lr``
    (discriminator learning rate over the trunk's), ``ramp`` (DANN's
    reversal-weight schedule), ``probe_folds`` (cross-validation folds of the
    fresh domain classifier in :meth:`quality`)."""

    name = "synthetic"
    default_data = "photos"
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, grayscale: bool = False, weights: Sequence[float] = (5.0, 10.0, 1.0),
                 domain_weight: float = 2.0, background: str = "real", objects: Sequence[int] = (1, 4),
                 ground_plane: float = 0.7, central: bool = True, samples: int = 2, decoder_width: int = 32,
                 disc_hidden: int = 128, disc_lr: float = 10.0, ramp: bool = True, probe_folds: int = 4,
                 mean=None, std=None):
        if background not in BACKGROUNDS:
            raise ValueError(f"background: expected one of {', '.join(BACKGROUNDS)}, got {background!r}")
        if len(weights) != 3 or any(w < 0 for w in weights):
            raise ValueError(f"weights: expected three non-negative numbers (depth, normals, edges), got {weights!r}")
        if domain_weight < 0:
            raise ValueError(f"domain_weight: expected a non-negative number, got {domain_weight}")
        if isinstance(disc_hidden, bool) or not isinstance(disc_hidden, int) or disc_hidden < 1:
            raise ValueError(f"disc_hidden: expected an int >= 1, got {disc_hidden!r}")
        if disc_lr <= 0:
            raise ValueError(f"disc_lr: expected a positive learning-rate factor, got {disc_lr}")
        if isinstance(probe_folds, bool) or not isinstance(probe_folds, int) or probe_folds < 2:
            raise ValueError(f"probe_folds: expected an int >= 2, got {probe_folds!r}")
        mean = tuple(mean) if mean is not None else ((GRAY_MEAN,) if grayscale else DEFAULT_MEAN)
        std = tuple(std) if std is not None else ((GRAY_STD,) if grayscale else DEFAULT_STD)
        super().__init__(grayscale=grayscale, weights=tuple(weights), domain_weight=domain_weight,
                         background=background, objects=tuple(objects), ground_plane=ground_plane, central=central,
                         samples=samples,
                         decoder_width=decoder_width, disc_hidden=disc_hidden, disc_lr=disc_lr, ramp=ramp,
                         probe_folds=probe_folds, mean=mean, std=std)
        self.grayscale, self.weights, self.domain_weight = grayscale, tuple(weights), domain_weight
        self.background, self.objects, self.ground_plane = background, tuple(objects), ground_plane
        self.central, self.samples, self.decoder_width, self.disc_hidden = central, samples, decoder_width, disc_hidden
        self.disc_lr, self.ramp, self.probe_folds = disc_lr, bool(ramp), probe_folds
        self.mean, self.std = mean, std
        self.input_channels = 1 if grayscale else 3

    # -- data --------------------------------------------------------------
    def render(self, index: torch.Tensor, seed: int, height: int, width: int,
               background: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """Scenes ``(seed, index)`` rendered at ``height x width`` (the dict of
        :func:`sslfast.ops.render_scenes`)."""
        scenes = ops.sample_scenes(seed, index, n_objects=self.objects, ground_plane=self.ground_plane,
                                   central=self.central)
        return ops.render_scenes(scenes, height, width, samples=self.samples, background=background)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1] float RGB -> the encoder's normalised input."""
        if self.grayscale:
            return ops.grayscale(images, out_dtype=torch.float32, mean=self.mean[0], std=self.std[0])
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        return self._normalise(images)

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, Dict]:
        """Real uint8 images ``[B, 3, H, W]`` -> inputs ``[2B, C, H, W]`` (B
        renders of scenes ``(seed, index)``, then the B real images) and
        targets: the renders' ``depth`` (log), ``normals``, ``edges``, ``hit``
        mask and ``rgb``, and ``domain`` (0 rendered, 1 real, ``[2B]``)."""
        height, width = images.shape[-2:]
        background = images.roll(1, 0) if self.background == "real" else None
        out = self.render(index, seed, height, width, background)
        inputs = torch.cat([self._normalise(out["rgb"]), self._normalise(images)])
        domain = torch.arange(2 * len(images), device=images.device).ge(len(images)).float()
        targets = {"depth": log_depth(out["depth"]), "normals": out["normals"], "edges": out["edges"],
                   "hit": (out["depth"] > 0).float(), "rgb": out["rgb"], "domain": domain}
        return inputs, targets

    # -- model and loss ----------------------------------------------------
    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return SyntheticNet(self.make_encoder(backbone, **backbone_options), self.decoder_width, self.disc_hidden,
                            self.domain_weight)

    def configure_optimizers(self, model: nn.Module, build_optimizer) -> Dict[str, torch.optim.Optimizer]:
        """One optimiser; the discriminator's group learns at ``disc_lr`` times
        the rate of the rest (the frozen ``initial_encoder`` is left out)."""
        discriminator = list(model.discriminator.parameters())  # a list: the order must survive a resume
        ids = {id(p) for p in discriminator}
        rest = [p for p in model.parameters() if p.requires_grad and id(p) not in ids]
        optimizer = build_optimizer([{"params": rest}, {"params": discriminator}])
        optimizer.param_groups[1]["lr"] *= self.disc_lr
        return {"model": optimizer}

    def reversal_weight(self, step: int, steps: int) -> float:
        """The gradient reversal weight at ``step`` of ``steps``: ``domain_weight``,
        or with ``ramp`` DANN's ``domain_weight * (2 / (1 + exp(-10 p)) - 1)``, ``p = step / steps``."""
        if not self.ramp:
            return self.domain_weight
        return self.domain_weight * (2 / (1 + math.exp(-10 * step / max(steps, 1))) - 1)

    def losses(self, outputs: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Each term unweighted: depth, normal, edge and domain losses."""
        n, hit = targets["depth"].shape[0], targets["hit"]
        depth = _masked_mean((outputs["depth"][:n].float() - targets["depth"]).abs(), hit)
        cosine = (outputs["normals"][:n] * targets["normals"]).sum(1, keepdim=True)
        return {"depth_loss": depth, "normal_loss": _masked_mean(1 - cosine, hit),
                "edge_loss": balanced_bce(outputs["edges"][:n], targets["edges"]),
                "domain_loss": F.binary_cross_entropy_with_logits(outputs["domain"].float(), targets["domain"])}

    def loss(self, outputs: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Weighted sum of the three dense terms plus the domain term; the
        domain term's weight on the trunk is the reversal's ``domain_weight``,
        the discriminator learns from it at full strength."""
        terms = self.losses(outputs, targets)
        depth_w, normal_w, edge_w = self.weights
        total = depth_w * terms["depth_loss"] + normal_w * terms["normal_loss"] + edge_w * terms["edge_loss"]
        return total + terms["domain_loss"] if self.domain_weight > 0 else total

    def metrics(self, outputs: Dict[str, torch.Tensor], targets: Dict[str, torch.Tensor]) -> Dict[str, float]:
        terms = self.losses(outputs, targets)
        accuracy = ((outputs["domain"] > 0).float() == targets["domain"]).float().mean()
        return {**{k: v.item() for k, v in terms.items()}, "disc_accuracy": accuracy.item()}

    def training_step(self, trainer, inputs: torch.Tensor, targets: Dict[str, torch.Tensor]) -> Dict[str, float]:
        trainer.raw_model.reversal = self.reversal_weight(trainer.step, trainer.config.steps)
        with trainer.autocast():
            outputs = trainer.model(inputs)
            loss = self.loss(outputs, targets)
        trainer.backward_and_step(loss, "model")
        with torch.no_grad():
            metrics = self.metrics({k: v.detach() for k, v in outputs.items()}, targets)
        return {"loss": loss.item(), **metrics, "reversal": trainer.raw_model.reversal}

    # -- pictures and quality ----------------------------------------------
    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Per render: the image, then its true depth, normals and contours
        (4 tiles); with a model each truth is followed by the prediction and
        the real image closes the row, captioned with the discriminator's
        P(real) (8 tiles)."""
        from ..viz import depth_to_rgb, normals_to_rgb

        inputs, targets = self.make_batch(images, index, seed)
        n = len(images)
        hit = targets["hit"]
        truth = [depth_to_rgb(targets["depth"].exp() * DEPTH_REFERENCE * hit), normals_to_rgb(targets["normals"]),
                 targets["edges"].expand(-1, 3, -1, -1).cpu()]
        names = ["depth", "normals", "edges"]
        columns, captions = [targets["rgb"].cpu()], ["render"]
        if model is None:
            columns += truth
            rows = [captions + names] * n
        else:
            with torch.no_grad():
                out = model.eval()(inputs)
            # Predicted depth shown where the render hit something, so both
            # depth pictures share depth_to_rgb's per-image colour scale.
            guess = [depth_to_rgb(out["depth"][:n].float().exp() * DEPTH_REFERENCE * hit),
                     normals_to_rgb(out["normals"][:n].float()),
                     torch.sigmoid(out["edges"][:n].float()).expand(-1, 3, -1, -1).cpu()]
            for picture, prediction, name in zip(truth, guess, names):
                columns += [picture, prediction]
                captions += [name, f"{name} pred"]
            columns.append(images.cpu().float() / 255)
            rows = [captions + [f"P(real) {p:.2f}"] for p in torch.sigmoid(out["domain"][n:].float()).tolist()]
        pictures = torch.stack(columns, dim=1).flatten(0, 1)
        return pictures, [caption for row in rows for caption in row]

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict[str, Any]]:
        """On held-out renders (scene indices ``index + HELD_OUT_OFFSET``): log-depth
        L1, mean normal angle and contour balanced error against the best
        constant prediction of this batch (the median log depth, the mean
        normal direction, any constant contour guess); and the alignment
        check: a fresh domain classifier's held-out accuracy (renders vs the
        real ``images``, :func:`domain_probe_accuracy`) on the trained trunk's
        features beside the same on the initial trunk's."""
        inputs, targets = self.make_batch(images, index + HELD_OUT_OFFSET, seed)
        n, hit = len(images), targets["hit"]
        net = getattr(model, "module", model).eval()
        with torch.no_grad():
            out = net(inputs)
            probe = {name: domain_probe_accuracy(encoder.pooled(inputs), targets["domain"], self.probe_folds, seed)
                     for name, encoder in (("trained", net.encoder), ("initial", net.initial_encoder))}
        depth, hit_depth = targets["depth"], targets["depth"][hit > 0]
        constant_depth = hit_depth.median() if len(hit_depth) else depth.new_zeros(())
        normals = targets["normals"]
        mean_normal = F.normalize((normals * hit).sum((0, 2, 3)), dim=0).view(1, 3, 1, 1)

        def angle(prediction):
            cosine = (prediction * normals).sum(1, keepdim=True).clamp(-1, 1)
            return math.degrees(_masked_mean(torch.acos(cosine), hit).item())

        return [
            {"metric": "depth L1 (log depth)", "model": _masked_mean((out["depth"][:n] - depth).abs(), hit).item(),
             "baseline": _masked_mean((constant_depth - depth).abs(), hit).item(),
             "baseline_name": "constant: median", "better": "lower"},
            {"metric": "normal angle error (deg)", "model": angle(out["normals"][:n]),
             "baseline": angle(mean_normal), "baseline_name": "constant: mean direction", "better": "lower"},
            {"metric": "edge balanced error", "model": balanced_error(out["edges"][:n], targets["edges"]).item(),
             "baseline": 0.5, "baseline_name": "any constant", "better": "lower"},
            {"metric": "fresh domain classifier accuracy (chance 0.5)", "model": probe["trained"],
             "baseline": probe["initial"], "baseline_name": "initial trunk", "better": "lower"},
        ]
