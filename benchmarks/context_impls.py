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

import torch

from sslfast import ops

from . import patch_jobs
from .common import Impl
from .patch_jobs import ATOL, SHAPES, bytes_moved  # noqa: F401  (read from this module by report.py)
from .patch_jobs import EPS, SEED, PatchInputs, slice_patches, unfold_index

FAMILY = "context"
REFERENCE = "sslfast"
QUICK_SHAPES = SHAPES


def group_name(shape) -> str:
    return patch_jobs.group_name(FAMILY, shape)


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> PatchInputs:
    x, index = patch_jobs.random_batch(shape, device, seed)
    patch, _, _ = ops.context_geometry(shape[-2:])
    _, origins, _ = ops.sample_context(SEED, index, shape[-2:])
    return PatchInputs(x, index, origins, patch, device)


def definition(inputs: PatchInputs) -> torch.Tensor:
    """Slices normalised in float64 (a slow oracle for sslfast)."""
    patches = slice_patches(inputs.x.cpu(), inputs.origins.cpu(), inputs.size).double() / 255
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


def _sslfast(inp: PatchInputs):
    x, index, size, patch = inp.x, inp.index, tuple(inp.x.shape[-2:]), inp.size

    def run():
        src, origins, _ = ops.sample_context(SEED, index, size)
        return ops.gather_patches(x, src, origins, patch, normalize="rms", out_dtype=torch.float32)

    return run


def _torch_slicing(inp: PatchInputs):
    return lambda: rms_normalize(slice_patches(inp.x, inp.origins, inp.size))


def _torch_unfold_index(inp: PatchInputs):
    return lambda: rms_normalize(unfold_index(inp.x, inp.origins, inp.size))


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.sample_context + ops.gather_patches(normalize='rms'): sampler + one fused pass"),
    Impl("torch slicing loop", _torch_slicing, ident="torch_slicing",
         note="2B slices, stack, centre, RMS normalise"),
    Impl("torch unfold+index", _torch_unfold_index, ident="torch_unfold",
         note="unfold windows view, one advanced-index gather, centre, RMS normalise"),
]
