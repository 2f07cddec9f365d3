"""Encoders: torchvision ResNets (random init, optional small-image stem) and a
small, fast convnet for CPU runs."""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence

import torch
from torch import nn


def global_pool(maps: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` feature maps -> ``[B, C]`` spatial means."""
    return torch.flatten(nn.functional.adaptive_avg_pool2d(maps, 1), 1)


class Encoder(nn.Module):
    """Base class: ``forward`` gives the feature map, ``pooled`` the vector."""

    out_channels: int
    in_channels: int

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """Global-average-pooled features ``[B, out_channels]``."""
        return global_pool(self(x))

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Feature maps of every stage, shallow to deep (default: the last)."""
        return [self(x)]

    def probe_features(self, x: torch.Tensor, grid: int = 2) -> torch.Tensor:
        """What transfer evaluation fits a classifier on: every stage's map
        average-pooled to ``grid x grid`` cells and concatenated. Keeping
        intermediate stages follows RotNet's finding that mid-depth features
        transfer best (the last stage specialises to the pretext); the small
        grid keeps the coarse layout that global pooling throws away."""
        return torch.cat([torch.flatten(nn.functional.adaptive_avg_pool2d(f, grid), 1) for f in self.stages(x)], 1)


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class SmallConvNet(Encoder):
    """A NIN-flavoured convnet for small images on the CPU: stages of a 3x3
    conv and a 1x1 conv (BN + ReLU each), with 2x max-pooling between stages.

    ``widths=(32, 64, 128)`` on 64x64 input gives a ``[B, 128, 8, 8]`` map with
    about 0.1M parameters and a few MFLOPs per image, so a 2-core CPU trains
    it at hundreds of images per second.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (32, 64, 128)):
        super().__init__()
        layers, cin = [], in_channels
        for i, width in enumerate(widths):
            if i:
                layers.append(nn.MaxPool2d(2))
            layers += [_conv_bn_relu(cin, width), _conv_bn_relu(width, width, kernel=1)]
            cin = width
        self.features = nn.Sequential(*layers)
        self.in_channels, self.out_channels = in_channels, cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        maps = []
        for layer in self.features:
            x = layer(x)
            if not isinstance(layer, nn.MaxPool2d):
                maps.append(x)
        return maps[1::2]  # the output of each stage (after its 1x1 conv)


class TorchvisionResNet(Encoder):
    """torchvision ResNet without its classifier, randomly initialised.

    ``small_images=True`` swaps the 7x7/2 stem and max-pool for one 3x3/1 conv
    (the CIFAR-style stem), keeping resolution for 32-96 px inputs.
    """

    def __init__(self, depth: int = 18, in_channels: int = 3, small_images: bool = True):
        super().__init__()
        import torchvision

        factories: Dict[int, Callable] = {18: torchvision.models.resnet18, 34: torchvision.models.resnet34,
                                          50: torchvision.models.resnet50}
        if depth not in factories:
            raise ValueError(f"depth: expected one of {sorted(factories)}, got {depth}")
        net = factories[depth](weights=None)
        if small_images:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.layers = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.in_channels, self.out_channels = in_channels, net.fc.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.stem(x))

    def stages(self, x: torch.Tensor) -> List[torch.Tensor]:
        maps, x = [], self.stem(x)
        for layer in self.layers:
            x = layer(x)
            maps.append(x)
        return maps[-2:]  # layer3 and layer4


BACKBONES: Dict[str, Callable[..., Encoder]] = {
    "small": lambda in_channels=3, **kw: SmallConvNet(in_channels, **kw),
    "resnet18": lambda in_channels=3, **kw: TorchvisionResNet(18, in_channels, **kw),
    "resnet34": lambda in_channels=3, **kw: TorchvisionResNet(34, in_channels, **kw),
    "resnet50": lambda in_channels=3, **kw: TorchvisionResNet(50, in_channels, **kw),
}


def build_backbone(name: str, in_channels: int = 3, **options) -> Encoder:
    """Encoder by name (``small``, ``resnet18``, ``resnet34``, ``resnet50``)."""
    if name not in BACKBONES:
        raise ValueError(f"backbone: expected one of {', '.join(BACKBONES)}, got {name!r}")
    return BACKBONES[name](in_channels=in_channels, **options)
