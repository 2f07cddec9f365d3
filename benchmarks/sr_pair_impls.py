"""Implementations of the super-resolution pair job, shared by
``bench_resize.py`` (pytest-benchmark) and ``report.py`` (markdown tables).

The job (SRGAN's input pipeline): a uint8 batch of HR crops ``[B, 3, S, S]``
-> ``(lr, hr)``: ``lr`` the x4 antialiased downsample as an 8-bit image
(bicubic, or box = area averaging), ``hr`` the crops themselves, both as
float32 normalised with the ImageNet mean/std.

Peers must match sslfast within eight uint8 levels after normalisation
(ATOL): PIL and torch's uint8 path (which agree with each other within one
level) round and clamp the intermediate image to 8 bits between their two
passes, which on photo crops puts a few pixels in 10^4 up to ~5 levels from
the exactly rounded result that sslfast (and the definition) give; all other
pixels agree within one level. Per-input preparation
that is not part of the job (the HWC copy PIL and OpenCV work on, a
channels_last copy for torch) happens outside the timing.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from sslfast import ops

from .common import Impl, Unavailable, require
from .images import ImageBatch, photo_batch
from .rotate_impls import MEAN, STD, _scaled_stats, _torch_normalize

FAMILY = "sr_pair"
REFERENCE = "sslfast"
FACTOR = 4
SHAPES = [("bicubic", (128, 3, 96, 96)), ("bicubic", (32, 3, 224, 224)), ("box", (128, 3, 96, 96))]
QUICK_SHAPES = [SHAPES[0], SHAPES[2]]
ATOL = 8 / 255 / min(STD) + 1e-5  # eight uint8 levels of the LR image, normalised


@dataclass
class Inputs(ImageBatch):
    filter: str  # 'bicubic' or 'box'


def group_name(shape) -> str:
    filter, dims = shape
    return f"{FAMILY} x{FACTOR} {filter} {'x'.join(map(str, dims))}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    filter, dims = shape
    return Inputs(photo_batch(dims, seed).to(device), device, filter=filter)


def bytes_moved(inputs: Inputs) -> int:
    """Read the uint8 batch, write float32 HR and LR."""
    return inputs.x.numel() * (1 + 4) + inputs.x.numel() // FACTOR**2 * 4


def _normalized(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN, dtype=torch.float64).view(-1, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(-1, 1, 1)
    return ((x.double().cpu() / 255 - mean) / std).float()


def definition(inputs: Inputs):
    """float64: the downsample rounded to uint8 levels, then normalised."""
    x = inputs.x.cpu().double()
    size = (x.shape[2] // FACTOR, x.shape[3] // FACTOR)
    if inputs.filter == "box":
        lr = F.avg_pool2d(x, FACTOR)
    else:
        lr = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
    lr = lr.round().clamp(0, 255)
    return _normalized(lr).to(inputs.device), _normalized(x).to(inputs.device)


# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x, filter = inp.x, inp.filter

    def run():
        return ops.sr_pair(x, FACTOR, filter=filter, mean=MEAN, std=STD)

    return run


def _torch(inp: Inputs, channels_last: bool = False):
    x = inp.x.contiguous(memory_format=torch.channels_last) if channels_last else inp.x
    mean255, std255 = _scaled_stats(x.device)
    size = (x.shape[2] // FACTOR, x.shape[3] // FACTOR)

    def run():
        if inp.filter == "box":  # avg_pool2d has no uint8 kernel
            lr = F.avg_pool2d(x.to(torch.float32), FACTOR).round_().sub_(mean255).div_(std255)
        else:  # torch's uint8 antialiased path, rounded to levels as the job asks
            lr = _torch_normalize(F.interpolate(x, size=size, mode="bicubic", antialias=True), mean255, std255)
        return lr, _torch_normalize(x, mean255, std255)

    return run


def _torch_channels_last(inp: Inputs):
    return _torch(inp, channels_last=True)


def _hwc_loop(inp: Inputs, resize_one):
    """Per-image resize of HWC crops (the libraries' native layout), stacked
    and normalised with torch; HR normalised from the NCHW batch."""
    x = inp.x
    hwc = np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1))
    mean255, std255 = _scaled_stats(x.device)

    def run():
        lr = torch.from_numpy(np.stack([resize_one(img) for img in hwc])).permute(0, 3, 1, 2)
        return _torch_normalize(lr, mean255, std255), _torch_normalize(x, mean255, std255)

    return run


def _pil(inp: Inputs):
    from PIL import Image

    resample = Image.Resampling.BOX if inp.filter == "box" else Image.Resampling.BICUBIC
    size = (inp.x.shape[3] // FACTOR, inp.x.shape[2] // FACTOR)
    return _hwc_loop(inp, lambda img: np.asarray(Image.fromarray(img).resize(size, resample)))


def _opencv(inp: Inputs):
    cv2 = require("cv2")
    if inp.filter != "box":
        raise Unavailable("OpenCV has no antialiased bicubic (INTER_CUBIC does not widen the kernel: "
                          "a different, aliased image); it is timed in the box job (INTER_AREA)")
    size = (inp.x.shape[3] // FACTOR, inp.x.shape[2] // FACTOR)
    return _hwc_loop(inp, lambda img: cv2.resize(img, size, interpolation=cv2.INTER_AREA))


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.sr_pair(x, 4, mean, std): LR and HR in one fused pass"),
    Impl("torch", _torch, ident="torch",
         note="F.interpolate(uint8, antialias=True) (box: avg_pool2d on float), .float().sub_().div_() both"),
    Impl("torch channels_last", _torch_channels_last, ident="torch_cl",
         note="as torch, on a channels_last copy of the batch (torch's fastest uint8 layout)"),
    Impl("PIL loop", _pil, devices=("cpu",), ident="pil",
         note="Image.resize(BICUBIC or BOX) per HWC image, stack, torch normalise"),
    Impl("OpenCV loop", _opencv, devices=("cpu",), ident="opencv",
         note="cv2.resize(INTER_AREA) per HWC image (box job only), stack, torch normalise"),
]
