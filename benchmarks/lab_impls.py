"""Implementations of the rgb_to_lab job, shared by ``bench_color.py``
(pytest-benchmark) and ``report.py`` (markdown tables).

The job: a float32 RGB batch ``[B, 3, S, S]`` in [0, 1] -> CIE Lab (D65) as a
dense float32 ``[B, 3, S, S]`` tensor (contiguous or channels_last) on the
input's device. float32 input is the case the issue measured OpenCV on; uint8
input, which sslfast linearises through a table, is faster still.

Peers: kornia ``rgb_to_lab`` on the batch, scikit-image ``rgb2lab`` on the
batch (``channel_axis=1``, float32 in and out), and an OpenCV ``cvtColor``
loop over HWC images (its native layout, prepared outside the timing; it
writes into one batch buffer whose NCHW view is channels_last). sslfast is
checked against scikit-image in float64 (atol 1e-3), the peers against
sslfast: kornia and scikit-image within 1e-3, OpenCV within 1.0 (its float
path interpolates its own tables).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslfast import ops

from .common import Impl, Unavailable
from .common import assert_equivalent as assert_close_to

FAMILY = "rgb_to_lab"
REFERENCE = "sslfast"
SHAPES = [(256, 3, 96, 96), (64, 3, 224, 224), (64, 3, 96, 96)]
QUICK_SHAPES = SHAPES[:2]
OPENCV = "opencv cvtColor loop"


@dataclass
class Inputs:
    x: torch.Tensor  # float32 [B, 3, S, S] in [0, 1]
    device: str

    @property
    def batch(self) -> int:
        return self.x.shape[0]


def group_name(shape) -> str:
    return f"{FAMILY} float32 {'x'.join(map(str, shape))}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    gen = torch.Generator().manual_seed(seed)
    return Inputs(torch.rand(tuple(shape), generator=gen).to(device), device)


def bytes_moved(inputs: Inputs) -> int:
    return inputs.x.numel() * (4 + 4)


def definition(inputs: Inputs) -> torch.Tensor:
    """scikit-image in float64 (the test suite's oracle)."""
    from skimage.color import rgb2lab
    lab = rgb2lab(inputs.x.cpu().double().numpy(), channel_axis=1)
    return torch.from_numpy(lab).float().to(inputs.device)


ATOL = 1e-3


def assert_equivalent(actual, expected, *, name: str, atol: float = ATOL) -> None:
    assert_close_to(actual, expected, name=name, atol=1.0 if name == OPENCV else atol)


# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x = inp.x
    return lambda: ops.rgb_to_lab(x)


def _kornia(inp: Inputs):
    try:
        import kornia
    except ImportError as exc:
        raise Unavailable(f"kornia not installed ({exc})") from None
    x = inp.x
    return lambda: kornia.color.rgb_to_lab(x)


def _skimage(inp: Inputs):
    try:
        from skimage.color import rgb2lab
    except ImportError as exc:
        raise Unavailable(f"scikit-image not installed ({exc})") from None
    x = inp.x.numpy()
    return lambda: torch.from_numpy(rgb2lab(x, channel_axis=1))


def _opencv(inp: Inputs):
    try:
        import cv2
    except ImportError as exc:
        raise Unavailable(f"opencv not installed ({exc})") from None
    hwc = np.ascontiguousarray(inp.x.numpy().transpose(0, 2, 3, 1))

    def run():
        out = np.empty_like(hwc)
        for i in range(hwc.shape[0]):
            cv2.cvtColor(hwc[i], cv2.COLOR_RGB2Lab, dst=out[i])
        return torch.from_numpy(out).permute(0, 3, 1, 2)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast", note="ops.rgb_to_lab(x): one pass, NCHW"),
    Impl("kornia rgb_to_lab", _kornia, ident="kornia", note="kornia.color.rgb_to_lab on the batch"),
    Impl("scikit-image rgb2lab", _skimage, devices=("cpu",), ident="skimage",
         note="rgb2lab(x, channel_axis=1) on the float32 batch"),
    Impl(OPENCV, _opencv, devices=("cpu",), ident="opencv",
         note="cv2.cvtColor(COLOR_RGB2Lab) per HWC float32 image into one batch buffer"),
]
