"""Split-brain autoencoder: both directions' targets against scikit-image
Lab, half-width halves concatenated into the transfer encoder, training,
resume, show and quality."""
import numpy as np
import pytest
import torch

from sslfast import ops
from sslfast.models import SmallConvNet
from sslfast.tasks import get_task
from sslfast.tasks.splitbrain import majority_accuracy
from sslfast.train import load_checkpoint
from task_checks import (check_encoder, check_loss_drops, check_resume, check_show_and_quality, photo_crops,
                         trained_checkpoint)
from test_task_colorization import nearest_bins, skimage_lab


def test_make_batch_targets_follow_skimage_lab():
    images = photo_crops(4, 32, seed=7)
    task = get_task("splitbrain", l_bins=50)
    inputs, targets = task.make_batch(images, torch.arange(4), seed=0)
    lab = skimage_lab(images)
    assert inputs.shape == (4, 3, 32, 32)
    assert np.abs(inputs.numpy() - (lab - [[[50]], [[0]], [[0]]]) / [[[50]], [[110]], [[110]]]).max() < 1e-4
    nearest = nearest_bins(lab[:, 1:, ::4, ::4], ops.ab_gamut_bins().numpy())
    assert (targets.index[:, 0].numpy() == nearest).mean() > 0.99
    # L classes: 2 L units each, at the subsampled pixels (agreement except at class borders).
    expected = np.clip(np.floor(lab[:, 0, ::4, ::4] / 2), 0, 49)
    assert targets.lightness.shape == (4, 8, 8)
    assert (targets.lightness.numpy() == expected).mean() > 0.98


def test_encoder_is_the_concatenation_of_two_half_width_halves():
    task = get_task("splitbrain")
    model = task.build_model("small", widths=(16, 32))
    encoder = task.encoder(model)
    assert isinstance(encoder.l_net, SmallConvNet) and isinstance(encoder.ab_net, SmallConvNet)
    assert encoder.l_net.in_channels == 1 and encoder.ab_net.in_channels == 2
    assert encoder.l_net.out_channels == encoder.ab_net.out_channels == 16 and encoder.out_channels == 32
    x = task.prepare_input(photo_crops(2, 16))
    assert torch.equal(encoder(x), torch.cat([encoder.l_net(x[:, :1]), encoder.ab_net(x[:, 1:])], 1))
    features = check_encoder(task, model, photo_crops(4, 16))
    assert features.shape[1] == (8 + 16) * 2 * 4  # both halves' stages, 2x2 cells


def test_majority_accuracy():
    assert majority_accuracy(torch.tensor([[3, 1], [3, 3]])) == 0.75


def test_a_few_steps_lower_both_losses(tmp_path):
    task = get_task("splitbrain", prior_images=64)
    rows = check_loss_drops(task, photo_crops(64, 32), tmp_path, steps=30, lr=3e-3)
    for key in ("ab_loss", "l_loss"):
        assert np.mean([r[key] for r in rows[-5:]]) < np.mean([r[key] for r in rows[:5]]), key


def test_resume_gives_the_same_next_losses(tmp_path):
    check_resume(get_task("splitbrain", prior_images=32), photo_crops(48, 16), tmp_path)


def test_show_and_quality(tmp_path):
    task = get_task("splitbrain", prior_images=32)
    images = photo_crops(32, 32)
    checkpoint = trained_checkpoint(task, images, tmp_path)
    check_show_and_quality("splitbrain", checkpoint, tmp_path, columns=3)
    _, model, _ = load_checkpoint(checkpoint)
    rows = task.quality(model, images[:8], torch.arange(8), 0)
    assert [r["metric"] for r in rows][:3] == ["L -> ab bin accuracy (argmax)",
                                                "L -> ab bin accuracy (argmax, rebalancing undone)",
                                                "ab -> L bin accuracy"]
    assert all(0 <= r["baseline"] <= 1 for r in rows[:3])


@pytest.mark.parametrize("name", ["splitbrain", "colorization"])
def test_show_without_a_model_draws_the_targets(name):
    pictures, captions = get_task(name).show_batch(photo_crops(2, 16), torch.arange(2), 0)
    assert pictures.shape == (6, 3, 16, 16) and len(captions) == 6
    assert 0 <= pictures.min() and pictures.max() <= 1
