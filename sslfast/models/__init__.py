"""Backbones (encoders) and shared heads.

Every encoder is an :class:`Encoder`: ``forward(x)`` returns the last feature
map ``[B, D, h, w]``, :meth:`Encoder.pooled` the global-average-pooled
``[B, D]`` features, and ``out_channels`` is ``D``. Tasks put their heads on
top; transfer evaluation keeps the encoder alone.
"""
from .backbones import BACKBONES, Encoder, SmallConvNet, TorchvisionResNet, build_backbone, global_pool
from .heads import ConvHead, MLPHead, SiameseHead

__all__ = ["BACKBONES", "Encoder", "SmallConvNet", "TorchvisionResNet", "build_backbone", "global_pool",
           "ConvHead", "MLPHead", "SiameseHead"]
