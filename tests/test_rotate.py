"""rotate family: rotate90, rotate90_all, sample_rotation, RandomRotation90."""
import pytest
import torch
import torchvision.transforms.v2.functional as TF
from hypothesis import given, settings, strategies as st
from torch.library import opcheck

import sslfast
from sslfast import ops
from sslfast.transforms import RandomRotation90

from reference import counter_hash, hash_below

ROTATION_FIELD = 0x526F7439  # kRotationField in csrc/kernels/rotate.h
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
ALL_DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32]


def random_images(shape, dtype, generator):
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator).to(dtype)


def reference_rotate(images, k):
    return torch.stack([torch.rot90(img, int(t), dims=(-2, -1)) for img, t in zip(images, k)])


def reference_convert(images, out_dtype, mean=None, std=None):
    """torch/torchvision's own way: scale, then normalise, in float64."""
    x = images.double()
    if images.dtype == torch.uint8 and out_dtype != torch.uint8:
        x = x / 255
    if mean is not None:
        x = TF.normalize(x, list(mean), list(std))
    if out_dtype == torch.uint8 and images.dtype != torch.uint8:
        return (x * 255).round().clamp(0, 255).to(torch.uint8)
    return x.to(out_dtype)


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("size", [1, 2, 7, 16, 33])
def test_rotate90_equals_torch_rot90(dtype, size, generator):
    images = random_images((6, 3, size, size), dtype, generator)
    k = torch.randint(0, 4, (6,), generator=generator)
    k[:4] = torch.arange(4)  # every turn at least once
    assert torch.equal(ops.rotate90(images, k), reference_rotate(images, k))


@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", ALL_DTYPES)
def test_rotate90_converts_dtype(in_dtype, out_dtype, generator):
    images = random_images((5, 3, 9, 9), in_dtype, generator)
    k = torch.randint(0, 4, (5,), generator=generator)
    got = ops.rotate90(images, k, out_dtype=out_dtype)
    want = reference_convert(reference_rotate(images, k), out_dtype)
    assert got.dtype == out_dtype
    if out_dtype == torch.uint8:  # rounding at exact .5 may differ by one step
        assert (got.int() - want.int()).abs().max() <= 1
    else:
        torch.testing.assert_close(got, want)


@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_rotate90_normalizes_like_torchvision(in_dtype, out_dtype, generator):
    images = random_images((4, 3, 12, 12), in_dtype, generator)
    k = torch.tensor([0, 1, 2, 3])
    got = ops.rotate90(images, k, out_dtype=out_dtype, mean=MEAN, std=STD)
    want = reference_convert(reference_rotate(images, k), out_dtype, MEAN, STD)
    torch.testing.assert_close(got, want, atol=1e-5 if out_dtype == torch.float32 else 1e-2, rtol=1e-2)


def test_rotate90_broadcasts_single_mean_std(generator):
    images = random_images((3, 5, 8, 8), torch.uint8, generator)
    k = torch.tensor([1, 2, 3])
    got = ops.rotate90(images, k, mean=[0.5], std=[0.25])
    want = (reference_rotate(images, k).double() / 255 - 0.5) / 0.25
    torch.testing.assert_close(got, want.float())


def test_rotate90_default_dtype():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    k = torch.zeros(2, dtype=torch.int64)
    assert ops.rotate90(images, k).dtype == torch.uint8
    assert ops.rotate90(images, k, mean=MEAN, std=STD).dtype == torch.float32
    assert ops.rotate90(images.half(), k, mean=MEAN, std=STD).dtype == torch.float16


def test_rotate90_accepts_non_contiguous_input(generator):
    base = random_images((4, 3, 10, 10), torch.uint8, generator)
    channels_last = base.to(memory_format=torch.channels_last)
    strided = random_images((4, 3, 20, 20), torch.uint8, generator)[:, :, ::2, 1::2]
    k = torch.tensor([3, 2, 1, 0])
    for images in (channels_last, strided, base.transpose(2, 3)):
        out = ops.rotate90(images, k)
        assert out.is_contiguous()
        assert torch.equal(out, reference_rotate(images, k))
    k_strided = torch.tensor([3, 9, 2, 9, 1, 9, 0, 9])[::2]
    assert torch.equal(ops.rotate90(base, k_strided), reference_rotate(base, k))


def test_rotate90_moves_nan_and_inf_with_their_pixel():
    images = torch.zeros(1, 1, 3, 3)
    images[0, 0, 0, 2] = float("nan")
    images[0, 0, 2, 2] = float("inf")
    out = ops.rotate90(images, torch.tensor([1]))
    want = torch.rot90(images[0], 1, dims=(-2, -1))
    assert torch.equal(out[0].isnan(), want.isnan())
    assert torch.equal(out[0].nan_to_num(), want.nan_to_num())


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 5), channels=st.integers(1, 5), size=st.integers(1, 19),
       dtype=st.sampled_from(ALL_DTYPES), seed=st.integers(0, 2**63 - 1), normalize=st.booleans())
def test_rotate90_property(batch, channels, size, dtype, seed, normalize):
    generator = torch.Generator().manual_seed(seed % 2**32)
    images = random_images((batch, channels, size, size), dtype, generator)
    k = ops.sample_rotation(seed, torch.arange(batch))
    mean, std = ([0.3] * channels, [0.7] * channels) if normalize else (None, None)
    got = ops.rotate90(images, k, out_dtype=torch.float32, mean=mean, std=std)
    want = reference_convert(reference_rotate(images, k), torch.float32, mean, std)
    torch.testing.assert_close(got, want)


# --------------------------------------------------------------------------- all four
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_rotate90_all_is_rotation_major(dtype, generator):
    images = random_images((3, 2, 5, 5), dtype, generator)
    out, labels = ops.rotate90_all(images)
    assert out.shape == (12, 2, 5, 5) and labels.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    for r in range(4):
        for i in range(3):
            assert torch.equal(out[r * 3 + i], torch.rot90(images[i], r, dims=(-2, -1)))


def test_rotate90_all_matches_rotate90_with_repeated_k(generator):
    images = random_images((4, 3, 8, 8), torch.uint8, generator)
    out, labels = ops.rotate90_all(images, mean=MEAN, std=STD)
    again = ops.rotate90(images.repeat(4, 1, 1, 1), labels, mean=MEAN, std=STD)
    assert torch.equal(out, again)


# --------------------------------------------------------------------------- sampler
def test_sample_rotation_matches_reference_hash():
    seed, index = 987654321, torch.tensor([0, 1, 2, 5, 2**40, 2**63 - 1, -1])
    want = [hash_below(counter_hash(seed, int(i), ROTATION_FIELD), 4) for i in index.tolist()]
    assert ops.sample_rotation(seed, index).tolist() == want


def test_sample_rotation_independent_of_batching():
    index = torch.randperm(1000, generator=torch.Generator().manual_seed(0))
    whole = ops.sample_rotation(7, index)
    pieces = torch.cat([ops.sample_rotation(7, chunk) for chunk in index.split(37)])
    assert torch.equal(whole, pieces)
    reversed_labels = ops.sample_rotation(7, index.flip(0)).flip(0)
    assert torch.equal(whole, reversed_labels)
    assert not torch.equal(whole, ops.sample_rotation(8, index))


def test_sample_rotation_is_uniform():
    labels = ops.sample_rotation(3, torch.arange(40000))
    counts = torch.bincount(labels, minlength=4).double()
    assert labels.min() >= 0 and labels.max() <= 3
    chi2 = ((counts - 10000) ** 2 / 10000).sum()
    assert chi2 < 16.3  # p = 0.001 for 3 degrees of freedom


# --------------------------------------------------------------------------- transform
def test_random_rotation_transform(generator):
    images = random_images((6, 3, 8, 8), torch.uint8, generator)
    transform = RandomRotation90(seed=5, mean=MEAN, std=STD)
    index = torch.arange(10, 16)
    out, labels = transform(images, index)
    assert torch.equal(labels, ops.sample_rotation(5, index))
    torch.testing.assert_close(out, reference_convert(reference_rotate(images, labels), torch.float32, MEAN, STD))
    _, first = transform(images)
    _, second = transform(images)
    assert first.shape == second.shape == (6,) and not torch.equal(first, second)
    out4, labels4 = RandomRotation90(all_rotations=True)(images)
    assert out4.shape == (24, 3, 8, 8) and torch.equal(labels4, torch.arange(4).repeat_interleave(6))


def test_random_rotation_as_collate_fn():
    data = [(torch.full((3, 4, 4), i, dtype=torch.uint8), i) for i in range(8)]
    transform = RandomRotation90(seed=1)

    def collate(samples):
        images = torch.stack([s[0] for s in samples])
        index = torch.tensor([s[1] for s in samples])
        return transform(images, index)

    loader = torch.utils.data.DataLoader(data, batch_size=4, collate_fn=collate)
    labels = torch.cat([labels for _, labels in loader])
    assert torch.equal(labels, ops.sample_rotation(1, torch.arange(8)))


# --------------------------------------------------------------------------- torch integration
def test_opcheck(generator):
    images = random_images((3, 3, 6, 6), torch.uint8, generator)
    k = torch.tensor([0, 1, 3])
    opcheck(torch.ops.sslfast.rotate90.default, (images, k, torch.float32, list(MEAN), list(STD)))
    opcheck(torch.ops.sslfast.rotate90.default, (images.float(), k, None, None, None))
    opcheck(torch.ops.sslfast.rotate90_all.default, (images, torch.bfloat16, None, None))
    opcheck(torch.ops.sslfast.sample_rotation.default, (3, torch.arange(5)))


def test_torch_compile(generator):
    images = random_images((4, 3, 8, 8), torch.uint8, generator)

    def pretext_batch(images, index):
        k = ops.sample_rotation(11, index)
        return ops.rotate90(images, k, out_dtype=torch.float32, mean=MEAN, std=STD) * 2, k

    compiled = torch.compile(pretext_batch, fullgraph=True)
    out, k = compiled(images, torch.arange(4))
    want, want_k = pretext_batch(images, torch.arange(4))
    assert torch.equal(k, want_k)
    torch.testing.assert_close(out, want)


# --------------------------------------------------------------------------- bad input
def _images():
    return torch.zeros(2, 3, 4, 4, dtype=torch.uint8)


K2 = torch.tensor([0, 1])


@pytest.mark.parametrize("call, error, name", [
    (lambda: ops.rotate90(torch.zeros(2, 3, 4, 5, dtype=torch.uint8), K2), ValueError, "images"),
    (lambda: ops.rotate90(torch.zeros(3, 4, 4, dtype=torch.uint8), K2), ValueError, "images"),
    (lambda: ops.rotate90(torch.zeros(0, 3, 4, 4, dtype=torch.uint8), K2[:0]), ValueError, "images"),
    (lambda: ops.rotate90(torch.zeros(2, 0, 4, 4, dtype=torch.uint8), K2), ValueError, "images"),
    (lambda: ops.rotate90(_images().double(), K2), TypeError, "images"),
    (lambda: ops.rotate90(_images().numpy(), K2), TypeError, "images"),
    (lambda: ops.rotate90(_images(), K2.int()), TypeError, "k"),
    (lambda: ops.rotate90(_images(), K2.float()), TypeError, "k"),
    (lambda: ops.rotate90(_images(), torch.tensor([0, 4])), ValueError, "k"),
    (lambda: ops.rotate90(_images(), torch.tensor([-1, 0])), ValueError, "k"),
    (lambda: ops.rotate90(_images(), torch.tensor([0, 1, 2])), ValueError, "k"),
    (lambda: ops.rotate90(_images(), K2.view(2, 1)), ValueError, "k"),
    (lambda: ops.rotate90(_images(), K2, mean=MEAN[:2], std=STD[:2]), ValueError, "mean"),
    (lambda: ops.rotate90(_images(), K2, mean=MEAN, std=STD[:2]), ValueError, "std"),
    (lambda: ops.rotate90(_images(), K2, mean=MEAN), ValueError, "mean and std"),
    (lambda: ops.rotate90(_images(), K2, mean=MEAN, std=(0.2, 0.0, 0.2)), ValueError, "std"),
    (lambda: ops.rotate90(_images(), K2, mean=(0.1, float("nan"), 0.2), std=STD), ValueError, "mean"),
    (lambda: ops.rotate90(_images(), K2, mean="abc", std=STD), TypeError, "mean"),
    (lambda: ops.rotate90(_images(), K2, out_dtype=torch.float64), TypeError, "out_dtype"),
    (lambda: ops.rotate90(_images(), K2, out_dtype=torch.uint8, mean=MEAN, std=STD), ValueError, "out_dtype"),
    (lambda: ops.rotate90_all(torch.zeros(2, 3, 5, 4)), ValueError, "images"),
    (lambda: ops.rotate90_all(torch.zeros(0, 3, 4, 4)), ValueError, "images"),
    (lambda: ops.sample_rotation(1.5, torch.arange(3)), TypeError, "seed"),
    (lambda: ops.sample_rotation(-1, torch.arange(3)), ValueError, "seed"),
    (lambda: ops.sample_rotation(0, torch.arange(3).int()), TypeError, "index"),
    (lambda: ops.sample_rotation(0, torch.zeros(2, 2, dtype=torch.int64)), ValueError, "index"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name}"):
        call()


def test_native_ops_guard_memory_when_called_directly():
    """Direct torch.ops calls skip the Python checks; the C++ side must still refuse."""
    with pytest.raises(ValueError, match="k"):
        torch.ops.sslfast.rotate90(_images(), torch.tensor([0, 1, 2]), None, None, None)
    with pytest.raises(ValueError, match="images"):
        torch.ops.sslfast.rotate90_all(torch.zeros(1, 1, 2, 3), None, None, None)
    with pytest.raises(TypeError, match="images"):
        torch.ops.sslfast.rotate90_all(torch.zeros(1, 1, 2, 2, dtype=torch.float64), None, None, None)
    with pytest.raises(ValueError, match="mean"):
        torch.ops.sslfast.rotate90_all(_images(), torch.float32, [0.1] * 2, [1.0] * 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_mismatch_is_a_value_error():
    with pytest.raises(ValueError, match="^k"):
        ops.rotate90(_images().cuda(), K2)


def test_built_with_cuda_reports_a_bool():
    assert isinstance(sslfast.built_with_cuda(), bool)


# --------------------------------------------------------------------------- CUDA
@pytest.mark.cuda
@pytest.mark.parametrize("in_dtype", ALL_DTYPES)
@pytest.mark.parametrize("out_dtype", ALL_DTYPES)
def test_cuda_matches_cpu(in_dtype, out_dtype, generator):
    images = random_images((9, 3, 13, 13), in_dtype, generator)
    index = torch.arange(100, 109)
    k = ops.sample_rotation(4, index)
    assert torch.equal(ops.sample_rotation(4, index.cuda()).cpu(), k)
    normalize = {} if out_dtype == torch.uint8 else {"mean": MEAN, "std": STD}
    cpu = ops.rotate90(images, k, out_dtype=out_dtype, **normalize)
    gpu = ops.rotate90(images.cuda(), k.cuda(), out_dtype=out_dtype, **normalize).cpu()
    if out_dtype == torch.uint8 or not normalize:
        assert torch.equal(cpu, gpu)
    else:  # the GPU may fuse the multiply-add: one rounding fewer
        torch.testing.assert_close(cpu, gpu, atol=1e-6, rtol=1e-2)
    cpu4, _ = ops.rotate90_all(images, out_dtype=out_dtype, **normalize)
    gpu4, labels = ops.rotate90_all(images.cuda(), out_dtype=out_dtype, **normalize)
    assert labels.is_cuda
    torch.testing.assert_close(cpu4, gpu4.cpu(), atol=1e-6, rtol=1e-2)


@pytest.mark.cuda
def test_cuda_opcheck_and_graph_capture():
    images = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8, device="cuda")
    index = torch.arange(4, device="cuda")
    opcheck(torch.ops.sslfast.rotate90.default, (images, index % 4, torch.float32, list(MEAN), list(STD)))
    opcheck(torch.ops.sslfast.sample_rotation.default, (3, index))
    graph = torch.cuda.CUDAGraph()
    ops.rotate90(images, ops.sample_rotation(0, index), out_dtype=torch.float32)  # warm-up
    with torch.cuda.graph(graph):
        out = ops.rotate90(images, ops.sample_rotation(0, index), out_dtype=torch.float32, mean=MEAN, std=STD)
    graph.replay()
    want = ops.rotate90(images, ops.sample_rotation(0, index), out_dtype=torch.float32, mean=MEAN, std=STD)
    torch.testing.assert_close(out, want)
