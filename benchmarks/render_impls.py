"""Implementations of the render job, shared by ``bench_render.py`` (pytest-
benchmark) and ``report.py`` (markdown tables).

The job: a batch of ``B`` random scenes (``sample_scenes``, 3 objects each,
a textured ground plane in half of them, one to three lights) -> at ``H x W``
their rgb, depth, normals, edges and ids (the dict render_scenes returns;
every implementation is compared on all five). The table's images/s column
is scenes per second.

Peers: the issue names none; the only other renderer here is the test
oracle (tests/render_reference.py: numpy float64, one scene at a time, no
culling), the straightforward way to write this without a kernel. It is
timed on the small batches only (it takes seconds per call on the large
ones). Rendering is not exact across implementations: a ray grazing a
silhouette may hit in one and miss in the other, so the check allows one
pixel in 2,000 to differ in id and compares the other maps where ids agree.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import torch

from sslfast import ops

from .common import Impl, Unavailable

FAMILY = "render"
REFERENCE = "sslfast"
N_OBJECTS = 3
# (scenes, height, width); the numpy peer runs on batches of at most NUMPY_MAX_SCENES.
SHAPES = [(32, 64, 64), (512, 64, 64), (8, 128, 128), (128, 128, 128)]
QUICK_SHAPES = [(32, 64, 64), (8, 128, 128)]
NUMPY_MAX_SCENES = 32


def _load_reference():
    """tests/render_reference.py (the tests' oracle), loaded by path."""
    path = Path(__file__).resolve().parent.parent / "tests" / "render_reference.py"
    spec = importlib.util.spec_from_file_location("render_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Inputs:
    scenes: ops.Scenes
    height: int
    width: int
    device: str

    @property
    def batch(self) -> int:
        return len(self.scenes)


def group_name(shape) -> str:
    scenes, height, width = shape
    return f"{FAMILY} {scenes} scenes {height}x{width}, {N_OBJECTS} objects"


def make_inputs(shape, device: str = "cpu", seed: int = 0) -> Inputs:
    scenes, height, width = shape
    sampled = ops.sample_scenes(seed, torch.arange(scenes), n_objects=N_OBJECTS, ground_plane=0.5)
    return Inputs(sampled.to(device), height, width, device)


def _as_tensors(out) -> dict:
    """The numpy oracle's arrays as tensors of render_scenes' dtypes."""
    return {key: torch.from_numpy(value).to(torch.int64 if key == "ids" else torch.float32)
            for key, value in out.items()}


def definition(inputs: Inputs) -> dict:
    """The numpy oracle on the CPU (slow)."""
    s = inputs.scenes.to("cpu")
    return _as_tensors(_load_reference().render(s.objects, s.lights, s.camera, inputs.height, inputs.width))


def assert_equivalent(actual: dict, expected: dict, *, name: str, atol: float = 2e-3) -> None:
    """Same outputs up to grazing rays: ids (channel 8) equal on all but one
    pixel in 2,000; where they agree, depth to 1e-4 relative, normals within
    1e-3 (1e-2 on one pixel in 1,000, near cone apices), rgb within ``atol``
    on all but one pixel in 500 (a pixel centre on a texture-cell boundary
    may fall either side); edges on all but 1 in 500."""
    for key, want in expected.items():
        got = actual[key]
        assert got.shape == want.shape and got.dtype == want.dtype, f"{name}: {key} shape/dtype differ"
    actual = {key: value.cpu() for key, value in actual.items()}
    same = (actual["ids"] == expected["ids"])[:, 0]
    assert same.float().mean() >= 0.9995, f"{name}: ids differ at {(~same).sum()} pixels"
    depth_a, depth_e = actual["depth"][:, 0][same], expected["depth"][:, 0][same]
    assert ((depth_a - depth_e).abs() <= 1e-4 * depth_e.abs() + 1e-5).all(), f"{name}: depth differs"
    normal_error = (actual["normals"] - expected["normals"]).abs().amax(1)[same]
    # Near a cone's apex float32 positions leave the normal's azimuth uncertain.
    assert normal_error.max() < 1e-2 and (normal_error > 1e-3).float().mean() < 1e-3, f"{name}: normals differ"
    rgb_error = (actual["rgb"] - expected["rgb"]).abs().amax(1)[same]
    assert (rgb_error > atol).float().mean() < 2e-3, f"{name}: rgb differs"
    assert (actual["edges"] != expected["edges"]).float().mean() < 2e-3, f"{name}: edges differ"


def _sslfast(inp: Inputs):
    def run():
        return ops.render_scenes(inp.scenes, inp.height, inp.width)

    return run


def _numpy_reference(inp: Inputs):
    if inp.batch > NUMPY_MAX_SCENES:
        raise Unavailable(f"numpy oracle: timed on batches of at most {NUMPY_MAX_SCENES} scenes (seconds per call)")
    reference = _load_reference()
    objects, lights, camera = (t.cpu().numpy() for t in (inp.scenes.objects, inp.scenes.lights, inp.scenes.camera))

    def run():
        return _as_tensors(reference.render(objects, lights, camera, inp.height, inp.width))

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.render_scenes: one fused ray-casting pass per pixel, CPU threads or CUDA"),
    Impl("numpy oracle", _numpy_reference, devices=("cpu",), ident="numpy",
         note="tests/render_reference.py: float64, per scene, vectorised over pixels, every object per ray"),
]
