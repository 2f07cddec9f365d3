"""resize family: resize, sr_pair, grayscale, sobel, SuperResolutionPair.

Oracles: torch.nn.functional.interpolate (bilinear/bicubic, antialiased or
not), OpenCV INTER_AREA and an area-overlap matrix written here (box), PIL
(antialiased bicubic of uint8 images), torchvision's rgb_to_grayscale and
F.conv2d with the Sobel kernels.
"""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from hypothesis import given, settings, strategies as st
from PIL import Image
from torch.library import opcheck

from sslfast import ops
from sslfast.transforms import SuperResolutionPair

from inputs import random_images

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ALL_DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]
# (in_h, in_w, out_h, out_w): odd sizes, integer and fractional factors,
# upscaling, mixed directions, scale 1 on one axis, size 1.
SIZES = [(32, 40, 8, 10), (17, 23, 5, 9), (16, 16, 33, 47), (31, 29, 7, 31), (20, 21, 20, 7), (9, 13, 1, 1),
         (1, 1, 5, 3), (64, 48, 16, 12), (5, 7, 11, 2)]
SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def smooth_images(shape, generator):
    """uint8 images with photo-like smoothness (bicubic overshoot stays small)."""
    coarse = torch.rand((shape[0], shape[1], shape[2] // 4 + 2, shape[3] // 4 + 2), generator=generator)
    return (F.interpolate(coarse, size=shape[2:], mode="bilinear") * 255).round().to(torch.uint8)


def pil_resize(images, size, filter):
    """PIL's float ('F' mode) antialiased resampling, plane by plane, in float32."""
    resample = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}[filter]
    planes = images.float().reshape(-1, *images.shape[-2:]).numpy()
    out = [np.asarray(Image.fromarray(p, mode="F").resize((size[1], size[0]), resample)) for p in planes]
    return torch.from_numpy(np.stack(out)).reshape(*images.shape[:2], *size).double()


def interpolate(images, size, filter, antialias=True):
    """F.interpolate in float64 on the float value of the input; PIL where an
    output side is 1 and the other is not (torch's CPU antialiased path
    returns wrong values there, see test_resize_to_a_single_row_matches_pil)."""
    if antialias and 1 in size and tuple(size) != (1, 1):
        return pil_resize(images, size, filter)
    return F.interpolate(images.double(), size=size, mode=filter, antialias=antialias, align_corners=False)


def area_matrix(in_size, out_size):
    """[out, in] weights of area averaging: overlap of [o, o + 1) * in / out with [j, j + 1)."""
    scale = in_size / out_size
    matrix = np.zeros((out_size, in_size))
    for o in range(out_size):
        lo, hi = o * scale, (o + 1) * scale
        for j in range(in_size):
            matrix[o, j] = max(0.0, min(hi, j + 1) - max(lo, j)) / scale
    return torch.from_numpy(matrix)


def to_unit_normalized(images, mean=None, std=None):
    x = images.double() / 255 if images.dtype == torch.uint8 else images.double()
    return TF.normalize(x, list(mean), list(std)) if mean is not None else x


# --------------------------------------------------------------------------- resize: values
@pytest.mark.parametrize("filter", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "{}x{}->{}x{}".format(*s))
def test_resize_float_matches_interpolate(filter, antialias, sizes, generator):
    in_h, in_w, out_h, out_w = sizes
    images = random_images((2, 3, in_h, in_w), torch.float32, generator)
    got = ops.resize(images, (out_h, out_w), filter=filter, antialias=antialias)
    torch.testing.assert_close(got, interpolate(images, (out_h, out_w), filter, antialias).float(),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("filter", ["bilinear", "bicubic"])
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "{}x{}->{}x{}".format(*s))
def test_resize_uint8_within_one_level(filter, sizes, generator):
    in_h, in_w, out_h, out_w = sizes
    images = random_images((2, 3, in_h, in_w), torch.uint8, generator)
    got = ops.resize(images, (out_h, out_w), filter=filter)
    assert got.dtype == torch.uint8
    want = interpolate(images, (out_h, out_w), filter).round().clamp(0, 255)
    assert (got.double() - want).abs().max() <= 1


@pytest.mark.parametrize("filter", ["bilinear", "bicubic"])
@pytest.mark.parametrize("sizes", [(64, 64, 16, 16), (96, 80, 24, 40), (45, 37, 13, 11)])
def test_resize_uint8_downscale_matches_torch_uint8(filter, sizes, generator):
    """torch's own uint8 path (which also rounds between its passes)."""
    in_h, in_w, out_h, out_w = sizes
    images = smooth_images((3, 3, in_h, in_w), generator)
    got = ops.resize(images, (out_h, out_w), filter=filter)
    want = F.interpolate(images, size=(out_h, out_w), mode=filter, antialias=True)
    assert (got.int() - want.int()).abs().max() <= 1


@pytest.mark.parametrize("filter", ["bilinear", "bicubic"])
@pytest.mark.parametrize("sizes", [(2, 1, 5, 1), (7, 5, 1, 9), (6, 6, 6, 1)])
def test_resize_to_a_single_row_matches_pil(filter, sizes, generator):
    """PIL and torch agree everywhere except where an output side is 1 (and
    the other is not), where torch 2.x's CPU antialiased path is wrong; this
    pins that case to PIL."""
    in_h, in_w, out_h, out_w = sizes
    images = random_images((1, 2, in_h, in_w), torch.float32, generator)
    got = ops.resize(images, (out_h, out_w), filter=filter)
    torch.testing.assert_close(got.double(), pil_resize(images, (out_h, out_w), filter), atol=1e-5, rtol=0)


@pytest.mark.parametrize("sizes", [(32, 40, 8, 10), (30, 30, 10, 15), (12, 12, 12, 4), (7, 9, 7, 3)])
def test_resize_box_matches_opencv_inter_area_at_integer_factors(sizes, generator):
    in_h, in_w, out_h, out_w = sizes
    images = random_images((2, 3, in_h, in_w), torch.float32, generator)
    got = ops.resize(images, (out_h, out_w), filter="box")
    for b in range(2):
        hwc = images[b].permute(1, 2, 0).numpy()
        want = cv2.resize(hwc, (out_w, out_h), interpolation=cv2.INTER_AREA)
        torch.testing.assert_close(got[b].permute(1, 2, 0), torch.from_numpy(want), atol=1e-5, rtol=0)
    # uint8 too, where OpenCV rounds the same way
    images8 = random_images((1, 1, in_h, in_w), torch.uint8, generator)
    want8 = cv2.resize(images8[0, 0].numpy(), (out_w, out_h), interpolation=cv2.INTER_AREA)
    got8 = ops.resize(images8, (out_h, out_w), filter="box")[0, 0]
    assert (got8.int() - torch.from_numpy(want8).int()).abs().max() <= 1


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "{}x{}->{}x{}".format(*s))
def test_resize_box_is_area_average(sizes, generator):
    """Any factor, up or down: the exact area overlap weights."""
    in_h, in_w, out_h, out_w = sizes
    images = random_images((2, 2, in_h, in_w), torch.float32, generator)
    want = area_matrix(in_h, out_h) @ images.double() @ area_matrix(in_w, out_w).T
    got = ops.resize(images, (out_h, out_w), filter="box")
    torch.testing.assert_close(got, want.float(), atol=1e-5, rtol=0)


@pytest.mark.parametrize("filter", ["box", "bilinear", "bicubic"])
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_resize_to_same_size_is_identity(filter, dtype, generator):
    images = random_images((2, 3, 11, 7), dtype, generator)
    assert torch.equal(ops.resize(images, (11, 7), filter=filter), images)


@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_resize_converts_and_normalizes(in_dtype, out_dtype, generator):
    images = random_images((2, 3, 24, 20), in_dtype, generator)
    got = ops.resize(images, (9, 13), out_dtype=out_dtype, mean=MEAN, std=STD)
    assert got.dtype == out_dtype
    want = to_unit_normalized(interpolate(images, (9, 13), "bicubic"), MEAN, STD)
    if in_dtype == torch.uint8:
        want = TF.normalize(interpolate(images, (9, 13), "bicubic") / 255, list(MEAN), list(STD))
    tol = 1e-4 if out_dtype == torch.float32 else 2e-2
    torch.testing.assert_close(got.double(), want, atol=tol, rtol=tol)


def test_resize_default_dtype_and_int_size(generator):
    images = random_images((2, 3, 8, 8), torch.uint8, generator)
    assert ops.resize(images, 4).shape == (2, 3, 4, 4)
    assert ops.resize(images, 4).dtype == torch.uint8
    assert ops.resize(images, 4, mean=MEAN, std=STD).dtype == torch.float32
    assert ops.resize(images, 4, out_dtype=torch.float32).max() <= 1.0


def test_resize_accepts_non_contiguous_input(generator):
    base = random_images((2, 3, 20, 24), torch.float32, generator)
    for images in (base.to(memory_format=torch.channels_last), base[:, :, ::2, 1::2], base.transpose(2, 3)):
        got = ops.resize(images, (7, 5))
        channels_last = images.is_contiguous(memory_format=torch.channels_last)
        assert got.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        torch.testing.assert_close(got, interpolate(images, (7, 5), "bicubic").float(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("filter", ["box", "bilinear", "bicubic"])
@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize("sizes", [(40, 37, 19, 50), (64, 48, 33, 16)], ids=lambda s: "{}x{}->{}x{}".format(*s))
def test_resize_channels_last_in_place_of_nchw(filter, normalized, sizes, generator):
    """channels_last input is resampled in its own layout: the same values
    as the NCHW path, bit for bit, returned channels_last."""
    in_h, in_w, out_h, out_w = sizes
    images = random_images((2, 3, in_h, in_w), torch.uint8, generator)
    nhwc = images.contiguous(memory_format=torch.channels_last)
    kwargs = dict(filter=filter, mean=MEAN, std=STD) if normalized else dict(filter=filter)
    got = ops.resize(nhwc, (out_h, out_w), **kwargs)
    assert got.is_contiguous(memory_format=torch.channels_last) and not got.is_contiguous()
    assert torch.equal(got, ops.resize(images, (out_h, out_w), **kwargs))
    if filter != "box" and not normalized:
        want = interpolate(nhwc, (out_h, out_w), filter).round().clamp(0, 255)
        assert (got.double() - want).abs().max() <= 1


def test_resize_propagates_nan():
    images = torch.rand(1, 1, 8, 8)
    images[0, 0, 0, 0] = float("nan")
    got = ops.resize(images, (2, 2), filter="bilinear")
    want = interpolate(images, (2, 2), "bilinear")
    assert torch.equal(got.isnan(), want.isnan()) and got.isnan().any()


@settings(max_examples=60, deadline=None)
@given(in_h=st.integers(1, 24), in_w=st.integers(1, 24), out_h=st.integers(1, 24), out_w=st.integers(1, 24),
       filter=st.sampled_from(["bilinear", "bicubic"]), antialias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_resize_property(in_h, in_w, out_h, out_w, filter, antialias, seed):
    images = random_images((1, 2, in_h, in_w), torch.float32, torch.Generator().manual_seed(seed))
    got = ops.resize(images, (out_h, out_w), filter=filter, antialias=antialias)
    torch.testing.assert_close(got, interpolate(images, (out_h, out_w), filter, antialias).float(),
                               atol=1e-4, rtol=0)


# --------------------------------------------------------------------------- sr_pair
def test_sr_pair_matches_interpolate_and_normalize(generator):
    images = random_images((3, 3, 32, 24), torch.uint8, generator)
    lr, hr = ops.sr_pair(images, 4, mean=MEAN, std=STD)
    assert lr.shape == (3, 3, 8, 6) and hr.shape == (3, 3, 32, 24) and lr.dtype == hr.dtype == torch.float32
    torch.testing.assert_close(hr.double(), to_unit_normalized(images, MEAN, STD), atol=1e-6, rtol=0)
    # LR: the 8-bit antialiased bicubic downsample, then normalised; rounding
    # ties may land one level apart.
    levels = interpolate(images, (8, 6), "bicubic").round().clamp(0, 255)
    want = TF.normalize(levels / 255, list(MEAN), list(STD))
    one_level = 1 / 255 / min(STD)
    assert (lr.double() - want).abs().max() <= one_level + 1e-6
    assert ((lr.double() - want).abs() > 1e-5).float().mean() < 0.01


def test_sr_pair_without_quantize_is_float_resize(generator):
    images = random_images((2, 3, 24, 24), torch.uint8, generator)
    lr, hr = ops.sr_pair(images, 3, quantize=False)
    torch.testing.assert_close(lr.double(), interpolate(images, (8, 8), "bicubic") / 255, atol=1e-6, rtol=0)
    torch.testing.assert_close(hr.double(), images.double() / 255, atol=1e-7, rtol=0)


def test_sr_pair_lr_matches_pil_bicubic(generator):
    """PIL's reducing bicubic is what SRGAN-style data pipelines save as LR."""
    images = smooth_images((2, 3, 48, 64), generator)
    lr, _ = ops.sr_pair(images, 4, out_dtype=torch.uint8)
    for b in range(2):
        pil = Image.fromarray(images[b].permute(1, 2, 0).numpy()).resize((16, 12), Image.Resampling.BICUBIC)
        want = torch.from_numpy(np.array(pil)).permute(2, 0, 1)
        assert (lr[b].int() - want.int()).abs().max() <= 1


@pytest.mark.parametrize("filter", ["box", "bilinear"])
def test_sr_pair_other_filters(filter, generator):
    images = random_images((2, 1, 16, 12), torch.uint8, generator)
    lr, hr = ops.sr_pair(images, 2, filter=filter, out_dtype=torch.uint8)
    assert torch.equal(hr, images)
    want = F.avg_pool2d(images.double(), 2) if filter == "box" else interpolate(images, (8, 6), filter)
    assert (lr.double() - want.round()).abs().max() <= 1


@pytest.mark.parametrize("out_dtype", [torch.float16, torch.bfloat16])
def test_sr_pair_half_outputs(out_dtype, generator):
    images = random_images((2, 3, 8, 8), torch.uint8, generator)
    lr, hr = ops.sr_pair(images, 2, out_dtype=out_dtype)
    assert lr.dtype == hr.dtype == out_dtype
    torch.testing.assert_close(hr, (images.float() / 255).to(out_dtype), atol=0, rtol=1e-2)


def test_super_resolution_pair_transform(generator):
    images = random_images((2, 3, 16, 16), torch.uint8, generator)
    lr, hr = SuperResolutionPair(4, mean=MEAN, std=STD)(images)
    want_lr, want_hr = ops.sr_pair(images, 4, mean=MEAN, std=STD)
    assert torch.equal(lr, want_lr) and torch.equal(hr, want_hr)
    assert "scale=4" in repr(SuperResolutionPair(4))


# --------------------------------------------------------------------------- grayscale, sobel
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_grayscale_matches_torchvision(dtype, generator):
    images = random_images((3, 3, 9, 11), dtype, generator)
    got = ops.grayscale(images)
    assert got.shape == (3, 1, 9, 11) and got.dtype == dtype
    want = TF.rgb_to_grayscale(images.double())
    if dtype == torch.uint8:  # rounded here, truncated by torchvision
        assert torch.equal(got, want.round().to(torch.uint8))
    else:
        torch.testing.assert_close(got.double(), want, atol=1e-6 if dtype == torch.float32 else 1e-2, rtol=1e-2)


def test_grayscale_spans_cross_rows_planes_and_threads(generator):
    """The CPU loop works in spans of up to 1024 pixels inside one image; with
    planes of 4087 pixels and two threads, spans and thread chunks start and
    end mid-plane."""
    images = random_images((9, 3, 61, 67), torch.uint8, generator)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        got = ops.grayscale(images, out_dtype=torch.float32)
    finally:
        torch.set_num_threads(threads)
    want = TF.rgb_to_grayscale(images.double() / 255)
    torch.testing.assert_close(got.double(), want, atol=1e-6, rtol=0)


def test_grayscale_options(generator):
    images = random_images((2, 3, 5, 5), torch.uint8, generator)
    got = ops.grayscale(images, weights=(1 / 3, 1 / 3, 1 / 3), mean=0.5, std=0.25)
    want = (images.double().mean(1, keepdim=True) / 255 - 0.5) / 0.25
    torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=0)
    single = random_images((2, 1, 5, 5), torch.float32, generator)
    assert torch.equal(ops.grayscale(single), single)


def sobel_reference(images, weights=None, mean=None, std=None):
    """torch's way: normalise, grayscale with a 1x1 conv, Sobel with F.conv2d, zero padding."""
    x = to_unit_normalized(images, mean, std)
    if weights is None:
        weights = ops.LUMA_WEIGHTS if images.shape[1] == 3 else (1.0,)
    gray = F.conv2d(x, torch.tensor(weights, dtype=torch.float64).view(1, -1, 1, 1))
    kernels = torch.stack([SOBEL_X, SOBEL_X.T]).unsqueeze(1).double()
    return F.conv2d(gray, kernels, padding=1)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("shape", [(2, 3, 9, 13), (1, 1, 1, 1), (3, 3, 2, 17), (1, 1, 6, 1)])
def test_sobel_matches_conv2d(dtype, shape, generator):
    images = random_images(shape, dtype, generator)
    got = ops.sobel(images)
    assert got.shape == (shape[0], 2, shape[2], shape[3])
    tol = 1e-5 if dtype in (torch.uint8, torch.float32) else 5e-2
    torch.testing.assert_close(got.double(), sobel_reference(images), atol=tol, rtol=tol)


def test_sobel_deepcluster_settings(generator):
    """DeepCluster: normalise, average the channels, Sobel."""
    images = random_images((2, 3, 16, 12), torch.uint8, generator)
    thirds = (1 / 3, 1 / 3, 1 / 3)
    got = ops.sobel(images, weights=thirds, mean=MEAN, std=STD)
    torch.testing.assert_close(got.double(), sobel_reference(images, thirds, MEAN, STD), atol=1e-4, rtol=0)
    # The orientation: a ramp to the right and down gives positive gradients inside.
    ramp = (torch.arange(8.0).view(1, 8) + 2 * torch.arange(8.0).view(8, 1)).expand(1, 1, 8, 8)
    inner = ops.sobel(ramp)[0, :, 1:-1, 1:-1]
    assert torch.all(inner[0] == 8) and torch.all(inner[1] == 16)


@pytest.mark.parametrize("out_dtype", [torch.float16, torch.bfloat16])
def test_sobel_half_output(out_dtype, generator):
    images = random_images((2, 3, 7, 7), torch.uint8, generator)
    got = ops.sobel(images, out_dtype=out_dtype)
    assert got.dtype == out_dtype
    torch.testing.assert_close(got.double(), sobel_reference(images), atol=2e-2, rtol=1e-2)


def test_sobel_and_grayscale_accept_non_contiguous_input(generator):
    base = random_images((2, 3, 10, 12), torch.uint8, generator)
    for images in (base.to(memory_format=torch.channels_last), base[:, :, 1::2, ::3]):
        torch.testing.assert_close(ops.sobel(images).double(), sobel_reference(images), atol=1e-5, rtol=0)
        assert torch.equal(ops.grayscale(images), ops.grayscale(images.contiguous()))


# --------------------------------------------------------------------------- torch integration
def test_opcheck(generator):
    images = random_images((2, 3, 12, 8), torch.uint8, generator)
    opcheck(torch.ops.sslfast.resize.default, (images, [5, 7], "bicubic", True, torch.float32, list(MEAN), list(STD)))
    opcheck(torch.ops.sslfast.resize.default, (images.float(), [20, 3], "box", True, None, None, None))
    nhwc = images.contiguous(memory_format=torch.channels_last)
    opcheck(torch.ops.sslfast.resize.default, (nhwc, [5, 7], "bilinear", True, None, None, None))
    opcheck(torch.ops.sslfast.sr_pair.default, (images, 4, "bicubic", torch.float32, list(MEAN), list(STD), True))
    opcheck(torch.ops.sslfast.grayscale.default, (images, list(ops.LUMA_WEIGHTS), torch.float32, None, None))
    opcheck(torch.ops.sslfast.sobel.default, (images, list(ops.LUMA_WEIGHTS), torch.float32, list(MEAN), list(STD)))


def test_torch_compile(generator):
    images = random_images((2, 3, 16, 16), torch.uint8, generator)

    def batch(images):
        lr, hr = ops.sr_pair(images, 4, mean=MEAN, std=STD)
        up = ops.resize(lr, (16, 16), filter="bicubic")
        return (up - hr).abs().mean(), ops.sobel(images), ops.grayscale(images)

    compiled = torch.compile(batch, fullgraph=True)
    for got, want in zip(compiled(images), batch(images)):
        torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------- bad input
def _images(dtype=torch.uint8):
    return torch.zeros(2, 3, 8, 8, dtype=dtype)


@pytest.mark.parametrize("call, error, name", [
    (lambda: ops.resize(_images(), 0), ValueError, "size"),
    (lambda: ops.resize(_images(), (4, -1)), ValueError, "size"),
    (lambda: ops.resize(_images(), (4, 4, 4)), TypeError, "size"),
    (lambda: ops.resize(_images(), 4.5), TypeError, "size"),
    (lambda: ops.resize(_images(), (4, True)), TypeError, "size"),
    (lambda: ops.resize(_images(), 4, filter="lanczos"), ValueError, "filter"),
    (lambda: ops.resize(_images(), 4, filter=None), TypeError, "filter"),
    (lambda: ops.resize(_images(), 4, antialias="yes"), TypeError, "antialias"),
    (lambda: ops.resize(_images().double(), 4), TypeError, "images"),
    (lambda: ops.resize(torch.zeros(0, 3, 8, 8), 4), ValueError, "images"),
    (lambda: ops.resize(torch.zeros(3, 8, 8), 4), ValueError, "images"),
    (lambda: ops.resize(_images(), 4, out_dtype=torch.int32), TypeError, "out_dtype"),
    (lambda: ops.resize(_images(), 4, mean=MEAN[:2], std=STD[:2]), ValueError, "mean"),
    (lambda: ops.resize(_images(), 4, mean=MEAN, std=(0.1, float("nan"), 0.2)), ValueError, "std"),
    (lambda: ops.sr_pair(_images(), 3), ValueError, "scale"),
    (lambda: ops.sr_pair(_images(), 0), ValueError, "scale"),
    (lambda: ops.sr_pair(_images(), -2), ValueError, "scale"),
    (lambda: ops.sr_pair(_images(), 2.0), TypeError, "scale"),
    (lambda: ops.sr_pair(_images(torch.float32), 2), TypeError, "images"),
    (lambda: ops.sr_pair(torch.zeros(0, 3, 8, 8, dtype=torch.uint8), 2), ValueError, "images"),
    (lambda: ops.sr_pair(_images(), 2, filter="nearest"), ValueError, "filter"),
    (lambda: ops.sr_pair(_images(), 2, quantize=1), TypeError, "quantize"),
    (lambda: ops.sr_pair(_images(), 2, out_dtype=torch.uint8, mean=MEAN, std=STD), ValueError, "out_dtype"),
    (lambda: ops.grayscale(torch.zeros(2, 2, 4, 4)), ValueError, "images"),
    (lambda: ops.grayscale(_images(), weights=(1, 2)), ValueError, "weights"),
    (lambda: ops.grayscale(_images(), weights=(1, 2, float("nan"))), ValueError, "weights"),
    (lambda: ops.grayscale(_images(), weights="abc"), TypeError, "weights"),
    (lambda: ops.grayscale(_images(), mean=MEAN, std=STD), ValueError, "mean"),
    (lambda: ops.sobel(torch.zeros(2, 4, 4, 4)), ValueError, "images"),
    (lambda: ops.sobel(_images(), out_dtype=torch.uint8), ValueError, "out_dtype"),
    (lambda: ops.sobel(torch.zeros(0, 3, 4, 4)), ValueError, "images"),
    (lambda: ops.sobel(_images().numpy()), TypeError, "images"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name}"):
        call()


def test_native_ops_guard_memory_when_called_directly():
    """Direct torch.ops calls skip the Python checks; the C++ side must still refuse."""
    with pytest.raises(ValueError, match="size"):
        torch.ops.sslfast.resize(_images(), [0, 4])
    with pytest.raises(ValueError, match="filter"):
        torch.ops.sslfast.resize(_images(), [4, 4], "nearest")
    with pytest.raises(ValueError, match="images"):
        torch.ops.sslfast.resize(_images()[0], [4, 4])
    with pytest.raises(ValueError, match="scale"):
        torch.ops.sslfast.sr_pair(_images(), 3)
    with pytest.raises(TypeError, match="images"):
        torch.ops.sslfast.sr_pair(_images(torch.float32), 2)
    with pytest.raises(ValueError, match="weights"):
        torch.ops.sslfast.grayscale(_images(), [1.0])
    with pytest.raises(TypeError, match="out_dtype"):
        torch.ops.sslfast.sobel(_images(), [1.0, 1.0, 1.0], torch.uint8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="^images"):
        ops.sobel(_images().cuda(), weights=torch.ones(3))


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("filter", ["box", "bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
def test_cuda_resize_matches_cpu(in_dtype, filter, antialias, generator):
    images = random_images((3, 3, 37, 29), in_dtype, generator)
    for size in ((9, 11), (40, 64)):
        cpu = ops.resize(images, size, filter=filter, antialias=antialias)
        gpu = ops.resize(images.cuda(), size, filter=filter, antialias=antialias).cpu()
        assert torch.equal(cpu, gpu)  # same tables, same summation order, no fused multiply-add
        cpu = ops.resize(images, size, filter=filter, mean=MEAN, std=STD)
        gpu = ops.resize(images.cuda(), size, filter=filter, mean=MEAN, std=STD).cpu()
        torch.testing.assert_close(cpu, gpu, atol=1e-6, rtol=1e-5)


@pytest.mark.cuda
def test_cuda_sr_pair_grayscale_sobel_match_cpu(generator):
    images = random_images((4, 3, 32, 48), torch.uint8, generator)
    for quantize in (True, False):
        cpu = ops.sr_pair(images, 4, mean=MEAN, std=STD, quantize=quantize)
        gpu = ops.sr_pair(images.cuda(), 4, mean=MEAN, std=STD, quantize=quantize)
        for c, g in zip(cpu, gpu):
            assert g.is_cuda
            torch.testing.assert_close(c, g.cpu(), atol=1e-6, rtol=1e-5)
    assert torch.equal(ops.sr_pair(images, 4, out_dtype=torch.uint8)[0],
                       ops.sr_pair(images.cuda(), 4, out_dtype=torch.uint8)[0].cpu())
    assert torch.equal(ops.grayscale(images), ops.grayscale(images.cuda()).cpu())
    torch.testing.assert_close(ops.sobel(images, mean=MEAN, std=STD),
                               ops.sobel(images.cuda(), mean=MEAN, std=STD).cpu(), atol=1e-5, rtol=1e-5)


@pytest.mark.cuda
def test_cuda_opcheck_and_graph_capture():
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, device="cuda")
    opcheck(torch.ops.sslfast.resize.default, (images, [5, 7], "bicubic", True, torch.float32, None, None))
    opcheck(torch.ops.sslfast.sr_pair.default, (images, 4, "bicubic", torch.float32, list(MEAN), list(STD), True))
    opcheck(torch.ops.sslfast.sobel.default, (images, list(ops.LUMA_WEIGHTS), torch.float32, None, None))
    ops.sr_pair(images, 4, mean=MEAN, std=STD)  # warm-up
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        lr, hr = ops.sr_pair(images, 4, mean=MEAN, std=STD)
        gradients = ops.sobel(images)
    graph.replay()
    want_lr, want_hr = ops.sr_pair(images, 4, mean=MEAN, std=STD)
    assert torch.equal(lr, want_lr) and torch.equal(hr, want_hr)
    assert torch.equal(gradients, ops.sobel(images))
