"""Video reading, mining and tuple assembly: frame order against the clips'
pixel codes, damaged files skipped under a timeout, DataLoader workers
started by fork and spawn."""
import os
import shutil
import signal
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sslfast import ops
from sslfast.data import VideoFolder, Videos, VideoTuples, frame_tuples, get_dataset, tuple_batches
from sslfast.data import video
from sslfast.data.video import TupleMiner, VideoInfo, call_with_timeout
from sslfast.tasks import get_task
from sslfast.train import EpochBatches, IndexedImages
from sslfast.data.videos import CODE_ROWS, FRAMES, SIDE, frame_code, read_frame_code, render_clip


@pytest.fixture
def clips(video_cache):
    return video_cache


@pytest.fixture
def grouped(clips):
    """Windows of the train clips, frame codes kept, 4 draws per video read."""
    return VideoTuples(VideoFolder(os.path.join(clips, "train")), per_read=4, length=96)


@pytest.fixture
def deadline():
    """Fail (instead of hanging the suite) if a test runs past two minutes."""
    def expired(signum, frame):
        raise TimeoutError("test ran past its 120 s deadline")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_frame_code_round_trips():
    for index in (0, 1, 37, 200, 255):
        band = np.concatenate([frame_code(index), np.zeros((SIDE, SIDE, 3), np.uint8)])
        assert read_frame_code(band) == index


def test_generated_clips_decode_with_their_frame_codes(clips):
    folder = VideoFolder(os.path.join(clips, "test"))
    assert len(folder) == 16 and not folder.skipped
    info = folder.videos[3]
    assert (info.frames, info.height, info.width) == (FRAMES, CODE_ROWS + SIDE, SIDE)
    wanted = [40, 2, 17, 3]  # any order: read sorts for get_batch and restores this order
    frames = folder.read(3, wanted)
    assert [read_frame_code(f) for f in frames] == wanted
    picture = render_clip("test", 3)[17, CODE_ROWS:].astype(np.float64)
    assert np.abs(frames[2, CODE_ROWS:] - picture).mean() < 8  # mp4v is lossy, but close


def test_generated_clips_hold_still_and_moving_stretches(clips):
    motion = np.asarray(VideoFolder(os.path.join(clips, "train")).videos[0].motion)
    assert len(motion) == FRAMES - 1
    assert motion.max() > 4 * np.median(np.sort(motion)[:8])  # moving steps stand far above the stillest


def test_mined_windows_decode_in_order(clips):
    data = Videos("train", code=True, length=40)
    for i in range(0, 40, 3):
        frames, video, chosen = data.frames(i)
        assert chosen == sorted(chosen) and len(set(chosen)) == 5
        assert [read_frame_code(f) for f in frames.numpy()] == chosen
        assert chosen == data.miner.draw(i)[1] and video == data.miner.draw(i)[0]


@pytest.mark.parametrize("keep_reader_frames", [video.KEEP_READER_FRAMES, 0])  # new reader per read; kept readers
def test_batched_reads_decode_each_video_once_in_order(grouped, keep_reader_frames, monkeypatch):
    monkeypatch.setattr(video, "KEEP_READER_FRAMES", keep_reader_frames)
    reads = []
    start = grouped.folder._start_decode
    monkeypatch.setattr(grouped.folder, "_start_decode", lambda v, frames: reads.append(v) or start(v, frames))
    indices = grouped.epoch_order(3, 0)[:16].tolist()
    items = grouped.__getitems__(indices)
    videos = [grouped.miner.draw(i)[0] for i in indices]
    assert sorted(reads) == sorted(set(videos)) and len(reads) == 4  # one get_batch per video
    for index, (frames, label) in zip(indices, items):
        chosen = grouped.miner.draw(index)[1]
        assert frames.shape == (5, 3, CODE_ROWS + SIDE, SIDE) and label == -1
        assert [read_frame_code(f) for f in frames.numpy()] == chosen
        assert torch.equal(frames, grouped[index][0])  # the same pixels as a read of its own


def test_epoch_order_keeps_the_draws_of_a_video_together(grouped):
    order = grouped.epoch_order(3, 1)
    assert sorted(order.tolist()) == list(range(len(grouped)))
    for group in order.view(-1, 4).tolist():
        assert len({grouped.miner.draw(i)[0] for i in group}) == 1
    assert not torch.equal(order, grouped.epoch_order(3, 2))
    single = VideoTuples(grouped.folder, per_read=1, length=50)  # one draw per read: the Trainer's own order
    assert single.epoch_order(3, 1).tolist() == next(iter(EpochBatches(50, 50, 3, start_step=1)))


def test_frame_order_trains_in_the_data_sets_order(grouped):
    task = get_task("frame_order")
    trainer = SimpleNamespace(dataset=IndexedImages(grouped), config=SimpleNamespace(seed=5))
    assert torch.equal(task.epoch_order(trainer, 2), grouped.epoch_order(5, 2))
    trainer.dataset = IndexedImages(torch.zeros(8, 5, 3, 8, 8, dtype=torch.uint8))
    assert task.epoch_order(trainer, 2) is None


def test_a_batch_with_a_broken_video_takes_the_next_videos_draws(clips, tmp_path):
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(os.path.join(clips, "test", "clip_002.mp4"), tmp_path / name)
    data = VideoTuples(VideoFolder(str(tmp_path)), per_read=2, length=8)
    (tmp_path / "a.mp4").write_text("gone bad")
    with pytest.warns(RuntimeWarning, match="a.mp4"):
        items = data.__getitems__([0, 1, 2, 3])  # draws 0, 1 from a.mp4; 2, 3 from b.mp4
    assert [frames.shape[0] for frames, _ in items] == [5] * 4
    for index, (frames, _) in enumerate(items):
        assert [read_frame_code(f) for f in frames.numpy()] == data.miner.draw(index + 2 * (index < 2))[1]


def test_tuples_on_the_device_follow_their_labels(clips):
    data = Videos("train", code=True, length=32)
    frames = torch.stack([data[i][0] for i in range(32)])[:, :, :, :SIDE]  # 64x64 with the code band on top
    index = torch.arange(32)
    tuples, labels = frame_tuples(frames, index, seed=5, crop=SIDE, positive=0.5)
    assert tuples.shape == (32, 3, 3, SIDE, SIDE) and tuples.dtype == torch.float32
    _, _, want_labels = ops.sample_tuples(5, index, 5, (SIDE, SIDE), SIDE, positive=0.5)
    assert torch.equal(labels, want_labels) and 0 < labels.sum() < 32
    for i in range(32):
        codes = [read_frame_code((tuples[i, k] * 255).round().byte().numpy()) for k in range(3)]
        chosen = data.frames(i)[2]
        a, b, c, d, e = chosen
        assert codes[0] == b and codes[2] == d
        assert (codes[1] == c) if labels[i] else codes[1] in (a, e)
        assert bool(labels[i]) == (codes[0] < codes[1] < codes[2])


def test_tuples_are_normalised_crops_of_the_frames(generator):
    frames = torch.randint(0, 256, (4, 5, 3, 36, 36), dtype=torch.uint8, generator=generator)
    tuples, labels = frame_tuples(frames, torch.arange(4), 9, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    assert tuples.shape == (4, 3, 3, 32, 32)
    src, origins, _ = ops.sample_tuples(9, torch.arange(4), 5, (36, 36), 32, positive=0.25)
    mean, std = torch.tensor([0.5, 0.4, 0.3]).view(3, 1, 1), torch.tensor([0.2, 0.25, 0.3]).view(3, 1, 1)
    flat = frames.flatten(0, 1)
    for i in range(4):
        for k in range(3):
            y, x = origins[i, k].tolist()
            want = (flat[src[i, k], :, y:y + 32, x:x + 32].float() / 255 - mean) / std
            torch.testing.assert_close(tuples[i, k], want, atol=1e-5, rtol=1e-5)


def test_miner_keeps_the_highest_motion_windows():
    motion = [0.0] * 20 + [1.0] * 12 + [0.0] * 17  # 50 frames, motion in steps 20..31
    miner = TupleMiner([VideoInfo("x.mp4", 50, 24.0, 8, 8, motion)], gaps=(1, 2), top=0.1)
    span, starts = miner.windows[0]
    assert span == 8 and len(starts) == 4 and all(20 <= s <= 24 for s in starts)
    for i in range(50):
        video, chosen = miner.draw(i)
        gaps = np.diff(chosen)
        assert video == 0 and (1 <= gaps).all() and (gaps <= 2).all()
        assert chosen[0] >= 20 and chosen[-1] <= 32


def test_miner_skips_clips_too_short_for_the_gaps():
    short, long = VideoInfo("a.mp4", 6, 24.0, 8, 8, [0.1] * 5), VideoInfo("b.mp4", 30, 24.0, 8, 8, [0.1] * 29)
    assert TupleMiner([short, long], gaps=(2, 3)).usable == [1]
    with pytest.raises(ValueError, match="^gaps"):
        TupleMiner([short], gaps=(2, 3))
    with pytest.raises(ValueError, match="^gaps"):
        TupleMiner([long], gaps=(3, 2))
    with pytest.raises(ValueError, match="^top"):
        TupleMiner([long], top=0.0)
    with pytest.raises(ValueError, match="^per_read"):
        TupleMiner([long], per_read=0)


def test_miner_gives_per_read_draws_in_a_row_to_one_video():
    infos = [VideoInfo(f"{v}.mp4", 40, 24.0, 8, 8, [0.1] * 39) for v in range(3)]
    miner = TupleMiner(infos, per_read=3)
    assert [miner.draw(i)[0] for i in range(12)] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0]
    assert TupleMiner(infos).draw(7) == TupleMiner(infos, per_read=1).draw(7)
    videos, frames = miner.draw_many(range(12))
    assert [(v, f) for v, f in zip(videos.tolist(), frames.tolist())] == [miner.draw(i) for i in range(12)]


def test_miner_draws_gaps_windows_and_offsets_uniformly():
    motion = [0.0] * 10 + [1.0] * 30 + [0.0] * 19  # 60 frames
    miner = TupleMiner([VideoInfo("x.mp4", 60, 24.0, 8, 8, motion)], gaps=(2, 4), top=0.3, seed=11)
    span, starts = miner.windows[0]
    _, frames = miner.draw_many(range(30000))
    gaps = np.diff(frames, axis=1)
    assert np.array_equal(np.unique(gaps), [2, 3, 4])
    assert np.allclose(np.bincount(gaps.ravel())[2:] / gaps.size, 1 / 3, atol=0.01)
    windows = [s for s in starts if any((frames[:, 0] >= s) & (frames[:, -1] <= s + span))]
    assert len(windows) == len(starts)  # every kept window is drawn
    assert (frames[:, -1] - frames[:, 0] <= span).all() and frames.min() >= starts.min()
    assert frames.max() <= starts.max() + span
    equal_gaps = frames[(gaps == 2).all(1), 0]  # with the smallest gaps, the offset spans span - 8 + 1 values
    assert len(np.unique(equal_gaps - equal_gaps.min())) > span - 8


def test_damaged_files_are_skipped_and_reported(clips, tmp_path, deadline):
    good = os.path.join(clips, "test", "clip_000.mp4")
    shutil.copy(good, tmp_path / "good.mp4")
    data = open(good, "rb").read()
    (tmp_path / "truncated.mp4").write_bytes(data[:len(data) // 3])
    (tmp_path / "notes.mp4").write_text("not a video at all\n" * 50)
    os.mkfifo(tmp_path / "stalls.mp4")  # opening it blocks forever: the decoder hangs
    start = time.perf_counter()
    with pytest.warns(RuntimeWarning, match="skipping"):
        folder = VideoFolder(str(tmp_path), probe_timeout=5.0)
    assert time.perf_counter() - start < 90
    assert [os.path.basename(v.path) for v in folder.videos] == ["good.mp4"]
    reasons = {os.path.basename(path): reason for path, reason in folder.skipped}
    assert set(reasons) == {"truncated.mp4", "notes.mp4", "stalls.mp4"}
    assert "stalled" in reasons["stalls.mp4"]
    with pytest.warns(RuntimeWarning, match="skipping"):  # the cached scan reports them again, without the wait
        start = time.perf_counter()
        again = VideoFolder(str(tmp_path), probe_timeout=5.0)
    assert time.perf_counter() - start < 5 and len(again.skipped) == 3


def test_a_file_that_breaks_after_the_scan_is_skipped(clips, tmp_path):
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(os.path.join(clips, "test", "clip_001.mp4"), tmp_path / name)
    folder = VideoFolder(str(tmp_path))
    (tmp_path / "a.mp4").write_text("gone bad")
    os.utime(tmp_path / "a.mp4", ns=(0, 0))
    with pytest.warns(RuntimeWarning, match="a.mp4"):
        assert folder.read(0, [0, 1]) is None
    frames, _ = folder[0]  # item 0 falls through to the next readable video
    assert frames.shape == (FRAMES, 3, CODE_ROWS + SIDE, SIDE) and folder.is_broken(0)


def test_reads_are_guarded_by_a_timeout():
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="^slow read"):
        call_with_timeout(lambda: time.sleep(30), 0.2, "slow read")
    assert time.perf_counter() - start < 5
    with pytest.raises(KeyError):
        call_with_timeout(lambda: {}["missing"], 5, "failing read")
    assert call_with_timeout(lambda: 42, 5, "fine read") == 42


def test_batch_reads_run_at_once_and_a_stalled_one_is_skipped(clips, tmp_path, monkeypatch, deadline):
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copy(os.path.join(clips, "test", "clip_003.mp4"), tmp_path / name)
    folder = VideoFolder(str(tmp_path), read_threads=3, read_timeout=1.0)
    together = threading.Barrier(3, timeout=10)  # passes only if the three reads run at once
    open_reader = video._open_reader
    monkeypatch.setattr(video, "_open_reader", lambda path: together.wait() is None or open_reader(path))
    requests = [(0, [4, 2, 9]), (1, [0, 3]), (2, [7, 1])]
    for want, got in zip(requests, folder.read_many(requests)):
        assert [read_frame_code(f) for f in got] == want[1]

    def stall_a(path):
        if path.endswith("a.mp4"):
            time.sleep(5)
        return open_reader(path)

    monkeypatch.setattr(video, "_open_reader", stall_a)
    start = time.perf_counter()
    with pytest.warns(RuntimeWarning, match="a.mp4.*no answer"):
        got = folder.read_many(requests)
    assert time.perf_counter() - start < 4 and got[0] is None and folder.is_broken(0)
    assert [[read_frame_code(f) for f in frames] for frames in got[1:]] == [[0, 3], [7, 1]]


@pytest.mark.parametrize("workers, context, source", [
    (2, "fork", "videos"), (2, "fork", "grouped folder"), (2, "spawn", "grouped folder"),
    pytest.param(2, "spawn", "videos", marks=pytest.mark.slow)])  # spawning costs ~25 s on a busy machine
def test_workers_give_the_same_batches_as_the_main_process(clips, workers, context, source, deadline):
    if source == "videos":  # clips kept decoded, one draw per read
        data = Videos("train", 32, length=24)
    else:  # 4 draws per read, each decoded by a new reader
        folder = VideoFolder(os.path.join(clips, "train"))
        data = VideoTuples(folder, size=36, crop_top=CODE_ROWS, per_read=4, length=24)
    want = list(tuple_batches(data, 8, seed=3))
    got = list(tuple_batches(data, 8, seed=3, num_workers=workers, multiprocessing_context=context))
    assert len(got) == len(want) == 3
    for (tuples, labels), (want_tuples, want_labels) in zip(got, want):
        assert tuples.shape == (8, 3, 3, 32, 32)
        assert torch.equal(labels, want_labels) and torch.equal(tuples, want_tuples)


def test_videos_registered_as_a_data_set(clips):
    train, test = get_dataset("videos", "train", 32), get_dataset("videos", "test", 32)
    assert len(train) == 48 * 64 and len(test) == 16 * 16
    frames, label = test[5]
    assert frames.shape == (5, 3, 36, 36) and frames.dtype == torch.uint8 and label == -1
    train_photos = {os.path.basename(v.path) for v in train.folder.videos}
    assert train.folder.root != test.folder.root and len(train_photos) == 48


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="^root"):
        VideoFolder(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="^root"):
        VideoFolder(str(tmp_path))  # no videos
    with pytest.raises(ValueError, match="^read_threads"):
        VideoFolder(str(tmp_path), read_threads=0)
    with pytest.raises(ValueError, match="^split"):
        Videos("validation")
    with pytest.raises(ValueError, match="^frames"):
        frame_tuples(torch.zeros(2, 3, 3, 8, 8, dtype=torch.uint8), torch.arange(2), 0)
    with pytest.raises(ValueError, match="^batch_size"):
        next(tuple_batches(None, 0))
