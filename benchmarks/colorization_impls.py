"""Implementations of the colorization-batch job, shared by ``bench_color.py``
(pytest-benchmark) and ``report.py`` (markdown tables).

The job (Zhang et al. 2016 training input): a uint8 RGB batch ``[B, 3, S, S]``
of photographs -> the network input ``(L - 50) / 50`` as float32
``[B, 1, S, S]``, and at every 4th pixel (top-left of each 4 x 4 block) the
ab value's 5 nearest of the 313 in-gamut bins (int64 ``[B, 5, S/4, S/4]``,
nearest first) with Gaussian weights (sigma 5, summing to 1), plus a per-image
grayscale flag (no target with |a| or |b| above 5).

The peer is the same pipeline in plain torch: kornia's ``rgb_to_lab`` on the
whole batch, then a brute-force k-NN (``torch.cdist`` in its exact mode +
``torch.topk``) and a softmax for the weights. The inputs are random crops of the photographs that
ship with scikit-image / scikit-learn, one image in eight made gray.

Equivalence: lightness and weights within 1e-4; the sets of nearest bins
equal except at near-ties of the 5th and 6th bin (at most 0.1% of target
pixels; gray pixels sit almost exactly between four bins); flags equal.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sslfast import ops
from sslfast.data.photos import load_photos

from .common import Impl, Unavailable

FAMILY = "colorization"
REFERENCE = "sslfast"
SHAPES = [(256, 3, 96, 96), (64, 3, 224, 224)]
QUICK_SHAPES = SHAPES
K, SIGMA, STRIDE, L_MEAN, L_STD = 5, 5.0, 4, 50.0, 50.0


@dataclass
class Inputs:
    x: torch.Tensor     # uint8 [B, 3, S, S]
    bins: torch.Tensor  # float32 [313, 2]
    device: str

    @property
    def batch(self) -> int:
        return self.x.shape[0]


def group_name(shape) -> str:
    return f"{FAMILY} uint8 {'x'.join(map(str, shape))}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    batch, _, size, _ = shape
    rng = np.random.default_rng(seed)
    photos = list(load_photos().values())
    crops = []
    for i in range(batch):
        photo = photos[rng.integers(len(photos))]
        y, x = rng.integers(0, photo.shape[0] - size + 1), rng.integers(0, photo.shape[1] - size + 1)
        crop = photo[y:y + size, x:x + size]
        if i % 8 == 7:  # a grayscale image among the colour ones
            crop = np.repeat(crop.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
        crops.append(crop)
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
    return Inputs(x.to(device), ops.ab_gamut_bins(device=device), device)


def bytes_moved(inputs: Inputs) -> int:
    """Read the uint8 batch; write L (float32) and the sparse targets."""
    b, _, h, w = inputs.x.shape
    targets = b * K * ((h + STRIDE - 1) // STRIDE) * ((w + STRIDE - 1) // STRIDE)
    return inputs.x.numel() + b * h * w * 4 + targets * (8 + 4) + b


def _encode(ab_points: torch.Tensor, bins: torch.Tensor):
    """Nearest bins in float64, ties to the lower index, and their weights."""
    d2 = torch.cdist(ab_points.double(), bins.double()) ** 2
    index = torch.sort(d2, dim=1, stable=True).indices[:, :K]
    near = d2.gather(1, index)
    return index, torch.softmax(-(near - near[:, :1]) / (2 * SIGMA ** 2), dim=1).float()


def definition(inputs: Inputs):
    """From scratch in float64 with scikit-image's Lab, image by image."""
    from skimage.color import rgb2lab
    lightness, index, weight, gray = [], [], [], []
    for image in inputs.x.cpu():
        lab = torch.from_numpy(rgb2lab(image.numpy(), channel_axis=0))
        lightness.append(((lab[:1] - L_MEAN) / L_STD).float())
        ab = lab[1:, ::STRIDE, ::STRIDE]
        i, w = _encode(ab.reshape(2, -1).T, inputs.bins.cpu())
        index.append(i.T.reshape(K, *ab.shape[1:]))
        weight.append(w.T.reshape(K, *ab.shape[1:]))
        gray.append(not bool((ab.abs() > 5).any()))
    out = (torch.stack(lightness), torch.stack(index), torch.stack(weight), torch.tensor(gray))
    return tuple(t.to(inputs.device) for t in out)


ATOL = 1e-4


def assert_equivalent(actual, expected, *, name: str, atol: float = ATOL) -> None:
    lightness, index, weight, gray = actual
    want_lightness, want_index, want_weight, want_gray = expected
    torch.testing.assert_close(lightness, want_lightness, atol=atol, rtol=0,
                               msg=lambda m: f"{name}: lightness differs:\n{m}")
    # Weights depend on the distances alone, so they agree even where two
    # (almost) equidistant bins come in the other order.
    torch.testing.assert_close(weight, want_weight, atol=atol, rtol=0, msg=lambda m: f"{name}: weights differ:\n{m}")
    same_set = (index.sort(dim=1).values == want_index.sort(dim=1).values).all(dim=1)
    differing = 1 - same_set.float().mean().item()
    if differing > 1e-3:
        raise AssertionError(f"{name}: the sets of nearest bins differ at {differing:.2%} of target pixels")
    if not torch.equal(gray.cpu(), want_gray.cpu()):
        raise AssertionError(f"{name}: grayscale flags differ: {gray.tolist()} vs {want_gray.tolist()}")


# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x, bins = inp.x, inp.bins
    return lambda: tuple(ops.colorization_batch(x, bins, k=K, sigma=SIGMA, stride=STRIDE, l_mean=L_MEAN,
                                                l_std=L_STD))


def _kornia_torch(inp: Inputs):
    try:
        import kornia
    except ImportError as exc:
        raise Unavailable(f"kornia not installed ({exc})") from None
    x, bins = inp.x, inp.bins

    def run():
        lab = kornia.color.rgb_to_lab(x.float().div_(255))
        lightness = (lab[:, :1] - L_MEAN) / L_STD
        ab = lab[:, 1:, ::STRIDE, ::STRIDE]
        b, _, h, w = ab.shape
        # The exact distance mode: the matmul one loses ~1e-3 to cancellation
        # and then orders 0.5% of the neighbour lists differently.
        d2 = torch.cdist(ab.permute(0, 2, 3, 1).reshape(-1, 2), bins, compute_mode="donot_use_mm_for_euclid_dist") ** 2
        near, index = torch.topk(d2, K, dim=1, largest=False)
        weight = torch.softmax(-near / (2 * SIGMA ** 2), dim=1)
        gray = ~(ab.abs() > 5).flatten(1).any(dim=1)
        to_planes = lambda t: t.view(b, h, w, K).permute(0, 3, 1, 2)  # noqa: E731
        return lightness, to_planes(index), to_planes(weight), gray

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.colorization_batch: L at full resolution, Lab + k-NN only at the targets"),
    Impl("kornia Lab + torch k-NN", _kornia_torch, ident="kornia_torch",
         note="kornia.color.rgb_to_lab, exact torch.cdist + topk(5) + softmax, gray flag from |ab| > 5"),
]
