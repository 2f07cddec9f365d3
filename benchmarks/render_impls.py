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
silhouette may hit in one and miss in the other, so the check
(tests/render_reference.assert_renders_match) allows one pixel in 2,000 to
differ in id and compares the other maps where ids agree.
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


def _with_camera(out: dict, scenes: ops.Scenes) -> dict:
    """The five outputs as tensors of render_scenes' dtypes, plus the scenes'
    cameras (the comparison needs the rays)."""
    tensors = {key: torch.as_tensor(value).to(torch.int64 if key == "ids" else torch.float32)
               for key, value in out.items()}
    return {**tensors, "camera": scenes.camera}


def definition(inputs: Inputs) -> dict:
    """The numpy oracle on the CPU (slow)."""
    s = inputs.scenes.to("cpu")
    return _with_camera(_load_reference().render(s.objects, s.lights, s.camera, inputs.height, inputs.width), s)


def assert_equivalent(actual: dict, expected: dict, *, name: str, atol: float = 0.0) -> None:
    """Same outputs up to float32 conditioning (ids and edges may differ on
    grazing rays): tests/render_reference.assert_renders_match, which needs
    the cameras, so each output carries its scenes' (see _with_camera)."""
    for key, want in expected.items():
        got = actual[key]
        assert got.shape == want.shape and got.dtype == want.dtype, f"{name}: {key} shape/dtype differ"
        assert got.device == actual["rgb"].device, f"{name}: {key} is on another device"
    try:
        _load_reference().assert_renders_match(actual, expected, expected["camera"].cpu())
    except AssertionError as exc:
        raise AssertionError(f"{name} disagrees with the reference: {exc}") from None


def _sslfast(inp: Inputs):
    def run():
        return _with_camera(ops.render_scenes(inp.scenes, inp.height, inp.width), inp.scenes)

    return run


def _numpy_reference(inp: Inputs):
    if inp.batch > NUMPY_MAX_SCENES:
        raise Unavailable(f"numpy oracle: timed on batches of at most {NUMPY_MAX_SCENES} scenes (seconds per call)")
    reference = _load_reference()
    objects, lights, camera = (t.cpu().numpy() for t in (inp.scenes.objects, inp.scenes.lights, inp.scenes.camera))

    def run():
        return _with_camera(reference.render(objects, lights, camera, inp.height, inp.width), inp.scenes)

    return run


IMPLS = [
    Impl("sslfast", _sslfast, ident="sslfast",
         note="ops.render_scenes: one fused ray-casting pass per pixel, CPU threads or CUDA"),
    Impl("numpy oracle", _numpy_reference, devices=("cpu",), ident="numpy",
         note="tests/render_reference.py: float64, per scene, vectorised over pixels, every object per ray"),
]
