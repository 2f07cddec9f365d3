"""Heads shared by the pretext tasks."""
from __future__ import annotations

import torch
from torch import nn

from .backbones import Encoder, global_pool


class MLPHead(nn.Module):
    """Pooled encoder features -> (optional hidden layer) -> ``classes`` logits."""

    def __init__(self, in_features: int, classes: int, hidden: int = 0, dropout: float = 0.0):
        super().__init__()
        layers = []
        if hidden:
            layers += [nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
            in_features = hidden
        if dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(in_features, classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


def conv_stages(channels: int, convs: int) -> nn.Sequential:
    """``convs`` stages of a 3x3 and a 1x1 conv (BN + ReLU each), width kept."""
    layers = []
    for _ in range(convs):
        layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                   nn.ReLU(inplace=True), nn.Conv2d(channels, channels, 1, bias=False), nn.BatchNorm2d(channels),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class ConvHead(nn.Module):
    """The task's own conv stages on the encoder's last map (each a 3x3 and a
    1x1 conv with BN + ReLU, width kept), global pooling, then an
    :class:`MLPHead`. The pretext-specific top layers then stay out of the
    encoder kept for transfer: RotNet found the last blocks specialise to
    the pretext and the ones below them transfer best."""

    def __init__(self, channels: int, classes: int, convs: int = 1, hidden: int = 0):
        super().__init__()
        self.convs = conv_stages(channels, convs)
        self.classifier = MLPHead(channels, classes, hidden=hidden)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.classifier(global_pool(self.convs(feature_map)))


class SiameseHead(nn.Module):
    """One shared encoder over ``N`` inputs per sample (``[B, N, C, H, W]``),
    pooled features concatenated, then an MLP to ``classes`` logits — the
    shape of the jigsaw, context-prediction and frame-order networks.
    ``convs`` > 0 adds conv stages of the head's own (shared by the towers)
    between the encoder and the pooling, as :class:`ConvHead` does."""

    def __init__(self, encoder: Encoder, towers: int, classes: int, hidden: int = 512, convs: int = 0):
        super().__init__()
        self.encoder, self.towers = encoder, towers
        self.convs = conv_stages(encoder.out_channels, convs)
        self.head = MLPHead(towers * encoder.out_channels, classes, hidden=hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n = x.shape[:2]
        if n != self.towers:
            raise ValueError(f"x: expected {self.towers} inputs per sample, got {n}")
        maps = self.convs(self.encoder(x.flatten(0, 1)))
        features = global_pool(maps).view(b, -1)
        return self.head(features)
