"""Implementations of the context-prediction job, shared by
``bench_patches.py`` and ``report.py``.

The job (Doersch et al.), on a uint8 batch ``[B, 3, S, S]``: a centre patch
and one of its 8 neighbours per image, with the recipe's 96 px patches, 48 px
gap and 7 px jitter scaled by ``S / 398``, each patch centred per channel and
divided by its RMS over all channels (``normalize='rms'``, eps 1e-5 on
[0, 1] values) -> float32 ``[B, 2, 3, patch, patch]``. Colour dropping is
left out: its noise comes from sslfast's counter-based generator, which no
peer reproduces.

sslfast times the job from the samples' indices (sampler + fused gather);
the peers get the same places, drawn once outside the timing, and must
match sslfast within atol 1e-4.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from sslfast import ops

from .common import Impl

FAMILY = "context"
REFERENCE = "sslfast"
SEED = 0
EPS = 1e-5
ATOL = 1e-4
SHAPES = [(256, 3, 96, 96), (64, 3, 255, 255)]
QUICK_SHAPES = SHAPES


@dataclass
class Inputs:
    x: torch.Tensor        # uint8 [B, 3, S, S]
    index: torch.Tensor    # int64 [B]
    origins: torch.Tensor  # int64 [B, 2, 2]: centre, neighbour
    patch: int
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
    patch, _, _ = ops.context_geometry(shape[-2:])
    _, origins, _ = ops.sample_context(SEED, index, shape[-2:])
    return Inputs(x, index, origins, patch, device)


def bytes_moved(inputs: Inputs) -> int:
    b, c = inputs.x.shape[:2]
    return b * 2 * c * inputs.patch ** 2 * (1 + 4)


def definition(inputs: Inputs) -> torch.Tensor:
    """Slices normalised in float64 (a slow oracle for sslfast)."""
    x, p = inputs.x.cpu(), inputs.patch
    patches = torch.stack([torch.stack([x[b, :, y:y + p, z:z + p] for y, z in inputs.origins[b].tolist()])
                           for b in range(inputs.batch)]).double() / 255
    centred = patches - patches.mean(dim=(-2, -1), keepdim=True)
    rms = torch.sqrt(centred.pow(2).mean(dim=(-3, -2, -1), keepdim=True) + EPS)
    return (centred / rms).float().to(inputs.device)


def rms_normalize(patches_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 [B, 2, C, p, p] -> float32 centred per channel, / RMS per patch
    (in 0..255 units; the eps scales by 255^2)."""
    patches = patches_uint8.to(torch.float32)
    patches.sub_(patches.mean(dim=(-2, -1), keepdim=True))
    mean_square = patches.square().mean(dim=(-3, -2, -1), keepdim=True)
    return patches.mul_(torch.rsqrt(mean_square.add_(EPS * 255 ** 2)))


def _sslfast(inp: Inputs):
    x, index, size, patch = inp.x, inp.index, tuple(inp.x.shape[-2:]), inp.patch

    def run():
        src, origins, _ = ops.sample_context(SEED, index, size)
        return ops.gather_patches(x, src, origins, patch, normalize="rms", out_dtype=torch.float32)

    return run


def _torch_slicing(inp: Inputs):
    x, origins, p = inp.x, inp.origins, inp.patch

    def run():
        corners = origins.tolist()
        patches = torch.stack([torch.stack([x[b, :, y:y + p, z:z + p] for y, z in pair])
                               for b, pair in enumerate(corners)])
        return rms_normalize(patches)

    return run


def _torch_unfold_index(inp: Inputs):
    x, origins, p = inp.x, inp.origins, inp.patch
    rows = torch.arange(x.shape[0], device=x.device)[:, None]

    def run():
        windows = x.unfold(2, p, 1).unfold(3, p, 1)
        return rms_normalize(windows[rows, :, origins[..., 0], origins[..., 1]])

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.sample_context + ops.gather_patches(normalize='rms'): sampler + one fused pass"),
    Impl("torch slicing loop", _torch_slicing, ident="torch_slicing",
         note="2B slices, stack, centre, RMS normalise"),
    Impl("torch unfold+index", _torch_unfold_index, ident="torch_unfold",
         note="unfold windows view, one advanced-index gather, centre, RMS normalise"),
]
