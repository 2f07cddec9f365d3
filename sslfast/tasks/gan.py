"""What the GAN tasks (super-resolution, inpainting) share: a strided-conv
discriminator and the alternating two-optimiser training step.

Each step first updates the discriminator on real vs (detached) generated
images, then the generator on its reconstruction losses plus its perceptual
losses and ``adversarial_weight`` x the non-saturating adversarial loss (these
two only after the first ``mse_warmup`` fraction of the run, as SRGAN starts
its GAN from the trained MSE network), with the discriminator's parameters
frozen so no gradient leaks into them. Both go through
``trainer.backward_and_step`` (AMP scaler, clipping), so both optimisers and
their schedulers are checkpointed and resumed by the Trainer. Single-process
only: the two sub-networks are called directly, outside DistributedDataParallel.
"""
from __future__ import annotations

import contextlib
from typing import Dict, List, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..models import global_pool
from .base import DEFAULT_MEAN, DEFAULT_STD, PretextTask


class Discriminator(nn.Module):
    """SRGAN-style discriminator scaled down: a 3x3 conv + LeakyReLU, then
    stride-2 3x3 conv-BN-LeakyReLU stages, global average pooling, a hidden
    layer and one real/fake logit. :meth:`features` gives every stage's map
    (the default content-loss features)."""

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (32, 64, 128, 256), hidden: int = 256):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1), nn.LeakyReLU(0.2, inplace=True))
        stages, cin = [], widths[0]
        for width in widths:
            stages.append(nn.Sequential(nn.Conv2d(cin, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width),
                                        nn.LeakyReLU(0.2, inplace=True)))
            cin = width
        self.stages = nn.ModuleList(stages)
        self.head = nn.Sequential(nn.Linear(cin, hidden), nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 1))

    def features(self, x: torch.Tensor) -> List[torch.Tensor]:
        maps, x = [], self.stem(x)
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(global_pool(self.features(x)[-1])).squeeze(1)


def real_fake_loss(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Binary cross-entropy of discriminator logits against all-real or all-fake."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


@contextlib.contextmanager
def frozen(module: nn.Module):
    """Turn off ``requires_grad`` of ``module``'s parameters inside the block."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class GANTask(PretextTask):
    """Base of the GAN tasks. The model has ``generator`` and ``discriminator``
    sub-modules; subclasses implement :meth:`real` (what the discriminator
    judges as real) and :meth:`generator_losses`, and may override
    :meth:`generate` (the generator's output) and :meth:`judged` (what of it
    the discriminator judges as fake)."""

    adversarial_weight: float = 1e-3
    discriminator_lr_scale: float = 1.0   # discriminator lr = run lr x this
    mse_warmup: float = 0.0               # fraction of the run before the perceptual + adversarial terms join
    mean: tuple = DEFAULT_MEAN            # the images' normalisation
    std: tuple = DEFAULT_STD

    def to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images -> [0, 1]."""
        mean = x.new_tensor(self.mean).view(1, -1, 1, 1)
        std = x.new_tensor(self.std).view(1, -1, 1, 1)
        return (x * std + mean).clamp(0, 1)

    def configure_optimizers(self, model: nn.Module, build_optimizer) -> Dict[str, torch.optim.Optimizer]:
        return {"generator": build_optimizer(model.generator.parameters()),
                "discriminator": build_optimizer(model.discriminator.parameters(),
                                                 lr_scale=self.discriminator_lr_scale)}

    def generate(self, model: nn.Module, inputs, targets) -> torch.Tensor:
        return model.generator(inputs)

    def judged(self, output: torch.Tensor, inputs, targets) -> torch.Tensor:
        return output

    def real(self, inputs, targets) -> torch.Tensor:
        raise NotImplementedError

    def generator_losses(self, model: nn.Module, output: torch.Tensor, inputs, targets) -> Dict[str, torch.Tensor]:
        """Named reconstruction losses of the generator (always on)."""
        raise NotImplementedError

    def perceptual_losses(self, model: nn.Module, output: torch.Tensor, inputs, targets) -> Dict[str, torch.Tensor]:
        """Named losses that join with the adversarial one after ``mse_warmup``. Default: none."""
        return {}

    def gan_phase(self, trainer) -> bool:
        """Whether this step is past the MSE-only warm-up."""
        return trainer.step >= self.mse_warmup * trainer.config.steps

    def loss(self, outputs, targets) -> torch.Tensor:
        raise NotImplementedError(f"{self.name}: trained by training_step's alternating GAN updates")

    def training_step(self, trainer, inputs, targets) -> Dict[str, float]:
        if trainer.world > 1:
            raise ValueError(f"{self.name}: GAN tasks train in a single process (no DistributedDataParallel)")
        model = trainer.raw_model
        with trainer.autocast():
            output = self.generate(model, inputs, targets)
            fake = self.judged(output, inputs, targets)
            d_loss = 0.5 * (real_fake_loss(model.discriminator(self.real(inputs, targets)), True)
                            + real_fake_loss(model.discriminator(fake.detach()), False))
        trainer.backward_and_step(d_loss, "discriminator")
        with frozen(model.discriminator):
            with trainer.autocast():
                parts = self.generator_losses(model, output, inputs, targets)
                perceptual = self.perceptual_losses(model, output, inputs, targets)
                adversarial = real_fake_loss(model.discriminator(fake), True)
                loss = sum(parts.values())
                if self.gan_phase(trainer):
                    loss = loss + sum(perceptual.values()) + self.adversarial_weight * adversarial
                parts.update(perceptual)
            trainer.backward_and_step(loss, "generator")
        return {"loss": loss.item(), "d_loss": d_loss.item(), **{k: v.item() for k, v in parts.items()},
                "adversarial_loss": adversarial.item()}
