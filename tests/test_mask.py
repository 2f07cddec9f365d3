"""mask family: sample_boxes, sample_masks (centre / blocks / region),
apply_mask (mask tensor or boxes), RandomMask.

Oracles: slicing for boxes and the centre square, the documented
counter-based hash (tests/reference.py) for the block draws, a float64
B-spline upsampling of the documented noise grid for region masks, and
torch for the fill values and the fused conversion.
"""
import math

import numpy as np
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from hypothesis import given, settings, strategies as st
from torch.library import opcheck

from sslfast import ops
from sslfast.transforms import RandomMask

from inputs import random_images
from reference import counter_hash, hash_below

BOX_FIELD = 0x4D61736B     # kMaskBoxField in csrc/kernels/mask.h
REGION_FIELD = 0x5265676E  # kMaskRegionField
NOISE_FIELD = 0x4E6F6973   # kMaskNoiseField
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ALL_DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


def rasterize(boxes, height, width):
    """Mask from (x0, y0, x1, y1) boxes by slicing."""
    mask = torch.zeros(boxes.shape[0], 1, height, width, dtype=torch.bool)
    for i, rows in enumerate(boxes.tolist()):
        for x0, y0, x1, y1 in rows:
            mask[i, 0, max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    return mask


# --------------------------------------------------------------------------- centre
@pytest.mark.parametrize("height, width, fraction", [(128, 128, 0.5), (37, 20, 0.5), (10, 9, 0.25), (5, 5, 1.0),
                                                     (7, 7, 0.01)])
def test_center_mask_is_exact(height, width, fraction):
    index = torch.arange(5)
    h, w = min(height, max(1, round(fraction * height))), min(width, max(1, round(fraction * width)))
    top, left = (height - h) // 2, (width - w) // 2
    want = torch.zeros(5, 1, height, width, dtype=torch.bool)
    want[:, :, top:top + h, left:left + w] = True
    assert torch.equal(ops.sample_masks(3, index, (height, width), kind="center", fraction=fraction), want)
    boxes = ops.sample_boxes(3, index, (height, width), kind="center", fraction=fraction)
    assert boxes.tolist() == [[[left, top, left + w, top + h]]] * 5


def test_context_encoder_center_region():
    """128x128 crops with the central 64x64 masked, as the paper."""
    mask = ops.sample_masks(0, torch.arange(2), 128)
    assert mask.sum().item() == 2 * 64 * 64 and mask[:, :, 32:96, 32:96].all()


# --------------------------------------------------------------------------- blocks
def reference_blocks(seed, index, height, width, count, block_size):
    """The documented draws: count, then per block height, width, y0, x0."""
    def draw(k, what, n):
        return hash_below(counter_hash(seed, index, BOX_FIELD + ((4 * k + what + 1) << 32)), n)

    def pixels(fraction, size):
        return min(size, max(1, round(fraction * size)))

    h_min, h_max = pixels(block_size[0], height), pixels(block_size[1], height)
    w_min, w_max = pixels(block_size[0], width), pixels(block_size[1], width)
    n = count[0] + hash_below(counter_hash(seed, index, BOX_FIELD), count[1] - count[0] + 1)
    boxes = []
    for k in range(count[1]):
        if k >= n:
            boxes.append([0, 0, 0, 0])
            continue
        h = h_min + draw(k, 0, h_max - h_min + 1)
        w = w_min + draw(k, 1, w_max - w_min + 1)
        y0, x0 = draw(k, 2, height - h + 1), draw(k, 3, width - w + 1)
        boxes.append([x0, y0, x0 + w, y0 + h])
    return boxes


@pytest.mark.parametrize("height, width, count, block_size", [(64, 48, (1, 4), (0.125, 0.25)),
                                                              (9, 13, (0, 3), (0.1, 1.0)),
                                                              (1, 1, (2, 2), (0.5, 1.0))])
def test_blocks_match_reference_hash(height, width, count, block_size):
    seed, index = 2024, torch.tensor([0, 1, 7, 2**40, 2**63 - 1, -5])
    got = ops.sample_boxes(seed, index, (height, width), kind="blocks", count=count, block_size=block_size)
    want = [reference_blocks(seed, i, height, width, count, block_size) for i in index.tolist()]
    assert got.tolist() == want


def test_blocks_inside_the_image_and_in_range():
    height, width = 40, 56
    boxes = ops.sample_boxes(9, torch.arange(3000), (height, width), kind="blocks", count=(1, 4),
                             block_size=(0.125, 0.25))
    x0, y0, x1, y1 = boxes.unbind(-1)
    used = x1 > x0
    counts = used.sum(1)
    assert counts.min() == 1 and counts.max() == 4
    assert torch.bincount(counts, minlength=5)[1:].min() > 600  # each count ~750 times
    assert (x0[used] >= 0).all() and (y0[used] >= 0).all() and (x1[used] <= width).all() and (y1[used] <= height).all()
    heights, widths = (y1 - y0)[used], (x1 - x0)[used]
    assert heights.min() == 5 and heights.max() == 10 and widths.min() == 7 and widths.max() == 14
    assert (boxes[~used] == 0).all()
    # Positions cover the whole range: some block touches each border.
    assert (x0[used] == 0).any() and (y0[used] == 0).any() and (x1[used] == width).any() and (y1[used] == height).any()
    masks = ops.sample_masks(9, torch.arange(3000), (height, width), kind="blocks")
    assert torch.equal(masks, rasterize(boxes, height, width))
    assert masks.float().mean((1, 2, 3)).max() <= 0.25 + 1e-6


def test_samplers_independent_of_batching():
    index = torch.randperm(300, generator=torch.Generator().manual_seed(0))
    for kind in ("blocks", "region"):
        whole = ops.sample_masks(5, index, (24, 31), kind=kind)
        pieces = torch.cat([ops.sample_masks(5, chunk, (24, 31), kind=kind) for chunk in index.split(37)])
        assert torch.equal(whole, pieces)
        assert torch.equal(ops.sample_masks(5, index.flip(0), (24, 31), kind=kind).flip(0), whole)
        assert not torch.equal(whole, ops.sample_masks(6, index, (24, 31), kind=kind))


# --------------------------------------------------------------------------- region
@pytest.mark.parametrize("size, coverage, cells", [((64, 64), (0.2, 0.3), 8), ((37, 53), (0.2, 0.3), 8),
                                                   ((128, 96), (0.05, 0.1), 4), ((32, 32), (0.5, 0.5), 16),
                                                   ((48, 40), (0.0, 0.9), 3), ((20, 20), (0.25, 0.3), 2),
                                                   ((3, 5), (0.2, 0.3), 8)])
def test_region_coverage_inside_range(size, coverage, cells):
    masks = ops.sample_masks(11, torch.arange(400), size, kind="region", coverage=coverage, cells=cells)
    assert masks.shape == (400, 1, *size) and masks.dtype == torch.bool
    pixels = size[0] * size[1]
    low, high = math.ceil(coverage[0] * pixels), math.floor(coverage[1] * pixels)
    covered = masks.sum((1, 2, 3))
    assert covered.min() >= low and covered.max() <= high
    # Exactly the documented per-sample target.
    want = [low + hash_below(counter_hash(11, i, REGION_FIELD), high - low + 1) for i in range(400)]
    assert covered.tolist() == want


def test_region_masks_are_smooth_blobs():
    """Thresholded smooth noise: far fewer mask edges than scattered pixels
    of the same coverage."""
    masks = ops.sample_masks(1, torch.arange(50), 64, kind="region").float()
    edges = (masks[..., 1:, :] != masks[..., :-1, :]).float().sum() + (masks[..., 1:] != masks[..., :-1]).float().sum()
    scattered = masks.flatten(1)[:, torch.randperm(64 * 64)].view_as(masks)
    scattered_edges = ((scattered[..., 1:, :] != scattered[..., :-1, :]).float().sum()
                       + (scattered[..., 1:] != scattered[..., :-1]).float().sum())
    assert edges < 0.1 * scattered_edges


def spline_field(seed, index, height, width, cells):
    """Float64 oracle of the documented field: 16-bit hashed noise per grid
    cell, cubic B-spline upsampled with half-pixel centres, border cells repeated."""
    grid = np.array([counter_hash(seed, index, REGION_FIELD + ((c + 1) << 32)) >> 48 for c in range(cells * cells)],
                    dtype=np.float64).reshape(cells, cells)

    def bspline(t):
        t = abs(t)
        return np.where(t < 1, (4 - 6 * t**2 + 3 * t**3) / 6, np.where(t < 2, (2 - t) ** 3 / 6, 0.0))

    def weights(size):
        u = (np.arange(size) + 0.5) * cells / size - 0.5
        matrix = np.zeros((size, cells))
        for p, up in enumerate(u):
            for g in range(math.floor(up) - 1, math.floor(up) + 3):
                matrix[p, min(max(g, 0), cells - 1)] += bspline(up - g)
        return matrix

    return weights(height) @ grid @ weights(width).T


@pytest.mark.parametrize("size, cells", [((64, 64), 8), ((30, 45), 5), ((16, 16), 2)])
def test_region_mask_thresholds_the_spline_field(size, cells):
    """Every masked pixel's field value is above every unmasked one's (up to
    the threshold's 1/4096 resolution and the fixed-point subdivision)."""
    index = torch.arange(20, 40)
    masks = ops.sample_masks(4, index, size, kind="region", cells=cells)
    for i, m in zip(index.tolist(), masks[:, 0].numpy()):
        field = spline_field(4, i, size[0], size[1], cells) / 65536
        assert field[m].min() >= field[~m].max() - 2 / 4096


def test_region_single_coverage_value():
    masks = ops.sample_masks(3, torch.arange(10), (10, 20), kind="region", coverage=0.25)
    assert (masks.sum((1, 2, 3)) == 50).all()


def test_region_extreme_coverage():
    nothing = ops.sample_masks(0, torch.arange(4), 16, kind="region", coverage=(0.0, 0.0))
    everything = ops.sample_masks(0, torch.arange(4), 16, kind="region", coverage=(1.0, 1.0))
    assert not nothing.any() and everything.all()


# --------------------------------------------------------------------------- apply
def reference_apply(images, mask, fill_values, out_dtype=None, mean=None, std=None):
    """torch.where with per-image, per-channel fill values [B, C], then the conversion."""
    out_dtype = out_dtype or images.dtype
    filled = torch.where(mask, fill_values.double()[:, :, None, None], images.double())
    if images.dtype == torch.uint8 and out_dtype != torch.uint8:
        filled = filled / 255
    if mean is not None:
        filled = TF.normalize(filled, list(mean), list(std))
    return filled


def bits(t):
    """The raw bit patterns (NaN payloads and signed zeros included)."""
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32}[t.element_size()])


def assert_matches(got, want):
    if got.dtype == torch.uint8:
        assert (got.double() - want).abs().max() <= 0.5 + 1e-9  # rounded to nearest
    else:
        torch.testing.assert_close(got.double(), want, atol=1e-5, rtol=1e-2 if got.element_size() == 2 else 1e-6)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_apply_mask_keeps_unmasked_pixels_bit_identical(dtype, generator):
    images = random_images((6, 3, 17, 23), dtype, generator)
    if dtype != torch.uint8:
        images[0, 0, 0, :4] = torch.tensor([-0.0, float("nan"), float("inf"), -float("inf")]).to(dtype)
    masks = ops.sample_masks(0, torch.arange(6), (17, 23), kind="region")
    masks[0, 0, 0, :4] = False
    for fill in ("mean", "zero", "noise", 0.5, [0.1, 0.2, 0.3]):
        out = ops.apply_mask(images, masks, fill=fill)
        keep = ~masks.expand_as(images)
        assert torch.equal(bits(out[keep]), bits(images[keep]))


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_apply_mask_fills(dtype, generator):
    images = random_images((4, 3, 12, 10), dtype, generator)
    masks = ops.sample_masks(3, torch.arange(4), (12, 10), kind="blocks", count=(1, 3), block_size=(0.2, 0.6))
    image_mean = images.double().mean((2, 3))
    assert_matches(ops.apply_mask(images, masks, fill="mean"), reference_apply(images, masks, image_mean))
    assert_matches(ops.apply_mask(images, masks, fill="zero"), reference_apply(images, masks, torch.zeros(4, 3)))
    scale = 255 if dtype == torch.uint8 else 1
    per_channel = [0.2 * scale, 0.5 * scale, 0.7 * scale]
    assert_matches(ops.apply_mask(images, masks, fill=per_channel),
                   reference_apply(images, masks, torch.tensor(per_channel).expand(4, 3)))
    assert_matches(ops.apply_mask(images, masks, fill=0.25 * scale),
                   reference_apply(images, masks, torch.full((4, 3), 0.25 * scale)))


def test_apply_mask_noise_fill(generator):
    images = random_images((3, 3, 16, 16), torch.uint8, generator)
    masks = ops.sample_masks(0, torch.arange(3), 16)  # central 8x8
    out = ops.apply_mask(images, masks, fill="noise", noise_seed=77)
    # The documented hash of (noise_seed, output element).
    flat = [(b * 3 + c) * 256 + y * 16 + x for b, c, y, x in [(0, 0, 4, 4), (1, 2, 11, 7), (2, 1, 8, 9)]]
    for f in flat:
        assert out.flatten()[f].item() == hash_below(counter_hash(77, f, NOISE_FIELD), 256)
    assert torch.equal(out, ops.apply_mask(images, masks, fill="noise", noise_seed=77))
    other = ops.apply_mask(images, masks, fill="noise", noise_seed=78)
    assert not torch.equal(out, other) and torch.equal(out[~masks.expand_as(out)], images[~masks.expand_as(out)])
    values = out[masks.expand_as(out)].double()
    assert 0 <= values.min() and values.max() <= 255 and abs(values.mean() - 127.5) < 12
    floats = ops.apply_mask(images.float() / 255, masks, fill="noise")[masks.expand_as(out)]
    assert 0 <= floats.min() and floats.max() < 1 and abs(floats.mean() - 0.5) < 0.05


@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", [torch.float32, torch.bfloat16])
def test_apply_mask_converts_and_normalizes(in_dtype, out_dtype, generator):
    images = random_images((3, 3, 9, 9), in_dtype, generator)
    masks = ops.sample_masks(1, torch.arange(3), 9, kind="blocks")
    got = ops.apply_mask(images, masks, fill="mean", out_dtype=out_dtype, mean=MEAN, std=STD)
    assert got.dtype == out_dtype
    assert_matches(got, reference_apply(images, masks, images.double().mean((2, 3)), out_dtype, MEAN, STD))


def test_apply_mask_with_boxes_returns_mask(generator):
    images = random_images((5, 3, 20, 24), torch.uint8, generator)
    boxes = ops.sample_boxes(2, torch.arange(5), (20, 24), kind="blocks")
    boxes[0, 0] = torch.tensor([-5, 15, 30, 40])  # partly outside: clipped
    out, mask = ops.apply_mask(images, boxes, fill=[10, 20, 30])
    assert torch.equal(mask, rasterize(boxes, 20, 24))
    assert torch.equal(out, ops.apply_mask(images, mask, fill=[10, 20, 30]))
    out_norm, mask_norm = ops.apply_mask(images, boxes, fill="noise", out_dtype=torch.float32, mean=MEAN, std=STD)
    assert torch.equal(mask_norm, mask)
    assert torch.equal(out_norm, ops.apply_mask(images, mask, fill="noise", out_dtype=torch.float32, mean=MEAN,
                                                std=STD))


def test_apply_mask_accepts_uint8_and_non_contiguous_inputs(generator):
    base = random_images((2, 3, 12, 14), torch.float32, generator)
    mask = ops.sample_masks(0, torch.arange(2), (12, 14), kind="blocks")
    want = ops.apply_mask(base, mask)
    assert torch.equal(ops.apply_mask(base.to(memory_format=torch.channels_last), mask.to(torch.uint8) * 7), want)
    wide = random_images((2, 3, 12, 28), torch.float32, generator)
    assert torch.equal(ops.apply_mask(wide[..., ::2], mask), ops.apply_mask(wide[..., ::2].contiguous(), mask))
    boxes = ops.sample_boxes(0, torch.arange(4), (12, 14), kind="blocks")[::2]
    assert torch.equal(ops.apply_mask(base, boxes)[1], rasterize(boxes, 12, 14))


@settings(max_examples=40, deadline=None)
@given(batch=st.integers(1, 4), channels=st.integers(1, 4), height=st.integers(1, 17), width=st.integers(1, 17),
       dtype=st.sampled_from(ALL_DTYPES), seed=st.integers(0, 2**63 - 1), fill=st.sampled_from(["mean", "zero"]))
def test_apply_mask_property(batch, channels, height, width, dtype, seed, fill):
    images = random_images((batch, channels, height, width), dtype, torch.Generator().manual_seed(seed % 2**32))
    boxes = ops.sample_boxes(seed, torch.arange(batch), (height, width), kind="blocks", block_size=(0.1, 0.9))
    out, mask = ops.apply_mask(images, boxes, fill=fill)
    fill_values = images.double().mean((2, 3)) if fill == "mean" else torch.zeros(batch, channels)
    assert torch.equal(mask, rasterize(boxes, height, width))
    assert_matches(out, reference_apply(images, mask, fill_values))


# --------------------------------------------------------------------------- transform
def test_random_mask_transform(generator):
    images = random_images((6, 3, 32, 32), torch.uint8, generator)
    index = torch.arange(10, 16)
    for kind in ("center", "blocks", "region"):
        transform = RandomMask(kind, seed=5, fill="zero")
        out, mask = transform(images, index)
        assert torch.equal(mask, ops.sample_masks(5, index, 32, kind=kind))
        assert torch.equal(out, ops.apply_mask(images, mask, fill="zero"))
    transform = RandomMask("region", seed=5, coverage=(0.4, 0.5), cells=4, mean=MEAN, std=STD)
    out, mask = transform(images)
    assert out.dtype == torch.float32 and mask.float().mean((1, 2, 3)).min() >= 0.4
    _, again = transform(images)
    assert not torch.equal(mask, again)  # fresh indices from the internal counter
    assert "kind='region'" in repr(transform)


def test_random_mask_as_collate_fn():
    data = [(torch.full((3, 8, 8), i, dtype=torch.uint8), i) for i in range(8)]
    transform = RandomMask("blocks", seed=1)

    def collate(samples):
        return transform(torch.stack([s[0] for s in samples]), torch.tensor([s[1] for s in samples]))

    loader = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=collate)
    masks = torch.cat([mask for _, mask in loader])
    assert torch.equal(masks, ops.sample_masks(1, torch.arange(8), 8, kind="blocks"))


# --------------------------------------------------------------------------- torch integration
def test_opcheck(generator):
    images = random_images((3, 3, 8, 8), torch.uint8, generator)
    index = torch.arange(3)
    boxes = ops.sample_boxes(0, index, 8, kind="blocks")
    mask = ops.sample_masks(0, index, 8, kind="region")
    opcheck(torch.ops.sslfast.sample_boxes.default, (1, index, 8, 8, 1, 3, 2, 4, 2, 4, False))
    opcheck(torch.ops.sslfast.boxes_to_mask.default, (boxes, 8, 8))
    opcheck(torch.ops.sslfast.sample_region_masks.default, (1, index, 8, 8, 4, 10, 20))
    opcheck(torch.ops.sslfast.apply_mask.default, (images, mask, "mean", None, 0, torch.float32, list(MEAN),
                                                   list(STD)))
    opcheck(torch.ops.sslfast.apply_mask.default, (images.float(), mask, "value", [0.5], 0, None, None, None))
    opcheck(torch.ops.sslfast.apply_boxes.default, (images, boxes, "noise", None, 3, None, None, None))


def test_torch_compile(generator):
    images = random_images((4, 3, 16, 16), torch.uint8, generator)

    def batch(images, index):
        out, mask = ops.apply_mask(images, ops.sample_boxes(3, index, 16, kind="blocks"), fill="mean",
                                   mean=MEAN, std=STD)
        region = ops.sample_masks(3, index, 16, kind="region")
        return out * 2, mask, ops.apply_mask(images, region, fill="noise")

    compiled = torch.compile(batch, fullgraph=True)
    for got, want in zip(compiled(images, torch.arange(4)), batch(images, torch.arange(4))):
        assert torch.equal(got, want)


# --------------------------------------------------------------------------- bad input
def _images():
    return torch.zeros(2, 3, 8, 8, dtype=torch.uint8)


def _mask():
    return torch.zeros(2, 1, 8, 8, dtype=torch.bool)


I3 = torch.arange(3)


@pytest.mark.parametrize("call, error, name", [
    (lambda: ops.apply_mask(_images(), _mask(), fill="median"), ValueError, "fill"),
    (lambda: ops.apply_mask(_images(), _mask(), fill=None), TypeError, "fill"),
    (lambda: ops.apply_mask(_images(), _mask(), fill=True), TypeError, "fill"),
    (lambda: ops.apply_mask(_images(), _mask(), fill=[1.0, 2.0]), ValueError, "fill"),
    (lambda: ops.apply_mask(_images(), _mask(), fill=float("nan")), ValueError, "fill"),
    (lambda: ops.apply_mask(_images(), _mask(), fill=["a", "b", "c"]), TypeError, "fill"),
    (lambda: ops.apply_mask(_images(), torch.zeros(2, 1, 8, 7, dtype=torch.bool)), ValueError, "mask"),
    (lambda: ops.apply_mask(_images(), torch.zeros(2, 3, 8, 8, dtype=torch.bool)), ValueError, "mask"),
    (lambda: ops.apply_mask(_images(), torch.zeros(3, 1, 8, 8, dtype=torch.bool)), ValueError, "mask"),
    (lambda: ops.apply_mask(_images(), torch.zeros(2, 8, 8, dtype=torch.bool)), ValueError, "mask"),
    (lambda: ops.apply_mask(_images(), torch.zeros(2, 1, 8, 8)), TypeError, "mask"),
    (lambda: ops.apply_mask(_images(), torch.zeros(2, 2, 3, dtype=torch.int64)), ValueError, "mask"),
    (lambda: ops.apply_mask(_images(), torch.zeros(3, 2, 4, dtype=torch.int64)), ValueError, "mask"),
    (lambda: ops.apply_mask(_images(), "mask"), TypeError, "mask"),
    (lambda: ops.apply_mask(torch.zeros(0, 3, 8, 8), _mask()[:0]), ValueError, "images"),
    (lambda: ops.apply_mask(_images().double(), _mask()), TypeError, "images"),
    (lambda: ops.apply_mask(_images(), _mask(), noise_seed=-1), ValueError, "noise_seed"),
    (lambda: ops.apply_mask(_images(), _mask(), noise_seed=0.5), TypeError, "noise_seed"),
    (lambda: ops.apply_mask(_images(), _mask(), mean=MEAN), ValueError, "mean and std"),
    (lambda: ops.apply_mask(_images(), _mask(), out_dtype=torch.uint8, mean=MEAN, std=STD), ValueError, "out_dtype"),
    (lambda: ops.sample_masks(0, I3, 8, kind="ring"), ValueError, "kind"),
    (lambda: ops.sample_masks(0, I3, 0), ValueError, "size"),
    (lambda: ops.sample_masks(0, I3, (8, -3)), ValueError, "size"),
    (lambda: ops.sample_masks(0, I3, (8, 8, 8)), TypeError, "size"),
    (lambda: ops.sample_masks(0, I3.int(), 8), TypeError, "index"),
    (lambda: ops.sample_masks(0, I3.view(3, 1), 8, kind="region"), ValueError, "index"),
    (lambda: ops.sample_masks(-1, I3, 8, kind="region"), ValueError, "seed"),
    (lambda: ops.sample_masks(0.5, I3, 8), TypeError, "seed"),
    (lambda: ops.sample_masks(0, I3, 8, fraction=0), ValueError, "fraction"),
    (lambda: ops.sample_masks(0, I3, 8, fraction=1.5), ValueError, "fraction"),
    (lambda: ops.sample_masks(0, I3, 8, fraction=float("nan")), ValueError, "fraction"),
    (lambda: ops.sample_masks(0, I3, 8, kind="blocks", count=(3, 1)), ValueError, "count"),
    (lambda: ops.sample_masks(0, I3, 8, kind="blocks", count=(0, 0)), ValueError, "count"),
    (lambda: ops.sample_masks(0, I3, 8, kind="blocks", count=(1.0, 2)), TypeError, "count"),
    (lambda: ops.sample_masks(0, I3, 8, kind="blocks", block_size=(0.0, 0.5)), ValueError, "block_size"),
    (lambda: ops.sample_masks(0, I3, 8, kind="blocks", block_size=(0.5, 1.5)), ValueError, "block_size"),
    (lambda: ops.sample_masks(0, I3, 8, kind="region", coverage=(0.3, 0.2)), ValueError, "coverage"),
    (lambda: ops.sample_masks(0, I3, 8, kind="region", coverage=(-0.1, 0.2)), ValueError, "coverage"),
    (lambda: ops.sample_masks(0, I3, 2, kind="region", coverage=(0.3, 0.4)), ValueError, "coverage"),
    (lambda: ops.sample_masks(0, I3, 3, kind="region", coverage=0.3), ValueError, "coverage"),
    (lambda: ops.sample_masks(0, I3, 8, kind="region", coverage="most"), TypeError, "coverage"),
    (lambda: ops.sample_masks(0, I3, 8, kind="region", cells=1), ValueError, "cells"),
    (lambda: ops.sample_masks(0, I3, 8, kind="region", cells=2.0), TypeError, "cells"),
    (lambda: ops.sample_boxes(0, I3, 8, kind="region"), ValueError, "kind"),
    (lambda: RandomMask("center", coverage=(0.1, 0.2)), TypeError, "sampler"),
    (lambda: RandomMask("blocks", size=3), TypeError, "sampler"),
    (lambda: RandomMask("star"), ValueError, "kind"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name}"):
        call()


def test_native_ops_guard_memory_when_called_directly():
    """Direct torch.ops calls skip the Python checks; the C++ side must still refuse."""
    with pytest.raises(ValueError, match="mask"):
        torch.ops.sslfast.apply_mask(_images(), torch.zeros(2, 1, 8, 7, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        torch.ops.sslfast.apply_mask(_images(), torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="boxes"):
        torch.ops.sslfast.apply_boxes(_images(), torch.zeros(3, 1, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="fill"):
        torch.ops.sslfast.apply_mask(_images(), _mask(), "value", [1.0, 2.0])
    with pytest.raises(ValueError, match="fill"):
        torch.ops.sslfast.apply_mask(_images(), _mask(), "median")
    with pytest.raises(ValueError, match="block_size"):
        torch.ops.sslfast.sample_boxes(0, I3, 8, 8, 1, 1, 9, 9, 2, 2, False)
    with pytest.raises(ValueError, match="count"):
        torch.ops.sslfast.sample_boxes(0, I3, 8, 8, 2, 1, 2, 2, 2, 2, False)
    with pytest.raises(ValueError, match="coverage"):
        torch.ops.sslfast.sample_region_masks(0, I3, 8, 8, 4, 10, 65)
    with pytest.raises(ValueError, match="size"):
        torch.ops.sslfast.boxes_to_mask(torch.zeros(1, 1, 4, dtype=torch.int64), 0, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="^mask"):
        ops.apply_mask(_images().cuda(), _mask())


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
def test_cuda_samplers_match_cpu():
    index = torch.arange(50, 350)
    for kind in ("center", "blocks", "region"):
        for size in ((64, 64), (37, 53)):
            cpu = ops.sample_masks(8, index, size, kind=kind)
            gpu = ops.sample_masks(8, index.cuda(), size, kind=kind)
            assert gpu.is_cuda and torch.equal(cpu, gpu.cpu())
    assert torch.equal(ops.sample_boxes(8, index, 40, kind="blocks"),
                       ops.sample_boxes(8, index.cuda(), 40, kind="blocks").cpu())


@pytest.mark.cuda
@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", ALL_DTYPES)
def test_cuda_apply_matches_cpu(in_dtype, out_dtype, generator):
    images = random_images((5, 3, 19, 21), in_dtype, generator)
    index = torch.arange(5)
    boxes = ops.sample_boxes(1, index, (19, 21), kind="blocks")
    region = ops.sample_masks(1, index, (19, 21), kind="region")
    normalize = {} if out_dtype == torch.uint8 else {"mean": MEAN, "std": STD}
    for fill in ("zero", "noise", [0.1, 0.2, 0.3], "mean"):
        cpu, cpu_mask = ops.apply_mask(images, boxes, fill=fill, out_dtype=out_dtype, **normalize)
        gpu, gpu_mask = ops.apply_mask(images.cuda(), boxes.cuda(), fill=fill, out_dtype=out_dtype, **normalize)
        assert torch.equal(cpu_mask, gpu_mask.cpu())
        # exact but for the fused multiply-add the GPU may use in the conversion
        # and the per-image mean, whose summation order differs
        torch.testing.assert_close(cpu.double(), gpu.cpu().double(), atol=1.0 if out_dtype == torch.uint8 else 1e-5,
                                   rtol=1e-2)
        cpu = ops.apply_mask(images, region, fill=fill, out_dtype=out_dtype, **normalize)
        gpu = ops.apply_mask(images.cuda(), region.cuda(), fill=fill, out_dtype=out_dtype, **normalize)
        torch.testing.assert_close(cpu.double(), gpu.cpu().double(), atol=1.0 if out_dtype == torch.uint8 else 1e-5,
                                   rtol=1e-2)


@pytest.mark.cuda
def test_cuda_opcheck_and_graph_capture():
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8, device="cuda")
    index = torch.arange(4, device="cuda")
    opcheck(torch.ops.sslfast.sample_region_masks.default, (1, index, 16, 16, 4, 50, 80))
    opcheck(torch.ops.sslfast.apply_boxes.default, (images, ops.sample_boxes(0, index, 16, kind="blocks"), "mean",
                                                    None, 0, torch.float32, list(MEAN), list(STD)))

    def step():
        region = ops.sample_masks(2, index, 16, kind="region")
        out, mask = ops.apply_mask(images, ops.sample_boxes(2, index, 16, kind="blocks"), fill="noise")
        return region, out, mask

    step()  # warm-up
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = step()
    graph.replay()
    for got, want in zip(captured, step()):
        assert torch.equal(got, want)
