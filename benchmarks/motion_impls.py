"""Implementations of the frame_motion job, shared by ``bench_motion.py``
(pytest-benchmark) and ``report.py`` (markdown tables).

The job: a uint8 clip ``[T, C, H, W]`` -> float32 ``[T - 1]``, the mean
absolute difference of consecutive frames after box-averaging each to
32 x 32 (H and W multiples of 32, so every peer's area averaging has the same
bins), in [0, 1] units. Peers: torch (``adaptive_avg_pool2d``, then diff,
abs, mean) and OpenCV (``cv2.resize`` with ``INTER_AREA`` per frame and
channel layout HWC, then NumPy).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslfast import ops

from .common import Impl, require

FAMILY = "motion"
REFERENCE = "sslfast"
SIZE = 32
SHAPES = [(64, 3, 128, 128), (16, 3, 480, 640)]  # a clip of small frames; a few VGA frames
QUICK_SHAPES = SHAPES[:1]
ATOL = 1e-5


@dataclass
class Inputs:
    x: torch.Tensor  # uint8 [T, C, H, W]
    device: str

    @property
    def batch(self) -> int:  # frames per call (the table's "images/s" is frames/s)
        return self.x.shape[0]


def group_name(shape) -> str:
    return f"{FAMILY} {'x'.join(map(str, shape))} -> {SIZE}x{SIZE}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    gen = torch.Generator().manual_seed(seed)
    return Inputs(torch.randint(0, 256, tuple(shape), dtype=torch.uint8, generator=gen).to(device), device)


def bytes_moved(inputs: Inputs) -> int:
    return inputs.x.numel() + 4 * (inputs.x.shape[0] - 1)


def definition(inputs: Inputs) -> torch.Tensor:
    t, c, h, w = inputs.x.shape
    cells = inputs.x.cpu().double().view(t, c, SIZE, h // SIZE, SIZE, w // SIZE).mean(dim=(3, 5)) / 255
    return (cells[1:] - cells[:-1]).abs().mean(dim=(1, 2, 3)).float().to(inputs.device)


def _sslfast(inp: Inputs):
    return lambda: ops.frame_motion(inp.x, size=SIZE)


def _torch(inp: Inputs):
    x = inp.x

    def run():
        low = torch.nn.functional.adaptive_avg_pool2d(x.float(), SIZE).div_(255)
        return (low[1:] - low[:-1]).abs_().mean(dim=(1, 2, 3))

    return run


def _opencv(inp: Inputs):
    cv2 = require("cv2")
    frames = np.ascontiguousarray(inp.x.permute(0, 2, 3, 1).numpy())  # the library's native HWC layout

    def run():
        # float32 input: INTER_AREA on uint8 would round the cell means to integers.
        low = np.stack([cv2.resize(f.astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA) for f in frames])
        return torch.from_numpy(np.abs(np.diff(low / 255, axis=0)).mean(axis=(1, 2, 3), dtype=np.float64)
                                .astype(np.float32))

    return run


IMPLS = [
    Impl("sslfast", _sslfast, note="fused box average + difference + reduction"),
    Impl("torch", _torch, note="adaptive_avg_pool2d, diff, abs, mean"),
    Impl("opencv", _opencv, devices=("cpu",), note="cv2.resize INTER_AREA (float32) per frame, NumPy diff"),
]
