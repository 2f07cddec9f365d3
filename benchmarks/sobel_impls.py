"""Implementations of the Sobel job (DeepCluster's input), shared by
``bench_resize.py`` and ``report.py``.

The job: a uint8 RGB batch ``[B, 3, S, S]`` -> float32 ``[B, 2, S, S]``: the
3x3 Sobel d/dx and d/dy (right minus left, below minus above) of the BT.601
gray image in [0, 1] units, zero-padded at the border.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sslfast import ops

from .common import Impl, require
from .grayscale_impls import opencv_gray
from .images import ImageBatch, batch_group_name, photo_inputs

FAMILY = "sobel"
REFERENCE = "sslfast"
SHAPES = [(128, 3, 96, 96), (32, 3, 224, 224)]
QUICK_SHAPES = SHAPES
SOBEL_X = ((-1.0, 0.0, 1.0), (-2.0, 0.0, 2.0), (-1.0, 0.0, 1.0))


Inputs = ImageBatch
make_inputs = photo_inputs


def group_name(shape) -> str:
    return batch_group_name(FAMILY, shape)


def bytes_moved(inputs: Inputs) -> int:
    return inputs.x.numel() + inputs.x.numel() // 3 * 2 * 4


def _kernels(device, dtype=torch.float32) -> torch.Tensor:
    """[2, 1, 3, 3]: d/dx and d/dy as conv2d (cross-correlation) weights."""
    dx = torch.tensor(SOBEL_X, dtype=dtype)
    return torch.stack([dx, dx.T]).unsqueeze(1).to(device)


def definition(inputs: Inputs) -> torch.Tensor:
    x = inputs.x.cpu().double() / 255
    gray = (x * torch.tensor(ops.LUMA_WEIGHTS, dtype=torch.float64).view(1, 3, 1, 1)).sum(1, keepdim=True)
    return F.conv2d(gray, _kernels("cpu", torch.float64), padding=1).float().to(inputs.device)


# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x = inp.x
    return lambda: ops.sobel(x)


def _torch_conv2d(inp: Inputs):
    x = inp.x
    gray_weights = (torch.tensor(ops.LUMA_WEIGHTS) / 255).view(1, 3, 1, 1).to(x.device)  # /255 folded in
    kernels = _kernels(x.device)

    def run():
        gray = F.conv2d(x.to(torch.float32), gray_weights)
        return F.conv2d(gray, kernels, padding=1)

    return run


def _torchvision(inp: Inputs):
    import torchvision.transforms.v2.functional as TF

    x = inp.x
    kernels = _kernels(x.device)

    def run():
        gray = TF.rgb_to_grayscale(TF.to_dtype(x, torch.float32, scale=True))
        return F.conv2d(gray, kernels, padding=1)

    return run


def _kornia(inp: Inputs):
    kornia = require("kornia")
    x = inp.x
    weights = torch.tensor(ops.LUMA_WEIGHTS, device=x.device)
    kernels = _kernels(x.device)[:, 0]  # [2, 3, 3]

    def run():
        gray = kornia.color.rgb_to_grayscale(x.to(torch.float32).div_(255), rgb_weights=weights)
        # filter2d applies one kernel to every channel: once per direction
        return torch.cat([kornia.filters.filter2d(gray, k[None], border_type="constant") for k in kernels], 1)

    return run


def _opencv(inp: Inputs):
    cv2, gray = opencv_gray(inp)
    batch, _, height, width = inp.x.shape

    def run():
        out = np.empty((batch, 2, height, width), dtype=np.float32)
        for i in range(batch):
            image = gray(i)
            cv2.Sobel(image, cv2.CV_32F, 1, 0, dst=out[i, 0], ksize=3, borderType=cv2.BORDER_CONSTANT)
            cv2.Sobel(image, cv2.CV_32F, 0, 1, dst=out[i, 1], ksize=3, borderType=cv2.BORDER_CONSTANT)
        return torch.from_numpy(out)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast", note="ops.sobel(x): grayscale + both 3x3 Sobels in one pass"),
    Impl("torch grayscale conv + F.conv2d", _torch_conv2d, ident="torch",
         note="1x1 conv2d of x.float() (weights / 255), F.conv2d with the two Sobel kernels, padding=1"),
    Impl("torchvision grayscale + F.conv2d", _torchvision, ident="torchvision",
         note="to_dtype(scale=True), rgb_to_grayscale, F.conv2d padding=1"),
    Impl("kornia", _kornia, ident="kornia",
         note="color.rgb_to_grayscale, filters.filter2d(constant border) per direction, cat"),
    Impl("OpenCV loop", _opencv, devices=("cpu",), ident="opencv",
         note="cv2.transform to gray, cv2.Sobel x and y (BORDER_CONSTANT) per image"),
]
