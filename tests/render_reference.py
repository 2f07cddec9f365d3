"""An independent renderer written from the documented specification of the
render family (the docstring of sslfast/ops/render.py), in numpy float64: the
oracle of tests/test_render.py and the plain-numpy peer of the render
benchmark.

It shares no code with the kernels and solves each step differently where
there is a choice: rotations come from scipy, boxes are six clipped face
planes (not slabs), quadrics use the textbook root formula, and every
object is intersected with every ray (no culling).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

NEAR = 1e-4
NOISE_FIELD = 0x4E6F6973
SPHERE, BOX, CYLINDER, CONE, PLANE = 1, 2, 3, 4, 5
FLAT, CHECKER, STRIPES, NOISE = 0, 1, 2, 3
DIRECTIONAL, POINT = 1, 2
EDGE_TOLERANCE = 1e-9  # slack on the bounds of faces and caps


# --------------------------------------------------------------------------- hash
def splitmix64(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def counter_hash(seed: int, index: np.ndarray, field: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        mixed = splitmix64(np.uint64(seed))
        return splitmix64(splitmix64(mixed ^ index.astype(np.uint64)) ^ np.uint64(field))


def value_noise(seed: int, g: np.ndarray) -> np.ndarray:
    """Trilinear value noise with smoothstep weights at points g [P, 3]."""
    base = np.floor(g)
    frac = g - base
    weight = frac * frac * (3 - 2 * frac)
    total = np.zeros(len(g))
    for corner in range(8):
        offset = np.array([corner & 1, (corner >> 1) & 1, (corner >> 2) & 1])
        lattice = np.mod(base + offset, 2**21).astype(np.uint64)
        key = lattice[:, 0] | (lattice[:, 1] << np.uint64(21)) | (lattice[:, 2] << np.uint64(42))
        value = (counter_hash(seed, key, NOISE_FIELD) >> np.uint64(40)).astype(np.float64) / 2**24
        total += value * np.prod(np.where(offset == 1, weight, 1 - weight), axis=1)
    return total


def texture_weight(row: np.ndarray, p: np.ndarray) -> np.ndarray:
    kind, frequency, seed = int(row[17]), row[18], int(row[19])
    g = frequency * p
    if kind == CHECKER:
        return np.mod(np.floor(g).sum(axis=1), 2)
    if kind == STRIPES:
        return np.mod(np.floor(g[:, 0]), 2)
    if kind == NOISE:
        return 0.65 * value_noise(seed, g) + 0.35 * value_noise(seed, 2 * g)
    return np.zeros(len(p))


# --------------------------------------------------------------------------- geometry
def _quadratic_roots(a, b, c):
    """Both roots of a t^2 + b t + c = 0 per ray (NaN where there is none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.where(b * b - 4 * a * c >= 0, b * b - 4 * a * c, np.nan))
        return (-b - root) / (2 * a), (-b + root) / (2 * a)


def _candidates(kind, o, d):
    """(t [P], local outward normal function) pairs of every surface piece
    of the unit shape that the rays o + t d [P, 3] meet (t NaN where not)."""
    ox, oy, oz = o
    dx, dy, dz = d.T
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == SPHERE:
            for t in _quadratic_roots((d * d).sum(1), 2 * (d @ o), o @ o - 1):
                out.append((t, lambda p: p))
        elif kind == BOX:
            for axis in range(3):
                for sign in (-1.0, 1.0):
                    t = (sign - o[axis]) / d[:, axis]
                    p = o + t[:, None] * d
                    others = [i for i in range(3) if i != axis]
                    inside = (np.abs(p[:, others]) <= 1 + EDGE_TOLERANCE).all(axis=1)
                    normal = np.eye(3)[axis] * sign
                    out.append((np.where(inside, t, np.nan), lambda p, n=normal: np.broadcast_to(n, p.shape)))
        elif kind in (CYLINDER, CONE):
            if kind == CYLINDER:
                a, b, c = dx**2 + dz**2, 2 * (ox * dx + oz * dz), ox**2 + oz**2 - 1
                side_normal = lambda p: p * np.array([1.0, 0.0, 1.0])  # noqa: E731
                caps = (1.0, -1.0)
            else:  # x^2 + z^2 = ((1 - y) / 2)^2
                k = 1 - oy
                a = dx**2 + dz**2 - dy**2 / 4
                b = 2 * (ox * dx + oz * dz) + k * dy / 2
                c = ox**2 + oz**2 - k**2 / 4
                side_normal = lambda p: np.stack([2 * p[:, 0], (1 - p[:, 1]) / 2, 2 * p[:, 2]], 1)  # noqa: E731
                caps = (-1.0,)
            for t in _quadratic_roots(a, b, c):
                y = oy + t * dy
                out.append((np.where(np.abs(y) <= 1 + EDGE_TOLERANCE, t, np.nan), side_normal))
            for level in caps:
                t = (level - oy) / dy
                radius2 = (ox + t * dx) ** 2 + (oz + t * dz) ** 2
                normal = np.array([0.0, level, 0.0])
                out.append((np.where(radius2 <= 1 + EDGE_TOLERANCE, t, np.nan),
                            lambda p, n=normal: np.broadcast_to(n, p.shape)))
        elif kind == PLANE:
            out.append((-oy / dy, lambda p: np.broadcast_to(np.array([0.0, 1.0, 0.0]), p.shape)))
    return out


def cast(objects: np.ndarray, rays: np.ndarray):
    """Nearest hit of each camera ray [P, 3] among one scene's objects [N, 21]:
    depth (inf on a miss), slot (-1), unit normal facing the camera, and the
    hit point in unit-shape coordinates with its unit local normal."""
    n_rays = len(rays)
    depth = np.full(n_rays, np.inf)
    slot = np.full(n_rays, -1)
    normal = np.zeros((n_rays, 3))
    local_point = np.zeros((n_rays, 3))
    local_normal = np.zeros((n_rays, 3))
    for i, row in enumerate(objects):
        kind = int(row[0])
        if kind == 0:
            continue
        position, scale = row[1:4], row[8:11]
        w, x, y, z = row[4:8]
        rotation = Rotation.from_quat([x, y, z, w]).as_matrix()  # normalises
        o = rotation.T @ (-position) / scale
        d = (rays @ rotation) / scale  # rows: R^T ray / s
        for t, normal_of in _candidates(kind, o, d):
            better = np.isfinite(t) & (t > NEAR) & (t < depth)
            if not better.any():
                continue
            p = o + t[better, None] * d[better]
            n_local = normal_of(p)
            n = (n_local / scale) @ rotation.T  # R (n / s)
            n /= np.linalg.norm(n, axis=1, keepdims=True)
            facing = np.where(((n * rays[better]).sum(1) > 0)[:, None], -n, n)
            depth[better], slot[better], normal[better] = t[better], i, facing
            local_point[better] = p
            local_normal[better] = n_local / np.linalg.norm(n_local, axis=1, keepdims=True)
    return depth, slot, normal, local_point, local_normal


def shade(objects, lights, camera, rays, hits, background_colors):
    """Colour of each ray [P, 3] by the documented lighting model."""
    depth, slot, normal, local_point, local_normal = hits
    color = background_colors.copy()
    hit = slot >= 0
    for i in np.unique(slot[hit]):
        sel = slot == i
        row = objects[i]
        w = texture_weight(row, local_point[sel] - 0.01 * local_normal[sel])
        albedo = row[11:14] + w[:, None] * (row[14:17] - row[11:14])
        n = normal[sel]
        point = depth[sel, None] * rays[sel]
        to_eye = -rays[sel] / np.linalg.norm(rays[sel], axis=1, keepdims=True)
        light_sum = np.full((sel.sum(), 3), camera[1])
        highlight = np.zeros((sel.sum(), 3))
        for light in lights:
            if int(light[0]) == DIRECTIONAL:
                to_light = np.broadcast_to(light[1:4] / np.linalg.norm(light[1:4]), n.shape)
            elif int(light[0]) == POINT:
                to_light = light[1:4] - point
                to_light = to_light / np.linalg.norm(to_light, axis=1, keepdims=True)
            else:
                continue
            lambert = (n * to_light).sum(1)
            lit = lambert > 0
            light_sum += np.where(lit, lambert, 0)[:, None] * light[4:7]
            mirror = 2 * lambert[:, None] * n - to_light
            r_dot_v = np.maximum((mirror * to_eye).sum(1), 0)
            highlight += np.where(lit, row[20] * r_dot_v**32, 0)[:, None] * light[4:7]
        color[sel] = albedo * light_sum + highlight
    return np.clip(color, 0, 1)


def camera_rays(camera, height, width, offsets_x, offsets_y):
    """Rays through pixel coordinates (x + offset_x, y + offset_y), [H*W, 3]."""
    ys, xs = np.meshgrid(np.arange(height) + offsets_y, np.arange(width) + offsets_x, indexing="ij")
    focal = camera[0] * width
    return np.stack([(xs.ravel() - width / 2) / focal, (ys.ravel() - height / 2) / focal,
                     np.ones(height * width)], axis=1)


def edge_map(ids: np.ndarray, depth: np.ndarray, normals: np.ndarray, crease_angle: float) -> np.ndarray:
    """Contours of one image (ids, depth [H, W], normals [3, H, W]) by the spec."""
    far = np.where(ids > 0, depth, np.inf)
    edges = np.zeros(ids.shape, dtype=bool)
    cos = np.cos(np.radians(crease_angle))
    h, w = ids.shape
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        ys, xs = np.mgrid[0:h, 0:w]
        qy, qx = ys + dy, xs + dx
        valid = (qy >= 0) & (qy < h) & (qx >= 0) & (qx < w)
        qy, qx = np.clip(qy, 0, h - 1), np.clip(qx, 0, w - 1)
        same = ids[qy, qx] == ids
        bend = (normals * normals[:, qy, qx]).sum(0) < cos
        jump = ~same | (same & (ids > 0) & bend)
        edges |= valid & jump & (far <= far[qy, qx])
    return edges


def render(objects, lights, camera, height, width, *, samples=1, background=None, crease_angle=45.0):
    """Numpy float64 rendering of a batch; arguments as in
    sslfast.ops.render_scenes (tensors or arrays), outputs as numpy arrays."""
    objects, lights, camera = (np.asarray(t, dtype=np.float64) for t in (objects, lights, camera))
    if background is not None:
        background = np.asarray(background, dtype=np.float64)
        if np.asarray(background).max() > 1:
            background = background / 255
    batch = len(objects)
    out = {"rgb": np.zeros((batch, 3, height, width)), "depth": np.zeros((batch, 1, height, width)),
           "normals": np.zeros((batch, 3, height, width)), "edges": np.zeros((batch, 1, height, width)),
           "ids": np.zeros((batch, 1, height, width), dtype=np.int64)}
    for b in range(batch):
        if background is None:
            back = np.broadcast_to(camera[b, 2:5], (height * width, 3))
        else:
            back = background[b].reshape(3, -1).T
        centre = camera_rays(camera[b], height, width, 0.5, 0.5)
        hits = cast(objects[b], centre)
        depth, slot, normal = hits[:3]
        if samples == 1:
            rgb = shade(objects[b], lights[b], camera[b], centre, hits, back)
        else:
            rgb = np.zeros((height * width, 3))
            for j in range(samples):
                for i in range(samples):
                    rays = camera_rays(camera[b], height, width, (i + 0.5) / samples, (j + 0.5) / samples)
                    rgb += shade(objects[b], lights[b], camera[b], rays, cast(objects[b], rays), back)
            rgb /= samples * samples
        out["rgb"][b] = rgb.T.reshape(3, height, width)
        out["depth"][b, 0] = np.where(slot >= 0, depth, 0).reshape(height, width)
        out["normals"][b] = normal.T.reshape(3, height, width)
        out["ids"][b, 0] = (slot + 1).reshape(height, width)
        out["edges"][b, 0] = edge_map(out["ids"][b, 0], out["depth"][b, 0], out["normals"][b], crease_angle)
    return out


def _numpy(value) -> np.ndarray:
    return value.detach().cpu().float().numpy() if hasattr(value, "detach") else np.asarray(value, np.float64)


def assert_renders_match(got: dict, want: dict, camera, rgb_atol: float = 2e-3) -> None:
    """A float32 render (render_scenes' outputs, tensors or arrays) of scenes
    with cameras ``camera [B, 5]`` against this oracle's, to float32 accuracy
    where the problem is well conditioned.

    A ray that grazes a surface is not: it may hit in one renderer and miss
    in the other, and its depth and normal are sensitive to rounding. So ids
    must agree on all but 1 pixel in 2,000 and edges on all but 1 in 500;
    where ids agree, depth within 3e-4 relative once scaled by |cos| of the
    incidence angle; away from contours (ids agree, neither marks an edge),
    normals within 2e-3 and rgb within ``rgb_atol`` on all but 1 pixel in
    1,000 (a pixel centre on a texture-cell boundary may fall either side).
    """
    got = {key: _numpy(value) for key, value in got.items()}
    want = {key: _numpy(value) for key, value in want.items()}
    same = (got["ids"] == want["ids"])[:, 0]
    assert same.mean() >= 0.9995, f"ids differ at {(~same).sum()} pixels"
    assert (got["edges"] != want["edges"]).mean() < 2e-3, f"edges differ at {(got['edges'] != want['edges']).sum()}"
    batch, _, height, width = want["depth"].shape
    hit = same & (want["ids"][:, 0] > 0)
    rays = np.stack([camera_rays(row, height, width, 0.5, 0.5) for row in _numpy(camera)])
    rays = rays.reshape(batch, height, width, 3).transpose(0, 3, 1, 2)
    cos = np.abs((rays * want["normals"]).sum(1)) / np.linalg.norm(rays, axis=1)
    depth_error = np.abs(got["depth"] - want["depth"])[:, 0] / np.maximum(want["depth"][:, 0], 1e-6)
    assert (depth_error * cos)[hit].max() < 3e-4, f"depth differs by {(depth_error * cos)[hit].max():.2e}"
    assert (depth_error[same & ~hit] == 0).all() and np.allclose(np.linalg.norm(got["normals"], axis=1)[hit], 1, atol=1e-5)
    inner = same & (got["edges"][:, 0] == 0) & (want["edges"][:, 0] == 0)
    normal_error = np.abs(got["normals"] - want["normals"]).max(axis=1)[inner]
    assert normal_error.max() < 2e-3, f"normals differ by {normal_error.max():.2e}"
    rgb_error = np.abs(got["rgb"] - want["rgb"]).max(axis=1)[inner]
    assert (rgb_error > rgb_atol).mean() < 1e-3 and np.median(rgb_error) < 1e-4, "rgb differs"
