"""Super-resolution GAN (SRGAN, Ledig et al. 2017).

Pairs come from the fused :func:`sslfast.ops.sr_pair`: the HR crop and its
antialiased bicubic x4 downsample (8-bit quantised), both normalised. The
generator is SRResNet-shaped: a conv + PReLU, residual blocks (conv-BN-PReLU-
conv-BN), a conv-BN with a skip over the blocks, then sub-pixel upsampling
(conv, pixel-shuffle x2, PReLU) twice — the convs ICNR-initialised against
checkerboard artefacts — and an output conv. Scaled for small CPU crops: 3x3
convs instead of the 9x9 at the ends, 32 channels and 4 blocks by default (the
paper: 64 and 16), and (``bicubic_skip``, default on) the output adds to a
bicubic upsample of the input (VDSR's global residual), with the output conv
starting at zero, so training starts from bicubic quality and only learns the
missing detail.

By default (``bias_free``) the residual network is bias-free (Mohan et al.
2020): it sees each image minus its per-channel mean, and has no conv biases
and no batch norm (EDSR's finding: BN costs PSNR), so it is positively
homogeneous and a flat region gets exactly zero residual; with biases, every
flat crop gets a small constant offset, which costs tens of dB on crops that
bicubic reproduces exactly. ``bias_free=False`` gives SRGAN's conv-BN
blocks (``batch_norm``).

As in SRGAN, whose adversarial network starts from the trained MSE network
(SRResNet), the first ``mse_warmup`` fraction of the run trains the generator
on MSE alone and the content and adversarial terms join afterwards (default
0.5, so that half of a short run still trains against the discriminator; the
paper's 10^6 MSE + 2 x 10^5 GAN iterations would be 5/6).

The discriminator is a strided-conv stack (:class:`~sslfast.tasks.gan.Discriminator`).
Generator loss: MSE + ``content_weight`` x content loss + 1e-3 x adversarial.
No pretrained VGG can be downloaded here, so the content loss uses the
features of a frozen network the user names with ``content=PATH`` (an
sslfast checkpoint: its task's encoder stages, on the images as that task
prepares them), and by default (``content="discriminator"``) the
discriminator's own stage features (the discriminator is not updated by this
loss); ``content="none"`` drops it. ``content_weight`` defaults to
1/12.75^2 ~ 6e-3, the paper's rescaling of VGG feature distances.

The encoder kept for transfer is the generator's trunk (mean removal, stem +
residual blocks): a stride-1 network, so at transfer time it reads the images
at their full size.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import torch
from torch import nn
from torch.nn import functional as F

from .. import ops
from ..models import Encoder
from .base import DEFAULT_MEAN, DEFAULT_STD, register_task
from .gan import Discriminator, GANTask

SCALE = 4


def _conv_norm(channels: int, batch_norm: bool, bias: bool = True) -> List[nn.Module]:
    """3x3 conv, with BN (SRGAN) or without (EDSR's finding: better PSNR)."""
    if batch_norm:
        return [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)]
    return [nn.Conv2d(channels, channels, 3, padding=1, bias=bias)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, batch_norm: bool = True, bias: bool = True):
        super().__init__()
        self.body = nn.Sequential(*_conv_norm(channels, batch_norm, bias), nn.PReLU(channels),
                                  *_conv_norm(channels, batch_norm, bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRTrunk(Encoder):
    """SRResNet's feature trunk: conv + PReLU, residual blocks, conv-BN, and
    the long skip. ``stages`` are the maps after each half of the blocks.
    ``bias_free`` (needs ``batch_norm=False``): the input minus its per-image
    channel means, and no biases (a flat input gives all-zero features)."""

    def __init__(self, in_channels: int = 3, channels: int = 64, blocks: int = 6, batch_norm: bool = True,
                 bias_free: bool = False):
        super().__init__()
        bias = not bias_free
        self.stem = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1, bias=bias), nn.PReLU(channels))
        self.blocks = nn.Sequential(*[ResidualBlock(channels, batch_norm, bias) for _ in range(blocks)])
        self.merge = nn.Sequential(*_conv_norm(channels, batch_norm, bias))
        self.in_channels, self.out_channels, self.bias_free = in_channels, channels, bias_free

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(x)[-1]

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        if self.bias_free:
            x = x - x.mean((2, 3), keepdim=True)
        stem = self.stem(x)
        half = len(self.blocks) // 2
        middle = self.blocks[:half](stem)
        return [middle, stem + self.merge(self.blocks[half:](middle))]


def icnr_conv(channels: int, factor: int, bias: bool = True) -> nn.Conv2d:
    """The conv before a pixel shuffle, ICNR-initialised (Aitken et al. 2017):
    the ``factor**2`` sub-pixel outputs of a channel start with the same
    weights, so the shuffled output starts free of checkerboard artefacts."""
    conv = nn.Conv2d(channels, channels * factor ** 2, 3, padding=1, bias=bias)
    with torch.no_grad():
        base = torch.empty(channels, channels, 3, 3)
        nn.init.kaiming_normal_(base)
        conv.weight.copy_(base.repeat_interleave(factor ** 2, dim=0))
        if bias:
            conv.bias.copy_(conv.bias[::factor ** 2].repeat_interleave(factor ** 2))
    return conv


class SRGenerator(nn.Module):
    def __init__(self, channels: int, blocks: int, bicubic_skip: bool, batch_norm: bool, bias_free: bool = False):
        super().__init__()
        self.trunk = SRTrunk(3, channels, blocks, batch_norm, bias_free)
        bias = not bias_free
        self.upsample = nn.Sequential(*[layer for _ in range(2) for layer in (
            icnr_conv(channels, 2, bias), nn.PixelShuffle(2), nn.PReLU(channels))])
        self.out = nn.Conv2d(channels, 3, 3, padding=1, bias=bias)
        self.bicubic_skip = bicubic_skip
        if bicubic_skip:  # start exactly at bicubic: the residual begins at zero
            nn.init.zeros_(self.out.weight)
            if bias:
                nn.init.zeros_(self.out.bias)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        sr = self.out(self.upsample(self.trunk(lr)))
        if self.bicubic_skip:
            sr = sr + F.interpolate(lr, scale_factor=SCALE, mode="bicubic", align_corners=False)
        return sr


class SRGAN(nn.Module):
    def __init__(self, channels: int, blocks: int, bicubic_skip: bool, batch_norm: bool, bias_free: bool = False):
        super().__init__()
        self.generator = SRGenerator(channels, blocks, bicubic_skip, batch_norm, bias_free)
        self.discriminator = Discriminator(3)

    @property
    def encoder(self) -> SRTrunk:
        return self.generator.trunk

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return self.generator(lr)


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of [0, 1] images."""
    mse = ((a.float() - b.float()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


@register_task
class SuperResolutionTask(GANTask):
    """Options: ``channels`` and ``blocks`` of the generator (32, 4; the paper: 64, 16),
    ``bicubic_skip`` (True), ``bias_free`` generator (True), ``batch_norm`` in
    the generator (False, as EDSR; True as SRGAN, needs ``bias_free=False``),
    ``content`` ("discriminator", "none" or the path of an sslfast checkpoint
    whose encoder gives the features), ``content_weight`` (6e-3),
    ``adversarial_weight`` (1e-3), ``mse_warmup`` (0.5: the first half of the
    run trains the generator on MSE alone)."""

    name = "superres"
    train_defaults = {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 0.0}

    def __init__(self, channels: int = 32, blocks: int = 4, bicubic_skip: bool = True, bias_free: bool = True,
                 batch_norm: bool = False, content: str = "discriminator", content_weight: float = 1 / 12.75 ** 2,
                 adversarial_weight: float = 1e-3, mse_warmup: float = 0.5, mean=DEFAULT_MEAN, std=DEFAULT_STD):
        if bias_free and batch_norm:
            raise ValueError("batch_norm: batch norm shifts its output, so it cannot be bias-free; "
                             "set bias_free=False for SRGAN's conv-BN blocks")
        if not 0 <= mse_warmup <= 1:
            raise ValueError(f"mse_warmup: expected a fraction of the run in [0, 1], got {mse_warmup}")
        super().__init__(channels=channels, blocks=blocks, bicubic_skip=bicubic_skip, bias_free=bias_free,
                         batch_norm=batch_norm, content=content, content_weight=content_weight,
                         adversarial_weight=adversarial_weight, mse_warmup=mse_warmup, mean=tuple(mean),
                         std=tuple(std))
        self.channels, self.blocks, self.bicubic_skip, self.batch_norm = channels, blocks, bicubic_skip, batch_norm
        self.bias_free, self.mse_warmup = bias_free, mse_warmup
        self.content, self.content_weight, self.adversarial_weight = content, content_weight, adversarial_weight
        self.mean, self.std = tuple(mean), tuple(std)
        self._content_net = None

    # -- data --------------------------------------------------------------
    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int):
        return ops.sr_pair(images, SCALE, mean=self.mean, std=self.std)

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        """``backbone`` is not used: the trunk is SRResNet's (see ``channels``, ``blocks``)."""
        return SRGAN(self.channels, self.blocks, self.bicubic_skip, self.batch_norm, self.bias_free)

    # -- GAN pieces --------------------------------------------------------
    def real(self, inputs, targets) -> torch.Tensor:
        return targets

    def content_features(self, model: nn.Module, x: torch.Tensor) -> List[torch.Tensor]:
        if self.content == "discriminator":
            return model.discriminator.features(x)
        if self._content_net is None:
            from ..train import load_checkpoint

            task, network, _ = load_checkpoint(self.content, str(x.device))
            encoder = task.encoder(network).eval().requires_grad_(False)
            self._content_net = (task, encoder)
        task, encoder = self._content_net
        return encoder.stages(task.prepare_input(self.to_unit(x) * 255))

    def generator_losses(self, model: nn.Module, output: torch.Tensor, inputs, targets) -> Dict[str, torch.Tensor]:
        return {"mse_loss": F.mse_loss(output.float(), targets.float())}

    def perceptual_losses(self, model: nn.Module, output: torch.Tensor, inputs, targets) -> Dict[str, torch.Tensor]:
        if self.content == "none":
            return {}
        with torch.no_grad():
            real_features = self.content_features(model, targets)
        fake_features = self.content_features(model, output)
        return {"content_loss": self.content_weight * sum(
            F.mse_loss(f.float(), r.float()) for f, r in zip(fake_features, real_features))}

    # -- checks and pictures -----------------------------------------------
    def upsample(self, model: Optional[nn.Module], lr: torch.Tensor) -> Dict[str, torch.Tensor]:
        """[0, 1] x4 upsamples of normalised LR images: bicubic and (with a model) SR."""
        size = (lr.shape[-2] * SCALE, lr.shape[-1] * SCALE)
        out = {"bicubic": ops.resize(self.to_unit(lr), size, filter="bicubic").clamp(0, 1)}
        if model is not None:
            with torch.no_grad():
                out["SR"] = self.to_unit(model.eval()(lr).float())
        return out

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        lr, hr = self.make_batch(images, index, seed)
        hr = self.to_unit(hr)
        up = self.upsample(model, lr)
        # Mean PSNR is dominated by near-flat crops (bicubic reaches 50+ dB on
        # them); the MSE over all pixels weighs every pixel alike. Both are reported.
        mse = {name: ((picture - hr) ** 2).mean().item() for name, picture in up.items()}
        return [{"metric": "PSNR (dB, mean over images)", "model": psnr(up["SR"], hr).mean().item(),
                 "baseline": psnr(up["bicubic"], hr).mean().item(), "baseline_name": "bicubic", "better": "higher"},
                {"metric": "MSE ([0,1] px)", "model": mse["SR"], "baseline": mse["bicubic"],
                 "baseline_name": "bicubic", "better": "lower"}]

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Rows of (bicubic, SR when a model is given, HR), with PSNR in the captions."""
        lr, hr = self.make_batch(images, index, seed)
        hr = self.to_unit(hr)
        up = self.upsample(model, lr)
        columns = [(name, picture) for name, picture in up.items()] + [("HR", hr)]
        pictures = torch.stack([picture for _, picture in columns], 1).flatten(0, 1)
        captions = [f"{name} {psnr(picture[i:i + 1], hr[i:i + 1]).item():.1f}dB" if name != "HR" else "HR"
                    for i in range(len(images)) for name, picture in columns]
        return pictures.cpu(), captions
