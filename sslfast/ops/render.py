"""render family: ray-cast synthetic scenes with free labels (Ren & Lee 2018).

:func:`render_scenes` ray-casts analytic primitives -- sphere, box, cylinder,
cone and an infinite (ground) plane -- with procedural textures, up to any
number of lights (Lambert + Phong highlight) and a pinhole camera, and
returns the image with its depth, normals, contours and instance ids.
:func:`sample_scenes` draws random scenes from ``(seed, index)``.

Scene layout
------------
A batch of ``B`` scenes is a :class:`Scenes`: three float32 tensors a user may
fill by hand (the row builders :func:`scene_object`, :func:`scene_light` and
:func:`scene_camera` write one row each). Everything is in camera
coordinates, OpenCV convention: the camera sits at the origin looking along
+z, x points right and y *down*; lengths are in metres (any unit works, depth
is returned in it).

``objects [B, N, 21]``, one row per object slot:

====== ================= ====================================================
field  name              meaning
====== ================= ====================================================
0      kind              0 empty slot, 1 sphere, 2 box, 3 cylinder, 4 cone, 5 plane
1-3    position          centre (x, y, z)
4-7    rotation          quaternion (w, x, y, z), local -> camera; normalised
8-10   scale             half-extents (> 0) along the local x, y, z axes
11-13  color             albedo, [0, 1]
14-16  texture_color     second albedo, mixed in by the texture
17     texture           0 flat, 1 checker, 2 stripes (along local x), 3 value noise
18     frequency         texture cycles per unit of the unit shape's coordinates
19     texture_seed      integer in [0, 2**24): the value-noise lattice
20     specular          weight of the highlight (exponent 32)
====== ================= ====================================================

Every primitive is a unit shape scaled by ``scale``: the sphere of radius 1;
the box [-1, 1]^3; the cylinder x^2 + z^2 <= 1, |y| <= 1 (axis local y); the
cone with base radius 1 at y = -1 and apex at y = +1; the plane y = 0 (its
scale only stretches the texture). A sphere of radius r is ``scale=r``.

``lights [B, L, 7]``: kind (0 off, 1 directional, 2 point), vector (3: for a
directional light the direction *towards* the light, for a point light its
position), color (3: intensity per channel). Point lights do not fall off.

``camera [B, 5]``: focal length f in units of the image width (the principal
point is the image centre, pixels are square), ambient intensity, background
colour (3) for rays that hit nothing. The ray through pixel coordinate (u, v)
of an H x W image (pixel (x, y) spans [x, x + 1) x [y, y + 1)) has direction
((u - W/2) / (f W), (v - H/2) / (f W), 1); hits nearer than depth 1e-4 are
ignored.

Textures mix ``texture_color`` into ``color`` with a weight w in [0, 1],
evaluated at the hit point p in unit-shape coordinates moved 0.01 inwards
along the shape's normal (so faces on lattice planes do not flicker), scaled
by ``frequency`` (g = frequency * p): checker, w = parity of floor(g.x) +
floor(g.y) + floor(g.z); stripes, w = parity of floor(g.x); noise, w =
0.65 N(g) + 0.35 N(2 g), N the trilinear interpolation with smoothstep
weights of lattice values ``(h >> 40) / 2**24``, h = counter_hash(texture_seed,
key, 0x4e6f6973) and key = (ix mod 2**21) | (iy mod 2**21) << 21 |
(iz mod 2**21) << 42 at integer points (ix, iy, iz).

Outputs
-------
A pixel's depth, normal and id come from the ray through its centre: depth is
the hit's z (metric, planar depth; 0 where nothing was hit), normals are unit
camera-space vectors turned to face the camera (0 where nothing was hit), ids
are the object slot + 1 (0 = background). ``rgb`` = albedo x (ambient + sum
over lights of max(0, n.l) x light colour) + sum over lights with n.l > 0 of
specular x max(0, r.v)^32 x light colour, clipped to [0, 1]; l is the unit
direction to the light, v the unit direction to the camera and r = 2 (n.l) n -
l the mirror direction (Phong). With ``samples=s`` it is the
mean of an s x s grid of sub-pixel rays (anti-aliasing; the label maps stay
un-blended). ``edges`` marks object contours: 4-neighbours with different ids,
or on one object with normals more than ``crease_angle`` apart; the contour
pixel is the nearer one of the pair, so contours are one pixel wide. Shadows
and reflections are not rendered.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple, Union

import torch

from .. import _C  # noqa: F401  (registers torch.ops.sslfast)
from ._checks import SUPPORTED_DTYPES, check_seed, check_tensor, checking_values

__all__ = ["Scenes", "PRIMITIVES", "TEXTURES", "LIGHT_KINDS", "scene_object", "scene_light", "scene_camera",
           "axis_angle", "render_scenes", "sample_scenes"]

# Codes are positions in these tuples; csrc/kernels/render.h holds the same.
PRIMITIVES = ("empty", "sphere", "box", "cylinder", "cone", "plane")
TEXTURES = ("flat", "checker", "stripes", "noise")
LIGHT_KINDS = ("off", "directional", "point")
OBJECT_FIELDS, LIGHT_FIELDS, CAMERA_FIELDS = 21, 7, 5
SAMPLED_KINDS = PRIMITIVES[1:5]  # what sample_scenes can place
SAMPLED_LIGHTS = 3  # kSampledLights
MAX_SAMPLED_OBJECTS = 64  # kMaxSampledObjects in csrc/ops/render.cpp
MAX_SAMPLES = 4  # kMaxSamples
MAX_IMAGE_SIDE = 1 << 15
MAX_TEXTURE_SEED = 1 << 24


@dataclass
class Scenes:
    """A batch of scenes in the documented tensor layout (see the module
    docstring): ``objects [B, N, 21]``, ``lights [B, L, 7]``, ``camera [B, 5]``,
    float32, on one device."""

    objects: torch.Tensor
    lights: torch.Tensor
    camera: torch.Tensor

    def __len__(self) -> int:
        return self.objects.shape[0]

    def __getitem__(self, item) -> "Scenes":
        """Scenes selected along the batch (an int keeps a batch of one)."""
        if isinstance(item, int):
            item = slice(item, item + 1 if item != -1 else None)
        return Scenes(self.objects[item], self.lights[item], self.camera[item])

    def to(self, *args, **kwargs) -> "Scenes":
        return Scenes(self.objects.to(*args, **kwargs), self.lights.to(*args, **kwargs),
                      self.camera.to(*args, **kwargs))

    @property
    def kinds(self) -> torch.Tensor:
        """int64 ``[B, N]`` primitive codes (indices into :data:`PRIMITIVES`)."""
        return self.objects[..., 0].long()

    @classmethod
    def build(cls, objects: Sequence[torch.Tensor], lights: Sequence[torch.Tensor] = (),
              camera: Optional[torch.Tensor] = None) -> "Scenes":
        """One scene (a batch of 1) from rows made by :func:`scene_object`,
        :func:`scene_light` and :func:`scene_camera` (default camera if None)."""
        camera = scene_camera() if camera is None else camera
        return cls(_stack_rows(objects, OBJECT_FIELDS)[None], _stack_rows(lights, LIGHT_FIELDS)[None],
                   camera.reshape(1, CAMERA_FIELDS).float())

    @classmethod
    def cat(cls, scenes: Sequence["Scenes"]) -> "Scenes":
        """Concatenate batches, padding object and light slots with empty rows."""
        n = max(s.objects.shape[1] for s in scenes)
        m = max(s.lights.shape[1] for s in scenes)
        pad = torch.nn.functional.pad
        return cls(torch.cat([pad(s.objects, (0, 0, 0, n - s.objects.shape[1])) for s in scenes]),
                   torch.cat([pad(s.lights, (0, 0, 0, m - s.lights.shape[1])) for s in scenes]),
                   torch.cat([s.camera for s in scenes]))


def _stack_rows(rows: Sequence[torch.Tensor], fields: int) -> torch.Tensor:
    if len(rows) == 0:
        return torch.zeros(0, fields)
    return torch.stack([torch.as_tensor(r, dtype=torch.float32).reshape(fields) for r in rows])


def _code(name: str, value, names: Sequence[str]) -> int:
    if isinstance(value, str):
        if value not in names:
            raise ValueError(f"{name}: expected one of {', '.join(names)}, got {value!r}")
        return names.index(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(names):
        raise ValueError(f"{name}: expected one of {', '.join(names)} or its code 0..{len(names) - 1}, got {value!r}")
    return value


def _triple(name: str, value) -> Tuple[float, float, float]:
    if isinstance(value, (int, float)):
        return (float(value),) * 3
    values = tuple(float(v) for v in value)
    if len(values) != 3:
        raise ValueError(f"{name}: expected 3 values, got {len(values)}")
    return values


def axis_angle(axis: Sequence[float], degrees: float) -> Tuple[float, float, float, float]:
    """The quaternion (w, x, y, z) of a turn by ``degrees`` about ``axis``
    (right-handed, camera coordinates), for :func:`scene_object`'s rotation."""
    x, y, z = _triple("axis", axis)
    norm = math.sqrt(x * x + y * y + z * z)
    if norm == 0:
        raise ValueError("axis: expected a non-zero vector")
    half = math.radians(degrees) / 2
    s = math.sin(half) / norm
    return (math.cos(half), x * s, y * s, z * s)


def scene_object(kind: Union[str, int], position: Sequence[float], *,
                 rotation: Sequence[float] = (1.0, 0.0, 0.0, 0.0), scale=1.0, color=(0.8, 0.8, 0.8),
                 texture: Union[str, int] = "flat", texture_color=(0.2, 0.2, 0.2), frequency: float = 2.0,
                 texture_seed: int = 0, specular: float = 0.2) -> torch.Tensor:
    """One ``objects`` row (float32 ``[21]``). ``scale`` is one value or three
    half-extents; e.g. a sphere of radius 1 three metres ahead:
    ``scene_object("sphere", (0, 0, 3))``."""
    rotation = tuple(float(v) for v in rotation)
    if len(rotation) != 4:
        raise ValueError(f"rotation: expected a quaternion (w, x, y, z), got {len(rotation)} values")
    row = [float(_code("kind", kind, PRIMITIVES)), *_triple("position", position), *rotation,
           *_triple("scale", scale), *_triple("color", color), *_triple("texture_color", texture_color),
           float(_code("texture", texture, TEXTURES)), float(frequency), float(texture_seed), float(specular)]
    return torch.tensor(row, dtype=torch.float32)


def scene_light(kind: Union[str, int] = "directional", vector: Sequence[float] = (0.3, -1.0, -0.6),
                color=(0.8, 0.8, 0.8)) -> torch.Tensor:
    """One ``lights`` row (float32 ``[7]``); the default shines from above,
    slightly right and behind the camera (y points down)."""
    return torch.tensor([float(_code("kind", kind, LIGHT_KINDS)), *_triple("vector", vector),
                         *_triple("color", color)], dtype=torch.float32)


def scene_camera(focal: float = 1.0, ambient: float = 0.2, background=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """One ``camera`` row (float32 ``[5]``); ``focal`` in units of image width
    (1.0 is a horizontal field of view of about 53 degrees)."""
    return torch.tensor([float(focal), float(ambient), *_triple("background", background)], dtype=torch.float32)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
def _check_scenes(scenes) -> Scenes:
    if not isinstance(scenes, Scenes):
        raise TypeError(f"scenes: expected sslfast.ops.Scenes, got {type(scenes).__name__}")
    parts = (("objects", scenes.objects, 3, OBJECT_FIELDS), ("lights", scenes.lights, 3, LIGHT_FIELDS),
             ("camera", scenes.camera, 2, CAMERA_FIELDS))
    for field, tensor, dims, width in parts:
        check_tensor(f"scenes.{field}", tensor, dtypes=(torch.float32,))
        if tensor.dim() != dims or tensor.shape[-1] != width:
            layout = "[B, N, 21]" if field == "objects" else "[B, L, 7]" if field == "lights" else "[B, 5]"
            raise ValueError(f"scenes.{field}: expected {layout}, got shape {tuple(tensor.shape)}")
        if tensor.shape[0] != scenes.objects.shape[0]:
            raise ValueError(f"scenes.{field}: expected {scenes.objects.shape[0]} scenes (as objects), "
                             f"got {tensor.shape[0]}")
        if tensor.device != scenes.objects.device:
            raise ValueError(f"scenes.{field}: expected device {scenes.objects.device} (that of objects), "
                             f"got {tensor.device}")
    if scenes.objects.shape[0] == 0:
        raise ValueError("scenes: empty batch (B == 0)")
    if checking_values():
        _check_scene_values(scenes)
    return scenes


def _whole_in(values: torch.Tensor, low: int, high: int) -> torch.Tensor:
    return (values == values.floor()) & (values >= low) & (values <= high)


def _check_scene_values(scenes: Scenes) -> None:
    """Eager-mode value checks (they read the data: a host sync on GPU)."""
    objects, lights, camera = scenes.objects, scenes.lights, scenes.camera
    kind = objects[..., 0]
    if not bool(_whole_in(kind, 0, len(PRIMITIVES) - 1).all()):
        raise ValueError(f"scenes.objects: kind (field 0) must be a code 0..{len(PRIMITIVES) - 1} ({PRIMITIVES})")
    used = objects[kind != 0]  # empty slots may hold anything finite or not
    if not bool(used.isfinite().all()):
        raise ValueError("scenes.objects: non-empty rows must be finite (found NaN or inf)")
    if not bool((used[:, 4:8].square().sum(-1) > 0).all()):
        raise ValueError("scenes.objects: rotation (fields 4-7) must be a non-zero quaternion")
    if not bool((used[:, 8:11] > 0).all()):
        raise ValueError("scenes.objects: scale (fields 8-10) must be positive")
    if not bool(_whole_in(used[:, 17], 0, len(TEXTURES) - 1).all()):
        raise ValueError(f"scenes.objects: texture (field 17) must be a code 0..{len(TEXTURES) - 1} ({TEXTURES})")
    if not bool(_whole_in(used[:, 19], 0, MAX_TEXTURE_SEED - 1).all()):
        raise ValueError("scenes.objects: texture_seed (field 19) must be an integer in [0, 2**24)")
    light_kind = lights[..., 0]
    if not bool(_whole_in(light_kind, 0, len(LIGHT_KINDS) - 1).all()):
        raise ValueError(f"scenes.lights: kind (field 0) must be a code 0..{len(LIGHT_KINDS) - 1} ({LIGHT_KINDS})")
    if not bool(lights[light_kind != 0].isfinite().all()):
        raise ValueError("scenes.lights: lights that are on must be finite (found NaN or inf)")
    if not bool(camera.isfinite().all()):
        raise ValueError("scenes.camera: must be finite (found NaN or inf)")
    if not bool((camera[:, 0] > 0).all()):
        raise ValueError("scenes.camera: focal (field 0) must be positive")


def _check_int(name: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name}: expected {low}..{high}, got {value}")
    return value


# ---------------------------------------------------------------------------
# Ops
# ---------------------------------------------------------------------------
def render_scenes(scenes: Scenes, height: int, width: int, *, samples: int = 1,
                  rgb_dtype: torch.dtype = torch.float32, background: Optional[torch.Tensor] = None,
                  crease_angle: float = 45.0) -> Dict[str, torch.Tensor]:
    """Ray-cast a batch of scenes into images and their labels, in one call.

    Args:
        scenes: the batch (layout in the module docstring), on CPU or CUDA.
        height, width: image size in pixels.
        samples: anti-aliasing, ``samples x samples`` rays per pixel for
            ``rgb`` (1..4; 1 = the pixel centre only).
        rgb_dtype: float32 (default), float16, bfloat16 (values in [0, 1]) or
            uint8 ([0, 255], rounded).
        background: optional ``[B, 3, height, width]`` image (uint8, or float
            in [0, 1]) seen where rays hit nothing, instead of the camera's
            background colour.
        crease_angle: degrees between the normals of neighbouring pixels of
            one object above which they are separated by a contour.

    Returns:
        dict of ``rgb [B, 3, H, W]`` (``rgb_dtype``), ``depth [B, 1, H, W]``
        float32, ``normals [B, 3, H, W]`` float32, ``edges [B, 1, H, W]``
        float32 (1 on contours, else 0) and ``ids [B, 1, H, W]`` int64.
    """
    scenes = _check_scenes(scenes)
    height = _check_int("height", height, 1, MAX_IMAGE_SIDE)
    width = _check_int("width", width, 1, MAX_IMAGE_SIDE)
    samples = _check_int("samples", samples, 1, MAX_SAMPLES)
    if not isinstance(rgb_dtype, torch.dtype) or rgb_dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"rgb_dtype: expected one of uint8, float16, bfloat16, float32, got {rgb_dtype!r}")
    if isinstance(crease_angle, bool) or not isinstance(crease_angle, (int, float)):
        raise TypeError(f"crease_angle: expected a number of degrees, got {type(crease_angle).__name__}")
    if not 0 < crease_angle <= 180:
        raise ValueError(f"crease_angle: expected degrees in (0, 180], got {crease_angle}")
    if background is not None:
        check_tensor("background", background, dims=4, dtypes=SUPPORTED_DTYPES)
        want = (len(scenes), 3, height, width)
        if tuple(background.shape) != want:
            raise ValueError(f"background: expected shape {want}, got {tuple(background.shape)}")
        if background.device != scenes.objects.device:
            raise ValueError(f"background: expected device {scenes.objects.device} (that of the scenes), "
                             f"got {background.device}")
        background = background.contiguous()
    rgb, depth, normals, edges, ids = torch.ops.sslfast.render_scenes(
        scenes.objects.contiguous(), scenes.lights.contiguous(), scenes.camera.contiguous(), height, width,
        samples, rgb_dtype, background, float(crease_angle))
    return {"rgb": rgb, "depth": depth, "normals": normals, "edges": edges, "ids": ids}


def sample_scenes(seed: int, index: torch.Tensor, *, n_objects: Union[int, Tuple[int, int]] = (1, 4),
                  classes: Sequence[Union[str, int]] = SAMPLED_KINDS, ground_plane: Union[bool, float] = 0.5,
                  central: bool = False) -> Scenes:
    """Random scenes, one per index: a pure function of ``(seed, index[i])``.

    Each scene has ``n_objects`` objects (an int, or an inclusive range
    ``(low, high)`` drawn uniformly) of kinds drawn uniformly from
    ``classes`` (names or codes among sphere, box, cylinder, cone), in
    object slots ``0 .. high - 1`` (later slots empty), each with a random
    pose, size, albedo, texture and highlight; with probability
    ``ground_plane`` a textured ground plane below the camera (the last slot,
    present whenever ``ground_plane > 0``); one to three directional lights
    (``lights [B, 3, 7]``); random focal length, ambient level and
    background colour. Objects sit above the ground plane when there is one.

    With ``central=True`` object 0 is placed at the image centre, about a
    third to a half of the image wide (so its kind is a classification
    label), and the other objects are smaller distractors behind it.

    Runs on ``index``'s device without a host synchronisation; scenes do not
    depend on the batch they are drawn in.
    """
    check_seed(seed)
    check_tensor("index", index, dims=1, dtypes=(torch.int64,))
    if isinstance(n_objects, int) and not isinstance(n_objects, bool):
        low = high = n_objects
    else:
        try:
            low, high = n_objects
        except (TypeError, ValueError):
            raise TypeError(f"n_objects: expected an int or a (low, high) pair, got {n_objects!r}") from None
    _check_int("n_objects", low, 0, MAX_SAMPLED_OBJECTS)
    _check_int("n_objects", high, low, MAX_SAMPLED_OBJECTS)
    if central and low < 1:
        raise ValueError("n_objects: central=True needs at least one object")
    if isinstance(classes, (str, int)) or len(classes) == 0:
        raise ValueError(f"classes: expected a non-empty sequence of primitive kinds, got {classes!r}")
    kinds = [_code("classes", c, PRIMITIVES) for c in classes]
    if any(k not in (1, 2, 3, 4) for k in kinds) or len(set(kinds)) != len(kinds):
        raise ValueError(f"classes: expected distinct kinds among {', '.join(SAMPLED_KINDS)}, got {list(classes)}")
    probability = float(ground_plane)
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"ground_plane: expected a bool or a probability in [0, 1], got {ground_plane!r}")
    objects, lights, camera = torch.ops.sslfast.sample_scenes(seed, index.contiguous(), low, high, kinds,
                                                              probability, bool(central))
    return Scenes(objects, lights, camera)


# ---------------------------------------------------------------------------
# Fake kernels: output metadata only, for torch.compile and opcheck.
# ---------------------------------------------------------------------------
@torch.library.register_fake("sslfast::render_scenes")
def _render_scenes_fake(objects, lights, camera, height, width, samples=1, rgb_dtype=None, background=None,
                        crease_angle=45.0):
    torch._check(objects.dim() == 3 and lights.dim() == 3 and camera.dim() == 2)
    b = objects.shape[0]
    return (objects.new_empty((b, 3, height, width), dtype=rgb_dtype or torch.float32),
            objects.new_empty((b, 1, height, width)), objects.new_empty((b, 3, height, width)),
            objects.new_empty((b, 1, height, width)), objects.new_empty((b, 1, height, width), dtype=torch.int64))


@torch.library.register_fake("sslfast::sample_scenes")
def _sample_scenes_fake(seed, index, min_objects, max_objects, kinds, plane_probability, central):
    b = index.shape[0]
    slots = max_objects + (1 if plane_probability > 0 else 0)
    options = dict(dtype=torch.float32, device=index.device)
    return (torch.empty((b, slots, OBJECT_FIELDS), **options), torch.empty((b, SAMPLED_LIGHTS, LIGHT_FIELDS), **options),
            torch.empty((b, CAMERA_FIELDS), **options))
