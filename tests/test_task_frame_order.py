"""frame_order (Shuffle & Learn): batches, training, resume, show, quality."""
import os

import pytest
import torch

from sslfast.cli import main as cli_main
from sslfast.data import Videos
from sslfast.models import Encoder
from sslfast import ops
from sslfast.tasks import get_task
from sslfast.train import TrainConfig, Trainer, load_checkpoint


@pytest.fixture(scope="module")
def windows(video_cache):
    """96 mined windows of the built-in clips, decoded once: [96, 5, 3, 27, 27]."""
    data = Videos("train", 24, length=96)
    return torch.stack([data[i][0] for i in range(len(data))])


def config(tmp_path, **overrides) -> TrainConfig:
    settings = dict(steps=30, batch_size=16, lr=0.05, warmup_steps=2, log_every=1, checkpoint_every=10,
                    out_dir=str(tmp_path), progress=False, backbone_options={"widths": (8, 16)})
    settings.update(overrides)
    return TrainConfig(**settings)


def test_make_batch_cuts_the_sampled_tuples(windows):
    task = get_task("frame_order")
    index = torch.arange(10, 26)
    tuples, labels = task.make_batch(windows[:16], index, seed=4)
    assert tuples.shape == (16, 3, 3, 24, 24) and tuples.dtype == torch.float32
    src, origins, want = ops.sample_tuples(4, index, 5, (27, 27), 24, positive=0.5)
    assert torch.equal(labels, want)
    mean, std = torch.tensor(task.mean).view(3, 1, 1), torch.tensor(task.std).view(3, 1, 1)
    forwards = torch.zeros(16, 3, 3, 24, 24)
    for b in range(16):
        for k in range(3):
            y, x = origins[b, k].tolist()
            forwards[b, k] = (windows[:16].flatten(0, 1)[src[b, k], :, y:y + 24, x:x + 24].float() / 255 - mean) / std
    # Each tuple is shown forwards or reversed (same label), both ways within a batch.
    reversed_ = [torch.allclose(tuples[b], forwards[b].flip(0), atol=1e-5) for b in range(16)]
    assert all(r or torch.allclose(tuples[b], forwards[b], atol=1e-5) for b, r in enumerate(reversed_))
    assert 0 < sum(reversed_) < 16
    again, _ = task.make_batch(windows[:16], index, seed=4)
    assert torch.equal(again, tuples)
    assert (src[:, 0] % 5 == 1).all() and (src[:, 2] % 5 == 3).all()  # b and d around the middle frame
    middle = src[:, 1] % 5
    assert torch.equal(labels == 1, middle == 2) and set(middle.tolist()) <= {0, 2, 4}


def test_make_batch_needs_video_windows():
    with pytest.raises(ValueError, match="^images"):
        get_task("frame_order").make_batch(torch.zeros(4, 3, 32, 32, dtype=torch.uint8), torch.arange(4), 0)
    with pytest.raises(ValueError, match="^positive"):
        get_task("frame_order", positive=1.5)


def test_model_is_a_shared_three_tower_siamese_network():
    task = get_task("frame_order")
    model = task.build_model("small", widths=(8, 16))
    assert isinstance(task.encoder(model), Encoder)
    assert model(torch.randn(2, 3, 3, 24, 24)).shape == (2, 2)
    with pytest.raises(ValueError, match="^x"):
        model(torch.randn(2, 2, 3, 24, 24))


def test_a_few_steps_lower_the_loss(windows, tmp_path):
    # With the paper's 25% positives the first thing to learn (within a few
    # steps) is the label prior; balanced tuples need far longer runs.
    rows = Trainer(get_task("frame_order", positive=0.25), windows, config(tmp_path)).fit()
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < first - 0.03, (first, last)


def test_resume_gives_the_same_next_losses(windows, tmp_path):
    task = get_task("frame_order")
    whole = Trainer(task, windows, config(tmp_path / "whole", steps=8, checkpoint_every=4)).fit()
    Trainer(task, windows, config(tmp_path / "split", steps=8, checkpoint_every=4)).fit(until=4)
    resumed = Trainer(task, windows, config(tmp_path / "split", steps=8, checkpoint_every=4), resume=True)
    assert resumed.step == 4
    assert [r["loss"] for r in resumed.fit()[4:]] == [r["loss"] for r in whole[4:]]


def test_quality_and_show_from_a_checkpoint(windows, tmp_path, video_cache):
    Trainer(get_task("frame_order"), windows, config(tmp_path, steps=4, data="videos", image_size=24)).fit()
    task, model, _ = load_checkpoint(str(tmp_path / "checkpoint.pt"))
    rows = task.quality(model, windows[:32], torch.arange(32), seed=1)
    assert rows[0]["metric"] == "frame order accuracy" and 0.5 <= rows[0]["baseline"] <= 1
    assert 0 <= rows[0]["model"] <= 1
    out = tmp_path / "show.png"
    # No --data: show and quality default to the task's held-out data, the videos.
    assert cli_main(["show", "frame_order", "--checkpoint", str(tmp_path / "checkpoint.pt"),
                     "--size", "24", "--count", "4", "--out", str(out)]) == 0
    assert os.path.getsize(out) > 0
    assert cli_main(["quality", str(tmp_path / "checkpoint.pt"), "--count", "32", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "quality_videos.md").exists()


def test_fusion_layer_after_the_concatenation_or_the_papers_single_fc8():
    paper = get_task("frame_order", fusion=0).build_model("small", widths=(8, 16))
    assert isinstance(paper.classifier, torch.nn.Linear) and paper.classifier.in_features == 3 * 256
    fused = get_task("frame_order", fusion=32, hidden=16).build_model("small", widths=(8, 16))
    layers = [m for m in fused.classifier if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in layers] == [(48, 32), (32, 2)]
    assert fused(torch.randn(2, 3, 3, 24, 24)).shape == (2, 2)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="^fusion"):
            get_task("frame_order", fusion=bad)


def test_tuple_data_is_balanced_moving_and_held_out_clips_are_disjoint(windows, video_cache):
    _, _, labels = ops.sample_tuples(7, torch.arange(4000), 5, (27, 27), 24, positive=0.5)
    assert abs(labels.float().mean().item() - 0.5) < 0.03
    # Motion-aware mining: in most windows the frames a, c, e that tell the
    # labels apart really differ (more than the codec's noise, a few levels).
    frames = windows.float()
    gap = torch.minimum((frames[:, 0] - frames[:, 2]).abs().mean((1, 2, 3)),
                        (frames[:, 4] - frames[:, 2]).abs().mean((1, 2, 3)))
    assert (gap > 4).float().mean() > 0.85 and gap.median() > 15
    # Held-out clips: other files, panning over other parts of the photographs.
    train, test = Videos("train", 24), Videos("test", 24, length=32)
    assert not {v.path for v in train.folder.videos} & {v.path for v in test.folder.videos}
    held_out = torch.stack([test[i][0][2] for i in range(32)]).float().flatten(1)
    seen = windows[:, 2].float().flatten(1)
    assert torch.cdist(held_out, seen, p=1).min() / held_out.shape[1] > 10
