"""colour family: rgb_to_lab, lab_to_rgb, ab_gamut_bins, ab_encode,
colorization_batch, ab_prior / ABPriorAccumulator, ab_decode, quantize_l and
the rebalanced soft cross-entropy.

Oracles: scikit-image (float64 Lab, the reference), kornia and OpenCV (Lab),
scipy (convex hull), and torch/numpy code written here from the paper's
formulas (brute-force nearest bins, prior weights, annealed mean, loss)."""
import cv2
import kornia
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy.spatial import ConvexHull, Delaunay
from skimage.color import lab2rgb, rgb2lab
from torch.library import opcheck

from sslfast import ops
from sslfast.data.photos import load_photos
from sslfast.losses import rebalanced_soft_cross_entropy

ALL_DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]
FLOAT_DTYPES = [torch.float32, torch.float16, torch.bfloat16]


def random_images(shape, dtype, generator):
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator).to(dtype)


def skimage_lab(images: torch.Tensor) -> torch.Tensor:
    """scikit-image's rgb2lab in float64 on the exact input values, NCHW."""
    x = images.permute(0, 2, 3, 1).numpy() if images.dtype == torch.uint8 else \
        images.double().permute(0, 2, 3, 1).numpy()
    return torch.from_numpy(rgb2lab(x)).permute(0, 3, 1, 2)


def photo_crops(size=48, count=6, seed=0):
    """Random crops of the real photographs bundled with scikit-image/sklearn."""
    rng = np.random.default_rng(seed)
    photos = list(load_photos().values())
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        y, x = rng.integers(0, photo.shape[0] - size), rng.integers(0, photo.shape[1] - size)
        crops.append(photo[y:y + size, x:x + size])
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


@pytest.fixture(scope="module")
def bins():
    return ops.ab_gamut_bins()


# --------------------------------------------------------------------------- rgb_to_lab
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_rgb_to_lab_matches_skimage(dtype, generator):
    images = random_images((3, 3, 17, 23), dtype, generator)
    images[0, :, 0, :4] = torch.tensor([[0, 1, 0, 1], [0, 1, 1, 0], [0, 1, 0, 0]]).to(dtype) * \
        (255 if dtype == torch.uint8 else 1)  # black, white, green, red
    got = ops.rgb_to_lab(images)
    assert got.dtype == torch.float32 and got.shape == images.shape
    torch.testing.assert_close(got.double(), skimage_lab(images), atol=1e-3, rtol=0)


def test_rgb_to_lab_matches_skimage_on_photographs():
    images = photo_crops()
    torch.testing.assert_close(ops.rgb_to_lab(images).double(), skimage_lab(images), atol=1e-3, rtol=0)
    as_float = images.float() / 255
    torch.testing.assert_close(ops.rgb_to_lab(as_float).double(), skimage_lab(as_float), atol=1e-3, rtol=0)


@pytest.mark.parametrize("out_dtype", [torch.float16, torch.bfloat16])
def test_rgb_to_lab_low_precision_output(out_dtype, generator):
    images = random_images((2, 3, 9, 9), torch.uint8, generator)
    got = ops.rgb_to_lab(images, out_dtype=out_dtype)
    assert got.dtype == out_dtype
    torch.testing.assert_close(got.double(), skimage_lab(images), atol=0.5 if out_dtype == torch.bfloat16 else 0.06,
                               rtol=0)


def test_rgb_to_lab_close_to_opencv_and_kornia(generator):
    images = random_images((4, 3, 20, 24), torch.float32, generator)
    ours = ops.rgb_to_lab(images)
    torch.testing.assert_close(ours, kornia.color.rgb_to_lab(images), atol=2e-4, rtol=0)
    opencv = np.stack([cv2.cvtColor(np.ascontiguousarray(im.permute(1, 2, 0).numpy()), cv2.COLOR_RGB2Lab)
                       for im in images])
    # OpenCV's float path interpolates its own tables: up to about 0.6 off.
    torch.testing.assert_close(ours, torch.from_numpy(opencv).permute(0, 3, 1, 2), atol=1.0, rtol=0)


def test_rgb_to_lab_clips_out_of_range_floats(generator):
    images = torch.randn((2, 3, 8, 8), generator=generator) * 2
    images[0, 0, 0, 0] = 1e30
    images[0, 1, 0, 0] = -1e30
    torch.testing.assert_close(ops.rgb_to_lab(images), ops.rgb_to_lab(images.clamp(0, 1)), atol=0, rtol=0)


def test_rgb_to_lab_accepts_non_contiguous_input(generator):
    base = random_images((2, 3, 12, 10), torch.uint8, generator)
    strided = torch.cat([base, base], 3)[..., 0::2]
    for images in (base.to(memory_format=torch.channels_last), strided, base.transpose(2, 3)):
        got = ops.rgb_to_lab(images)
        assert got.is_contiguous()
        torch.testing.assert_close(got.double(), skimage_lab(images), atol=1e-3, rtol=0)


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 3), height=st.integers(1, 13), width=st.integers(1, 13),
       dtype=st.sampled_from(ALL_DTYPES), seed=st.integers(0, 2**32 - 1))
def test_rgb_to_lab_property(batch, height, width, dtype, seed):
    images = random_images((batch, 3, height, width), dtype, torch.Generator().manual_seed(seed))
    torch.testing.assert_close(ops.rgb_to_lab(images).double(), skimage_lab(images), atol=1e-3, rtol=0)


# --------------------------------------------------------------------------- lab_to_rgb
def test_round_trip_within_1e4(generator):
    images = torch.rand((4, 3, 31, 29), generator=generator)
    torch.testing.assert_close(ops.lab_to_rgb(ops.rgb_to_lab(images)), images, atol=1e-4, rtol=0)
    photos = photo_crops(count=3)
    torch.testing.assert_close(ops.lab_to_rgb(ops.rgb_to_lab(photos), out_dtype=torch.uint8), photos, atol=0, rtol=0)


def test_lab_to_rgb_matches_skimage(generator):
    lab = skimage_lab(torch.rand((2, 3, 10, 10), generator=generator, dtype=torch.float64)).float()
    want = lab2rgb(lab.double().permute(0, 2, 3, 1).numpy())
    torch.testing.assert_close(ops.lab_to_rgb(lab), torch.from_numpy(want).permute(0, 3, 1, 2).float(),
                               atol=1e-4, rtol=0)


def test_lab_to_rgb_clip(generator):
    lab = torch.tensor([[50.0, 120.0, 0.0], [50.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 2)  # out of gamut, gray
    clipped, unclipped = ops.lab_to_rgb(lab), ops.lab_to_rgb(lab, clip=False)
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert unclipped[0, 1, 0, 0] < 0 and unclipped[0, 0, 0, 0] > 1
    torch.testing.assert_close(clipped[..., 1], unclipped[..., 1])
    want = lab2rgb(lab.double().permute(0, 2, 3, 1).numpy())  # skimage clips too
    torch.testing.assert_close(clipped, torch.from_numpy(want).permute(0, 3, 1, 2).float(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_lab_to_rgb_dtypes(dtype, generator):
    images = torch.rand((2, 3, 6, 6), generator=generator)
    lab = ops.rgb_to_lab(images).to(dtype)
    out = ops.lab_to_rgb(lab)
    assert out.dtype == dtype
    want = lab2rgb(lab.double().permute(0, 2, 3, 1).numpy())
    torch.testing.assert_close(out.double(), torch.from_numpy(want).permute(0, 3, 1, 2), atol=1e-2, rtol=0)


# --------------------------------------------------------------------------- gamut bins
def test_gamut_has_313_bins_on_the_grid(bins):
    assert bins.shape == (313, 2) and bins.dtype == torch.float32
    assert torch.equal(bins, (bins / 10).round() * 10)
    assert torch.equal(bins, torch.unique(bins, dim=0))  # sorted by a, then b, no repeats


def test_gamut_bins_match_scipy_hull_oracle(bins):
    """Independent derivation: scikit-image Lab of the whole 8-bit cube at 52
    levels per channel plus its surface at full resolution, scipy's hull, and
    a dense sampling of each candidate square."""
    levels = np.linspace(0, 1, 52)
    cube = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
    full = np.arange(256) / 255
    u, v = [w.reshape(-1) for w in np.meshgrid(full, full, indexing="ij")]
    faces = [np.insert(np.stack([u, v], 1), c, value, axis=1) for c in range(3) for value in (0.0, 1.0)]
    colours = np.concatenate([cube] + faces)
    ab = rgb2lab(colours.reshape(1, -1, 3))[0, :, 1:]
    hull = Delaunay(ab[ConvexHull(ab).vertices])
    offsets = np.stack(np.meshgrid(np.linspace(-10, 10, 41), np.linspace(-10, 10, 41), indexing="ij"), -1)
    offsets = offsets.reshape(-1, 2)
    grid = np.arange(-150, 151, 10)
    centres = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    inside = hull.find_simplex((centres[:, None, :] + offsets).reshape(-1, 2)).reshape(len(centres), -1) >= 0
    want = {tuple(c) for c in centres[inside.any(axis=1)].tolist()}
    assert {tuple(c) for c in bins.int().tolist()} == want


@pytest.mark.parametrize("grid", [5.0, 10.0, 20.0])
def test_every_srgb_colour_has_its_cell_corners_in_the_bins(grid, generator):
    bins = ops.ab_gamut_bins(grid)
    assert torch.equal(bins, (bins / grid).round() * grid)
    colours = torch.randint(0, 256, (1, 3, 1, 50000), dtype=torch.uint8, generator=generator)
    ab = skimage_lab(colours)[0, 1:, 0].T / grid
    corners = torch.cat([torch.stack([ab[:, 0].floor() + da, ab[:, 1].floor() + db], 1)
                         for da in (0, 1) for db in (0, 1)]).unique(dim=0)
    known = {tuple(c) for c in (bins / grid).round().int().tolist()}
    assert all(tuple(c) in known for c in corners.int().tolist())
    # ... and every bin is within one grid step of some colour's cell (none far out).
    assert len(known) < 1.3 * len(corners)


# --------------------------------------------------------------------------- ab_encode
def brute_force_encoding(ab, bins, k, sigma, stride):
    """Nearest bins by float64 distance, ties to the lower index; Gaussian weights."""
    sub = ab[:, :, ::stride, ::stride].double()
    b, _, h, w = sub.shape
    points = sub.permute(0, 2, 3, 1).reshape(-1, 2)
    d2 = torch.cdist(points, bins.double()) ** 2
    order = torch.sort(d2, dim=1, stable=True).indices[:, :k]
    near = torch.gather(d2, 1, order)
    weight = torch.exp(-(near - near[:, :1]) / (2 * sigma ** 2))
    weight = weight / weight.sum(1, keepdim=True)
    to_planes = lambda t: t.reshape(b, h, w, k).permute(0, 3, 1, 2)  # noqa: E731
    return to_planes(order), to_planes(weight), to_planes(d2.gather(1, order))


def assert_encoding_matches(index, weight, ab, bins, k, sigma, stride, atol=1e-5):
    want_index, want_weight, distance = brute_force_encoding(ab, bins, k, sigma, stride)
    # Where two bins are equidistant to within float rounding their order may differ.
    differs = index != want_index
    if differs.any():
        all_d2 = torch.cdist(ab[:, :, ::stride, ::stride].double().permute(0, 2, 3, 1).reshape(-1, 2),
                             bins.double()) ** 2
        got_d2 = all_d2.gather(1, index.permute(0, 2, 3, 1).reshape(-1, k)).reshape(
            index.shape[0], index.shape[2], index.shape[3], k).permute(0, 3, 1, 2)
        assert ((got_d2 - distance).abs()[differs] < 1e-3).all()
    torch.testing.assert_close(weight.double(), want_weight, atol=atol, rtol=0)


@pytest.mark.parametrize("k, sigma, stride", [(5, 5.0, 4), (10, 5.0, 4), (1, 5.0, 1), (16, 2.0, 3), (5, 20.0, 2)])
def test_ab_encode_finds_the_truly_nearest_bins(bins, k, sigma, stride, generator):
    lab = ops.rgb_to_lab(random_images((3, 3, 21, 26), torch.uint8, generator))
    ab = lab[:, 1:]
    index, weight = ops.ab_encode(ab, bins, k=k, sigma=sigma, stride=stride)
    assert index.shape == (3, k, 6 if stride == 4 else (21 + stride - 1) // stride, (26 + stride - 1) // stride)
    assert index.dtype == torch.int64 and weight.dtype == torch.float32
    torch.testing.assert_close(weight.sum(1), torch.ones_like(weight[:, 0]), atol=1e-6, rtol=0)
    assert (weight[:, :-1] >= weight[:, 1:]).all()  # nearest first
    assert_encoding_matches(index, weight, ab, bins, k, sigma, stride)


def test_ab_encode_out_of_gamut_and_arbitrary_bins(generator):
    ab = torch.randn((2, 2, 16, 16), generator=generator) * 150  # far beyond the table too
    ab[0, :, 0, 0] = torch.tensor([1e6, -1e6])
    scattered = (torch.rand((57, 2), generator=generator) - 0.5) * 200
    index, weight = ops.ab_encode(ab, scattered, k=7, stride=1)
    # Hundreds of units from the bins, float32 squared distances lose ~1e-2.
    assert_encoding_matches(index, weight, ab, scattered, 7, 5.0, 1, atol=1e-3)


def test_ab_encode_bin_centres_and_ties(bins):
    # At a centre the nearest bin is itself; midway between two bins the lower index wins.
    ab = bins[:40].T.reshape(1, 2, 1, 40).contiguous()
    index, _ = ops.ab_encode(ab, bins, k=5, stride=1)
    assert torch.equal(index[0, 0, 0], torch.arange(40))
    midpoint = torch.tensor([[[[5.0]], [[0.0]]]])  # between (0, 0) and (10, 0)
    index, weight = ops.ab_encode(midpoint, bins, k=2, stride=1)
    first, second = index[0, :, 0, 0].tolist()
    assert {tuple(bins[first].tolist()), tuple(bins[second].tolist())} == {(0.0, 0.0), (10.0, 0.0)} and first < second
    torch.testing.assert_close(weight[0, :, 0, 0], torch.tensor([0.5, 0.5]))


def test_ab_encode_dense(bins, generator):
    ab = ops.rgb_to_lab(random_images((2, 3, 8, 8), torch.uint8, generator))[:, 1:]
    dense = ops.ab_encode(ab, bins, dense=True)
    index, weight = ops.ab_encode(ab, bins)
    assert dense.shape == (2, 313, 2, 2)
    torch.testing.assert_close(dense.sum(1), torch.ones(2, 2, 2))
    assert torch.equal(dense.gather(1, index), weight)
    assert (dense > 0).sum(1).eq(5).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_ab_encode_low_precision_input(bins, dtype, generator):
    ab = (torch.randn((2, 2, 9, 9), generator=generator) * 40).to(dtype)
    index, weight = ops.ab_encode(ab, bins, stride=2)
    want_index, want_weight = ops.ab_encode(ab.float(), bins, stride=2)
    assert torch.equal(index, want_index) and torch.equal(weight, want_weight)


def test_ab_encode_accepts_non_contiguous_ab(bins, generator):
    lab = ops.rgb_to_lab(random_images((2, 3, 12, 12), torch.uint8, generator))
    ab = lab[:, 1:]  # a view
    assert not ab.is_contiguous()
    got = ops.ab_encode(ab, bins)
    want = ops.ab_encode(ab.contiguous(), bins)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])


@settings(max_examples=25, deadline=None)
@given(batch=st.integers(1, 2), height=st.integers(1, 11), width=st.integers(1, 11), k=st.integers(1, 16),
       stride=st.integers(1, 5), sigma=st.floats(0.5, 30), seed=st.integers(0, 2**32 - 1))
def test_ab_encode_property(batch, height, width, k, stride, sigma, seed):
    generator = torch.Generator().manual_seed(seed)
    ab = (torch.rand((batch, 2, height, width), generator=generator) - 0.5) * 240
    bins = ops.ab_gamut_bins()
    index, weight = ops.ab_encode(ab, bins, k=k, sigma=sigma, stride=stride)
    # Out-of-gamut points lie tens of units from their bins: float32 squared
    # distances there carry ~1e-3 of rounding, which 1 / (2 sigma^2) amplifies.
    assert_encoding_matches(index, weight, ab, bins, k, sigma, stride, atol=max(1e-5, 1e-4 / sigma ** 2))


# --------------------------------------------------------------------------- colorization_batch
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_colorization_batch_equals_lab_then_encode(bins, dtype, generator):
    images = random_images((3, 3, 19, 22), dtype, generator)
    out = ops.colorization_batch(images, bins)
    lab = ops.rgb_to_lab(images)
    torch.testing.assert_close(out.lightness, (lab[:, :1] - 50) / 50, atol=1e-6, rtol=0)
    index, weight = ops.ab_encode(lab[:, 1:], bins)
    assert torch.equal(out.index, index) and torch.equal(out.weight, weight)
    assert out.grayscale.dtype == torch.bool and out.grayscale.shape == (3,)


def test_colorization_batch_matches_kornia_pipeline(bins):
    """The same pipeline in kornia + torch, from the definitions."""
    images = photo_crops(size=64, count=4, seed=3)
    out = ops.colorization_batch(images, bins, l_mean=50.0, l_std=1.0, k=5, stride=4)
    lab = kornia.color.rgb_to_lab(images.float() / 255).double()
    torch.testing.assert_close(out.lightness.double(), lab[:, :1] - 50, atol=2e-3, rtol=0)
    assert_encoding_matches(out.index, out.weight, lab[:, 1:], bins, 5, 5.0, 4)
    colour = (lab[:, 1:, ::4, ::4].abs() > 5).flatten(1).any(1)
    assert torch.equal(out.grayscale, ~colour)


def test_colorization_batch_grayscale_flag(bins, generator):
    gray = random_images((1, 1, 16, 16), torch.uint8, generator).expand(1, 3, 16, 16)
    faint = gray.clone()
    faint[0, 0] = faint[0, 0].clamp(max=250) + 3  # a slight red cast: |a| stays below 5
    coloured = gray.clone()
    coloured[0, 0, 8, 8] = 255  # one strongly coloured pixel, at a target position
    coloured[0, 1:, 8, 8] = 0
    off_grid = gray.clone()
    off_grid[0, 0, 9, 9] = 255  # the same, between target positions
    off_grid[0, 1:, 9, 9] = 0
    images = torch.cat([gray, faint, coloured, off_grid])
    assert ops.colorization_batch(images, bins).grayscale.tolist() == [True, True, False, True]
    ab = skimage_lab(images)[:, 1:, ::4, ::4]
    assert ((ab.abs() <= 5).flatten(1).all(1)).tolist() == [True, True, False, True]


def test_colorization_batch_options(bins, generator):
    images = random_images((2, 3, 10, 14), torch.uint8, generator)
    out = ops.colorization_batch(images, bins, k=10, sigma=3.0, stride=3, l_mean=0.0, l_std=100.0,
                                 out_dtype=torch.bfloat16)
    assert out.lightness.dtype == torch.bfloat16 and out.index.shape == (2, 10, 4, 5)
    lab = ops.rgb_to_lab(images)
    torch.testing.assert_close(out.lightness.float(), lab[:, :1] / 100, atol=4e-3, rtol=0)
    index, weight = ops.ab_encode(lab[:, 1:], bins, k=10, sigma=3.0, stride=3)
    assert torch.equal(out.index, index) and torch.equal(out.weight, weight)


def test_colorization_batch_accepts_non_contiguous_images(bins, generator):
    images = random_images((2, 3, 12, 12), torch.uint8, generator)
    for view in (images.to(memory_format=torch.channels_last), torch.cat([images, images], 2)[:, :, ::2]):
        got, want = ops.colorization_batch(view, bins), ops.colorization_batch(view.contiguous(), bins)
        assert all(torch.equal(g, w) for g, w in zip(got, want))


# --------------------------------------------------------------------------- prior, decode, L bins
def prior_oracle(counts, bins, lam, sigma):
    """Zhang et al. eq. 4 in numpy, from the paper."""
    p = counts / counts.sum()
    d2 = ((bins[:, None, :] - bins[None, :, :]) ** 2).sum(-1)
    smooth = np.exp(-d2 / (2 * sigma ** 2)) @ p
    smooth /= smooth.sum()
    w = 1 / ((1 - lam) * smooth + lam / len(p))
    return w / (smooth * w).sum(), smooth


def test_ab_prior_weights(bins, generator):
    counts = torch.rand(313, generator=generator, dtype=torch.float64) ** 4 * 1000
    counts[:50] = 0
    weights = ops.ab_prior(counts, bins)
    want, smooth = prior_oracle(counts.numpy(), bins.double().numpy(), 0.5, 5.0)
    torch.testing.assert_close(weights.double(), torch.from_numpy(want), rtol=1e-5, atol=0)
    assert abs(float((torch.from_numpy(smooth) * weights.double()).sum()) - 1) < 1e-5  # mean weight 1
    rare, common = counts.argmin(), counts.argmax()
    assert weights[rare] > weights[common]
    torch.testing.assert_close(ops.ab_prior(counts, bins, lam=1.0), torch.ones(313))
    unsmoothed = ops.ab_prior(counts + 1, bins, lam=0.0, sigma=0.0).double()
    p = (counts + 1) / (counts + 1).sum()
    torch.testing.assert_close(unsmoothed, 1 / p / 313, rtol=1e-5, atol=0)


def test_prior_accumulator_counts_nearest_bins_of_colour_images(bins, generator):
    accumulator = ops.ABPriorAccumulator(bins)
    batches = [photo_crops(size=32, count=4, seed=s) for s in range(3)]
    batches.append(torch.full((2, 3, 32, 32), 128, dtype=torch.uint8))  # grayscale: left out
    want = torch.zeros(313, dtype=torch.float64)
    for images in batches:
        out = ops.colorization_batch(images, bins)
        accumulator.update(out.index, out.grayscale)
        for i in range(images.shape[0]):
            if not out.grayscale[i]:
                want += torch.bincount(out.index[i, 0].reshape(-1), minlength=313).double()
    assert torch.equal(accumulator.counts, want) and want.sum() == 12 * 64
    torch.testing.assert_close(accumulator.probabilities(), want / want.sum())
    torch.testing.assert_close(accumulator.weights(), ops.ab_prior(want, bins))


def test_ab_decode_annealed_mean(bins, generator):
    logits = torch.full((2, 313, 3, 3), -30.0)
    picks = torch.randint(0, 313, (2, 3, 3), generator=generator)
    logits.scatter_(1, picks[:, None], 30.0)
    decoded = ops.ab_decode(logits, bins)
    torch.testing.assert_close(decoded, bins[picks].permute(0, 3, 1, 2))  # one-hot -> the centre
    logits = torch.randn((2, 313, 3, 3), generator=generator, dtype=torch.float64)
    for temperature in (1.0, 0.38):
        p = np.exp(logits.numpy() / temperature)
        p /= p.sum(1, keepdims=True)
        want = np.einsum("bqhw,qc->bchw", p, bins.double().numpy())
        torch.testing.assert_close(ops.ab_decode(logits, bins, temperature=temperature), torch.from_numpy(want))


def test_quantize_l():
    L = torch.tensor([0.0, 1.99, 2.0, 50.0, 99.99, 100.0, -3.0, 140.0])
    assert ops.quantize_l(L, 50).tolist() == [0, 0, 1, 25, 49, 49, 0, 49]
    assert ops.quantize_l(L, 100).tolist() == [0, 1, 2, 50, 99, 99, 0, 99]
    centres = ops.l_bin_centres(50)
    assert torch.equal(ops.quantize_l(centres, 50), torch.arange(50))
    torch.testing.assert_close(centres[:2], torch.tensor([1.0, 3.0]))


# --------------------------------------------------------------------------- loss
def test_rebalanced_loss_value_and_gradcheck(bins, generator):
    images = photo_crops(size=16, count=3, seed=5)
    images[2] = 100  # grayscale: left out
    out = ops.colorization_batch(images, bins)
    class_weights = torch.rand(313, generator=generator, dtype=torch.float64) + 0.5
    logits = torch.randn((3, 313, 4, 4), generator=generator, dtype=torch.float64, requires_grad=True)
    loss = rebalanced_soft_cross_entropy(logits, out.index, out.weight, class_weights, grayscale=out.grayscale)
    dense = ops.ab_encode(ops.rgb_to_lab(images)[:, 1:], bins, dense=True).double()
    per_pixel = -(dense * torch.log_softmax(logits, 1)).sum(1) * class_weights[out.index[:, 0]]
    colour = ~out.grayscale
    assert out.grayscale[2] and colour.any()
    torch.testing.assert_close(loss, per_pixel[colour].mean())
    # gradcheck on a small problem (it perturbs every logit): 12 bins, k = 3.
    small_bins = torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(3.0), indexing="ij"), -1)
    small_bins = small_bins.reshape(-1, 2) * 30 - 40
    index, weight = ops.ab_encode(ops.rgb_to_lab(images)[:, 1:], small_bins, k=3, stride=8)
    small_logits = torch.randn((3, 12, 2, 2), generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda z: rebalanced_soft_cross_entropy(z, index, weight.double(), class_weights[:12],
                                                grayscale=out.grayscale), (small_logits,))
    logits.grad = None
    rebalanced_soft_cross_entropy(logits, out.index, out.weight, class_weights, grayscale=out.grayscale).backward()
    assert logits.grad[2].abs().max() == 0 and logits.grad[colour].abs().max() > 0  # none from grayscale images
    all_gray = torch.ones(3, dtype=torch.bool)
    assert rebalanced_soft_cross_entropy(logits, out.index, out.weight, grayscale=all_gray) == 0
    plain = rebalanced_soft_cross_entropy(logits, out.index, out.weight)
    torch.testing.assert_close(plain, -(dense * torch.log_softmax(logits, 1)).sum(1).mean())


# --------------------------------------------------------------------------- torch integration
def test_opcheck(bins, generator):
    images = random_images((2, 3, 9, 10), torch.uint8, generator)
    lab = ops.rgb_to_lab(images)
    opcheck(torch.ops.sslfast.rgb_to_lab.default, (images, torch.float32))
    opcheck(torch.ops.sslfast.rgb_to_lab.default, (images.float() / 255, torch.bfloat16))
    opcheck(torch.ops.sslfast.lab_to_rgb.default, (lab, torch.float32, True))
    opcheck(torch.ops.sslfast.lab_to_rgb.default, (lab, torch.uint8, False))
    opcheck(torch.ops.sslfast.ab_encode.default, (lab[:, 1:].contiguous(), bins, 5, 5.0, 4))
    opcheck(torch.ops.sslfast.colorization_batch.default, (images, bins, 5, 5.0, 4, 50.0, 50.0, torch.float32))


def test_torch_compile(bins, generator):
    images = random_images((2, 3, 16, 16), torch.uint8, generator)

    def pretext_batch(images):
        out = ops.colorization_batch(images, bins)
        return out.lightness * 2, out.index, out.weight, ops.rgb_to_lab(images)

    compiled = torch.compile(pretext_batch, fullgraph=True)
    for got, want in zip(compiled(images), pretext_batch(images)):
        torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------- bad input
def _rgb():
    return torch.zeros(2, 3, 8, 8, dtype=torch.uint8)


def _ab():
    return torch.zeros(2, 2, 8, 8)


BINS = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0], [-10.0, 0.0], [0.0, -10.0]])
NAN_IMAGES = torch.zeros(1, 3, 4, 4)
NAN_IMAGES[0, 1, 2, 2] = float("nan")


@pytest.mark.parametrize("call, error, name", [
    (lambda: ops.rgb_to_lab(torch.zeros(2, 4, 8, 8)), ValueError, "images"),
    (lambda: ops.rgb_to_lab(torch.zeros(2, 1, 8, 8)), ValueError, "images"),
    (lambda: ops.rgb_to_lab(torch.zeros(3, 8, 8)), ValueError, "images"),
    (lambda: ops.rgb_to_lab(torch.zeros(0, 3, 8, 8)), ValueError, "images"),
    (lambda: ops.rgb_to_lab(torch.zeros(2, 3, 0, 8)), ValueError, "images"),
    (lambda: ops.rgb_to_lab(torch.zeros(2, 3, 8, 8, dtype=torch.float64)), TypeError, "images"),
    (lambda: ops.rgb_to_lab(torch.zeros(2, 3, 8, 8, dtype=torch.int32)), TypeError, "images"),
    (lambda: ops.rgb_to_lab(np.zeros((2, 3, 8, 8))), TypeError, "images"),
    (lambda: ops.rgb_to_lab(NAN_IMAGES), ValueError, "images"),
    (lambda: ops.rgb_to_lab(_rgb(), out_dtype=torch.uint8), TypeError, "out_dtype"),
    (lambda: ops.rgb_to_lab(_rgb(), out_dtype=torch.float64), TypeError, "out_dtype"),
    (lambda: ops.lab_to_rgb(torch.zeros(2, 3, 8, 8, dtype=torch.uint8)), TypeError, "lab"),
    (lambda: ops.lab_to_rgb(torch.zeros(2, 2, 8, 8)), ValueError, "lab"),
    (lambda: ops.lab_to_rgb(torch.zeros(0, 3, 8, 8)), ValueError, "lab"),
    (lambda: ops.lab_to_rgb(NAN_IMAGES), ValueError, "lab"),
    (lambda: ops.lab_to_rgb(torch.zeros(1, 3, 2, 2), out_dtype=torch.int64), TypeError, "out_dtype"),
    (lambda: ops.lab_to_rgb(torch.zeros(1, 3, 2, 2), clip=1), TypeError, "clip"),
    (lambda: ops.ab_gamut_bins(0), ValueError, "grid"),
    (lambda: ops.ab_gamut_bins("10"), TypeError, "grid"),
    (lambda: ops.ab_encode(torch.zeros(2, 3, 8, 8), BINS), ValueError, "ab"),
    (lambda: ops.ab_encode(torch.zeros(2, 2, 8, 8, dtype=torch.uint8), BINS), TypeError, "ab"),
    (lambda: ops.ab_encode(torch.zeros(0, 2, 8, 8), BINS), ValueError, "ab"),
    (lambda: ops.ab_encode(torch.full((1, 2, 2, 2), float("nan")), BINS), ValueError, "ab"),
    (lambda: ops.ab_encode(_ab(), BINS.double()), TypeError, "bins"),
    (lambda: ops.ab_encode(_ab(), BINS[:, :1]), ValueError, "bins"),
    (lambda: ops.ab_encode(_ab(), BINS[:0]), ValueError, "bins"),
    (lambda: ops.ab_encode(_ab(), torch.full((3, 2), float("nan"))), ValueError, "bins"),
    (lambda: ops.ab_encode(_ab(), BINS, k=0), ValueError, "k"),
    (lambda: ops.ab_encode(_ab(), BINS, k=7), ValueError, "k"),
    (lambda: ops.ab_encode(_ab(), ops.ab_gamut_bins(), k=17), ValueError, "k"),
    (lambda: ops.ab_encode(_ab(), BINS, k=2.0), TypeError, "k"),
    (lambda: ops.ab_encode(_ab(), BINS, sigma=0), ValueError, "sigma"),
    (lambda: ops.ab_encode(_ab(), BINS, sigma=float("nan")), ValueError, "sigma"),
    (lambda: ops.ab_encode(_ab(), BINS, stride=0), ValueError, "stride"),
    (lambda: ops.colorization_batch(torch.zeros(2, 4, 8, 8, dtype=torch.uint8), BINS), ValueError, "images"),
    (lambda: ops.colorization_batch(torch.zeros(0, 3, 8, 8, dtype=torch.uint8), BINS), ValueError, "images"),
    (lambda: ops.colorization_batch(NAN_IMAGES, BINS), ValueError, "images"),
    (lambda: ops.colorization_batch(_rgb(), BINS.double()), TypeError, "bins"),
    (lambda: ops.colorization_batch(_rgb(), BINS, stride=-1), ValueError, "stride"),
    (lambda: ops.colorization_batch(_rgb(), BINS, l_std=0.0), ValueError, "l_std"),
    (lambda: ops.colorization_batch(_rgb(), BINS, l_mean="50"), TypeError, "l_mean"),
    (lambda: ops.colorization_batch(_rgb(), BINS, out_dtype=torch.uint8), TypeError, "out_dtype"),
    (lambda: ops.ab_prior(torch.zeros(6), BINS), ValueError, "counts"),
    (lambda: ops.ab_prior(-torch.ones(6), BINS), ValueError, "counts"),
    (lambda: ops.ab_prior(torch.ones(5), BINS), ValueError, "bins"),
    (lambda: ops.ab_prior(torch.ones(6), BINS, lam=1.5), ValueError, "lam"),
    (lambda: ops.ab_prior(torch.ones(6), BINS, sigma=-1.0), ValueError, "sigma"),
    (lambda: ops.ab_decode(torch.zeros(1, 5, 2, 2), BINS), ValueError, "bins"),
    (lambda: ops.ab_decode(torch.zeros(1, 6, 2, 2, dtype=torch.int64), BINS), TypeError, "logits"),
    (lambda: ops.ab_decode(torch.zeros(1, 6, 2, 2), BINS, temperature=0), ValueError, "temperature"),
    (lambda: ops.quantize_l(torch.zeros(3, dtype=torch.int64), 50), TypeError, "L"),
    (lambda: ops.quantize_l(torch.tensor([float("nan")]), 50), ValueError, "L"),
    (lambda: ops.quantize_l(torch.zeros(3), 0), ValueError, "bins"),
    (lambda: ops.ABPriorAccumulator(BINS).update(torch.zeros(2, 5, 2, 2)), TypeError, "index"),
    (lambda: ops.ABPriorAccumulator(BINS).update(torch.zeros(2, 5, 2, 2, dtype=torch.int64),
                                                 torch.zeros(3, dtype=torch.bool)), ValueError, "grayscale"),
    (lambda: rebalanced_soft_cross_entropy(torch.zeros(2, 6, 2, 2), torch.zeros(2, 5, 2, 2), torch.zeros(2, 5, 2, 2)),
     TypeError, "index"),
    (lambda: rebalanced_soft_cross_entropy(torch.zeros(2, 6, 2, 2), torch.zeros(2, 5, 2, 2, dtype=torch.int64),
                                           torch.zeros(2, 5, 2, 3)), ValueError, "weight"),
    (lambda: rebalanced_soft_cross_entropy(torch.zeros(2, 6, 2, 2), torch.zeros(2, 5, 3, 3, dtype=torch.int64),
                                           torch.zeros(2, 5, 3, 3)), ValueError, "index"),
    (lambda: rebalanced_soft_cross_entropy(torch.zeros(2, 6, 2, 2), torch.zeros(2, 5, 2, 2, dtype=torch.int64),
                                           torch.zeros(2, 5, 2, 2), torch.ones(5)), ValueError, "class_weights"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name}"):
        call()


def test_native_ops_guard_memory_when_called_directly():
    """Direct torch.ops calls skip the Python checks; the C++ side must still refuse."""
    with pytest.raises(ValueError, match="images"):
        torch.ops.sslfast.rgb_to_lab(torch.zeros(1, 2, 4, 4), torch.float32)
    with pytest.raises(ValueError, match="images"):
        torch.ops.sslfast.rgb_to_lab(torch.zeros(1, 3, 4, 4).transpose(2, 3)[:, :, ::2], torch.float32)
    with pytest.raises(TypeError, match="out_dtype"):
        torch.ops.sslfast.rgb_to_lab(torch.zeros(1, 3, 4, 4), torch.uint8)
    with pytest.raises(ValueError, match="k"):
        torch.ops.sslfast.ab_encode(_ab(), BINS, 7, 5.0, 4)
    with pytest.raises(ValueError, match="k"):
        torch.ops.sslfast.ab_encode(_ab(), BINS, 0, 5.0, 4)
    with pytest.raises(ValueError, match="stride"):
        torch.ops.sslfast.colorization_batch(_rgb(), BINS, 5, 5.0, 0, 50.0, 50.0, torch.float32)
    with pytest.raises(ValueError, match="bins"):
        torch.ops.sslfast.ab_encode(_ab(), torch.zeros(40000, 2), 5, 5.0, 4)
    with pytest.raises(TypeError, match="lab"):
        torch.ops.sslfast.lab_to_rgb(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), torch.float32, True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="^bins"):
        ops.ab_encode(_ab().cuda(), BINS)


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_cuda_matches_cpu(bins, dtype, generator):
    images = random_images((5, 3, 37, 41), dtype, generator)
    lab = ops.rgb_to_lab(images)
    torch.testing.assert_close(ops.rgb_to_lab(images.cuda()).cpu(), lab, atol=2e-4, rtol=0)
    for out_dtype in (torch.float32, torch.uint8):
        torch.testing.assert_close(ops.lab_to_rgb(lab.cuda(), out_dtype=out_dtype).cpu(),
                                   ops.lab_to_rgb(lab, out_dtype=out_dtype), atol=1e-5 if out_dtype.is_floating_point
                                   else 1, rtol=0)
    cpu = ops.colorization_batch(images, bins)
    gpu = ops.colorization_batch(images.cuda(), bins.cuda())
    torch.testing.assert_close(gpu.lightness.cpu(), cpu.lightness, atol=1e-5, rtol=0)
    torch.testing.assert_close(gpu.weight.cpu(), cpu.weight, atol=1e-4, rtol=0)
    assert (gpu.index.cpu() != cpu.index).float().mean() < 1e-3  # near-ties may order differently
    assert torch.equal(gpu.grayscale.cpu(), cpu.grayscale)
    ab = (torch.rand((2, 2, 30, 30), generator=generator) - 0.5) * 300
    cpu_index, cpu_weight = ops.ab_encode(ab, bins, k=10, stride=1)
    gpu_index, gpu_weight = ops.ab_encode(ab.cuda(), bins.cuda(), k=10, stride=1)
    assert (gpu_index.cpu() != cpu_index).float().mean() < 1e-3
    torch.testing.assert_close(gpu_weight.cpu(), cpu_weight, atol=1e-4, rtol=0)


@pytest.mark.cuda
def test_cuda_opcheck_and_graph_capture(bins):
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, device="cuda")
    bins = bins.cuda()
    opcheck(torch.ops.sslfast.colorization_batch.default, (images, bins, 5, 5.0, 4, 50.0, 50.0, torch.float32))
    opcheck(torch.ops.sslfast.rgb_to_lab.default, (images, torch.float32))
    want = ops.colorization_batch(images, bins)  # warm-up: the linearisation table reaches the device
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = ops.colorization_batch(images, bins)
    graph.replay()
    assert all(torch.equal(g, w) for g, w in zip(out, want))
