"""colour family (colorization, split-brain): sRGB <-> CIE Lab, the in-gamut
ab bins, soft ab encoding, the fused colorization batch, class-rebalancing
weights, annealed-mean decoding and L quantisation.

Lab is CIE L*a*b* under D65 (2 degree observer) from sRGB with the standard
transfer curve (threshold 0.04045), as scikit-image and kornia compute it:
L in [0, 100], a and b roughly in [-110, 100] for sRGB colours.
"""
from __future__ import annotations

import functools
from typing import NamedTuple, Optional, Union

import numpy as np
import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import check_images, check_tensor, checking_values, same_device

__all__ = ["rgb_to_lab", "lab_to_rgb", "ab_gamut_bins", "ab_encode", "colorization_batch", "ColorizationBatch",
           "ab_prior", "ABPriorAccumulator", "ab_decode", "quantize_l", "l_bin_centres"]

FLOAT_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MAX_NEIGHBOURS = 16  # kMaxNeighbours in csrc/kernels/color.h
MAX_BINS = 32767     # kMaxBins


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------
def _check_float_dtype(name: str, dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32, float16 or bfloat16, got {dtype!r}")
    return dtype


def _check_no_nan(name: str, tensor: torch.Tensor) -> None:
    """Reads the data (a host sync on GPU), so skipped while tracing or capturing.
    amax propagates NaN and is a single fast reduction (isnan().any() costs a
    bool tensor and two passes)."""
    if tensor.is_floating_point() and tensor.numel() and checking_values() and bool(torch.isnan(tensor.amax())):
        raise ValueError(f"{name}: contains NaN")


def _check_rgb(images) -> torch.Tensor:
    images = check_images(images)
    if images.shape[1] != 3:
        raise ValueError(f"images: expected 3 (RGB) channels, got {images.shape[1]} in shape {tuple(images.shape)}")
    _check_no_nan("images", images)
    return images


def _check_float_planes(name: str, tensor, channels: int, meaning: str) -> torch.Tensor:
    check_tensor(name, tensor, dims=4, dtypes=FLOAT_DTYPES)
    if tensor.shape[1] != channels:
        raise ValueError(f"{name}: expected [B, {channels}, H, W] ({meaning}), got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0:
        raise ValueError(f"{name}: empty batch (B == 0)")
    _check_no_nan(name, tensor)
    return tensor


def _check_int(name: str, value, low: int, high: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"{low} <= {name}" + (f" <= {high}" if high is not None else "")
        raise ValueError(f"{name}: expected {bound}, got {value}")
    return value


def _check_positive(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{name}: expected a positive finite number, got {value}")
    return float(value)


def _check_bins(bins, reference: torch.Tensor) -> torch.Tensor:
    check_tensor("bins", bins, dims=2, dtypes=(torch.float32,))
    if bins.shape[1] != 2 or not 1 <= bins.shape[0] <= MAX_BINS:
        raise ValueError(f"bins: expected [Q, 2] (a, b) centres with 1 <= Q <= {MAX_BINS}, got {tuple(bins.shape)}")
    same_device("bins", bins, reference)
    _check_no_nan("bins", bins)
    return bins.contiguous()


def _check_encoding(bins: torch.Tensor, k, sigma, stride) -> tuple:
    k = _check_int("k", k, 1, min(MAX_NEIGHBOURS, bins.shape[0]))
    return k, _check_positive("sigma", sigma), _check_int("stride", stride, 1)


# ---------------------------------------------------------------------------
# Lab conversion
# ---------------------------------------------------------------------------
def rgb_to_lab(images: torch.Tensor, *, out_dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """sRGB -> CIE Lab (D65), planar, in one pass.

    Args:
        images: ``[B, 3, H, W]`` RGB; uint8 in [0, 255] (linearised through an
            exact 256-entry table) or float16/bfloat16/float32 in [0, 1].
            Floating values outside [0, 1] are clipped to it; NaN raises
            ValueError.
        out_dtype: float32 (default), float16 or bfloat16.

    Returns:
        ``[B, 3, H, W]`` contiguous: L in [0, 100], then a and b. Within 1e-3 of
        scikit-image's float64 ``rgb2lab`` in float32.
    """
    images = _check_rgb(images)
    return torch.ops.sslfast.rgb_to_lab(images.contiguous(), _check_float_dtype("out_dtype", out_dtype))


def lab_to_rgb(lab: torch.Tensor, *, clip: bool = True, out_dtype: Optional[torch.dtype] = None) -> torch.Tensor:
    """CIE Lab (D65) -> sRGB, the inverse of :func:`rgb_to_lab`.

    Args:
        lab: ``[B, 3, H, W]`` float32/float16/bfloat16 L, a, b planes; NaN raises
            ValueError.
        clip: clamp the result to [0, 1] (Lab colours outside the sRGB gamut
            otherwise come out below 0 or above 1).
        out_dtype: default the input's dtype; uint8 gives values in [0, 255],
            rounded (and always clipped).

    Returns:
        ``[B, 3, H, W]`` contiguous RGB.
    """
    _check_float_planes("lab", lab, 3, "L, a, b")
    if out_dtype is None:
        out_dtype = lab.dtype
    elif out_dtype != torch.uint8:
        _check_float_dtype("out_dtype", out_dtype)
    if not isinstance(clip, bool):
        raise TypeError(f"clip: expected a bool, got {type(clip).__name__}")
    return torch.ops.sslfast.lab_to_rgb(lab.contiguous(), out_dtype, clip)


# ---------------------------------------------------------------------------
# The quantised ab space
# ---------------------------------------------------------------------------
def _cube_surface_colours() -> torch.Tensor:
    """Every 8-bit sRGB colour with a channel at 0 or 255, as a [1, 3, 1, N]
    uint8 image. The Lab map has full rank inside the cube, so the ab values
    of the whole cube lie inside the hull of these."""
    u, v = np.meshgrid(np.arange(256, dtype=np.uint8), np.arange(256, dtype=np.uint8), indexing="ij")
    faces = []
    for channel in range(3):
        for value in (0, 255):
            face = [u.reshape(-1), v.reshape(-1)]
            face.insert(channel, np.full(u.size, value, dtype=np.uint8))
            faces.append(np.stack(face))
    return torch.from_numpy(np.concatenate(faces, axis=1)).reshape(1, 3, 1, -1)


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Counter-clockwise hull vertices of 2-D points (Andrew's monotone chain,
    after dropping the points strictly inside the octagon of extreme points)."""
    directions = np.array([[np.cos(t), np.sin(t)] for t in np.arange(8) * np.pi / 4])
    extreme = np.argmax(points @ directions.T, axis=0)  # counter-clockwise, may repeat
    _, first = np.unique(extreme, return_index=True)
    octagon = points[extreme[np.sort(first)]]
    edges = np.roll(octagon, -1, axis=0) - octagon
    cross = edges[:, 0] * (points[:, None, 1] - octagon[:, 1]) - edges[:, 1] * (points[:, None, 0] - octagon[:, 0])
    points = np.unique(points[~(cross > 0).all(axis=1)], axis=0)  # sorted by x, then y

    def half(sequence):
        chain = []
        for p in sequence:
            while len(chain) >= 2 and ((chain[-1][0] - chain[-2][0]) * (p[1] - chain[-2][1])
                                       - (chain[-1][1] - chain[-2][1]) * (p[0] - chain[-2][0])) <= 0:
                chain.pop()
            chain.append(p)
        return chain[:-1]

    return np.array(half(points.tolist()) + half(points[::-1].tolist()))


@functools.lru_cache(maxsize=8)
def _gamut_bins(grid: float) -> torch.Tensor:
    colours = _cube_surface_colours()
    ab = rgb_to_lab(colours)[0, 1:, 0].T.double().numpy()
    hull = _convex_hull(ab)
    # A centre c is kept when the square [c - grid, c + grid]^2 meets the hull,
    # i.e. when it is a corner of a grid cell the hull touches. Square and
    # convex polygon are disjoint iff an axis or a hull edge normal separates them.
    low = np.floor(hull.min(axis=0) / grid) - 1
    high = np.ceil(hull.max(axis=0) / grid) + 1
    a, b = np.meshgrid(np.arange(low[0], high[0] + 1), np.arange(low[1], high[1] + 1), indexing="ij")
    centres = np.stack([a.reshape(-1), b.reshape(-1)], axis=1) * grid
    apart = ((centres - grid > hull.max(axis=0)) | (centres + grid < hull.min(axis=0))).any(axis=1)
    edges = np.roll(hull, -1, axis=0) - hull
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)  # outward for a counter-clockwise hull
    reach = (normals * hull).sum(axis=1)                     # max of normal . x over the hull
    nearest = centres @ normals.T - grid * np.abs(normals).sum(axis=1)  # min of normal . x over the square
    apart |= (nearest > reach).any(axis=1)
    return torch.from_numpy(centres[~apart]).float()


def ab_gamut_bins(grid: float = 10.0, *, device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """The quantised ab bins of colorization (Zhang et al. 2016), derived here.

    Every 8-bit sRGB colour on the surface of the RGB cube (whose ab values
    bound those of the whole cube) is converted with :func:`rgb_to_lab`; the
    bins are the centres ``c`` on the ``grid`` lattice (multiples of
    ``grid``) that are a corner of a ``grid`` x ``grid`` cell touched by the
    convex hull of those ab values, i.e. whose square ``[c - grid, c + grid]^2``
    meets the hull. For ``grid=10`` this gives the paper's Q = 313 bins.

    Returns:
        float32 ``[Q, 2]`` (a, b) centres, sorted by a, then b.
    """
    grid = _check_positive("grid", grid)
    return _gamut_bins(grid).to(device)


class ColorizationBatch(NamedTuple):
    """What :func:`colorization_batch` returns."""

    lightness: torch.Tensor  # [B, 1, H, W] normalised L, the network input
    index: torch.Tensor      # int64 [B, k, h, w]: nearest bins, nearest first
    weight: torch.Tensor     # float32 [B, k, h, w]: their soft weights, summing to 1
    grayscale: torch.Tensor  # bool [B]: no target pixel has |a| or |b| above 5


def _dense(index: torch.Tensor, weight: torch.Tensor, num_bins: int) -> torch.Tensor:
    shape = (index.shape[0], num_bins) + tuple(index.shape[2:])
    return weight.new_zeros(shape).scatter_(1, index, weight)


def ab_encode(ab: torch.Tensor, bins: torch.Tensor, *, k: int = 5, sigma: float = 5.0, stride: int = 4,
              dense: bool = False):
    """Soft-encode ab values onto their k nearest bins (Zhang et al. 2016).

    The ab planes are first subsampled by ``stride`` (the top-left pixel of each
    ``stride`` x ``stride`` block, as the reference's strided 1x1 convolution),
    giving ``h = ceil(H / stride)``, ``w = ceil(W / stride)``. Each value is
    then spread over its ``k`` nearest bins (exact search; ties go to the lower
    bin index) with Gaussian weights ``exp(-d^2 / (2 sigma^2))`` summing to 1.
    The paper uses k = 5, sigma = 5; the released code k = 10.

    Args:
        ab: ``[B, 2, H, W]`` float32/float16/bfloat16 a and b planes (any
            finite values; NaN raises ValueError).
        bins: float32 ``[Q, 2]`` centres on the same device, e.g.
            :func:`ab_gamut_bins`.
        k: neighbours, 1 to min(16, Q).
        dense: also scatter the weights into a dense ``[B, Q, h, w]`` target.

    Returns:
        ``(index, weight)``: int64 and float32 ``[B, k, h, w]``, nearest bin
        first; with ``dense=True`` the float32 ``[B, Q, h, w]`` tensor instead.
    """
    _check_float_planes("ab", ab, 2, "a, b")
    bins = _check_bins(bins, ab)
    k, sigma, stride = _check_encoding(bins, k, sigma, stride)
    index, weight = torch.ops.sslfast.ab_encode(ab.contiguous(), bins, k, sigma, stride)
    return _dense(index, weight, bins.shape[0]) if dense else (index, weight)


def colorization_batch(images: torch.Tensor, bins: torch.Tensor, *, k: int = 5, sigma: float = 5.0,
                       stride: int = 4, l_mean: float = 50.0, l_std: float = 50.0,
                       out_dtype: torch.dtype = torch.float32) -> ColorizationBatch:
    """The colorization training pass, fused: RGB in, network input and soft
    targets out, without materialising full-resolution Lab.

    For every pixel only L is computed (one dot product and one cube root) and
    written as ``(L - l_mean) / l_std`` (default: L in [0, 100] -> [-1, 1]; the
    reference code feeds ``L - 50``, i.e. ``l_std=1``). At the ``stride``
    subsampled pixels the full Lab is computed and ab soft-encoded exactly as
    :func:`ab_encode` does. An image is flagged grayscale when none of those
    pixels has ``|a|`` or ``|b|`` above 5; the loss leaves such images out.

    Args:
        images: ``[B, 3, H, W]`` RGB, uint8 or float in [0, 1] (clipped).
        bins: float32 ``[Q, 2]`` on the device of ``images``.
        k, sigma, stride: as in :func:`ab_encode`.
        l_mean, l_std: normalisation of the L input.
        out_dtype: dtype of ``lightness`` (float32, float16 or bfloat16).
    """
    images = _check_rgb(images)
    bins = _check_bins(bins, images)
    k, sigma, stride = _check_encoding(bins, k, sigma, stride)
    if isinstance(l_mean, bool) or not isinstance(l_mean, (int, float)) or l_mean != l_mean:
        raise TypeError(f"l_mean: expected a number, got {l_mean!r}")
    if isinstance(l_std, bool) or not isinstance(l_std, (int, float)) or l_std != l_std or l_std == 0:
        raise ValueError(f"l_std: expected a non-zero number, got {l_std!r}")
    out_dtype = _check_float_dtype("out_dtype", out_dtype)
    return ColorizationBatch(*torch.ops.sslfast.colorization_batch(
        images.contiguous(), bins, k, sigma, stride, float(l_mean), float(l_std), out_dtype))


# ---------------------------------------------------------------------------
# Class rebalancing and decoding
# ---------------------------------------------------------------------------
def ab_prior(counts: torch.Tensor, bins: torch.Tensor, *, lam: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
    """Class-rebalancing weights from bin counts (Zhang et al. 2016, eq. 4).

    ``p`` = counts normalised; ``p~`` = ``p`` smoothed by a Gaussian of
    ``sigma`` in ab over the bin centres (``sigma=0``: no smoothing);
    ``w = ((1 - lam) p~ + lam / Q) ** -1``, scaled so that the expected weight
    of a training pixel, ``sum(p~ * w)``, is 1.

    Args:
        counts: ``[Q]`` non-negative bin counts (e.g. from
            :class:`ABPriorAccumulator`), not all zero.
        bins: ``[Q, 2]`` bin centres.
        lam: weight of the uniform distribution in the mix, in [0, 1].

    Returns:
        float32 ``[Q]`` weights on the device of ``counts``.
    """
    check_tensor("counts", counts, dims=1)
    check_tensor("bins", bins, dims=2)
    if bins.shape != (counts.shape[0], 2):
        raise ValueError(f"bins: expected [{counts.shape[0]}, 2] to match counts, got {tuple(bins.shape)}")
    if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not 0 <= lam <= 1:
        raise ValueError(f"lam: expected a number in [0, 1], got {lam!r}")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0 <= sigma < float("inf"):
        raise ValueError(f"sigma: expected a non-negative number, got {sigma!r}")
    counts = counts.double()
    if checking_values():
        if bool((counts < 0).any()) or bool(torch.isnan(counts).any()):
            raise ValueError("counts: expected non-negative counts")
        if not bool(counts.sum() > 0):
            raise ValueError("counts: all zero; accumulate some pixels first")
    probability = counts / counts.sum()
    if sigma > 0:
        centres = bins.to(counts.device, torch.float64)
        kernel = torch.exp(-torch.cdist(centres, centres) ** 2 / (2 * sigma ** 2))
        probability = kernel @ probability
        probability = probability / probability.sum()
    weights = 1.0 / ((1 - lam) * probability + lam / counts.shape[0])
    return (weights / (probability * weights).sum()).float()


class ABPriorAccumulator:
    """Builds the empirical ab-bin distribution over a data set, batch by
    batch, on the device of the targets and without host synchronisation.

    ``update(index, grayscale)`` counts the nearest bin (``index[:, 0]`` of
    :func:`colorization_batch` / :func:`ab_encode`) of every target pixel of
    the colour images; ``weights()`` turns the counts into rebalancing weights
    with :func:`ab_prior`.
    """

    def __init__(self, bins: torch.Tensor):
        check_tensor("bins", bins, dims=2)
        self.bins = bins
        self.counts = torch.zeros(bins.shape[0], dtype=torch.float64, device=bins.device)

    def update(self, index: torch.Tensor, grayscale: Optional[torch.Tensor] = None) -> None:
        check_tensor("index", index, dims=4, dtypes=(torch.int64,))
        same_device("index", index, self.counts)
        nearest = index[:, 0]
        if grayscale is None:
            keep = torch.ones_like(nearest, dtype=torch.float64)
        else:
            check_tensor("grayscale", grayscale, dims=1, dtypes=(torch.bool,))
            if grayscale.shape[0] != index.shape[0]:
                raise ValueError(f"grayscale: expected {index.shape[0]} flags, got {grayscale.shape[0]}")
            keep = (~grayscale).to(torch.float64).view(-1, 1, 1).expand(nearest.shape)
        self.counts.index_add_(0, nearest.reshape(-1), keep.reshape(-1))

    def probabilities(self) -> torch.Tensor:
        """The raw empirical distribution (counts normalised)."""
        return self.counts / self.counts.sum()

    def weights(self, *, lam: float = 0.5, sigma: float = 5.0) -> torch.Tensor:
        return ab_prior(self.counts, self.bins, lam=lam, sigma=sigma)


def ab_decode(logits: torch.Tensor, bins: torch.Tensor, *, temperature: float = 0.38) -> torch.Tensor:
    """Annealed mean (Zhang et al. 2016): ``softmax(logits / T)`` over the Q
    bins, then the expected ab. T = 1 is the mean, T -> 0 the mode; the paper
    uses T = 0.38. Differentiable.

    Args:
        logits: ``[B, Q, h, w]`` floating scores.
        bins: ``[Q, 2]`` centres.

    Returns:
        ``[B, 2, h, w]`` ab, in the floating dtype of ``logits`` (at least float32).
    """
    check_tensor("logits", logits, dims=4)
    if not logits.is_floating_point():
        raise TypeError(f"logits: expected a floating dtype, got {logits.dtype}")
    check_tensor("bins", bins, dims=2)
    if bins.shape != (logits.shape[1], 2):
        raise ValueError(f"bins: expected [{logits.shape[1]}, 2] to match logits' Q, got {tuple(bins.shape)}")
    same_device("bins", bins, logits)
    temperature = _check_positive("temperature", temperature)
    dtype = torch.promote_types(logits.dtype, torch.float32)
    probability = torch.softmax(logits.to(dtype) / temperature, dim=1)
    return torch.einsum("bqhw,qc->bchw", probability, bins.to(dtype))


def quantize_l(L: torch.Tensor, bins: int = 50) -> torch.Tensor:
    """L classes for split-brain's ab -> L direction: [0, 100] cut into ``bins``
    equal intervals (default 50, 2 L units each; values outside are clamped).

    Returns int64 classes of the shape of ``L``; :func:`l_bin_centres` gives
    the L value each class stands for.
    """
    check_tensor("L", L)
    if not L.is_floating_point():
        raise TypeError(f"L: expected a floating dtype, got {L.dtype}")
    _check_no_nan("L", L)
    bins = _check_int("bins", bins, 1)
    return (L * (bins / 100.0)).floor().clamp_(0, bins - 1).long()


def l_bin_centres(bins: int = 50, *, device: Optional[Union[str, torch.device]] = None) -> torch.Tensor:
    """float32 ``[bins]``: the middle of each :func:`quantize_l` interval."""
    bins = _check_int("bins", bins, 1)
    return (torch.arange(bins, dtype=torch.float32, device=device) + 0.5) * (100.0 / bins)


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::rgb_to_lab")
def _rgb_to_lab_fake(images, out_dtype):
    torch._check(images.dim() == 4 and images.shape[1] == 3)
    return images.new_empty(images.shape, dtype=out_dtype)


@torch.library.register_fake("sslfast::lab_to_rgb")
def _lab_to_rgb_fake(lab, out_dtype, clip):
    torch._check(lab.dim() == 4 and lab.shape[1] == 3)
    return lab.new_empty(lab.shape, dtype=out_dtype)


def _target_shape(planes: torch.Tensor, k: int, stride: int):
    b, _, h, w = planes.shape
    return (b, k, (h + stride - 1) // stride, (w + stride - 1) // stride)


@torch.library.register_fake("sslfast::ab_encode")
def _ab_encode_fake(ab, bins, k, sigma, stride):
    torch._check(ab.dim() == 4 and bins.dim() == 2)
    shape = _target_shape(ab, k, stride)
    return ab.new_empty(shape, dtype=torch.int64), ab.new_empty(shape, dtype=torch.float32)


@torch.library.register_fake("sslfast::colorization_batch")
def _colorization_batch_fake(images, bins, k, sigma, stride, l_mean, l_std, out_dtype):
    torch._check(images.dim() == 4 and images.shape[1] == 3 and bins.dim() == 2)
    b, _, h, w = images.shape
    shape = _target_shape(images, k, stride)
    return (images.new_empty((b, 1, h, w), dtype=out_dtype), images.new_empty(shape, dtype=torch.int64),
            images.new_empty(shape, dtype=torch.float32), images.new_empty((b,), dtype=torch.bool))
