"""Implementations of the grayscale job (the synthetic task's gray input,
jigsaw's and context's colour dropping), for ``report.py``.

The job: a uint8 RGB batch ``[B, 3, S, S]`` -> float32 ``[B, 1, S, S]``,
the BT.601 luma of the image in [0, 1] units.
"""
from __future__ import annotations

import numpy as np
import torch

from sslfast import ops

from .common import Impl, require
from .images import ImageBatch, batch_group_name, photo_inputs

FAMILY = "grayscale"
REFERENCE = "sslfast"
SHAPES = [(256, 3, 64, 64), (32, 3, 224, 224)]
QUICK_SHAPES = SHAPES

Inputs = ImageBatch
make_inputs = photo_inputs


def group_name(shape) -> str:
    return batch_group_name(FAMILY, shape)


def bytes_moved(inputs: Inputs) -> int:
    return inputs.x.numel() + inputs.x.numel() // 3 * 4


def definition(inputs: Inputs) -> torch.Tensor:
    x = inputs.x.cpu().double() / 255
    weights = torch.tensor(ops.LUMA_WEIGHTS, dtype=torch.float64).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True).float().to(inputs.device)


def _sslfast(inp: Inputs):
    x = inp.x
    return lambda: ops.grayscale(x, out_dtype=torch.float32)


def _torch(inp: Inputs):
    x = inp.x
    weights = (torch.tensor(ops.LUMA_WEIGHTS) / 255).view(1, 3, 1, 1).to(x.device)  # /255 folded in
    return lambda: (x.to(torch.float32) * weights).sum(1, keepdim=True)


def _torchvision(inp: Inputs):
    import torchvision.transforms.v2.functional as TF

    x = inp.x
    return lambda: TF.rgb_to_grayscale(TF.to_dtype(x, torch.float32, scale=True))


def _kornia(inp: Inputs):
    kornia = require("kornia")
    x = inp.x
    weights = torch.tensor(ops.LUMA_WEIGHTS, device=x.device)
    return lambda: kornia.color.rgb_to_grayscale(x.to(torch.float32).div_(255), rgb_weights=weights)


def opencv_gray(inp: Inputs):
    """OpenCV's way, per HWC image (also the first step of Sobel's OpenCV
    peer): ``(cv2, gray)``, where ``gray(i)`` is image i's float32 ``[H, W]``
    gray in [0, 1] units, the uint8 -> float conversion included."""
    cv2 = require("cv2")
    hwc = np.ascontiguousarray(inp.x.numpy().transpose(0, 2, 3, 1))
    matrix = np.asarray([ops.LUMA_WEIGHTS], dtype=np.float32) / 255
    return cv2, lambda i: cv2.transform(hwc[i].astype(np.float32), matrix).reshape(hwc.shape[1:3])


def _opencv(inp: Inputs):
    _, gray = opencv_gray(inp)
    batch = inp.x.shape[0]
    return lambda: torch.from_numpy(np.stack([gray(i) for i in range(batch)])[:, None])


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast", note="ops.grayscale(x, out_dtype=float32): one pass, uint8 in"),
    Impl("torch weighted sum", _torch, ident="torch", note="(x.float() * weights / 255).sum(1, keepdim=True)"),
    Impl("torchvision", _torchvision, ident="torchvision", note="to_dtype(scale=True), rgb_to_grayscale"),
    Impl("kornia", _kornia, ident="kornia", note="x.float() / 255, kornia.color.rgb_to_grayscale"),
    Impl("OpenCV loop", _opencv, devices=("cpu",), ident="opencv",
         note="per HWC image: astype(float32), cv2.transform with the weights / 255"),
]
