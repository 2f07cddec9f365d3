"""render family: render_scenes, sample_scenes and the scene layout helpers."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.library import opcheck

from sslfast import ops
from sslfast.ops import Scenes, scene_camera, scene_light, scene_object

import render_reference as reference

KINDS = ("sphere", "box", "cylinder", "cone", "plane")
RGB_DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


def random_quaternion(generator):
    q = torch.randn(4, generator=generator, dtype=torch.float64)
    return (q / q.norm()).tolist()


def uniform(generator, low, high, n=None):
    shape = () if n is None else (n,)
    value = low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)
    return value.item() if n is None else value.tolist()


def random_scene(generator, n_objects, *, kinds=KINDS, with_plane=True, scale=(0.3, 1.0)):
    """A scene of random primitives in front of the camera, every texture and
    both light kinds, drawn with torch's generator (not our sampler)."""
    kinds = [k for k in kinds if with_plane or k != "plane"]
    rows = []
    for _ in range(n_objects):
        kind = kinds[int(torch.randint(len(kinds), (1,), generator=generator))]
        if kind == "plane":
            position, rotation = (0.0, uniform(generator, 1, 2), 0.0), ops.axis_angle((1, 0, 0), 180 + uniform(
                generator, 5, 25))
        else:
            z = uniform(generator, 3, 8)
            position = (uniform(generator, -0.35, 0.35) * z, uniform(generator, -0.35, 0.35) * z, z)
            rotation = random_quaternion(generator)
        rows.append(scene_object(
            kind, position, rotation=rotation, scale=uniform(generator, *scale, 3),
            color=uniform(generator, 0, 1, 3), texture=int(torch.randint(4, (1,), generator=generator)),
            texture_color=uniform(generator, 0, 1, 3), frequency=uniform(generator, 0.5, 4),
            texture_seed=int(torch.randint(1 << 24, (1,), generator=generator)),
            specular=uniform(generator, 0, 0.6)))
    lights = [scene_light("directional", uniform(generator, -1, 1, 3), uniform(generator, 0.2, 0.7, 3)),
              scene_light("point", (uniform(generator, -3, 3), -3.0, uniform(generator, 0, 4)),
                          uniform(generator, 0.2, 0.7, 3)),
              scene_light("off", (1.0, 2.0, 3.0), (5.0, 5.0, 5.0))]
    camera = scene_camera(focal=uniform(generator, 0.8, 1.4), ambient=uniform(generator, 0.1, 0.3),
                          background=uniform(generator, 0, 1, 3))
    return Scenes.build(rows, lights, camera)


def random_batch(generator, batch, n_objects, **kwargs):
    return Scenes.cat([random_scene(generator, n_objects, **kwargs) for _ in range(batch)])


# --------------------------------------------------------------------------- analytic cases
@pytest.mark.parametrize("radius, distance", [(1.0, 5.0), (0.25, 3.0), (2.0, 40.0), (0.05, 0.5)])
def test_sphere_straight_ahead(radius, distance):
    size = 65  # odd: the centre pixel's ray is the optical axis
    scenes = Scenes.build([scene_object("sphere", (0, 0, distance), scale=radius)], [scene_light()],
                          scene_camera(focal=0.9))
    out = ops.render_scenes(scenes, size, size)
    depth, normals, ids = out["depth"][0, 0].double(), out["normals"][0].double(), out["ids"][0, 0]
    assert abs(depth[size // 2, size // 2].item() - (distance - radius)) < 1e-4

    rays = torch.from_numpy(reference.camera_rays(np.array([0.9]), size, size, 0.5, 0.5)).view(size, size, 3)
    unit = rays / rays.norm(dim=-1, keepdim=True)
    centre = torch.tensor([0.0, 0.0, distance], dtype=torch.float64)
    along = unit @ centre
    miss_distance2 = distance**2 - along**2  # squared distance of the centre from each ray
    analytic_hit = miss_distance2 < radius**2
    borderline = (miss_distance2.sqrt() - radius).abs() < 1e-5 * distance
    assert torch.equal((ids == 1)[~borderline], analytic_hit[~borderline])

    on = (ids == 1) & ~borderline
    t = along - (radius**2 - miss_distance2).clamp_min(0).sqrt()  # distance along the ray
    point = t[..., None] * unit
    torch.testing.assert_close(depth[on], point[..., 2][on], rtol=2e-6, atol=2e-6 * distance)
    analytic_normal = (point - centre) / radius
    torch.testing.assert_close(normals.permute(1, 2, 0)[on], analytic_normal[on], atol=1e-3, rtol=0)
    assert (normals.norm(dim=0)[ids == 1] - 1).abs().max() < 1e-5
    assert (depth[ids == 0] == 0).all() and (normals[:, ids == 0] == 0).all()


def test_box_seen_face_on_has_constant_depth():
    half = (0.8, 0.5, 0.6)
    scenes = Scenes.build([scene_object("box", (0, 0, 4), scale=half, texture="checker")], [scene_light()])
    out = ops.render_scenes(scenes, 64, 48)
    face = out["ids"][0, 0] == 1
    assert face.sum() > 300
    assert torch.unique(out["depth"][0, 0][face]).tolist() == [pytest.approx(4 - 0.6, abs=1e-6)]
    torch.testing.assert_close(out["normals"][0][:, face], torch.tensor([[0.0], [0.0], [-1.0]]).expand(3, int(face.sum())),
                               atol=1e-6, rtol=0)
    # The face spans |x| <= 0.8, |y| <= 0.5 at depth 3.4: pixel-centre rays inside that.
    rays = torch.from_numpy(reference.camera_rays(np.array([1.0]), 64, 48, 0.5, 0.5)).view(64, 48, 3)
    inside = ((rays[..., 0] * 3.4).abs() < 0.8) & ((rays[..., 1] * 3.4).abs() < 0.5)
    assert torch.equal(face, inside)


def test_cylinder_seen_along_its_axis_is_a_disc():
    scenes = Scenes.build([scene_object("cylinder", (0, 0, 5), rotation=ops.axis_angle((1, 0, 0), 90),
                                        scale=(1.0, 0.5, 1.0))], [scene_light()])
    out = ops.render_scenes(scenes, 33, 33)
    cap = out["ids"][0, 0] == 1
    assert torch.allclose(out["depth"][0, 0][cap], torch.tensor(4.5))
    torch.testing.assert_close(out["normals"][0][:, cap], torch.tensor([[0.0], [0.0], [-1.0]]).expand(3, int(cap.sum())),
                               atol=1e-6, rtol=0)


def test_plane_depth_follows_the_ground():
    height = 1.5
    scenes = Scenes.build([scene_object("plane", (0, height, 0), rotation=ops.axis_angle((1, 0, 0), 180))],
                          [scene_light()])
    out = ops.render_scenes(scenes, 40, 40)
    rays = torch.from_numpy(reference.camera_rays(np.array([1.0]), 40, 40, 0.5, 0.5)).view(40, 40, 3)
    below = rays[..., 1] > 0  # rays pointing down meet the ground at y = height
    assert torch.equal(out["ids"][0, 0] == 1, below)
    torch.testing.assert_close(out["depth"][0, 0][below].double(), height / rays[..., 1][below], rtol=1e-5, atol=0)
    up = torch.tensor([0.0, -1.0, 0.0]).view(3, 1)
    torch.testing.assert_close(out["normals"][0][:, below], up.expand(3, int(below.sum())), atol=1e-6, rtol=0)


# --------------------------------------------------------------------------- against the numpy oracle
@pytest.mark.parametrize("samples", [1, 2])
def test_random_scenes_match_numpy_reference(samples, generator):
    scenes = random_batch(generator, 6, 4)
    got = ops.render_scenes(scenes, 40, 48, samples=samples)
    want = reference.render(scenes.objects, scenes.lights, scenes.camera, 40, 48, samples=samples)
    reference.assert_renders_match(got, want, scenes.camera)


def test_sampled_scenes_match_numpy_reference():
    scenes = ops.sample_scenes(5, torch.arange(8), n_objects=(1, 4), ground_plane=0.7)
    got = ops.render_scenes(scenes, 48, 48, crease_angle=30.0)
    want = reference.render(scenes.objects, scenes.lights, scenes.camera, 48, 48, crease_angle=30.0)
    reference.assert_renders_match(got, want, scenes.camera)


def test_background_image_shows_where_nothing_is_hit(generator):
    scenes = random_batch(generator, 3, 2, with_plane=False)
    background = torch.randint(0, 256, (3, 3, 24, 32), dtype=torch.uint8, generator=generator)
    got = ops.render_scenes(scenes, 24, 32, background=background)
    want = reference.render(scenes.objects, scenes.lights, scenes.camera, 24, 32, background=background)
    reference.assert_renders_match(got, want, scenes.camera)
    miss = (got["ids"] == 0).expand(-1, 3, -1, -1)
    torch.testing.assert_close(got["rgb"][miss], background[miss].float() / 255)
    as_float = ops.render_scenes(scenes, 24, 32, background=background.float() / 255)
    torch.testing.assert_close(as_float["rgb"], got["rgb"])


@pytest.mark.parametrize("dtype", RGB_DTYPES)
def test_rgb_dtypes(dtype, generator):
    scenes = random_batch(generator, 2, 3)
    full = ops.render_scenes(scenes, 20, 20)["rgb"]
    got = ops.render_scenes(scenes, 20, 20, rgb_dtype=dtype)["rgb"]
    assert got.dtype == dtype
    if dtype == torch.uint8:  # rounding at exact .5 may differ by one step
        assert ((full * 255).round().to(torch.uint8).int() - got.int()).abs().max() <= 1
    else:
        assert torch.equal(got, full.to(dtype))


def test_supersampling_averages_the_sub_pixel_rays(generator):
    """samples=2 at H x W is the 2x2 mean of a 2H x 2W render (the sub-pixel
    rays of one are the pixel-centre rays of the other)."""
    scenes = random_batch(generator, 3, 3)
    fine = ops.render_scenes(scenes, 36, 44)["rgb"]
    coarse = ops.render_scenes(scenes, 18, 22, samples=2)
    error = (coarse["rgb"] - torch.nn.functional.avg_pool2d(fine, 2)).abs().amax(dim=1)
    assert (error > 1e-4).float().mean() < 2e-3
    plain = ops.render_scenes(scenes, 18, 22)
    for key in ("depth", "normals", "ids", "edges"):  # labels come from the centre ray alone
        assert torch.equal(coarse[key], plain[key])


# --------------------------------------------------------------------------- edges
def id_contours(ids: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Near side of every id change between 4-neighbours (background is far)."""
    far = np.where(ids > 0, depth, np.inf)
    padded_ids = np.pad(ids, 1, constant_values=-1)
    padded_far = np.pad(far, 1, constant_values=-np.inf)
    edges = np.zeros(ids.shape, dtype=bool)
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        q_ids = padded_ids[1 + dy:1 + dy + ids.shape[0], 1 + dx:1 + dx + ids.shape[1]]
        q_far = padded_far[1 + dy:1 + dy + ids.shape[0], 1 + dx:1 + dx + ids.shape[1]]
        edges |= (q_ids != ids) & (q_ids != -1) & (far <= q_far)
    return edges


def test_edges_lie_on_id_changes(generator):
    # At least ~4.5 pixels of radius: smooth enough that no two neighbours'
    # normals are 45 degrees apart, so every contour is an id change.
    scenes = random_batch(generator, 6, 5, kinds=("sphere",), with_plane=False, scale=(0.7, 1.2))
    out = ops.render_scenes(scenes, 64, 64)
    for b in range(6):
        ids, depth = out["ids"][b, 0].numpy(), out["depth"][b, 0].numpy()
        edges = out["edges"][b, 0].numpy().astype(bool)
        assert np.array_equal(edges, id_contours(ids, depth))
        # every id change has its contour on one side or the other
        change = ids[:, 1:] != ids[:, :-1]
        assert (edges[:, 1:] | edges[:, :-1])[change].all()
    assert set(out["edges"].unique().tolist()) == {0.0, 1.0}


def test_box_creases_are_edges_below_the_crease_angle():
    scenes = Scenes.build([scene_object("box", (0, 0, 5), rotation=ops.axis_angle((1, 1, 0), 40), scale=1.0)],
                          [scene_light()])
    ids = ops.render_scenes(scenes, 64, 64)["ids"][0, 0].numpy()
    for angle, creases in ((45.0, True), (120.0, False)):
        out = ops.render_scenes(scenes, 64, 64, crease_angle=angle)
        edges = out["edges"][0, 0].numpy().astype(bool)
        inner = edges & ~id_contours(ids, out["depth"][0, 0].numpy())
        assert inner.any() == creases
        assert not (edges & (ids == 0)).any()


# --------------------------------------------------------------------------- sampler
def test_same_index_gives_the_same_scene_in_any_batch():
    index = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    whole = ops.sample_scenes(9, index, n_objects=(0, 3))
    for chunk in index.split(41):
        part = ops.sample_scenes(9, chunk, n_objects=(0, 3))
        rows = (index[:, None] == chunk[None]).nonzero()[:, 0]
        assert torch.equal(part.objects, whole.objects[rows])
        assert torch.equal(part.lights, whole.lights[rows])
        assert torch.equal(part.camera, whole.camera[rows])
    other = ops.sample_scenes(10, index, n_objects=(0, 3))
    assert not torch.equal(other.objects, whole.objects)
    image = ops.render_scenes(whole[:8], 32, 32)["rgb"]
    assert torch.equal(image, ops.render_scenes(ops.sample_scenes(9, index[:8], n_objects=(0, 3)), 32, 32)["rgb"])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), low=st.integers(0, 5), extra=st.integers(0, 3),
       classes=st.lists(st.sampled_from(ops.render.SAMPLED_KINDS), min_size=1, max_size=4, unique=True),
       plane=st.sampled_from([0.0, 0.5, 1.0]))
def test_sample_scenes_follow_their_arguments(seed, low, extra, classes, plane):
    high = low + extra
    scenes = ops.sample_scenes(seed, torch.arange(64), n_objects=(low, high), classes=classes, ground_plane=plane)
    slots = high + (1 if plane > 0 else 0)
    assert scenes.objects.shape == (64, slots, 21) and scenes.lights.shape == (64, 3, 7)
    kinds = scenes.kinds[:, :high]
    counts = (kinds != 0).sum(1)
    assert counts.min() >= low and counts.max() <= high
    allowed = {ops.PRIMITIVES.index(c) for c in classes}
    assert set(kinds[kinds != 0].tolist()) <= allowed
    assert ((kinds != 0).cumsum(1) == torch.arange(1, high + 1).clamp(max=counts[:, None])).all()  # packed first
    if plane > 0:
        has_plane = scenes.kinds[:, -1] == ops.PRIMITIVES.index("plane")
        assert has_plane.all() if plane == 1.0 else 0 < has_plane.sum() < 64
        assert (scenes.kinds[:, -1][~has_plane] == 0).all()
    used = scenes.objects[scenes.kinds != 0]
    torch.testing.assert_close(used[:, 4:8].norm(dim=1), torch.ones(len(used)))
    assert (used[:, 8:11] > 0).all() and used.isfinite().all()
    n_lights = (scenes.lights[..., 0] == 1).sum(1)
    assert n_lights.min() >= 1 and n_lights.max() <= 3
    ops.render_scenes(scenes, 8, 8)  # passes every value check


def test_central_object_is_at_the_image_centre_and_classes_are_balanced():
    n = 4000
    scenes = ops.sample_scenes(3, torch.arange(n), n_objects=(1, 3), central=True, ground_plane=0.5)
    out = ops.render_scenes(scenes[:300], 33, 33)
    assert (out["ids"][:, 0, 16, 16] == 1).all()
    counts = torch.bincount(scenes.kinds[:, 0], minlength=5)[1:5].double()
    chi2 = ((counts - n / 4) ** 2 / (n / 4)).sum()
    assert chi2 < 16.3  # p = 0.001 for 3 degrees of freedom


# --------------------------------------------------------------------------- layout helpers
def test_scene_rows_follow_the_documented_layout():
    row = scene_object("cone", (1, 2, 3), rotation=(0.5, 0.5, 0.5, 0.5), scale=(0.1, 0.2, 0.3),
                       color=(0.4, 0.5, 0.6), texture="noise", texture_color=0.7, frequency=3.0,
                       texture_seed=12, specular=0.25)
    want = [4, 1, 2, 3, 0.5, 0.5, 0.5, 0.5, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.7, 0.7, 3, 3.0, 12, 0.25]
    torch.testing.assert_close(row, torch.tensor(want))
    torch.testing.assert_close(scene_light("point", (1, 2, 3), 0.5), torch.tensor([2, 1, 2, 3, 0.5, 0.5, 0.5]))
    torch.testing.assert_close(scene_camera(1.2, 0.3, (0.1, 0.2, 0.3)), torch.tensor([1.2, 0.3, 0.1, 0.2, 0.3]))
    q = ops.axis_angle((0, 0, 2), 90)
    assert q == pytest.approx((math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)))


def test_scenes_cat_pads_with_empty_slots_and_rendering_ignores_them(generator):
    one = random_scene(generator, 2)
    two = random_scene(generator, 4)
    both = Scenes.cat([one, two])
    assert both.objects.shape == (2, 4, 21) and (both.objects[0, 2:] == 0).all()
    alone = ops.render_scenes(one, 16, 16)
    together = ops.render_scenes(both, 16, 16)
    for key in alone:
        assert torch.equal(together[key][:1], alone[key])
    assert len(both[1]) == 1 and torch.equal(both[1].objects, two.objects)


def test_scenes_without_objects_or_lights():
    empty = Scenes(torch.zeros(2, 0, 21), torch.zeros(2, 0, 7), scene_camera(background=(0.2, 0.4, 0.6)).expand(2, 5))
    out = ops.render_scenes(empty, 5, 7)
    assert (out["ids"] == 0).all() and (out["edges"] == 0).all() and (out["depth"] == 0).all()
    torch.testing.assert_close(out["rgb"], torch.tensor([0.2, 0.4, 0.6]).view(1, 3, 1, 1).expand(2, 3, 5, 7))
    ambient_only = Scenes.build([scene_object("sphere", (0, 0, 3), color=(0.5, 0.5, 0.5), specular=0.0)], [],
                                scene_camera(ambient=0.4))
    rgb = ops.render_scenes(ambient_only, 9, 9)["rgb"]
    torch.testing.assert_close(rgb[0, :, 4, 4], torch.full((3,), 0.2))


def test_non_contiguous_scenes_are_accepted(generator):
    scenes = random_batch(generator, 4, 3)
    def strided(t):
        return t.transpose(0, 1).contiguous().transpose(0, 1)

    strided = Scenes(strided(scenes.objects), strided(scenes.lights), strided(scenes.camera))
    assert not (strided.objects.is_contiguous() or strided.lights.is_contiguous() or strided.camera.is_contiguous())
    want = ops.render_scenes(scenes, 12, 12)
    got = ops.render_scenes(strided, 12, 12)
    for key in want:
        assert torch.equal(got[key], want[key])
    index = torch.arange(20)[::2]
    assert torch.equal(ops.sample_scenes(1, index).objects, ops.sample_scenes(1, index.contiguous()).objects)


# --------------------------------------------------------------------------- torch integration
def test_opcheck(generator):
    scenes = random_batch(generator, 2, 3)
    background = torch.rand(2, 3, 6, 5)
    opcheck(torch.ops.sslfast.render_scenes.default,
            (scenes.objects, scenes.lights, scenes.camera, 6, 5, 1, None, None, 45.0))
    opcheck(torch.ops.sslfast.render_scenes.default,
            (scenes.objects, scenes.lights, scenes.camera, 6, 5, 2, torch.uint8, background, 30.0))
    opcheck(torch.ops.sslfast.sample_scenes.default, (3, torch.arange(4), 1, 3, [1, 2, 3, 4], 0.5, False))
    opcheck(torch.ops.sslfast.sample_scenes.default, (3, torch.arange(4), 2, 2, [3], 0.0, True))


def test_torch_compile():
    def synthetic_batch(index):
        scenes = ops.sample_scenes(4, index, n_objects=(1, 3))
        out = ops.render_scenes(scenes, 16, 16)
        return out["rgb"] * 2 - 1, out["depth"], out["edges"]

    compiled = torch.compile(synthetic_batch, fullgraph=True)
    index = torch.arange(5)
    for got, want in zip(compiled(index), synthetic_batch(index)):
        assert torch.equal(got, want)


# --------------------------------------------------------------------------- bad input
def _scenes(**changes):
    scenes = Scenes.build([scene_object("sphere", (0, 0, 3)), scene_object("box", (1, 0, 4))], [scene_light()])
    objects, lights, camera = scenes.objects.clone(), scenes.lights.clone(), scenes.camera.clone()
    for key, (tensor, index, value) in changes.items():
        target = {"objects": objects, "lights": lights, "camera": camera}[tensor]
        target[index] = value
    return Scenes(objects, lights, camera)


NAN = float("nan")


@pytest.mark.parametrize("call, error, name", [
    (lambda: ops.render_scenes("scene", 8, 8), TypeError, "scenes"),
    (lambda: ops.render_scenes(Scenes(torch.zeros(1, 2, 20), torch.zeros(1, 1, 7), torch.ones(1, 5)), 8, 8),
     ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(Scenes(torch.zeros(1, 2, 21).double(), torch.zeros(1, 1, 7), torch.ones(1, 5)), 8, 8),
     TypeError, "scenes.objects"),
    (lambda: ops.render_scenes(Scenes(torch.zeros(1, 2, 21), torch.zeros(1, 7), torch.ones(1, 5)), 8, 8),
     ValueError, "scenes.lights"),
    (lambda: ops.render_scenes(Scenes(torch.zeros(2, 2, 21), torch.zeros(2, 1, 7), torch.ones(1, 5)), 8, 8),
     ValueError, "scenes.camera"),
    (lambda: ops.render_scenes(Scenes(torch.zeros(0, 2, 21), torch.zeros(0, 1, 7), torch.ones(0, 5)), 8, 8),
     ValueError, "scenes"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 0, 0), 7.0)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 0, 0), 1.5)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 1, 2), NAN)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 1, 4), float("inf"))), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 0, slice(4, 8)), 0.0)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 1, 9), -1.0)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 1, 17), 4.0)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("objects", (0, 1, 19), 2.0**24)), 8, 8), ValueError, "scenes.objects"),
    (lambda: ops.render_scenes(_scenes(k=("lights", (0, 0, 0), 3.0)), 8, 8), ValueError, "scenes.lights"),
    (lambda: ops.render_scenes(_scenes(k=("lights", (0, 0, 5), NAN)), 8, 8), ValueError, "scenes.lights"),
    (lambda: ops.render_scenes(_scenes(k=("camera", (0, 0), 0.0)), 8, 8), ValueError, "scenes.camera"),
    (lambda: ops.render_scenes(_scenes(k=("camera", (0, 3), NAN)), 8, 8), ValueError, "scenes.camera"),
    (lambda: ops.render_scenes(_scenes(), 0, 8), ValueError, "height"),
    (lambda: ops.render_scenes(_scenes(), 8.0, 8), TypeError, "height"),
    (lambda: ops.render_scenes(_scenes(), 8, 1 << 16), ValueError, "width"),
    (lambda: ops.render_scenes(_scenes(), 8, 8, samples=5), ValueError, "samples"),
    (lambda: ops.render_scenes(_scenes(), 8, 8, rgb_dtype=torch.float64), TypeError, "rgb_dtype"),
    (lambda: ops.render_scenes(_scenes(), 8, 8, crease_angle=0), ValueError, "crease_angle"),
    (lambda: ops.render_scenes(_scenes(), 8, 8, crease_angle="45"), TypeError, "crease_angle"),
    (lambda: ops.render_scenes(_scenes(), 8, 8, background=torch.zeros(1, 3, 8, 9)), ValueError, "background"),
    (lambda: ops.render_scenes(_scenes(), 8, 8, background=torch.zeros(1, 3, 8, 8).double()), TypeError,
     "background"),
    (lambda: ops.sample_scenes(1.0, torch.arange(3)), TypeError, "seed"),
    (lambda: ops.sample_scenes(1, torch.arange(3).int()), TypeError, "index"),
    (lambda: ops.sample_scenes(1, torch.arange(3), n_objects=(3, 2)), ValueError, "n_objects"),
    (lambda: ops.sample_scenes(1, torch.arange(3), n_objects=65), ValueError, "n_objects"),
    (lambda: ops.sample_scenes(1, torch.arange(3), n_objects="two"), TypeError, "n_objects"),
    (lambda: ops.sample_scenes(1, torch.arange(3), n_objects=0, central=True), ValueError, "n_objects"),
    (lambda: ops.sample_scenes(1, torch.arange(3), classes=("sphere", "plane")), ValueError, "classes"),
    (lambda: ops.sample_scenes(1, torch.arange(3), classes=("sphere", "teapot")), ValueError, "classes"),
    (lambda: ops.sample_scenes(1, torch.arange(3), classes=()), ValueError, "classes"),
    (lambda: ops.sample_scenes(1, torch.arange(3), ground_plane=1.5), ValueError, "ground_plane"),
    (lambda: scene_object("torus", (0, 0, 1)), ValueError, "kind"),
    (lambda: scene_object("box", (0, 0, 1), texture="marble"), ValueError, "texture"),
    (lambda: scene_object("box", (0, 0, 1), rotation=(1, 0, 0)), ValueError, "rotation"),
    (lambda: scene_light("spot"), ValueError, "kind"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name.replace('.', '[.]')}"):
        call()


def test_native_ops_guard_memory_when_called_directly():
    """Direct torch.ops calls skip the Python checks; the C++ side still refuses
    shapes that would read out of bounds, and turns bad rows into empty ones."""
    s = _scenes()
    render = torch.ops.sslfast.render_scenes
    with pytest.raises(ValueError, match="objects"):
        render(s.objects[:, :, :20].contiguous(), s.lights, s.camera, 4, 4, 1, None, None, 45.0)
    with pytest.raises(ValueError, match="camera"):
        render(s.objects, s.lights, torch.ones(2, 5), 4, 4, 1, None, None, 45.0)
    with pytest.raises(ValueError, match="background"):
        render(s.objects, s.lights, s.camera, 4, 4, 1, None, torch.zeros(1, 3, 4, 5), 45.0)
    with pytest.raises(ValueError, match="samples"):
        render(s.objects, s.lights, s.camera, 4, 4, 9, None, None, 45.0)
    with pytest.raises(ValueError, match="classes"):
        torch.ops.sslfast.sample_scenes(0, torch.arange(2), 1, 2, [9], 0.0, False)
    broken = _scenes(a=("objects", (0, 0, 0), 9.0), b=("objects", (0, 1, slice(4, 8)), 0.0),
                     c=("lights", (0, 0, 0), NAN))
    out = render(broken.objects, broken.lights, broken.camera, 6, 6, 1, None, None, 45.0)
    assert (out[4] == 0).all() and out[0].isfinite().all()  # nothing drawn, nothing undefined


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_a_value_error():
    s = _scenes()
    with pytest.raises(ValueError, match="^scenes.lights"):
        ops.render_scenes(Scenes(s.objects.cuda(), s.lights, s.camera.cuda()), 4, 4)


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", RGB_DTYPES)
def test_cuda_matches_cpu(dtype, generator):
    index = torch.arange(64)
    cpu_scenes = ops.sample_scenes(8, index, n_objects=(1, 4))
    gpu_scenes = ops.sample_scenes(8, index.cuda(), n_objects=(1, 4))
    assert torch.equal(cpu_scenes.kinds, gpu_scenes.kinds.cpu())
    torch.testing.assert_close(gpu_scenes.objects.cpu(), cpu_scenes.objects, atol=1e-5, rtol=1e-5)
    scenes = Scenes.cat([cpu_scenes, random_batch(generator, 8, 4)])
    background = torch.randint(0, 256, (len(scenes), 3, 40, 36), dtype=torch.uint8, generator=generator)
    cpu = ops.render_scenes(scenes, 40, 36, samples=2, rgb_dtype=dtype, background=background)
    gpu = ops.render_scenes(scenes.to("cuda"), 40, 36, samples=2, rgb_dtype=dtype, background=background.cuda())
    gpu = {k: v.cpu() for k, v in gpu.items()}
    # The GPU may fuse multiply-adds: a grazing ray may flip, nothing more.
    assert (cpu["ids"] == gpu["ids"]).float().mean() > 0.9995
    same = (cpu["ids"] == gpu["ids"])[:, 0]
    torch.testing.assert_close(gpu["depth"][:, 0][same], cpu["depth"][:, 0][same], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(gpu["normals"].permute(0, 2, 3, 1)[same], cpu["normals"].permute(0, 2, 3, 1)[same],
                               atol=1e-4, rtol=0)
    rgb_error = (gpu["rgb"].float() - cpu["rgb"].float()).abs().amax(1)[same]
    assert (rgb_error > (1.0 if dtype == torch.uint8 else 1e-2)).float().mean() < 2e-3
    assert (gpu["edges"] != cpu["edges"]).float().mean() < 2e-3


@pytest.mark.cuda
def test_cuda_opcheck_and_graph_capture():
    index = torch.arange(8, device="cuda")
    scenes = ops.sample_scenes(0, index)
    opcheck(torch.ops.sslfast.render_scenes.default,
            (scenes.objects, scenes.lights, scenes.camera, 8, 8, 1, None, None, 45.0))
    opcheck(torch.ops.sslfast.sample_scenes.default, (3, index, 1, 3, [1, 2], 0.5, True))
    ops.render_scenes(ops.sample_scenes(0, index), 16, 16)  # warm-up (value checks run eagerly)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = torch.ops.sslfast.render_scenes(*torch.ops.sslfast.sample_scenes(0, index, 1, 4, [1, 2, 3, 4], 0.5,
                                                                               False), 16, 16, 1, None, None, 45.0)
    graph.replay()
    want = ops.render_scenes(ops.sample_scenes(0, index), 16, 16)
    assert torch.equal(out[4], want["ids"])
    torch.testing.assert_close(out[0], want["rgb"])
