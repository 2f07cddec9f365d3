"""Implementations of the jigsaw job, shared by ``bench_patches.py``
(pytest-benchmark) and ``report.py`` (markdown tables).

The job, the whole jigsaw recipe of Noroozi & Favaro on a uint8 batch
``[B, 3, S, S]``: a 3x3 grid of ``S // 3`` px cells, one tile of
``round(cell * 64 / 85)`` px at a random offset inside each cell (the
released code's 85/64 on 255 px crops), the tiles put in the order of a
permutation from a 100-permutation set, and each tile normalised to zero
mean and unit std per channel (``(v - mean) / sqrt(var + 1e-5)`` on [0, 1]
values, population variance) -> float32 ``[B, 9, 3, tile, tile]``.

sslfast times the recipe from the samples' indices (sampler + fused
gather). The peers get the same parameters, drawn once outside the timing
(their own random draws would not give comparable outputs), and must match
sslfast within atol 1e-4: a normalised tile divides by a std that can be
small, so float32 reorderings show up above 1e-5.
"""
from __future__ import annotations

import numpy as np
import torch

from sslfast import ops

from . import patch_jobs
from .common import Impl, Unavailable
from .patch_jobs import ATOL, SHAPES, bytes_moved  # noqa: F401  (read from this module by report.py)
from .patch_jobs import EPS, SEED, PatchInputs, slice_patches, unfold_index

FAMILY = "jigsaw"
REFERENCE = "sslfast"
N_PERMS = 100
QUICK_SHAPES = SHAPES


def group_name(shape) -> str:
    return patch_jobs.group_name(FAMILY, shape)


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> PatchInputs:
    x, index = patch_jobs.random_batch(shape, device, seed)
    permutations = ops.permutation_set(N_PERMS).to(device)
    cell, tile = ops.jigsaw_geometry(shape[-2:])
    _, origins, perm_id = ops.sample_jigsaw(SEED, index, shape[-2:], permutations=permutations)
    return PatchInputs(x, index, origins, tile, device, permutations, permutations[perm_id], cell)


def definition(inputs: PatchInputs) -> torch.Tensor:
    """Slices of the uint8 images, normalised in float64 (a slow oracle for sslfast)."""
    tiles = slice_patches(inputs.x.cpu(), inputs.origins.cpu(), inputs.size).double() / 255
    var, mean = torch.var_mean(tiles, dim=(-2, -1), keepdim=True, correction=0)
    return ((tiles - mean) / torch.sqrt(var + EPS)).float().to(inputs.device)


# ---------------------------------------------------------------------------
# Shared pieces of the peers
# ---------------------------------------------------------------------------
def normalize_tiles(tiles_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 tiles [..., t, t] -> float32 normalised per tile and channel, in
    0..255 units (the same result: the eps scales by 255^2)."""
    tiles = tiles_uint8.to(torch.float32)
    var, mean = torch.var_mean(tiles, dim=(-2, -1), keepdim=True, correction=0)
    return tiles.sub_(mean).mul_(torch.rsqrt(var.add_(EPS * 255 ** 2)))


def normalize_tiles_numpy(tiles_uint8: np.ndarray) -> np.ndarray:
    tiles = tiles_uint8.astype(np.float32)
    mean = tiles.mean(axis=(-2, -1), keepdims=True)
    tiles -= mean
    var = np.square(tiles).mean(axis=(-2, -1), keepdims=True)
    tiles /= np.sqrt(var + np.float32(EPS * 255 ** 2))
    return tiles


def _cells(inputs: PatchInputs) -> torch.Tensor:
    """Top-left corner of each of the 9 cells, row-major: [9, 2]."""
    r = torch.arange(3, device=inputs.x.device) * inputs.cell
    return torch.stack(torch.meshgrid(r, r, indexing="ij"), dim=-1).view(9, 2)


# ---------------------------------------------------------------------------
# Implementations
# ---------------------------------------------------------------------------
def _sslfast(inp: PatchInputs):
    x, index, perms, size, tile = inp.x, inp.index, inp.permutations, tuple(inp.x.shape[-2:]), inp.size

    def run():
        src, origins, _ = ops.sample_jigsaw(SEED, index, size, permutations=perms)
        return ops.gather_patches(x, src, origins, tile, normalize="patch", out_dtype=torch.float32)

    return run


def _torch_unfold_index(inp: PatchInputs):
    return lambda: normalize_tiles(unfold_index(inp.x, inp.origins, inp.size))


def _torch_slicing(inp: PatchInputs):
    return lambda: normalize_tiles(slice_patches(inp.x, inp.origins, inp.size))


def _kornia(inp: PatchInputs):
    try:
        import kornia
    except ImportError as exc:
        raise Unavailable(f"kornia not installed ({exc})") from None
    x = inp.x
    # RandomJigsaw shuffles whole cells; pin its permutation to ours. Its
    # entry at position k fills destination cell (k % 3, k // 3) (column-major)
    # with source cell perm[k] (row-major): slot j = 3r + q gets order[j].
    aug = kornia.augmentation.RandomJigsaw(grid=(3, 3), p=1.0)
    params = aug.forward_parameters(x.shape)
    column_major = torch.arange(9).view(3, 3).t().reshape(-1)
    params["permutation"] = inp.order[:, column_major].to(params["permutation"].device)
    # After the shuffle, slot j's tile sits at slot j's cell plus its source tile's jitter.
    corners = inp.origins - _cells(inp)[inp.order] + _cells(inp)

    def run():
        shuffled = aug(x.to(torch.float32), params=params)  # kornia needs float input
        # kornia returns a transposed layout; the gathered tiles inherit it.
        tiles = unfold_index(shuffled, corners, inp.size).contiguous()
        var, mean = torch.var_mean(tiles, dim=(-2, -1), keepdim=True, correction=0)
        return tiles.sub_(mean).mul_(torch.rsqrt(var.add_(EPS * 255 ** 2)))

    return run


def _albumentations(inp: PatchInputs):
    try:
        import albumentations as A
    except ImportError as exc:
        raise Unavailable(f"albumentations not installed ({exc})") from None
    # Albumentations works per HWC image (its layout, prepared outside the
    # timing). RandomGridShuffle.apply(img, tiles, mapping) moves source cell
    # k to destination mapping[k]: mapping is the inverse of our order.
    x = np.ascontiguousarray(inp.x.cpu().numpy().transpose(0, 2, 3, 1))
    cell, t = inp.cell, inp.size
    cells = _cells(inp).cpu().numpy()
    grid_tiles = np.array([(y, z, y + cell, z + cell) for y, z in cells], dtype=np.int16)
    mappings = inp.order.argsort(dim=1).tolist()
    corners = (inp.origins - _cells(inp)[inp.order] + _cells(inp)).cpu().numpy()
    shuffle = A.RandomGridShuffle(grid=(3, 3), p=1.0)

    def run():
        out = np.empty((x.shape[0], 9, x.shape[3], t, t), dtype=np.float32)
        for b in range(x.shape[0]):
            shuffled = shuffle.apply(x[b], tiles=grid_tiles, mapping=mappings[b])
            tiles = np.stack([shuffled[y:y + t, z:z + t] for y, z in corners[b]]).transpose(0, 3, 1, 2)
            out[b] = normalize_tiles_numpy(tiles)
        return torch.from_numpy(out)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.sample_jigsaw + ops.gather_patches(normalize='patch'): sampler + one fused pass"),
    Impl("torch unfold+index", _torch_unfold_index, ident="torch_unfold",
         note="unfold windows view, one advanced-index gather, var_mean, sub_/mul_ rsqrt"),
    Impl("torch slicing loop", _torch_slicing, ident="torch_slicing",
         note="B*9 slices, stack, var_mean normalise"),
    Impl("kornia RandomJigsaw", _kornia, ident="kornia",
         note="RandomJigsaw (permutation pinned) on float, unfold+index jittered tiles, normalise"),
    Impl("albumentations RandomGridShuffle", _albumentations, devices=("cpu",), ident="albumentations",
         note="RandomGridShuffle.apply per HWC image (mapping pinned), numpy crops + normalise"),
]
