"""patches family: gather_patches, permutation_set, the jigsaw / context /
tuple / colour-drop samplers, and the Jigsaw and RelativePatch transforms."""
import itertools
import math

import cv2
import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch.library import opcheck

from sslfast import ops
from sslfast.transforms import Jigsaw, RelativePatch

from reference import counter_hash, hash_below

# Field constants of csrc/kernels/patches.h.
JIGSAW_FIELD, CONTEXT_FIELD, TUPLE_FIELD = 0x4A696773, 0x436E7478, 0x54706C65
COLOR_DROP_FIELD, PERMUTATION_FIELD = 0x44726F70, 0x5065726D
ALL_DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]
FLOAT_DTYPES = [torch.float32, torch.float16, torch.bfloat16]
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
LOW_PRECISION = {torch.float16: dict(atol=1e-2, rtol=1e-2), torch.bfloat16: dict(atol=5e-2, rtol=2e-2)}


def random_images(shape, dtype, generator):
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator).to(dtype)


def random_parameters(images, batch, per_sample, size, generator):
    """Random src and in-range origins (every edge position included)."""
    t, _, h, w = images.shape
    ph, pw = size
    src = torch.randint(0, t, (batch, per_sample), generator=generator)
    y = torch.randint(0, h - ph + 1, (batch, per_sample), generator=generator)
    x = torch.randint(0, w - pw + 1, (batch, per_sample), generator=generator)
    y.view(-1)[:2] = torch.tensor([0, h - ph])[: y.numel()]
    x.view(-1)[:2] = torch.tensor([w - pw, 0])[: x.numel()]
    return src, torch.stack([y, x], dim=-1)


def sliced(images, src, origins, size):
    """The patches by plain tensor slicing: [B, N, C, ph, pw]."""
    ph, pw = size
    return torch.stack([
        torch.stack([images[s, :, y:y + ph, x:x + pw] for s, (y, x) in zip(row_src.tolist(), row_org.tolist())])
        for row_src, row_org in zip(src, origins)])


def in_output_units(patches, out_dtype):
    """float64 values in the output's units ([0, 1] for uint8 -> floating)."""
    x = patches.double()
    if patches.dtype == torch.uint8 and out_dtype != torch.uint8:
        x = x / 255
    if patches.dtype != torch.uint8 and out_dtype == torch.uint8:
        x = x * 255
    return x


def patch_normalized(x, eps=1e-5):
    """Zero mean, unit (population) std per patch and channel: instance norm."""
    b, n, c, h, w = x.shape
    if h * w == 1:  # instance_norm refuses one value per channel; it is its own mean
        return torch.zeros_like(x)
    return F.instance_norm(x.reshape(b * n, c, h, w), eps=eps).reshape(x.shape)


def rms_normalized(x, eps=1e-5):
    """Per-channel mean removed, then the patch divided by its RMS over all channels (numpy, from the spec)."""
    a = x.numpy()
    centred = a - a.mean(axis=(-2, -1), keepdims=True)
    rms = np.sqrt((centred ** 2).mean(axis=(-3, -2, -1), keepdims=True) + eps)
    return torch.from_numpy(centred / rms)


def assert_close_to(got, want, dtype):
    if dtype == torch.uint8:
        assert got.dtype == torch.uint8
        assert (got.int() - want.round().clamp(0, 255).int()).abs().max() <= 1
    else:
        torch.testing.assert_close(got.double(), want, **LOW_PRECISION.get(dtype, dict(atol=1e-5, rtol=1e-4)))


# --------------------------------------------------------------------------- gather: values
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_gather_equals_slicing(dtype, generator):
    images = random_images((5, 3, 17, 20), dtype, generator)
    for size in [(1, 1), (4, 7), (17, 20), (9, 9)]:
        src, origins = random_parameters(images, 3, 4, size, generator)
        out = ops.gather_patches(images, src, origins, size)
        assert out.dtype == dtype and out.shape == (3, 4, 3, *size) and out.is_contiguous()
        assert torch.equal(out, sliced(images, src, origins, size))


@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", ALL_DTYPES)
def test_gather_converts_dtype(in_dtype, out_dtype, generator):
    images = random_images((3, 2, 12, 12), in_dtype, generator)
    src, origins = random_parameters(images, 2, 3, (5, 6), generator)
    got = ops.gather_patches(images, src, origins, (5, 6), out_dtype=out_dtype)
    assert_close_to(got, in_output_units(sliced(images, src, origins, (5, 6)), out_dtype), out_dtype)


@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("normalize", ["patch", "rms"])
def test_gather_normalizes_each_patch(in_dtype, out_dtype, normalize, generator):
    images = random_images((4, 3, 20, 16), in_dtype, generator)
    src, origins = random_parameters(images, 3, 5, (8, 6), generator)
    got = ops.gather_patches(images, src, origins, (8, 6), normalize=normalize, out_dtype=out_dtype)
    reference = patch_normalized if normalize == "patch" else rms_normalized
    want = reference(in_output_units(sliced(images, src, origins, (8, 6)), out_dtype))
    assert_close_to(got, want, out_dtype)
    if normalize == "patch" and out_dtype == torch.float32:
        assert got.double().mean(dim=(-2, -1)).abs().max() < 1e-5
        torch.testing.assert_close(got.double().std(dim=(-2, -1), unbiased=False),
                                   torch.ones(3, 5, 3, dtype=torch.float64), atol=1e-3, rtol=0)


def test_patch_normalization_eps_and_constant_patches():
    images = torch.full((1, 3, 6, 6), 100, dtype=torch.uint8)
    images[0, 1, :, 3:] = 110  # channel 1 varies inside the patch
    src, origins = torch.zeros(1, 1, dtype=torch.int64), torch.zeros(1, 1, 2, dtype=torch.int64)
    out = ops.gather_patches(images, src, origins, 6, normalize="patch", eps=1e-3)
    assert torch.equal(out[0, 0, 0], torch.zeros(6, 6))  # constant: zeros, not NaN
    std = 5 / 255
    torch.testing.assert_close(out[0, 0, 1, 0, 3].double(), torch.tensor(std / math.sqrt(std**2 + 1e-3),
                                                                            dtype=torch.float64))


@pytest.mark.parametrize("in_dtype", [torch.uint8, torch.float32, torch.bfloat16])
def test_gray_matches_opencv(in_dtype, generator):
    images = random_images((3, 3, 10, 11), in_dtype, generator)
    src, origins = random_parameters(images, 2, 4, (5, 5), generator)
    gray = torch.tensor([[True, False, True, False], [False, True, True, True]])
    got = ops.gather_patches(images, src, origins, 5, gray=gray, out_dtype=torch.float32)
    plain = in_output_units(sliced(images, src, origins, (5, 5)), torch.float32).float()
    for b in range(2):
        for n in range(4):
            if not gray[b, n]:
                torch.testing.assert_close(got[b, n], plain[b, n])
                continue
            luma = cv2.cvtColor(plain[b, n].permute(1, 2, 0).numpy(), cv2.COLOR_RGB2GRAY)
            for c in range(3):
                torch.testing.assert_close(got[b, n, c], torch.from_numpy(luma), atol=1e-6, rtol=1e-5)


def test_gray_then_normalize_and_uint8_output(generator):
    images = random_images((2, 3, 9, 9), torch.uint8, generator)
    src, origins = random_parameters(images, 2, 2, (4, 4), generator)
    gray = torch.ones(2, 2, dtype=torch.bool)
    luma = (0.299 * images[:, 0].double() + 0.587 * images[:, 1].double() + 0.114 * images[:, 2].double())
    want = sliced(luma[:, None].expand(-1, 3, -1, -1), src, origins, (4, 4))
    assert_close_to(ops.gather_patches(images, src, origins, 4, gray=gray), want, torch.uint8)
    assert_close_to(ops.gather_patches(images, src, origins, 4, gray=gray, normalize="patch"),
                    patch_normalized(want / 255), torch.float32)


def test_color_dropping_keeps_one_channel_and_fills_noise(generator):
    images = random_images((2, 3, 64, 64), torch.uint8, generator)
    src = torch.tensor([[0, 1, 0, 1]])
    origins = torch.tensor([[[0, 0], [8, 4], [16, 16], [0, 0]]])
    keep = torch.tensor([[0, 2, -1, 1]])
    out = ops.gather_patches(images, src, origins, 48, keep_channel=keep, noise_seed=5, noise_std=0.05,
                             out_dtype=torch.float32)
    plain = sliced(images, src, origins, (48, 48)).double() / 255
    for n, k in enumerate(keep[0].tolist()):
        if k < 0:
            torch.testing.assert_close(out[0, n].double(), plain[0, n])
            continue
        kept = plain[0, n, k]
        torch.testing.assert_close(out[0, n, k].double(), kept)
        for c in {0, 1, 2} - {k}:
            noise = out[0, n, c].double()
            assert abs(noise.mean() - kept.mean()) < 0.05 * kept.std() * 5 / 48
            assert abs(noise.std() / (0.05 * kept.std(unbiased=False)) - 1) < 0.05
            z = ((noise - kept.mean()) / (0.05 * kept.std(unbiased=False))).flatten().numpy()
            assert scipy.stats.kstest(z, "norm").pvalue > 1e-3
        assert not torch.equal(out[0, n, (k + 1) % 3], out[0, n, (k + 2) % 3])


def test_color_dropping_noise_is_seeded(generator):
    images = random_images((1, 3, 16, 16), torch.float32, generator)
    src, origins = torch.zeros(1, 2, dtype=torch.int64), torch.zeros(1, 2, 2, dtype=torch.int64)
    keep = torch.tensor([[1, 1]])
    first = ops.gather_patches(images, src, origins, 16, keep_channel=keep, noise_seed=3)
    assert torch.equal(first, ops.gather_patches(images, src, origins, 16, keep_channel=keep, noise_seed=3))
    other = ops.gather_patches(images, src, origins, 16, keep_channel=keep, noise_seed=4)
    assert torch.equal(first[:, :, 1], other[:, :, 1]) and not torch.equal(first[:, :, 0], other[:, :, 0])
    # Two identical patches at different output positions get different noise.
    assert not torch.equal(first[0, 0, 0], first[0, 1, 0])


def test_color_dropping_with_normalization(generator):
    images = random_images((2, 3, 40, 40), torch.uint8, generator)
    src, origins = random_parameters(images, 2, 3, (32, 32), generator)
    keep = torch.tensor([[0, 1, 2], [-1, 2, 0]])
    # eps far below the noise's variance (1e-4 of the kept channel's), so it is normalised too.
    out = ops.gather_patches(images, src, origins, 32, keep_channel=keep, normalize="patch", eps=1e-12).double()
    torch.testing.assert_close(out.mean(dim=(-2, -1)), torch.zeros(2, 3, 3, dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(dim=(-2, -1), unbiased=False), torch.ones(2, 3, 3, dtype=torch.float64),
                               atol=2e-3, rtol=0)
    plain = patch_normalized(sliced(images, src, origins, (32, 32)).double() / 255, eps=1e-12)
    for b, n in itertools.product(range(2), range(3)):
        k = keep[b, n].item()
        channels = range(3) if k < 0 else [k]
        for c in channels:
            torch.testing.assert_close(out[b, n, c], plain[b, n, c], atol=1e-4, rtol=1e-4)
    rms = ops.gather_patches(images, src, origins, 32, keep_channel=keep, normalize="rms").double()
    torch.testing.assert_close(rms.pow(2).mean(dim=(-3, -2, -1)), torch.ones(2, 3, dtype=torch.float64), atol=1e-3,
                               rtol=0)


def test_mean_std_applied_last(generator):
    images = random_images((2, 3, 10, 10), torch.uint8, generator)
    src, origins = random_parameters(images, 2, 2, (6, 6), generator)
    plain = sliced(images, src, origins, (6, 6)).double() / 255
    mean, std = torch.tensor(MEAN, dtype=torch.float64), torch.tensor(STD, dtype=torch.float64)
    got = ops.gather_patches(images, src, origins, 6, mean=MEAN, std=STD)
    assert got.dtype == torch.float32
    assert_close_to(got, (plain - mean.view(3, 1, 1)) / std.view(3, 1, 1), torch.float32)
    both = ops.gather_patches(images, src, origins, 6, normalize="patch", mean=[0.5], std=[2.0])
    assert_close_to(both, (patch_normalized(plain) - 0.5) / 2.0, torch.float32)


def test_gather_from_frames_in_any_order(generator):
    frames = random_images((12, 3, 8, 10), torch.uint8, generator)  # 3 clips of 4 frames
    src = torch.tensor([[5, 4, 7], [0, 11, 3]])
    origins = torch.tensor([[[1, 2]] * 3, [[0, 0], [2, 4], [1, 1]]])
    out = ops.gather_patches(frames, src, origins, (6, 6))
    assert torch.equal(out, sliced(frames, src, origins, (6, 6)))


def test_accepts_non_contiguous_inputs(generator):
    base = random_images((3, 3, 16, 16), torch.uint8, generator)
    src, origins = random_parameters(base, 2, 3, (5, 5), generator)
    keep = torch.tensor([[0, -1, 2], [1, 1, -1]])
    gray = torch.tensor([[True, False, False], [False, True, False]])
    want = ops.gather_patches(base, src, origins, 5, keep_channel=keep, gray=gray, normalize="patch")
    strided_images = random_images((3, 3, 32, 16), torch.uint8, generator)
    strided_images[:, :, ::2] = base
    variants = [base.to(memory_format=torch.channels_last), strided_images[:, :, ::2]]
    for images in variants:
        got = ops.gather_patches(images, src.t().contiguous().t(), origins.transpose(0, 1).contiguous().transpose(0, 1),
                                 5, keep_channel=torch.stack([keep, keep], -1)[..., 0],
                                 gray=torch.stack([gray, gray], -1)[..., 1], normalize="patch")
        assert torch.equal(got, want)
    assert torch.equal(ops.gather_patches(base.transpose(2, 3), src, origins, 5),
                       sliced(base.transpose(2, 3), src, origins, (5, 5)))


def test_nan_and_inf_stay_in_their_patch():
    images = torch.rand(2, 1, 8, 8)
    images[0, 0, 1, 1] = float("nan")
    images[1, 0, 6, 6] = float("inf")
    src = torch.tensor([[0, 0, 1, 1]])
    origins = torch.tensor([[[0, 0], [4, 4], [0, 0], [4, 4]]])
    out = ops.gather_patches(images, src, origins, 4, normalize="patch")
    finite = out.isfinite().flatten(2).all(-1)[0].tolist()
    assert finite == [False, True, True, False]


@settings(max_examples=40, deadline=None)
@given(t=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 14), w=st.integers(1, 14),
       batch=st.integers(1, 3), per_sample=st.integers(1, 4), dtype=st.sampled_from(ALL_DTYPES),
       normalize=st.sampled_from([None, "patch", "rms"]), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_gather_property(t, c, h, w, batch, per_sample, dtype, normalize, seed, data):
    generator = torch.Generator().manual_seed(seed)
    ph, pw = data.draw(st.integers(1, h)), data.draw(st.integers(1, w))
    images = random_images((t, c, h, w), dtype, generator)
    src, origins = random_parameters(images, batch, per_sample, (ph, pw), generator)
    got = ops.gather_patches(images, src, origins, (ph, pw), normalize=normalize, out_dtype=torch.float32)
    want = in_output_units(sliced(images, src, origins, (ph, pw)), torch.float32)
    if normalize == "patch":
        want = patch_normalized(want)
    elif normalize == "rms":
        want = rms_normalized(want)
    torch.testing.assert_close(got.double(), want, atol=1e-4, rtol=1e-4)


# --------------------------------------------------------------------------- permutation set
def pairwise_hamming(perms):
    d = (perms[:, None, :] != perms[None, :, :]).sum(-1).double()
    upper = torch.triu_indices(len(perms), len(perms), 1)
    return d[upper[0], upper[1]]


def greedy_reference(n, tiles, method, seed):
    """The greedy rule by exhaustive search at every step (numpy, O(n^2 tiles!))."""
    candidates = np.array(list(itertools.permutations(range(tiles))))
    chosen = [hash_below(counter_hash(seed, 0, PERMUTATION_FIELD), len(candidates))]
    while len(chosen) < n:
        d = (candidates[:, None, :] != candidates[chosen][None, :, :]).sum(-1)
        score = d.sum(1) if method == "max_avg" else d.min(1) * (tiles * n + 1) + d.sum(1)
        score[chosen] = -1
        chosen.append(int(np.argmax(score)))  # first maximum: lexicographic tie-break
    return torch.from_numpy(candidates[chosen]).long()


@pytest.mark.parametrize("method", ["max_min", "max_avg"])
@pytest.mark.parametrize("tiles, n", [(4, 24), (4, 10), (5, 60), (5, 7)])
def test_permutation_set_equals_exhaustive_greedy(method, tiles, n):
    for seed in (0, 77):
        got = ops.permutation_set(n, tiles, method=method, seed=seed)
        assert torch.equal(got, greedy_reference(n, tiles, method, seed))


@pytest.mark.parametrize("method", ["max_min", "max_avg"])
def test_permutation_set_shape_and_rows(method):
    perms, stats = ops.permutation_set(64, method=method, seed=3, return_stats=True)
    assert perms.shape == (64, 9) and perms.dtype == torch.int64
    assert torch.equal(perms.sort(dim=1).values, torch.arange(9).expand(64, 9))
    assert len({tuple(p) for p in perms.tolist()}) == 64
    distances = pairwise_hamming(perms)
    assert stats.min_distance == distances.min().item()
    assert stats.mean_distance == pytest.approx(distances.mean().item(), abs=1e-12)


def test_permutation_set_beats_random_sets():
    generator = torch.Generator().manual_seed(0)
    random_sets = [torch.stack([torch.randperm(9, generator=generator) for _ in range(100)]) for _ in range(20)]
    random_min = max(pairwise_hamming(p).min().item() for p in random_sets)
    random_mean = max(pairwise_hamming(p).mean().item() for p in random_sets)
    perms, stats = ops.permutation_set(100, return_stats=True)
    assert stats.min_distance >= 6 and stats.min_distance > random_min
    _, avg_stats = ops.permutation_set(100, method="max_avg", return_stats=True)
    assert avg_stats.mean_distance > random_mean
    assert ops.permutation_set(64, return_stats=True)[1].min_distance >= 7


def test_permutation_set_deterministic_cached_and_copied():
    first = ops.permutation_set(30, 6, seed=11)
    first[0, 0] = 99  # callers get a copy; the cache is unharmed
    again = ops.permutation_set(30, 6, seed=11)
    assert again[0, 0] != 99
    assert torch.equal(again, torch.ops.sslfast.permutation_set(30, 6, "max_min", 11)[0])
    assert not torch.equal(again, ops.permutation_set(30, 6, seed=12))
    first_row = list(itertools.permutations(range(6)))[hash_below(counter_hash(11, 0, PERMUTATION_FIELD), 720)]
    assert again[0].tolist() == list(first_row)


# --------------------------------------------------------------------------- samplers
def split_calls(sampler, index, pieces=(1, 5, 2, 100)):
    """The sampler on the whole index, and concatenated over uneven pieces."""
    whole = sampler(index)
    parts, start = [], 0
    for size in pieces:
        parts.append(sampler(index[start:start + size]))
        start += size
    return whole, [torch.cat(p) for p in zip(*parts)]


def test_samplers_independent_of_batching():
    index = torch.randperm(108, generator=torch.Generator().manual_seed(1)) * 1000 - 5
    samplers = [
        lambda i: ops.sample_jigsaw(4, i, (100, 120))[1:],  # src is the batch position: not comparable
        lambda i: ops.sample_context(4, i, 130)[1:],
        lambda i: [t % 9 if k == 0 else t for k, t in enumerate(ops.sample_tuples(4, i, 9, (20, 30), 8))],
        lambda i: ops.sample_color_drop(4, i, 3, drop=0.5, gray=0.5),
    ]
    for sampler in samplers:
        whole, pieces = split_calls(sampler, index)
        for w, p in zip(whole, pieces):
            assert torch.equal(w, p)


def test_jigsaw_sampler_follows_the_recipe():
    index = torch.arange(300) + 10**6
    perms = ops.permutation_set(100)
    for size, cell, tile in [((255, 255), 85, 64), ((96, 96), 32, 24), ((101, 130), 30, 20)]:
        src, origins, perm_id = ops.sample_jigsaw(9, index, size, cell=cell, tile=tile)
        assert torch.equal(src, torch.arange(300)[:, None].expand(300, 9))
        assert perm_id.min() >= 0 and perm_id.max() < 100
        expected = [hash_below(counter_hash(9, i, JIGSAW_FIELD), 100) for i in index.tolist()]
        assert perm_id.tolist() == expected
        # Undo the permutation: slot j shows tile perms[p, j], whose cell is row-major.
        tiles = torch.empty_like(origins)
        tiles.scatter_(1, perms[perm_id][..., None].expand(-1, -1, 2), origins)
        cells = torch.stack(torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij"), -1).view(9, 2) * cell
        offset = tiles - cells  # block corner + each tile's jitter inside its cell
        jitter = offset - offset.amin(dim=1, keepdim=True)
        assert jitter.min() >= 0 and jitter.max() <= cell - tile
        assert (origins >= 0).all() and (origins[..., 0] + tile <= size[0]).all()
        assert (origins[..., 1] + tile <= size[1]).all()
        images = torch.zeros(300, 1, *size, dtype=torch.uint8)
        assert ops.gather_patches(images, src, origins, tile).shape == (300, 9, 1, tile, tile)


def test_jigsaw_smallest_image_and_defaults():
    assert ops.jigsaw_geometry(255) == (85, 64)
    assert ops.jigsaw_geometry((96, 120)) == (32, 24)
    index = torch.arange(500)
    src, origins, _ = ops.sample_jigsaw(1, index, 30, cell=10, tile=7)  # block fills the image
    assert origins.min() >= 0 and (origins + 7).max() <= 30
    assert (origins % 10).unique().tolist() == [0, 1, 2, 3]  # every jitter position occurs
    with pytest.raises(ValueError, match="^cell"):
        ops.sample_jigsaw(1, index, 29, cell=10, tile=7)


def test_jigsaw_sampler_uses_given_permutations():
    perms = torch.tensor([[8, 7, 6, 5, 4, 3, 2, 1, 0], [0, 1, 2, 3, 4, 5, 6, 7, 8]])
    _, origins, perm_id = ops.sample_jigsaw(2, torch.arange(50), 90, cell=30, tile=30, permutations=perms)
    cells = torch.stack(torch.meshgrid(torch.arange(3), torch.arange(3), indexing="ij"), -1).view(9, 2) * 30
    for o, p in zip(origins, perm_id.tolist()):
        assert torch.equal(o, cells[perms[p]])
    assert set(perm_id.tolist()) == {0, 1}


def test_context_sampler_follows_the_recipe():
    patch, gap, jitter = 10, 5, 2
    smallest = 3 * patch + 2 * (gap + jitter)
    index = torch.arange(4000)
    src, origins, label = ops.sample_context(3, index, (smallest, smallest + 9), patch=patch, gap=gap, jitter=jitter)
    assert torch.equal(src, torch.arange(4000)[:, None].expand(4000, 2))
    assert label.tolist() == [hash_below(counter_hash(3, i, CONTEXT_FIELD), 8) for i in range(4000)]
    assert (origins >= 0).all() and (origins[..., 0] + patch <= smallest).all()
    assert (origins[..., 1] + patch <= smallest + 9).all()
    steps = torch.tensor(ops.patches.CONTEXT_OFFSETS)[label] * (patch + gap)
    offset = origins[:, 1] - origins[:, 0] - steps
    assert offset.abs().max() == 2 * jitter
    counts = torch.bincount(label, minlength=8)
    assert scipy.stats.chisquare(counts.numpy()).pvalue > 1e-3
    assert ops.context_geometry(398) == (96, 48, 7) and ops.context_geometry(96) == (23, 11, 1)
    with pytest.raises(ValueError, match="^patch"):
        ops.sample_context(3, index, smallest - 1, patch=patch, gap=gap, jitter=jitter)


def test_context_labels_follow_the_documented_layout():
    images = torch.zeros(1, 1, 30, 30)
    images[0, 0] = torch.arange(3).repeat_interleave(10)[:, None] * 3 + torch.arange(3).repeat_interleave(10)
    # images: the 3x3 block of 10 px cells numbered row-major 0..8
    for i in range(64):
        src, origins, label = ops.sample_context(0, torch.tensor([i]), 30, patch=10, gap=0, jitter=0)
        centre, neighbour = ops.gather_patches(images, src, origins, 10)[0, :, 0, 0, 0].tolist()
        assert centre == 4
        assert neighbour == [0, 1, 2, 3, 5, 6, 7, 8][label.item()]


def test_tuple_sampler_orders_and_balance():
    frames = 6
    index = torch.arange(4000)
    src, origins, label = ops.sample_tuples(8, index, frames, (16, 20), (16, 12))
    t = src - torch.arange(4000)[:, None] * frames
    assert t.min() >= 0 and t.max() < frames
    first, middle, last = t.unbind(1)
    assert (first >= 1).all() and (last <= frames - 2).all() and (first < last).all()
    ordered = (first < middle) & (middle < last)
    assert torch.equal(ordered, label == 1)
    positives = label.double().mean().item()
    assert abs(positives - 0.25) < 0.03
    assert (origins[..., 0] == 0).all() and origins[..., 1].min() == 0 and origins[..., 1].max() == 8
    assert (origins == origins[:, :1]).all()
    positives_half = ops.sample_tuples(8, index, frames, 20, 4, positive=0.5)[2].double().mean().item()
    assert abs(positives_half - 0.5) < 0.03


def test_color_drop_sampler_rates():
    index = torch.arange(20000)
    keep, gray = ops.sample_color_drop(2, index, 4, drop=0.4, gray=0.3)
    assert keep.shape == gray.shape == (20000, 4) and gray.dtype == torch.bool
    assert (gray == gray[:, :1]).all()  # whole samples are gray
    assert abs(gray[:, 0].double().mean().item() - 0.3) < 0.015
    assert abs((keep >= 0).double().mean().item() - 0.4) < 0.01
    assert scipy.stats.chisquare(torch.bincount(keep[keep >= 0], minlength=3).numpy()).pvalue > 1e-3
    keep_all, gray_none = ops.sample_color_drop(2, index[:10], 4, drop=0.0, gray=0.0)
    assert (keep_all == -1).all() and not gray_none.any()
    keep_one, _ = ops.sample_color_drop(2, index[:100], 2, drop=1.0, channels=1)
    assert (keep_one == 0).all()


# --------------------------------------------------------------------------- transforms
def test_jigsaw_transform(generator):
    images = random_images((6, 3, 96, 96), torch.uint8, generator)
    index = torch.arange(40, 46)
    transform = Jigsaw(seed=5)
    tiles, labels = transform(images, index)
    assert tiles.shape == (6, 9, 3, 24, 24) and tiles.dtype == torch.float32
    src, origins, want_labels = ops.sample_jigsaw(5, index, 96)
    assert torch.equal(labels, want_labels)
    _, gray = ops.sample_color_drop(5, index, 9, drop=0.0, gray=0.3)
    assert torch.equal(tiles, ops.gather_patches(images, src, origins, 24, normalize="patch", gray=gray))
    assert torch.equal(transform.permutations, ops.permutation_set(100))
    first = transform(images)[1]
    assert not torch.equal(first, transform(images)[1])  # without index: fresh draws per call
    one_channel, _ = Jigsaw(grid=2, n_perms=10)(images[:, :1].float())
    assert one_channel.shape == (6, 4, 1, 36, 36)


def test_relative_patch_transform(generator):
    images = random_images((4, 3, 96, 96), torch.uint8, generator)
    index = torch.arange(4)
    transform = RelativePatch(seed=1)
    patches, labels = transform(images, index)
    assert patches.shape == (4, 2, 3, 23, 23)
    src, origins, want = ops.sample_context(1, index, 96)
    assert torch.equal(labels, want)
    keep, _ = ops.sample_color_drop(1, index, 2, drop=1.0)
    plain = sliced(images, src, origins, (23, 23)).double() / 255
    for b, n in itertools.product(range(4), range(2)):
        k = keep[b, n].item()
        kept = plain[b, n, k] - plain[b, n, k].mean()
        # rms: the kept channel is centred and scaled like every channel.
        ratio = patches[b, n, k].double() / kept
        ratio = ratio[kept.abs() > 1e-3]
        assert torch.allclose(ratio, ratio.median().expand_as(ratio), rtol=1e-3)
    torch.testing.assert_close(patches.double().pow(2).mean(dim=(-3, -2, -1)), torch.ones(4, 2, dtype=torch.float64),
                               atol=1e-3, rtol=0)


def test_transforms_as_collate_fn():
    data = [(torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8), i) for i in range(8)]
    jigsaw, context = Jigsaw(seed=3), RelativePatch(seed=3)

    def collate(samples):
        images = torch.stack([s[0] for s in samples])
        index = torch.tensor([s[1] for s in samples])
        return jigsaw(images, index)[1], context(images, index)[1]

    loader = torch.utils.data.DataLoader(data, batch_size=3, collate_fn=collate)
    labels = [torch.cat(parts) for parts in zip(*loader)]
    assert torch.equal(labels[0], ops.sample_jigsaw(3, torch.arange(8), 64)[2])
    assert torch.equal(labels[1], ops.sample_context(3, torch.arange(8), 64)[2])


# --------------------------------------------------------------------------- torch integration
def test_opcheck(generator):
    images = random_images((3, 3, 12, 12), torch.uint8, generator)
    src, origins = random_parameters(images, 2, 3, (5, 5), generator)
    keep = torch.tensor([[0, -1, 2], [1, 1, -1]])
    gray = torch.tensor([[True, False, False], [False, True, False]])
    gather = torch.ops.sslfast.gather_patches.default
    opcheck(gather, (images, src, origins, [5, 5]))
    opcheck(gather, (images, src, origins, [5, 4], "patch", keep, gray, 3, 0.01, 1e-5, torch.float32, list(MEAN),
                     list(STD)))
    opcheck(gather, (images.float(), src, origins, [3, 5], "rms", None, None, 0, 0.01, 1e-5, torch.bfloat16, None,
                     None))
    index = torch.arange(4)
    opcheck(torch.ops.sslfast.sample_jigsaw.default, (1, index, 96, 96, 3, 32, 24, ops.permutation_set(10)))
    opcheck(torch.ops.sslfast.sample_context.default, (1, index, 96, 96, 23, 11, 1))
    opcheck(torch.ops.sslfast.sample_tuples.default, (1, index, 7, 20, 20, [10, 10], 0.25))
    opcheck(torch.ops.sslfast.sample_color_drop.default, (1, index, 2, 3, 0.5, 0.5))


def test_torch_compile(generator):
    images = random_images((4, 3, 48, 48), torch.uint8, generator)
    perms = ops.permutation_set(20)

    def pretext_batch(images, index):
        src, origins, labels = ops.sample_jigsaw(7, index, (48, 48), permutations=perms)
        keep, gray = ops.sample_color_drop(7, index, 9, drop=0.5, gray=0.3)
        tiles = ops.gather_patches(images, src, origins, 12, normalize="patch", keep_channel=keep, gray=gray)
        return tiles * 2, labels

    compiled = torch.compile(pretext_batch, fullgraph=True)
    out, labels = compiled(images, torch.arange(4))
    want, want_labels = pretext_batch(images, torch.arange(4))
    assert torch.equal(labels, want_labels)
    torch.testing.assert_close(out, want)


# --------------------------------------------------------------------------- bad input
def _images():
    return torch.zeros(2, 3, 8, 8, dtype=torch.uint8)


SRC = torch.tensor([[0, 1]])
ORIGINS = torch.tensor([[[0, 0], [4, 4]]])


def _gather(**overrides):
    args = dict(images=_images(), src=SRC, origins=ORIGINS, size=4)
    args.update(overrides)
    return lambda: ops.gather_patches(args.pop("images"), args.pop("src"), args.pop("origins"), args.pop("size"),
                                      **args)


@pytest.mark.parametrize("call, error, name", [
    (_gather(images=_images().double()), TypeError, "images"),
    (_gather(images=_images().numpy()), TypeError, "images"),
    (_gather(images=torch.zeros(3, 8, 8)), ValueError, "images"),
    (_gather(images=torch.zeros(0, 3, 8, 8)), ValueError, "images"),
    (_gather(src=SRC.int()), TypeError, "src"),
    (_gather(src=SRC[0]), ValueError, "src"),
    (_gather(src=SRC[:0]), ValueError, "src"),
    (_gather(src=torch.tensor([[0, 2]])), ValueError, "src"),
    (_gather(src=torch.tensor([[-1, 0]])), ValueError, "src"),
    (_gather(origins=ORIGINS.float()), TypeError, "origins"),
    (_gather(origins=ORIGINS[..., :1]), ValueError, "origins"),
    (_gather(origins=ORIGINS[:, :1]), ValueError, "origins"),
    (_gather(origins=torch.tensor([[[0, 0], [5, 4]]])), ValueError, "origins"),
    (_gather(origins=torch.tensor([[[0, 0], [4, 5]]])), ValueError, "origins"),
    (_gather(origins=torch.tensor([[[0, -1], [4, 4]]])), ValueError, "origins"),
    (_gather(size=9), ValueError, "size"),
    (_gather(size=0), ValueError, "size"),
    (_gather(size=(4, 4, 4)), TypeError, "size"),
    (_gather(size=2.5), TypeError, "size"),
    (_gather(normalize="instance"), ValueError, "normalize"),
    (_gather(keep_channel=torch.tensor([[0, 3]])), ValueError, "keep_channel"),
    (_gather(keep_channel=torch.tensor([[-2, 0]])), ValueError, "keep_channel"),
    (_gather(keep_channel=torch.tensor([[0, 1]], dtype=torch.int32)), TypeError, "keep_channel"),
    (_gather(keep_channel=torch.tensor([0, 1])), ValueError, "keep_channel"),
    (_gather(gray=torch.tensor([[1, 0]])), TypeError, "gray"),
    (_gather(gray=torch.tensor([[True]])), ValueError, "gray"),
    (_gather(images=torch.zeros(2, 1, 8, 8), gray=torch.tensor([[True, False]])), ValueError, "gray"),
    (_gather(noise_seed=-1), ValueError, "noise_seed"),
    (_gather(noise_seed=1.5), TypeError, "noise_seed"),
    (_gather(noise_std=-0.1), ValueError, "noise_std"),
    (_gather(noise_std=float("nan")), ValueError, "noise_std"),
    (_gather(eps=0.0), ValueError, "eps"),
    (_gather(eps=float("nan")), ValueError, "eps"),
    (_gather(out_dtype=torch.float64), TypeError, "out_dtype"),
    (_gather(normalize="patch", out_dtype=torch.uint8), ValueError, "out_dtype"),
    (_gather(mean=MEAN), ValueError, "mean and std"),
    (_gather(mean=MEAN[:2], std=STD[:2]), ValueError, "mean"),
    (_gather(mean=MEAN, std=(0.1, 0.0, 0.1)), ValueError, "std"),
    (lambda: ops.permutation_set(1), ValueError, "n"),
    (lambda: ops.permutation_set(25, 4), ValueError, "n"),
    (lambda: ops.permutation_set(10, 11), ValueError, "tiles"),
    (lambda: ops.permutation_set(10, 1), ValueError, "tiles"),
    (lambda: ops.permutation_set(10.0), TypeError, "n"),
    (lambda: ops.permutation_set(10, method="max"), ValueError, "method"),
    (lambda: ops.permutation_set(10, seed=-1), ValueError, "seed"),
    (lambda: ops.sample_jigsaw(-1, torch.arange(2), 96), ValueError, "seed"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2).int(), 96), TypeError, "index"),
    (lambda: ops.sample_jigsaw(0, torch.zeros(2, 2, dtype=torch.int64), 96), ValueError, "index"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 0), ValueError, "image_size"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, cell=40), ValueError, "cell"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, tile=40), ValueError, "tile"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, grid=0), ValueError, "grid"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, n_perms=1), ValueError, "n_perms"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, permutations=torch.zeros(3, 9, dtype=torch.int64)),
     ValueError, "permutations"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, permutations=torch.arange(4)[None]), ValueError,
     "permutations"),
    (lambda: ops.sample_jigsaw(0, torch.arange(2), 96, permutations=torch.zeros(0, 9, dtype=torch.int64)),
     ValueError, "permutations"),
    (lambda: ops.sample_context(0, torch.arange(2), 60, patch=20), ValueError, "patch"),
    (lambda: ops.sample_context(0, torch.arange(2), 96, gap=-1), ValueError, "gap"),
    (lambda: ops.sample_context(0, torch.arange(2), (96, 40), patch=23), ValueError, "patch"),
    (lambda: ops.sample_tuples(0, torch.arange(2), 4, 32, 16), ValueError, "frames"),
    (lambda: ops.sample_tuples(0, torch.arange(2), 8, 32, 33), ValueError, "size"),
    (lambda: ops.sample_tuples(0, torch.arange(2), 8, 32, 16, positive=1.5), ValueError, "positive"),
    (lambda: ops.sample_color_drop(0, torch.arange(2), 0), ValueError, "patches"),
    (lambda: ops.sample_color_drop(0, torch.arange(2), 2, drop=-0.1), ValueError, "drop"),
    (lambda: ops.sample_color_drop(0, torch.arange(2), 2, drop=float("nan")), ValueError, "drop"),
    (lambda: ops.sample_color_drop(0, torch.arange(2), 2, gray="x"), TypeError, "gray"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name}"):
        call()


def test_native_ops_guard_memory_when_called_directly():
    """Direct torch.ops calls skip the Python checks: shapes are still refused,
    and out-of-range places are clamped inside the images (no stray read)."""
    gather = torch.ops.sslfast.gather_patches
    with pytest.raises(ValueError, match="origins"):
        gather(_images(), SRC, ORIGINS[:, :1], [4, 4])
    with pytest.raises(ValueError, match="size"):
        gather(_images(), SRC, ORIGINS, [9, 4])
    with pytest.raises(ValueError, match="gray"):
        gather(_images()[:, :1].contiguous(), SRC, ORIGINS, [4, 4], None, None, torch.tensor([[True, False]]))
    with pytest.raises(ValueError, match="normalize"):
        gather(_images(), SRC, ORIGINS, [4, 4], "bad")
    with pytest.raises(ValueError, match="permutations"):
        torch.ops.sslfast.sample_jigsaw(0, torch.arange(2), 96, 96, 3, 32, 24, torch.zeros(0, 9, dtype=torch.int64))
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    out = gather(images, torch.tensor([[7, -4]]), torch.tensor([[[100, 100], [-9, 3]]]), [4, 4])
    assert torch.equal(out[0, 0], images[1, :, 4:, 4:]) and torch.equal(out[0, 1], images[0, :, :4, 3:7])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="^src"):
        ops.gather_patches(_images().cuda(), SRC, ORIGINS.cuda(), 4)


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", ALL_DTYPES)
def test_cuda_matches_cpu(in_dtype, out_dtype, generator):
    images = random_images((6, 3, 40, 36), in_dtype, generator)
    src, origins = random_parameters(images, 5, 4, (17, 13), generator)
    keep, gray = ops.sample_color_drop(3, torch.arange(5), 4, drop=0.5, gray=0.4)
    modes = [dict(), dict(gray=gray)]
    if out_dtype != torch.uint8:
        modes += [dict(normalize="patch", keep_channel=keep, gray=gray), dict(normalize="rms", keep_channel=keep),
                  dict(mean=MEAN, std=STD, keep_channel=keep)]
    for mode in modes:
        cpu = ops.gather_patches(images, src, origins, (17, 13), out_dtype=out_dtype, noise_seed=9, **mode)
        cuda_mode = {k: (v.cuda() if isinstance(v, torch.Tensor) else v) for k, v in mode.items()}
        gpu = ops.gather_patches(images.cuda(), src.cuda(), origins.cuda(), (17, 13), out_dtype=out_dtype,
                                 noise_seed=9, **cuda_mode).cpu()
        if out_dtype == torch.uint8:  # a luma at exactly .5 may round either way after an FMA
            assert (cpu.int() - gpu.int()).abs().max() <= (1 if mode else 0)
        else:  # float rounding: fused multiply-adds, device log/cos in the noise
            torch.testing.assert_close(cpu.float(), gpu.float(), **LOW_PRECISION.get(out_dtype,
                                                                                        dict(atol=1e-4, rtol=1e-4)))


@pytest.mark.cuda
def test_cuda_samplers_match_cpu():
    index = torch.arange(-50, 1000, 7)
    calls = [
        lambda i: ops.sample_jigsaw(4, i, (100, 120)),
        lambda i: ops.sample_context(4, i, 130),
        lambda i: ops.sample_tuples(4, i, 9, (20, 30), 8),
        lambda i: ops.sample_color_drop(4, i, 3, drop=0.5, gray=0.5),
    ]
    for call in calls:
        for cpu, gpu in zip(call(index), call(index.cuda())):
            assert gpu.is_cuda and torch.equal(cpu, gpu.cpu())


@pytest.mark.cuda
def test_cuda_opcheck_transforms_and_graph_capture():
    images = torch.randint(0, 256, (4, 3, 96, 96), dtype=torch.uint8, device="cuda")
    index = torch.arange(4, device="cuda")
    jigsaw = Jigsaw(seed=2).cuda()
    tiles, labels = jigsaw(images, index)
    cpu_tiles, cpu_labels = Jigsaw(seed=2)(images.cpu(), index.cpu())
    assert torch.equal(labels.cpu(), cpu_labels)
    torch.testing.assert_close(tiles.cpu(), cpu_tiles, atol=1e-4, rtol=1e-4)
    src, origins, _ = ops.sample_jigsaw(2, index, 96, permutations=jigsaw.permutations)
    opcheck(torch.ops.sslfast.gather_patches.default, (images, src, origins, [24, 24], "patch", None, None, 0, 0.01,
                                                       1e-5, torch.float32, None, None))
    perms = jigsaw.permutations
    ops.gather_patches(images, src, origins, 24, normalize="patch")  # warm-up
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        s, o, lab = ops.sample_jigsaw(2, index, 96, permutations=perms)
        out = ops.gather_patches(images, s, o, 24, normalize="patch")
    graph.replay()
    torch.testing.assert_close(out, tiles)
    assert torch.equal(lab, labels)
