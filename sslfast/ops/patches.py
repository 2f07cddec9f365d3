"""patches family (jigsaw, context prediction, Shuffle & Learn): gather N
patches per sample fused with grayscale, colour dropping, per-patch
normalisation and dtype conversion; the samplers of those tasks; the greedy
maximal-Hamming permutation set.

In eager mode the value checks (patches inside their images, given
permutation sets) read the values back once per call, a host sync on GPU;
they are skipped under ``torch.compile`` and CUDA graph capture, where the
kernels clamp out-of-range places into the images instead."""
from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional, Sequence, Union

import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import (check_images, check_seed, check_tensor, checking_values, normalization, output_dtype,
                      same_device)

__all__ = ["gather_patches", "permutation_set", "PermutationStats", "sample_jigsaw", "sample_context",
           "sample_tuples", "sample_color_drop", "jigsaw_geometry", "context_geometry"]

NORMALIZE_MODES = (None, "patch", "rms")
METHODS = ("max_min", "max_avg")
MAX_TILES = 10  # kMaxPermutationTiles in csrc/kernels/patches.h
# Recipe sizes (RECIPES.md): jigsaw 85 px cells with 64 px tiles (released
# code, 255 px crops); context 96 px patches, 48 px gap, 7 px jitter.
JIGSAW_CELL, JIGSAW_TILE = 85, 64
CONTEXT_PATCH, CONTEXT_GAP, CONTEXT_JITTER = 96, 48, 7
# Neighbour offset (rows, columns) of each context label, in patch steps.
CONTEXT_OFFSETS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


# --------------------------------------------------------------------------- argument helpers
def _int(name: str, value, *, low: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{name}: expected an int >= {low}, got {value}")
    return value


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return float(value)


def _probability(name: str, value) -> float:
    value = _number(name, value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
    return value


def _pair(name: str, value) -> tuple:
    """An int or a pair of ints, as (height, width)."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (tuple, list, torch.Size)) or len(value) != 2:
        raise TypeError(f"{name}: expected an int or (height, width), got {value!r}")
    for v in value:
        _int(name, v, low=1)
    return int(value[0]), int(value[1])


def _index(index) -> torch.Tensor:
    return check_tensor("index", index, dims=1, dtypes=(torch.int64,)).contiguous()


def _parameter(name: str, value, shape, dtype, images) -> torch.Tensor:
    check_tensor(name, value, dtypes=(dtype,))
    if tuple(value.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(value.shape)}")
    same_device(name, value, images)
    return value.contiguous()


def _check_ranges(*checks) -> None:
    """Each check is (name, tensor, low, high, what): every value of tensor
    must lie in [low, high]. One host sync for all of them; skipped while
    tracing or capturing."""
    checks = [c for c in checks if c[1] is not None and c[1].numel()]
    if not checks or not checking_values():
        return
    bounds = torch.stack([torch.stack([t.min(), t.max()]) for _, t, _, _, _ in checks]).tolist()
    for (name, _, low, high, what), (got_low, got_high) in zip(checks, bounds):
        if got_low < low or got_high > high:
            raise ValueError(f"{name}: {what} must lie in {low}..{high}, got values in {got_low}..{got_high}")


# --------------------------------------------------------------------------- gather_patches
def gather_patches(images: torch.Tensor, src: torch.Tensor, origins: torch.Tensor, size, *,
                   normalize: Optional[str] = None, keep_channel: Optional[torch.Tensor] = None,
                   gray: Optional[torch.Tensor] = None, noise_seed: int = 0, noise_std: float = 0.01,
                   eps: float = 1e-5, out_dtype: Optional[torch.dtype] = None,
                   mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None) -> torch.Tensor:
    """Cut N patches per sample from any images, in one fused pass.

    ``out[b, n] = images[src[b, n], :, y:y + ph, x:x + pw]`` with
    ``(y, x) = origins[b, n]``, then, per patch and in this order:

    1. ``gray[b, n]``: every channel becomes the luma
       ``0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601, as OpenCV; RGB only).
    2. ``keep_channel[b, n] = k >= 0``: channel ``k`` is kept and every other
       channel is replaced by Gaussian noise with the mean of channel ``k``
       over the patch and ``noise_std`` times its standard deviation (colour
       dropping, Doersch et al. 2015: std 1/100 of the kept channel's).
       ``-1`` keeps all channels. The noise is a pure function of
       ``(noise_seed, flat output element index)``.
    3. ``normalize='patch'``: each channel of each patch to zero mean and unit
       standard deviation, ``(v - mean) / sqrt(var + eps)`` with the
       population variance, as ``torch.nn.functional.instance_norm`` over the
       patches (jigsaw recipe). ``normalize='rms'``: each channel minus its
       mean, then the patch divided by ``sqrt(mean of the channel variances
       + eps)``, its root mean square over all channels (context-prediction
       recipe, Doersch et al.'s released code, without its constant x50).
    4. dtype conversion (uint8 input is scaled to [0, 1] for a floating
       output, floating input scaled by 255 and rounded for a uint8 output),
       then ``(v - mean[c]) / std[c]`` if ``mean``/``std`` are given.

    Args:
        images: ``[T, C, H, W]`` uint8, float16, bfloat16 or float32: a batch
            of images or the frames of clips.
        src: int64 ``[B, N]``: the image (row of ``images``) of each patch.
        origins: int64 ``[B, N, 2]``: ``(y, x)`` of each patch's top-left
            corner; every patch must lie inside its image.
        size: ``(ph, pw)`` or one int for square patches.
        normalize: ``None``, ``'patch'`` or ``'rms'``.
        keep_channel: int64 ``[B, N]`` in ``-1 .. C-1``, or None (no dropping).
        gray: bool ``[B, N]``, or None; needs ``C == 3``.
        noise_seed: seed of the colour-dropping noise (``0 <= noise_seed < 2**63``).
        noise_std: noise std relative to the kept channel's std (default 0.01).
        eps: added to variances before the square root (default 1e-5).
        out_dtype: output dtype; default the input's, or float32 when uint8
            input is normalised (``normalize`` or ``mean``/``std``).
        mean, std: one value or one per channel, in output units.

    Returns:
        ``[B, N, C, ph, pw]`` contiguous tensor on the device of ``images``.
    """
    images = check_images(images)
    t, c, h, w = images.shape
    check_tensor("src", src, dims=2, dtypes=(torch.int64,))
    same_device("src", src, images)
    batch, per_sample = src.shape
    if batch == 0 or per_sample == 0:
        raise ValueError(f"src: expected at least one sample and one patch per sample, got shape {tuple(src.shape)}")
    src = src.contiguous()
    origins = _parameter("origins", origins, (batch, per_sample, 2), torch.int64, images)
    ph, pw = _pair("size", size)
    if ph > h or pw > w:
        raise ValueError(f"size: patch {ph}x{pw} is larger than the images ({h}x{w})")
    if normalize not in NORMALIZE_MODES:
        raise ValueError(f"normalize: expected None, 'patch' or 'rms', got {normalize!r}")
    if keep_channel is not None:
        keep_channel = _parameter("keep_channel", keep_channel, (batch, per_sample), torch.int64, images)
    if gray is not None:
        gray = _parameter("gray", gray, (batch, per_sample), torch.bool, images)
        if c != 3:
            raise ValueError(f"gray: grayscale needs 3-channel (RGB) images, got {c} channels")
    if _int("noise_seed", noise_seed, low=0) >= 2**63:
        raise ValueError(f"noise_seed: expected noise_seed < 2**63, got {noise_seed}")
    noise_std, eps = _number("noise_std", noise_std), _number("eps", eps)
    if noise_std < 0:
        raise ValueError(f"noise_std: expected a value >= 0, got {noise_std}")
    if eps <= 0:
        raise ValueError(f"eps: expected a value > 0, got {eps}")
    mean, std = normalization(mean, std, c)
    dtype = output_dtype(images, out_dtype, normalize is not None or mean is not None)
    if normalize is not None and dtype == torch.uint8:
        raise ValueError("out_dtype: per-patch normalisation needs a floating output, got uint8")
    _check_ranges(("src", src, 0, t - 1, "image indices"),
                  ("origins", origins[..., 0], 0, h - ph, f"y (patch height {ph}, image height {h})"),
                  ("origins", origins[..., 1], 0, w - pw, f"x (patch width {pw}, image width {w})"),
                  ("keep_channel", keep_channel, -1, c - 1, "kept channels"))
    return torch.ops.sslfast.gather_patches(images.contiguous(), src, origins, [ph, pw], normalize, keep_channel, gray,
                                            noise_seed, noise_std, eps, dtype, mean, std)


# --------------------------------------------------------------------------- permutation set
class PermutationStats(NamedTuple):
    """Pairwise Hamming distances within a permutation set."""

    min_distance: int
    mean_distance: float


@functools.lru_cache(maxsize=64)
def _permutation_set(n: int, tiles: int, method: str, seed: int):
    perms, distances = torch.ops.sslfast.permutation_set(n, tiles, method, seed)
    low, average = distances.tolist()
    return perms, PermutationStats(int(low), average)


def permutation_set(n: int, tiles: int = 9, *, method: str = "max_min", seed: int = 0,
                    return_stats: bool = False):
    """``n`` permutations of ``tiles`` positions, far apart in Hamming distance.

    The greedy set of the jigsaw task (Noroozi & Favaro 2016), computed in C++
    with running per-candidate statistics in O(n * tiles!) time: the first
    permutation is drawn from ``seed``; each next one is, among all
    ``tiles!`` permutations not yet chosen,

    - ``method='max_min'`` (default): the one farthest from its nearest chosen
      permutation, ties going to the largest mean distance to the chosen ones;
    - ``method='max_avg'``: the one with the largest mean distance to the
      chosen ones (the reference repositories' rule; its sets of 100 can
      contain pairs only 2 apart, which the network cannot tell apart);

    remaining ties going to the lexicographically first. Results are cached
    per argument set; each call returns a fresh copy.

    Args:
        n: size of the set, ``2 <= n <= tiles!``.
        tiles: positions per permutation, 2..10 (9 for a 3x3 puzzle).
        method: ``'max_min'`` or ``'max_avg'``.
        seed: picks the first permutation (``0 <= seed < 2**63``).
        return_stats: also return the set's :class:`PermutationStats`.

    Returns:
        int64 ``[n, tiles]`` on the CPU (row ``i`` is the ``i``-th chosen
        permutation; a jigsaw output slot ``j`` shows tile ``perm[j]``), and
        with ``return_stats`` a ``PermutationStats(min_distance,
        mean_distance)`` over all pairs of the set.
    """
    _int("tiles", tiles, low=2)
    if tiles > MAX_TILES:
        raise ValueError(f"tiles: expected 2 <= tiles <= {MAX_TILES} (tiles! candidates are enumerated), got {tiles}")
    _int("n", n, low=2)
    if n > math.factorial(tiles):
        raise ValueError(f"n: expected at most tiles! = {math.factorial(tiles)} permutations, got {n}")
    if method not in METHODS:
        raise ValueError(f"method: expected 'max_min' or 'max_avg', got {method!r}")
    check_seed(seed)
    perms, stats = _permutation_set(n, tiles, method, seed)
    return (perms.clone(), stats) if return_stats else perms.clone()


# --------------------------------------------------------------------------- samplers
def jigsaw_geometry(image_size, grid: int = 3, cell: Optional[int] = None, tile: Optional[int] = None):
    """``(cell, tile)`` of a jigsaw puzzle on ``image_size`` images, checked.

    Defaults scale the released code's 85 px cells and 64 px tiles (on 255 px
    crops) to the image: ``cell = min(H, W) // grid``,
    ``tile = max(1, round(cell * 64 / 85))`` (96 px images: 32 and 24).
    """
    h, w = _pair("image_size", image_size)
    _int("grid", grid, low=1)
    cell = min(h, w) // grid if cell is None else _int("cell", cell, low=1)
    if cell < 1 or grid * cell > min(h, w):
        raise ValueError(f"cell: a {grid}x{grid} grid of {cell} px cells does not fit {h}x{w} images")
    tile = max(1, round(cell * JIGSAW_TILE / JIGSAW_CELL)) if tile is None else _int("tile", tile, low=1)
    if tile > cell:
        raise ValueError(f"tile: expected tile <= cell ({cell}), got {tile}")
    return cell, tile


def _jigsaw_permutations(permutations, n_perms, tiles, device) -> torch.Tensor:
    if permutations is None:
        return _cached_on(device, n_perms, tiles)
    check_tensor("permutations", permutations, dims=2, dtypes=(torch.int64,))
    if permutations.shape[0] < 1 or permutations.shape[1] != tiles:
        raise ValueError(f"permutations: expected [P >= 1, {tiles}], got {tuple(permutations.shape)}")
    if permutations.device != device:
        raise ValueError(f"permutations: expected device {device} (that of index), got {permutations.device}")
    if checking_values():
        ordered = permutations.sort(dim=1).values
        if not torch.equal(ordered, torch.arange(tiles, device=device).expand_as(ordered)):
            raise ValueError(f"permutations: every row must be a permutation of 0..{tiles - 1}")
    return permutations.contiguous()


@functools.lru_cache(maxsize=16)
def _cached_on(device: torch.device, n_perms: int, tiles: int) -> torch.Tensor:
    return permutation_set(n_perms, tiles).to(device)


def sample_jigsaw(seed: int, index: torch.Tensor, image_size, *, grid: int = 3, cell: Optional[int] = None,
                  tile: Optional[int] = None, n_perms: int = 100, permutations: Optional[torch.Tensor] = None):
    """Jigsaw puzzle parameters for samples ``index`` under ``seed``.

    Each sample gets a ``grid x grid`` block of ``cell`` px cells at a
    uniform place in the image, one ``tile`` px tile at a uniform offset
    inside each cell (the recipe's jitter), and a uniform permutation ``p``
    of the set; output slot ``j`` shows tile ``permutations[p, j]`` (tiles
    numbered row-major). Counter-based: a sample's puzzle depends only on
    ``(seed, index)``. Runs on ``index``'s device without a host sync.

    Args:
        seed: ``0 <= seed < 2**63``.
        index: int64 ``[B]``, the samples' data-set indices.
        image_size: ``(H, W)`` (or one int) of the images to cut.
        grid, cell, tile: puzzle geometry; see :func:`jigsaw_geometry`.
        n_perms: size of the default permutation set
            (``permutation_set(n_perms, grid * grid)``).
        permutations: int64 ``[P, grid * grid]`` on ``index``'s device, used
            instead of the default set.

    Returns:
        ``(src, origins, perm_id)``: int64 ``[B, grid²]`` (``src[b] == b``),
        int64 ``[B, grid², 2]`` tile corners already in permuted order (feed
        both to :func:`gather_patches` with ``size=tile``), and int64 ``[B]``
        labels in ``0 .. P-1``.
    """
    check_seed(seed)
    index = _index(index)
    h, w = _pair("image_size", image_size)
    cell, tile = jigsaw_geometry((h, w), grid, cell, tile)
    if permutations is None:
        _int("n_perms", n_perms, low=2)
    perms = _jigsaw_permutations(permutations, n_perms, grid * grid, index.device)
    return torch.ops.sslfast.sample_jigsaw(seed, index, h, w, grid, cell, tile, perms)


def context_geometry(image_size, patch: Optional[int] = None, gap: Optional[int] = None,
                     jitter: Optional[int] = None):
    """``(patch, gap, jitter)`` of context prediction on ``image_size`` images, checked.

    Defaults scale the recipe's 96 px patches, 48 px gap and 7 px jitter
    (which need 398 px) by ``min(H, W) / 398``, rounding down (96 px images:
    23, 11 and 1). The three patches of a row of the 3x3 layout need
    ``3 * patch + 2 * (gap + jitter) <= min(H, W)``.
    """
    h, w = _pair("image_size", image_size)
    scale = min(h, w) / (3 * CONTEXT_PATCH + 2 * (CONTEXT_GAP + CONTEXT_JITTER))
    patch = max(1, int(CONTEXT_PATCH * scale)) if patch is None else _int("patch", patch, low=1)
    gap = int(CONTEXT_GAP * scale) if gap is None else _int("gap", gap, low=0)
    jitter = int(CONTEXT_JITTER * scale) if jitter is None else _int("jitter", jitter, low=0)
    if 3 * patch + 2 * (gap + jitter) > min(h, w):
        raise ValueError(f"patch: 3 * patch + 2 * (gap + jitter) = {3 * patch + 2 * (gap + jitter)} exceeds the "
                         f"image size {h}x{w} (patch {patch}, gap {gap}, jitter {jitter})")
    return patch, gap, jitter


def sample_context(seed: int, index: torch.Tensor, image_size, *, patch: Optional[int] = None,
                   gap: Optional[int] = None, jitter: Optional[int] = None):
    """Context-prediction pairs for samples ``index`` under ``seed``.

    A centre patch at a uniform place and one of its 8 neighbours on a 3x3
    layout with ``patch + gap`` px between origins, each patch jittered
    independently by up to ``jitter`` px in y and x, all inside the image.
    The label is the neighbour's position, row-major around the centre (as
    Doersch et al.'s released code)::

        0 1 2
        3 . 4
        5 6 7

    (:data:`CONTEXT_OFFSETS` lists each label's (row, column) step.)
    Counter-based on ``(seed, index)``; runs on ``index``'s device.

    Returns:
        ``(src, origins, label)``: int64 ``[B, 2]`` (``src[b] == b``), int64
        ``[B, 2, 2]`` (centre first, then the neighbour) and int64 ``[B]`` in
        ``0..7``. Cut them with :func:`gather_patches` and ``size=patch``.
    """
    check_seed(seed)
    index = _index(index)
    h, w = _pair("image_size", image_size)
    patch, gap, jitter = context_geometry((h, w), patch, gap, jitter)
    return torch.ops.sslfast.sample_context(seed, index, h, w, patch, gap, jitter)


def sample_tuples(seed: int, index: torch.Tensor, frames: int, image_size, size, *, positive: float = 0.25):
    """Shuffle & Learn frame tuples for clips ``index`` under ``seed``.

    For each clip, five frames ``a < b < c < d < e`` uniform over all
    5-subsets of its ``frames`` frames; with probability ``positive`` the
    tuple is ``(b, c, d)`` (label 1), else ``(b, a, d)`` or ``(b, e, d)``
    with equal chance (label 0). Misra et al. trained with 25% positives, the
    default. The three frames share one uniform crop place of ``size``.
    Frames are laid out clip-major: frame ``t`` of batch entry ``i`` is image
    ``i * frames + t`` of the ``[B * frames, C, H, W]`` tensor given to
    :func:`gather_patches`. Counter-based on ``(seed, index)``.

    Returns:
        ``(src, origins, label)``: int64 ``[B, 3]``, int64 ``[B, 3, 2]`` and
        int64 ``[B]``.
    """
    check_seed(seed)
    index = _index(index)
    _int("frames", frames, low=5)
    h, w = _pair("image_size", image_size)
    ph, pw = _pair("size", size)
    if ph > h or pw > w:
        raise ValueError(f"size: crop {ph}x{pw} is larger than the frames ({h}x{w})")
    positive = _probability("positive", positive)
    return torch.ops.sslfast.sample_tuples(seed, index, frames, h, w, [ph, pw], positive)


def sample_color_drop(seed: int, index: torch.Tensor, patches: int, *, drop: float = 1.0, gray: float = 0.0,
                      channels: int = 3):
    """Colour-dropping and grayscale draws for samples ``index`` under ``seed``.

    Each patch keeps one uniform channel with probability ``drop`` (the
    others become noise in :func:`gather_patches`), else all (-1). Each
    sample is gray with probability ``gray``, all its patches alike (the
    jigsaw recipe grays ~30% of images). Counter-based on ``(seed, index)``.

    Returns:
        ``(keep_channel, gray)``: int64 ``[B, patches]`` in ``-1 .. channels-1``
        and bool ``[B, patches]``, the ``gather_patches`` arguments.
    """
    check_seed(seed)
    index = _index(index)
    _int("patches", patches, low=1)
    _int("channels", channels, low=1)
    drop = _probability("drop", drop)
    gray = _probability("gray", gray)
    return torch.ops.sslfast.sample_color_drop(seed, index, patches, channels, drop, gray)


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::gather_patches")
def _gather_patches_fake(images, src, origins, size, normalize=None, keep_channel=None, gray=None, noise_seed=0,
                         noise_std=0.01, eps=1e-5, out_dtype=None, mean=None, std=None):
    torch._check(images.dim() == 4 and src.dim() == 2 and origins.dim() == 3)
    batch, per_sample = src.shape
    return images.new_empty((batch, per_sample, images.shape[1], size[0], size[1]), dtype=out_dtype or images.dtype)


def _sampler_fake(index, per_sample: int):
    n = index.shape[0]
    return index.new_empty((n, per_sample)), index.new_empty((n, per_sample, 2)), index.new_empty((n,))


@torch.library.register_fake("sslfast::sample_jigsaw")
def _sample_jigsaw_fake(seed, index, height, width, grid, cell, tile, permutations):
    return _sampler_fake(index, grid * grid)


@torch.library.register_fake("sslfast::sample_context")
def _sample_context_fake(seed, index, height, width, patch, gap, jitter):
    return _sampler_fake(index, 2)


@torch.library.register_fake("sslfast::sample_tuples")
def _sample_tuples_fake(seed, index, frames, height, width, size, positive):
    return _sampler_fake(index, 3)


@torch.library.register_fake("sslfast::sample_color_drop")
def _sample_color_drop_fake(seed, index, patches, channels, drop, gray):
    n = index.shape[0]
    return index.new_empty((n, patches)), index.new_empty((n, patches), dtype=torch.bool)


@torch.library.register_fake("sslfast::permutation_set")
def _permutation_set_fake(n, tiles, method, seed):
    return torch.empty((n, tiles), dtype=torch.int64), torch.empty((2,), dtype=torch.float64)
