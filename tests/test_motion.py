"""frame_motion: NumPy reference written from the spec, torch's adaptive
pooling as a second oracle, still clips and cuts, opcheck, torch.compile,
bad input, CPU vs CUDA."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.library import opcheck

from sslfast import ops

ALL_DTYPES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)


def random_frames(shape, dtype, generator):
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)
    return torch.rand(shape, generator=generator).to(dtype)


def numpy_motion(frames: np.ndarray, size: int) -> np.ndarray:
    """[T, C, H, W] -> [T - 1]: box means over floor/ceil bins, then the
    mean absolute difference of consecutive frames, in float64."""
    frames = frames.astype(np.float64) / (255.0 if frames.dtype == np.uint8 else 1.0)
    t, c, h, w = frames.shape
    oh, ow = min(size, h), min(size, w)
    low = np.empty((t, c, oh, ow))
    for i in range(oh):
        y0, y1 = i * h // oh, -(-(i + 1) * h // oh)
        for j in range(ow):
            x0, x1 = j * w // ow, -(-(j + 1) * w // ow)
            low[:, :, i, j] = frames[:, :, y0:y1, x0:x1].mean(axis=(2, 3))
    return np.abs(np.diff(low, axis=0)).mean(axis=(1, 2, 3))


@pytest.mark.parametrize("shape, size", [((5, 3, 64, 64), 32), ((4, 3, 37, 53), 8), ((3, 1, 7, 5), 32),
                                         ((2, 3, 1, 1), 4), ((6, 2, 30, 41), 30)])
def test_frame_motion_matches_numpy(shape, size, generator):
    frames = random_frames(shape, torch.uint8, generator)
    got = ops.frame_motion(frames, size=size)
    assert got.dtype == torch.float32 and got.shape == (shape[0] - 1,)
    np.testing.assert_allclose(got.numpy(), numpy_motion(frames.numpy(), size), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_frame_motion_matches_torch_adaptive_pool(dtype, generator):
    frames = random_frames((6, 3, 45, 70), dtype, generator)
    low = torch.nn.functional.adaptive_avg_pool2d(frames.double() / (255 if dtype == torch.uint8 else 1), 16)
    want = (low[1:] - low[:-1]).abs().mean(dim=(1, 2, 3)).float()
    torch.testing.assert_close(ops.frame_motion(frames, size=16), want, rtol=1e-5, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(t=st.integers(2, 6), c=st.integers(1, 4), h=st.integers(1, 40), w=st.integers(1, 40),
       size=st.integers(1, 40), seed=st.integers(0, 2**31))
def test_frame_motion_property(t, c, h, w, size, seed):
    frames = random_frames((t, c, h, w), torch.uint8, torch.Generator().manual_seed(seed))
    got = ops.frame_motion(frames, size=size).numpy()
    np.testing.assert_allclose(got, numpy_motion(frames.numpy(), size), rtol=1e-5, atol=1e-6)
    assert (got >= 0).all() and (got <= 1).all()


def test_batched_clips_equal_one_by_one(generator):
    clips = random_frames((3, 5, 3, 20, 24), torch.uint8, generator)
    got = ops.frame_motion(clips, size=8)
    assert got.shape == (3, 4)
    for i in range(3):
        assert torch.equal(got[i], ops.frame_motion(clips[i], size=8))


def test_still_clip_scores_zero_and_a_cut_spikes(generator):
    still = random_frames((1, 3, 48, 48), torch.uint8, generator).expand(8, -1, -1, -1)
    assert torch.equal(ops.frame_motion(still), torch.zeros(7))
    other = random_frames((1, 3, 48, 48), torch.uint8, generator).expand(4, -1, -1, -1)
    cut = torch.cat([still[:5], other])  # the cut is between frames 4 and 5
    motion = ops.frame_motion(cut)
    assert int(motion.argmax()) == 4 and motion[4] > 0.05
    assert torch.count_nonzero(motion) == 1


def test_moving_pattern_scores_above_still_pattern(generator):
    base = random_frames((3, 80, 80), torch.uint8, generator)
    moving = torch.stack([base[:, :64, t * 3:t * 3 + 64] for t in range(5)])
    assert (ops.frame_motion(moving, size=16) > 0).all()


def test_frame_motion_accepts_non_contiguous_input(generator):
    frames = random_frames((4, 20, 20, 3), torch.uint8, generator).permute(0, 3, 1, 2)
    assert not frames.is_contiguous()
    assert torch.equal(ops.frame_motion(frames, size=5), ops.frame_motion(frames.contiguous(), size=5))


def test_opcheck_and_compile(generator):
    frames = random_frames((4, 3, 10, 12), torch.uint8, generator)
    opcheck(torch.ops.sslfast.frame_motion.default, (frames, 4))
    opcheck(torch.ops.sslfast.frame_motion.default, (frames.float().view(2, 2, 3, 10, 12), 32))
    compiled = torch.compile(lambda x: ops.frame_motion(x, size=4) * 2, fullgraph=True)
    torch.testing.assert_close(compiled(frames), ops.frame_motion(frames, size=4) * 2)


@pytest.mark.parametrize("call, error, name", [
    (lambda: ops.frame_motion(np.zeros((3, 3, 4, 4), np.uint8)), TypeError, "frames"),
    (lambda: ops.frame_motion(torch.zeros(3, 3, 4, 4, dtype=torch.float64)), TypeError, "frames"),
    (lambda: ops.frame_motion(torch.zeros(3, 4, 4, dtype=torch.uint8)), ValueError, "frames"),
    (lambda: ops.frame_motion(torch.zeros(1, 3, 4, 4, dtype=torch.uint8)), ValueError, "frames"),
    (lambda: ops.frame_motion(torch.zeros(0, 3, 3, 4, 4, dtype=torch.uint8)), ValueError, "frames"),
    (lambda: ops.frame_motion(torch.zeros(3, 3, 0, 4, dtype=torch.uint8)), ValueError, "frames"),
    (lambda: ops.frame_motion(torch.full((3, 3, 4, 4), float("nan"))), ValueError, "frames"),
    (lambda: ops.frame_motion(torch.zeros(3, 3, 4, 4, dtype=torch.uint8), size=0), ValueError, "size"),
    (lambda: ops.frame_motion(torch.zeros(3, 3, 4, 4, dtype=torch.uint8), size=2.5), TypeError, "size"),
])
def test_bad_input_raises_clear_error(call, error, name):
    with pytest.raises(error, match=f"^{name}"):
        call()


def test_native_op_guards_memory_when_called_directly():
    with pytest.raises(ValueError, match="frames"):
        torch.ops.sslfast.frame_motion(torch.zeros(1, 3, 4, 4, dtype=torch.uint8), 4)
    with pytest.raises(ValueError, match="size"):
        torch.ops.sslfast.frame_motion(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), 0)
    with pytest.raises(TypeError, match="frames"):
        torch.ops.sslfast.frame_motion(torch.zeros(2, 3, 4, 4, dtype=torch.int32), 4)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_cuda_matches_cpu(dtype, generator):
    frames = random_frames((2, 7, 3, 50, 66), dtype, generator)
    cpu = ops.frame_motion(frames, size=16)
    gpu = ops.frame_motion(frames.cuda(), size=16)
    assert gpu.is_cuda
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-6, atol=1e-7)


@pytest.mark.cuda
def test_cuda_opcheck_and_graph_capture():
    frames = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8, device="cuda")
    opcheck(torch.ops.sslfast.frame_motion.default, (frames, 8))
    ops.frame_motion(frames, size=8)  # warm-up
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = ops.frame_motion(frames, size=8)
    graph.replay()
    torch.testing.assert_close(out, ops.frame_motion(frames, size=8))
