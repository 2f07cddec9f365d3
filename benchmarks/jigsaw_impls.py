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

from dataclasses import dataclass

import numpy as np
import torch

from sslfast import ops

from .common import Impl, Unavailable

FAMILY = "jigsaw"
REFERENCE = "sslfast"
SEED = 0
N_PERMS = 100
EPS = 1e-5
ATOL = 1e-4
SHAPES = [(256, 3, 96, 96), (64, 3, 255, 255)]
QUICK_SHAPES = SHAPES


@dataclass
class Inputs:
    x: torch.Tensor            # uint8 [B, 3, S, S]
    index: torch.Tensor        # int64 [B]
    permutations: torch.Tensor  # int64 [N_PERMS, 9]
    origins: torch.Tensor      # int64 [B, 9, 2], tile corners in output order
    order: torch.Tensor        # int64 [B, 9]: output slot j shows tile order[b, j]
    cell: int
    tile: int
    device: str

    @property
    def batch(self) -> int:
        return self.x.shape[0]


def group_name(shape) -> str:
    return f"{FAMILY} {'x'.join(map(str, shape))}"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, tuple(shape), dtype=torch.uint8, generator=gen).to(device)
    index = torch.arange(shape[0], device=device)
    permutations = ops.permutation_set(N_PERMS).to(device)
    cell, tile = ops.jigsaw_geometry(shape[-2:])
    _, origins, perm_id = ops.sample_jigsaw(SEED, index, shape[-2:], permutations=permutations)
    return Inputs(x, index, permutations, origins, permutations[perm_id], cell, tile, device)


def bytes_moved(inputs: Inputs) -> int:
    """Minimum traffic: read each tile's uint8 pixels once, write float32."""
    b, c = inputs.x.shape[:2]
    return b * 9 * c * inputs.tile ** 2 * (1 + 4)


def definition(inputs: Inputs) -> torch.Tensor:
    """Slices of the uint8 images, normalised in float64 (a slow oracle for sslfast)."""
    x, t = inputs.x.cpu(), inputs.tile
    tiles = torch.stack([torch.stack([x[b, :, y:y + t, z:z + t] for y, z in inputs.origins[b].tolist()])
                         for b in range(inputs.batch)]).double() / 255
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


def _cells(inputs: Inputs) -> torch.Tensor:
    """Top-left corner of each of the 9 cells, row-major: [9, 2]."""
    r = torch.arange(3, device=inputs.x.device) * inputs.cell
    return torch.stack(torch.meshgrid(r, r, indexing="ij"), dim=-1).view(9, 2)


# ---------------------------------------------------------------------------
# Implementations
# ---------------------------------------------------------------------------
def _sslfast(inp: Inputs):
    x, index, perms, size, tile = inp.x, inp.index, inp.permutations, tuple(inp.x.shape[-2:]), inp.tile

    def run():
        src, origins, _ = ops.sample_jigsaw(SEED, index, size, permutations=perms)
        return ops.gather_patches(x, src, origins, tile, normalize="patch", out_dtype=torch.float32)

    return run


def _torch_unfold_index(inp: Inputs):
    x, origins, t = inp.x, inp.origins, inp.tile
    rows = torch.arange(x.shape[0], device=x.device)[:, None]

    def run():
        # Every t x t window as a strided view [B, C, H-t+1, W-t+1, t, t]; one
        # advanced-index gather picks the 9 tiles of each image in output order.
        windows = x.unfold(2, t, 1).unfold(3, t, 1)
        tiles = windows[rows, :, origins[..., 0], origins[..., 1]]  # [B, 9, C, t, t]
        return normalize_tiles(tiles)

    return run


def _torch_slicing(inp: Inputs):
    x, origins, t = inp.x, inp.origins, inp.tile

    def run():
        corners = origins.tolist()  # one host transfer
        tiles = torch.stack([torch.stack([x[b, :, y:y + t, z:z + t] for y, z in row]) for b, row in enumerate(corners)])
        return normalize_tiles(tiles)

    return run


def _kornia(inp: Inputs):
    try:
        import kornia
    except ImportError as exc:
        raise Unavailable(f"kornia not installed ({exc})") from None
    x, t = inp.x, inp.tile
    # RandomJigsaw shuffles whole cells; pin its permutation to ours. Its
    # entry at position k fills destination cell (k % 3, k // 3) (column-major)
    # with source cell perm[k] (row-major): slot j = 3r + q gets order[j].
    aug = kornia.augmentation.RandomJigsaw(grid=(3, 3), p=1.0)
    params = aug.forward_parameters(x.shape)
    column_major = torch.arange(9).view(3, 3).t().reshape(-1)
    params["permutation"] = inp.order[:, column_major].to(params["permutation"].device)
    # After the shuffle, slot j's tile sits at slot j's cell plus its source tile's jitter.
    corners = inp.origins - _cells(inp)[inp.order] + _cells(inp)
    rows = torch.arange(x.shape[0], device=x.device)[:, None]

    def run():
        shuffled = aug(x.to(torch.float32), params=params)  # kornia needs float input
        windows = shuffled.unfold(2, t, 1).unfold(3, t, 1)
        # kornia returns a transposed layout; the gathered tiles inherit it.
        tiles = windows[rows, :, corners[..., 0], corners[..., 1]].contiguous()
        var, mean = torch.var_mean(tiles, dim=(-2, -1), keepdim=True, correction=0)
        return tiles.sub_(mean).mul_(torch.rsqrt(var.add_(EPS * 255 ** 2)))

    return run


def _albumentations(inp: Inputs):
    try:
        import albumentations as A
    except ImportError as exc:
        raise Unavailable(f"albumentations not installed ({exc})") from None
    # Albumentations works per HWC image (its layout, prepared outside the
    # timing). RandomGridShuffle.apply(img, tiles, mapping) moves source cell
    # k to destination mapping[k]: mapping is the inverse of our order.
    x = np.ascontiguousarray(inp.x.cpu().numpy().transpose(0, 2, 3, 1))
    cell, t = inp.cell, inp.tile
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
