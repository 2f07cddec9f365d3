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
    assert [r["metric"] for r in rows] == ["L -> ab bin accuracy (argmax)", "ab -> L bin accuracy",
                                           "ab error (annealed mean T=0.38)", "ab error (mean)"]
    assert all(0 <= r["baseline"] <= 1 for r in rows[:2])
    # The argmax row against the nearest ab bins of scikit-image's Lab, written out.
    inputs, _ = task.make_batch(images[:8], torch.arange(8), 0)
    with torch.no_grad():
        ab_logits, _ = model.eval()(inputs)
    lab = skimage_lab(images[:8])
    nearest = nearest_bins(lab[:, 1:, ::4, ::4], ops.ab_gamut_bins().numpy())
    colour = np.abs(lab[:, 1:, ::4, ::4]).reshape(8, -1).max(1) > 5
    expected = (ab_logits.argmax(1).numpy() == nearest)[colour].mean()
    assert rows[0]["model"] == pytest.approx(expected, abs=0.02)


def test_rebalanced_option_adds_the_undone_row(tmp_path):
    task = get_task("splitbrain", rebalance=True, prior_images=32)
    images = photo_crops(32, 32)
    _, model, _ = load_checkpoint(trained_checkpoint(task, images, tmp_path))
    assert bool(model.prior.ready)  # counted at the first step
    rows = task.quality(model, images[:8], torch.arange(8), 0)
    assert [r["metric"] for r in rows][:3] == ["L -> ab bin accuracy (argmax)",
                                                "L -> ab bin accuracy (argmax, rebalancing undone)",
                                                "ab -> L bin accuracy"]


def test_default_ab_loss_is_plain_cross_entropy_on_the_nearest_bin(tmp_path, generator):
    """The paper's loss (1-hot targets, no rebalancing) equals torch's
    cross_entropy on the nearest bins; rebalance=True weighs each pixel by
    its nearest bin's weight; the default run never counts the prior."""
    images = photo_crops(6, 32, seed=2)
    task = get_task("splitbrain")
    inputs, targets = task.make_batch(images, torch.arange(6), 0)
    assert targets.index.shape[1] == 1 and torch.all(targets.weight == 1)
    colour = ~targets.grayscale
    assert bool(colour.any())
    logits = torch.randn(6, 313, 8, 8, generator=generator)
    l_logits = torch.randn(6, 50, 8, 8, generator=generator)
    parts = task.losses((logits, l_logits), targets)
    expected = torch.nn.functional.cross_entropy(logits[colour], targets.index[colour, 0])
    assert parts["ab_loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert parts["l_loss"].item() == pytest.approx(
        torch.nn.functional.cross_entropy(l_logits, targets.lightness).item(), rel=1e-5)
    class_weights = torch.rand(313, generator=generator) + 0.5
    weighted = torch.nn.functional.cross_entropy(logits[colour], targets.index[colour, 0], reduction="none")
    weighted = (weighted * class_weights[targets.index[colour, 0]]).mean()
    assert task.losses((logits, l_logits), targets, class_weights)["ab_loss"].item() == pytest.approx(
        weighted.item(), rel=1e-5)
    _, model, _ = load_checkpoint(trained_checkpoint(get_task("splitbrain", prior_images=32), photo_crops(32, 32),
                                                     tmp_path))
    assert not bool(model.prior.ready)


def test_rebalance_must_be_a_bool():
    with pytest.raises(TypeError, match="^rebalance"):
        get_task("splitbrain", rebalance="yes")


@pytest.mark.parametrize("name", ["splitbrain", "colorization"])
def test_show_without_a_model_draws_the_targets(name):
    pictures, captions = get_task(name).show_batch(photo_crops(2, 16), torch.arange(2), 0)
    assert pictures.shape == (6, 3, 16, 16) and len(captions) == 6
    assert 0 <= pictures.min() and pictures.max() <= 1


def rendered_rgbd(task, index, seed, size):
    """The RGB-D input from the renderer's own outputs, written from the spec:
    default-normalised RGB, then log(depth / 5 m) clamped to [0.5, 50] m, far where nothing is hit."""
    scenes = ops.sample_scenes(seed, index, n_objects=task.objects, ground_plane=task.ground_plane, central=True)
    out = ops.render_scenes(scenes, size, size, samples=task.samples, rgb_dtype=torch.uint8)
    rgb = (out["rgb"].double().numpy() / 255 - np.array([0.485, 0.456, 0.406])[:, None, None]) \
        / np.array([0.229, 0.224, 0.225])[:, None, None]
    depth = out["depth"].double().numpy()
    log_depth = np.where(depth > 0, np.log(np.clip(depth, 0.5, 50) / 5), np.log(10))
    return np.concatenate([rgb, log_depth], 1)


def test_rgb_depth_batches_are_renders_and_their_depth():
    task = get_task("splitbrain", pair="rgb_depth")
    index = torch.tensor([3, 11, 40])
    inputs, targets = task.make_batch(photo_crops(3, 32), index, seed=5)
    expected = rendered_rgbd(task, index, 5, 32)
    assert inputs.shape == (3, 4, 32, 32) and np.abs(inputs.double().numpy() - expected).max() < 1e-5
    assert np.abs(targets.depth.double().numpy() - expected[:, 3:, ::4, ::4]).max() < 1e-5
    assert np.abs(targets.rgb.double().numpy() - expected[:, :3, ::4, ::4]).max() < 1e-5
    assert (expected[:, 3] < np.log(10)).any() and (expected[:, 3] == np.log(10)).any()  # objects and misses


def test_rgb_depth_encoder_splits_rgb_from_depth():
    task = get_task("splitbrain", pair="rgb_depth")
    model = task.build_model("small", widths=(16, 32))
    encoder = task.encoder(model)
    assert encoder.l_net.in_channels == 3 and encoder.ab_net.in_channels == 1 and encoder.out_channels == 32
    x, _ = task.make_batch(photo_crops(2, 16), torch.arange(2), 0)
    assert torch.equal(encoder(x), torch.cat([encoder.l_net(x[:, :3]), encoder.ab_net(x[:, 3:])], 1))
    transfer = task.prepare_input(photo_crops(2, 16))  # no depth at transfer time: a flat far plane
    assert transfer.shape == (2, 4, 16, 16) and torch.all(transfer[:, 3] == np.log(10))
    check_encoder(task, model, photo_crops(4, 16))


def test_rgb_depth_a_few_steps_lower_both_losses(tmp_path):
    rows = check_loss_drops(get_task("splitbrain", pair="rgb_depth"), photo_crops(64, 32), tmp_path, steps=30,
                            lr=3e-3)
    for key in ("depth_loss", "rgb_loss"):
        assert np.mean([r[key] for r in rows[-5:]]) < np.mean([r[key] for r in rows[:5]]), key


def test_rgb_depth_resume_show_and_quality(tmp_path):
    task = get_task("splitbrain", pair="rgb_depth")
    check_resume(task, photo_crops(48, 16), tmp_path / "resume")
    checkpoint = trained_checkpoint(task, photo_crops(32, 32), tmp_path)
    check_show_and_quality("splitbrain", checkpoint, tmp_path, columns=4)
    _, model, _ = load_checkpoint(checkpoint)
    rows = task.quality(model, photo_crops(8, 32), torch.arange(8), 0)
    assert [r["metric"] for r in rows] == ["RGB -> depth RMSE (log depth)", "depth -> RGB RMSE (normalised RGB)"]
    assert all(r["baseline"] > 0 and np.isfinite(r["model"]) for r in rows)


def test_unknown_pair_is_refused():
    with pytest.raises(ValueError, match="^pair"):
        get_task("splitbrain", pair="rgb_normals")
