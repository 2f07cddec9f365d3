"""Pieces shared by the patch-family jobs (jigsaw_impls.py, context_impls.py):
their inputs, the slicing and unfold+index ways of cutting patches in plain
torch, and the traffic estimate."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

# Shared by both jobs: the seed of their samplers, the normalisation's eps (on
# [0, 1] values), the equivalence tolerance (a normalised patch divides by a
# std that can be small, so float32 reorderings show above 1e-5), the batches.
SEED = 0
EPS = 1e-5
ATOL = 1e-4
SHAPES = [(256, 3, 96, 96), (64, 3, 255, 255)]


@dataclass
class PatchInputs:
    x: torch.Tensor        # uint8 [B, C, S, S]
    index: torch.Tensor    # int64 [B], the samples' indices
    origins: torch.Tensor  # int64 [B, N, 2], patch corners in output order (drawn once)
    size: int              # patch side
    device: str
    # jigsaw only
    permutations: Optional[torch.Tensor] = None  # int64 [P, 9]
    order: Optional[torch.Tensor] = None         # int64 [B, 9]: slot j shows tile order[b, j]
    cell: int = 0

    @property
    def batch(self) -> int:
        return self.x.shape[0]


def random_batch(shape, device: str, seed: int) -> tuple:
    """A random uint8 batch (drawn on the CPU, then moved, so every device
    sees the same data) and its indices 0..B-1."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, tuple(shape), dtype=torch.uint8, generator=gen).to(device)
    return x, torch.arange(shape[0], device=device)


def group_name(family: str, shape) -> str:
    return f"{family} {'x'.join(map(str, shape))}"


def bytes_moved(inputs: PatchInputs) -> int:
    """Minimum traffic: read each patch's uint8 pixels once, write float32."""
    b, n = inputs.origins.shape[:2]
    return b * n * inputs.x.shape[1] * inputs.size ** 2 * (1 + 4)


def slice_patches(x: torch.Tensor, origins: torch.Tensor, size: int) -> torch.Tensor:
    """[B, N, C, size, size] by one tensor slice per patch (one host transfer of the corners)."""
    corners = origins.tolist()
    return torch.stack([torch.stack([x[b, :, y:y + size, z:z + size] for y, z in row])
                        for b, row in enumerate(corners)])


def unfold_index(x: torch.Tensor, origins: torch.Tensor, size: int) -> torch.Tensor:
    """[B, N, C, size, size]: every window as a strided view
    [B, C, H-size+1, W-size+1, size, size], then one advanced-index gather."""
    windows = x.unfold(2, size, 1).unfold(3, size, 1)
    rows = torch.arange(x.shape[0], device=x.device)[:, None]
    return windows[rows, :, origins[..., 0], origins[..., 1]]
