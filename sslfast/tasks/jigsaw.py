"""Jigsaw puzzles (Noroozi & Favaro 2016).

Each image gives a 3x3 grid of cells at a random place; one tile at a random
offset inside each cell (the recipe's jitter, so edges do not line up); the
tiles are shuffled by one permutation of a greedy maximal-Hamming set of
``n_perms`` (64, 100 — the default — or 1000) and the network names the
permutation. Tiles come from the fused patch ops (``sample_jigsaw`` +
``gather_patches``) with the recipe's shortcut countermeasures: every tile
normalised by its own per-channel mean and std, ~30% of images grayscale, and
a small per-tile, per-channel colour jitter (added after the normalisation,
which would otherwise cancel it).

Geometry scales the released code's 85 px cells / 64 px tiles to the image:
``cell = size // 3``, ``tile = round(cell * 64 / 85)`` (32 px images: 10 px
cells, 8 px tiles; 64 px: 21 and 16).

Measured on ``shapes`` (linear probe at 32 px, 10 labels per class, seed 0):
pretraining on 64 px renders (16 px tiles, ``sslfast results --pretrain-size
jigsaw=64``) for 600 steps reached 81% permutation accuracy but a probe of
29.1% against 33.2% for random init (the probe chose stage 1: the upper
stages specialise to the puzzle), so the default stays 32 px, 300 steps.

The context-free network: one trunk (the encoder) with shared weights on each
tile, a per-tile FC (shared, as in the paper), the nine tile vectors
concatenated, then FC layers to ``n_perms`` classes.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .. import ops
from .base import PretextTask, accuracy, register_task
from .draws import uniform
from .patch_batches import normalize_whole, to_picture, torch_gather_patches

JITTER_FIELD = 0x4a697474  # "Jitt"


class ContextFreeNet(nn.Module):
    """Shared trunk per tile -> per-tile FC -> concatenation -> FC -> classes."""

    def __init__(self, encoder, tiles: int, classes: int, tile_features: int = 128, hidden: int = 512):
        super().__init__()
        self.encoder, self.tiles = encoder, tiles
        self.tile_fc = nn.Sequential(nn.Linear(encoder.out_channels, tile_features), nn.BatchNorm1d(tile_features),
                                     nn.ReLU(inplace=True))
        self.classifier = nn.Sequential(nn.Linear(tiles * tile_features, hidden), nn.BatchNorm1d(hidden),
                                        nn.ReLU(inplace=True), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n = x.shape[:2]
        if n != self.tiles:
            raise ValueError(f"x: expected {self.tiles} tiles per sample, got {n}")
        per_tile = self.tile_fc(self.encoder.pooled(x.flatten(0, 1)))
        return self.classifier(per_tile.view(b, -1))


@register_task
class JigsawTask(PretextTask):
    """Options: ``n_perms`` (permutation classes: 64, 100 or 1000, any
    2..9! works), ``grid`` (3), ``cell``/``tile`` (px, default scaled from
    the recipe), ``gray`` (probability an image is grayscale, 0.3),
    ``jitter`` (half-width of the uniform per-tile per-channel offset added
    to the normalised tiles, 0.1), ``tile_features`` and ``hidden`` (FC
    widths), ``batch_ops`` ("sslfast": fused ops; "torch": the same batch
    with plain torch indexing, to measure the fused ops' gain)."""

    name = "jigsaw"
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, n_perms: int = 100, grid: int = 3, cell: Optional[int] = None, tile: Optional[int] = None,
                 gray: float = 0.3, jitter: float = 0.1, tile_features: int = 128, hidden: int = 512,
                 batch_ops: str = "sslfast"):
        if batch_ops not in ("sslfast", "torch"):
            raise ValueError(f"batch_ops: expected 'sslfast' or 'torch', got {batch_ops!r}")
        if not 0 <= gray <= 1:
            raise ValueError(f"gray: expected a probability in [0, 1], got {gray}")
        if jitter < 0:
            raise ValueError(f"jitter: expected a value >= 0, got {jitter}")
        super().__init__(n_perms=n_perms, grid=grid, cell=cell, tile=tile, gray=gray, jitter=jitter,
                         tile_features=tile_features, hidden=hidden, batch_ops=batch_ops)
        ops.permutation_set(n_perms, grid * grid)  # checks n_perms early (and caches the set)
        self.n_perms, self.grid, self.cell, self.tile = n_perms, grid, cell, tile
        self.gray, self.jitter, self.batch_ops = gray, jitter, batch_ops
        self.tile_features, self.hidden = tile_features, hidden

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``([B, grid², C, tile, tile] float32, permutation ids [B])``."""
        size = images.shape[-2:]
        cell, tile = ops.jigsaw_geometry(size, self.grid, self.cell, self.tile)
        tiles_per_image = self.grid * self.grid
        src, origins, labels = ops.sample_jigsaw(seed, index, size, grid=self.grid, cell=cell, tile=tile,
                                                 n_perms=self.n_perms)
        gray = None
        if self.gray > 0 and images.shape[1] == 3:
            _, gray = ops.sample_color_drop(seed, index, tiles_per_image, drop=0.0, gray=self.gray)
        if self.batch_ops == "torch":
            tiles = torch_gather_patches(images, src, origins, tile, normalize="patch", gray=gray)
        else:
            tiles = ops.gather_patches(images, src, origins, tile, normalize="patch", gray=gray,
                                       out_dtype=torch.float32)
        if self.jitter > 0:
            offsets = uniform(seed, index, tiles_per_image * images.shape[1], JITTER_FIELD)
            tiles = tiles + (2 * offsets - 1).view(*tiles.shape[:3], 1, 1) * self.jitter
        return tiles, labels

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """Each image normalised per channel, as each tile was in pretraining."""
        return normalize_whole(images, "patch")

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return ContextFreeNet(self.make_encoder(backbone, **backbone_options), self.grid * self.grid,
                              self.n_perms, self.tile_features, self.hidden)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> Dict[str, float]:
        return {"accuracy": accuracy(outputs, targets)}

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Each puzzle as shuffled tiles on a 3x3 board, captioned with its
        permutation id (and the model's guess)."""
        tiles, labels = self.make_batch(images, index, seed)
        predictions = None
        if model is not None:
            with torch.no_grad():
                predictions = model.eval()(tiles).argmax(1)
        pictures = to_picture(tiles.cpu())  # [B, n, 3, t, t]
        b, _, _, t, _ = pictures.shape
        step = t + 1
        board = torch.ones(b, 3, self.grid * step - 1, self.grid * step - 1)
        for slot in range(self.grid * self.grid):
            y, x = divmod(slot, self.grid)
            board[:, :, y * step:y * step + t, x * step:x * step + t] = pictures[:, slot]
        captions = [f"perm {int(p)}" + ("" if predictions is None else f" pred {int(predictions[i])}")
                    for i, p in enumerate(labels.tolist())]
        return board, captions

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        return self.classification_quality(model, images, index, seed, "permutation accuracy", self.n_perms)
