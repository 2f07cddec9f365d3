"""Implementations of the plain resize job, shared by ``bench_resize.py`` and
``report.py``.

The job: a uint8 batch ``[B, 3, S, S]`` -> uint8 ``[B, 3, s, s]``,
antialiased bilinear, as ``F.interpolate(x, (s, s), mode='bilinear',
antialias=True)`` (no conversion, no normalisation: the resampling alone).
Peers must match sslfast within one uint8 level (ATOL).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sslfast import ops

from .common import Impl
from .images import ImageBatch, photo_batch

FAMILY = "resize"
REFERENCE = "sslfast"
SHAPES = [((128, 3, 128, 128), 64), ((32, 3, 256, 256), 224), ((64, 3, 96, 96), 160)]
QUICK_SHAPES = SHAPES[:2]
ATOL = 1.0


@dataclass
class Inputs(ImageBatch):
    size: int  # output side


def group_name(shape) -> str:
    dims, size = shape
    return f"{FAMILY} bilinear {'x'.join(map(str, dims))} -> {size}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    dims, size = shape
    return Inputs(photo_batch(dims, seed).to(device), device, size=size)


def bytes_moved(inputs: Inputs) -> int:
    return inputs.x.numel() + inputs.x.numel() // inputs.x.shape[-1] ** 2 * inputs.size**2


def definition(inputs: Inputs) -> torch.Tensor:
    x = inputs.x.cpu().double()
    out = F.interpolate(x, size=(inputs.size, inputs.size), mode="bilinear", antialias=True, align_corners=False)
    return out.round().clamp(0, 255).to(torch.uint8).to(inputs.device)


def _sslfast(inp: Inputs, channels_last: bool = False):
    x = inp.x.contiguous(memory_format=torch.channels_last) if channels_last else inp.x
    size = inp.size
    return lambda: ops.resize(x, size, filter="bilinear")


def _sslfast_channels_last(inp: Inputs):
    return _sslfast(inp, channels_last=True)


def _torch(inp: Inputs, channels_last: bool = False):
    x = inp.x.contiguous(memory_format=torch.channels_last) if channels_last else inp.x
    size = (inp.size, inp.size)
    return lambda: F.interpolate(x, size=size, mode="bilinear", antialias=True)


def _torch_channels_last(inp: Inputs):
    return _torch(inp, channels_last=True)


def _pil(inp: Inputs):
    from PIL import Image

    hwc = np.ascontiguousarray(inp.x.numpy().transpose(0, 2, 3, 1))
    size = (inp.size, inp.size)

    def run():
        out = np.stack([np.asarray(Image.fromarray(img).resize(size, Image.Resampling.BILINEAR)) for img in hwc])
        return torch.from_numpy(out).permute(0, 3, 1, 2)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast", note="ops.resize(x, s, filter='bilinear'), uint8 in and out"),
    Impl("sslfast channels_last", _sslfast_channels_last, ident="sslfast_cl",
         note="ops.resize on the channels_last copy (resampled in that layout, channels_last out)"),
    Impl("torch", _torch, ident="torch", note="F.interpolate(uint8 NCHW, bilinear, antialias=True)"),
    Impl("torch channels_last", _torch_channels_last, ident="torch_cl",
         note="F.interpolate on a channels_last copy (torch's AVX2 uint8 path)"),
    Impl("PIL loop", _pil, devices=("cpu",), ident="pil", note="Image.resize(BILINEAR) per HWC image, stack"),
]
