"""Implementations of the masking job (Context Encoders' random blocks),
shared by ``bench_mask.py`` and ``report.py``.

The job: a uint8 batch ``[B, 3, S, S]`` and sample ids -> float32 [0, 1]
images with one random block per image (sides 1/4 to 1/2 of the image)
filled with zero, the random-erasing augmentation. sslfast's timing includes
drawing the blocks (``sample_boxes``); the peers' blocks are pinned to the
same ones, drawn outside their timing, so that their outputs can be checked.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sslfast import ops

from .common import Impl, require
from .images import ImageBatch, photo_batch

FAMILY = "mask"
REFERENCE = "sslfast"
SHAPES = [(128, 3, 128, 128), (256, 3, 64, 64)]
QUICK_SHAPES = SHAPES
SEED = 7
BLOCK = dict(kind="blocks", count=(1, 1), block_size=(0.25, 0.5))


@dataclass
class Inputs(ImageBatch):
    index: torch.Tensor  # int64 [B] sample ids
    boxes: torch.Tensor  # int64 [B, 1, 4] the blocks sslfast draws, for pinning the peers


def group_name(shape) -> str:
    return f"{FAMILY} {'x'.join(map(str, shape))}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    x = photo_batch(shape, seed).to(device)
    index = torch.arange(shape[0], device=device)
    return Inputs(x, device, index=index, boxes=ops.sample_boxes(SEED, index, shape[-2:], **BLOCK))


def bytes_moved(inputs: Inputs) -> int:
    return inputs.x.numel() * (1 + 4)


def definition(inputs: Inputs) -> torch.Tensor:
    out = inputs.x.cpu().double() / 255
    for i, (x0, y0, x1, y1) in enumerate(inputs.boxes[:, 0].tolist()):
        out[i, :, y0:y1, x0:x1] = 0
    return out.float().to(inputs.device)


def _box_columns(inp: Inputs):
    """Per-sample (top, left, height, width) as Python ints."""
    return [(y0, x0, y1 - y0, x1 - x0) for x0, y0, x1, y1 in inp.boxes[:, 0].tolist()]


# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x, index = inp.x, inp.index

    def run():
        boxes = ops.sample_boxes(SEED, index, x.shape[-2:], **BLOCK)
        return ops.apply_mask(x, boxes, fill="zero", out_dtype=torch.float32)[0]

    return run


def _torchvision(inp: Inputs):
    import torchvision.transforms.v2 as T
    import torchvision.transforms.v2.functional as TF

    erasing = T.RandomErasing(p=1.0, value=0)
    zero = torch.zeros((), device=inp.x.device)
    params = [dict(i=i, j=j, h=h, w=w, v=zero) for i, j, h, w in _box_columns(inp)]
    x = inp.x

    def run():
        # What a Dataset's per-sample pipeline does, then the collate's stack.
        return torch.stack([erasing.transform(TF.to_dtype(x[b], torch.float32, scale=True), params[b])
                            for b in range(x.shape[0])])

    return run


def _kornia(inp: Inputs):
    kornia = require("kornia")
    x = inp.x
    aug = kornia.augmentation.RandomErasing(p=1.0, value=0.0)
    params = aug.forward_parameters(x.shape)
    top, left, height, width = (torch.tensor(c, dtype=torch.float32, device=x.device) for c in zip(*_box_columns(inp)))
    params.update(ys=top, xs=left, heights=height, widths=width, values=torch.zeros_like(top))

    def run():
        return aug(x.to(torch.float32).div_(255), params=params)

    return run


def _torch_masked_fill(inp: Inputs):
    x, boxes = inp.x, inp.boxes[:, 0]
    rows = torch.arange(x.shape[2], device=x.device).view(1, 1, -1, 1)
    cols = torch.arange(x.shape[3], device=x.device).view(1, 1, 1, -1)
    x0, y0, x1, y1 = (c.view(-1, 1, 1, 1) for c in boxes.unbind(1))

    def run():
        mask = (rows >= y0) & (rows < y1) & (cols >= x0) & (cols < x1)
        return x.to(torch.float32).div_(255).masked_fill_(mask, 0)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.sample_boxes + ops.apply_mask(fill='zero', out_dtype=float32): sampling included"),
    Impl("torchvision v2 RandomErasing per sample", _torchvision, ident="torchvision",
         note="to_dtype(scale=True) + RandomErasing.transform with pinned params per image, stack"),
    Impl("kornia RandomErasing batched", _kornia, ident="kornia",
         note="x.float()/255, RandomErasing with params pinned to the same blocks"),
    Impl("torch masked_fill batched", _torch_masked_fill, ident="torch",
         note="mask from broadcast box compares, x.float().div_(255).masked_fill_(mask, 0)"),
]
