"""Implementations of the rotate job, shared by ``bench_rotate.py`` (pytest-
benchmark) and ``report.py`` (markdown tables).

The job: a uint8 batch ``[B, C, S, S]`` and per-image quarter turns ``k``
(int64 ``[B]``, 0..3) -> ``out[i] = torch.rot90(x[i], k[i], dims=(-2, -1))``
(counter-clockwise), as float32 scaled to [0, 1] and normalised with the
ImageNet mean/std, as a dense ``[B, C, S, S]`` float32 tensor on the input's
device.

Every peer is written as well as a careful user of that library would write
it, and must match sslfast within atol 1e-5 (checked outside the timing).
Per-input preparation that is not part of the job (building a transform,
taking the library's native input layout) happens in the factory, outside
the timing; everything from the uint8 batch and ``k`` to the normalised
float32 batch is inside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslfast import ops

from .common import Impl, Unavailable

FAMILY = "rotate"
REFERENCE = "sslfast"  # name of the implementation the ratios are taken against
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
SHAPES = [(256, 3, 96, 96), (64, 3, 224, 224)]
QUICK_SHAPES = SHAPES  # both are small enough for --quick


@dataclass
class Inputs:
    x: torch.Tensor  # uint8 [B, C, S, S]
    k: torch.Tensor  # int64 [B], values 0..3
    device: str

    @property
    def batch(self) -> int:
        return self.x.shape[0]


def group_name(shape) -> str:
    return f"{FAMILY} {'x'.join(map(str, shape))}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    """Random uint8 batch and random k per image, from a fixed seed (drawn on
    the CPU, then moved, so every device sees the same data)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, tuple(shape), dtype=torch.uint8, generator=gen)
    k = torch.randint(0, 4, (shape[0],), dtype=torch.int64, generator=gen)
    # Every turn must occur, or a peer with a wrong direction could pass the check.
    assert set(k.tolist()) == {0, 1, 2, 3}, "inputs must exercise all four turns"
    return Inputs(x.to(device), k.to(device), device)


def bytes_moved(inputs: Inputs) -> int:
    """Minimum traffic of the fused job: read the uint8 batch and k, write float32."""
    return inputs.x.numel() * (1 + 4) + inputs.k.numel() * 8


def definition(inputs: Inputs) -> torch.Tensor:
    """The job straight from its definition, in float64 (a slow oracle that
    checks sslfast itself; the peers are then checked against sslfast)."""
    x = inputs.x.cpu()
    turned = torch.stack([torch.rot90(x[i], int(t), dims=(-2, -1)) for i, t in enumerate(inputs.k.tolist())])
    mean = torch.tensor(MEAN, dtype=torch.float64).view(-1, 1, 1)
    std = torch.tensor(STD, dtype=torch.float64).view(-1, 1, 1)
    return ((turned.double() / 255 - mean) / std).float().to(inputs.device)


# ---------------------------------------------------------------------------
# Shared pieces of the torch-based peers
# ---------------------------------------------------------------------------
def _scaled_stats(device, dtype=torch.float32):
    """mean and std in uint8 units, shaped [C, 1, 1]: folding the /255 into
    them saves a full pass (x.float().div_(255) then normalize costs three)."""
    mean = torch.tensor(MEAN, dtype=torch.float64).mul(255).to(dtype).view(-1, 1, 1).to(device)
    std = torch.tensor(STD, dtype=torch.float64).mul(255).to(dtype).view(-1, 1, 1).to(device)
    return mean, std


def _torch_normalize(turned_uint8: torch.Tensor, mean255: torch.Tensor, std255: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 -> (x - 255 mean) / (255 std): one conversion, two in-place
    passes; the fastest of the plain-torch variants tried (torchvision's
    normalize(inplace=True) after .div_(255), or writing through out=, were slower)."""
    return turned_uint8.to(torch.float32).sub_(mean255).div_(std255)


# ---------------------------------------------------------------------------
# Implementations
# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x, k = inp.x, inp.k
    mean, std = list(MEAN), list(STD)

    def run():
        return ops.rotate90(x, k, out_dtype=torch.float32, mean=mean, std=std)

    return run


def _torch_loop(inp: Inputs):
    x, k = inp.x, inp.k
    mean255, std255 = _scaled_stats(x.device)

    def run():
        turns = k.tolist()  # one host transfer, not one per image
        turned = torch.stack([torch.rot90(x[i], t, dims=(-2, -1)) for i, t in enumerate(turns)])
        return _torch_normalize(turned, mean255, std255)

    return run


def _torch_all_four_gather(inp: Inputs):
    x, k = inp.x, inp.k
    mean255, std255 = _scaled_stats(x.device)
    rows = torch.arange(x.shape[0], device=x.device)

    def run():
        every = torch.stack([torch.rot90(x, t, dims=(-2, -1)) for t in range(4)])  # [4, B, C, S, S]
        return _torch_normalize(every[k, rows], mean255, std255)

    return run


def _torch_grouped(inp: Inputs):
    x, k = inp.x, inp.k
    mean255, std255 = _scaled_stats(x.device)

    def run():
        turned = torch.empty_like(x)
        for t in range(4):
            idx = (k == t).nonzero().squeeze(1)
            turned[idx] = torch.rot90(x[idx], t, dims=(-2, -1))
        return _torch_normalize(turned, mean255, std255)

    return run


def _kornia(inp: Inputs):
    try:
        import kornia
    except ImportError as exc:
        raise Unavailable(f"kornia not installed ({exc})") from None
    x, k = inp.x, inp.k
    # RandomRotation90 draws its own turns; pin them to k through its params
    # dict (the documented way to replay a transform). Nearest resampling: the
    # default bilinear warp leaves float noise of a few 1e-5 after
    # normalisation, which fails the atol 1e-5 check; at exact quarter turns
    # nearest gives the exact pixels.
    aug = kornia.augmentation.RandomRotation90(times=(0, 3), p=1.0, resample="nearest")
    params = aug.forward_parameters(x.shape)
    params["times"] = k.to(device=params["times"].device, dtype=params["times"].dtype)
    mean255, std255 = (s.view(-1) for s in _scaled_stats(x.device))

    def run():
        turned = aug(x.to(torch.float32), params=params)  # kornia needs float input
        return kornia.enhance.normalize(turned, mean255, std255)

    return run


def _numpy(inp: Inputs):
    x = inp.x.numpy()  # zero-copy view of the NCHW batch
    k = inp.k
    mean255, std255 = (s.numpy() for s in _scaled_stats("cpu"))

    def run():
        turns = k.tolist()
        out = np.stack([np.rot90(x[i], t, axes=(1, 2)) for i, t in enumerate(turns)]).astype(np.float32)
        out -= mean255
        out /= std255
        return torch.from_numpy(out)

    return run


def _opencv(inp: Inputs):
    try:
        import cv2
    except ImportError as exc:
        raise Unavailable(f"opencv not installed ({exc})") from None
    x = inp.x.numpy()
    k = inp.k
    codes = (None, cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_CLOCKWISE)
    mean255, std255 = (s.numpy() for s in _scaled_stats("cpu"))

    def run():
        # cv2.rotate on each [S, S] channel plane, written straight into an NCHW
        # buffer (faster here than rotating HWC images and transposing back).
        turned = np.empty_like(x)
        for i, t in enumerate(k.tolist()):
            for c in range(x.shape[1]):
                if t:
                    cv2.rotate(x[i, c], codes[t], dst=turned[i, c])
                else:
                    turned[i, c] = x[i, c]
        out = turned.astype(np.float32)
        out -= mean255
        out /= std255
        return torch.from_numpy(out)

    return run


def _albumentations(inp: Inputs):
    try:
        import albumentations as A
    except ImportError as exc:
        raise Unavailable(f"albumentations not installed ({exc})") from None
    # Albumentations works per HWC image (its native layout, prepared here
    # outside the timing). The normalised HWC images are stacked with numpy and
    # handed over as an NCHW view in channels_last memory: a dense batch that
    # PyTorch models accept, and much cheaper than ToTensorV2 + default_collate
    # (torch.stack of the transposed views), which is what a DataLoader would do.
    x = np.ascontiguousarray(inp.x.numpy().transpose(0, 2, 3, 1))
    k = inp.k
    rotate = A.RandomRotate90(p=1.0)  # .apply(img, factor=t) is its deterministic kernel
    normalize = A.Normalize(mean=MEAN, std=STD, max_pixel_value=255.0)

    def run():
        images = [normalize.apply(rotate.apply(x[i], factor=t)) for i, t in enumerate(k.tolist())]
        return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.rotate90(x, k, out_dtype=float32, mean, std): one fused pass"),
    Impl("torch loop", _torch_loop, ident="torch_loop",
         note="torch.rot90 per image, stack, .float().sub_().div_()"),
    Impl("torch all-four+gather", _torch_all_four_gather, ident="torch_all4",
         note="4 batched torch.rot90, stack, index [k, arange], normalise"),
    Impl("torch grouped by k", _torch_grouped, ident="torch_grouped",
         note="one batched torch.rot90 per k value on its subset, normalise"),
    Impl("kornia RandomRotation90", _kornia, ident="kornia",
         note="uint8->float, RandomRotation90(nearest) with times pinned to k, enhance.normalize"),
    Impl("numpy", _numpy, devices=("cpu",), ident="numpy",
         note="np.rot90 per NCHW image, stack, astype float32, -= / /= in place"),
    Impl("opencv", _opencv, devices=("cpu",), ident="opencv",
         note="cv2.rotate per channel plane into NCHW, numpy normalise"),
    Impl("albumentations per-image (channels_last out)", _albumentations, devices=("cpu",),
         ident="albumentations",
         note="RandomRotate90.apply(factor=k) + Normalize.apply per HWC image, np.stack, NCHW view"),
]
