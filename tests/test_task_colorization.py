"""Colorization task: targets against scikit-image Lab, the rebalanced loss
against a float64 reference, the prior counted once and checkpointed,
training, resume, show and quality."""
import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from sslfast import ops
from sslfast.tasks import get_task
from sslfast.tasks.colorization import rebalanced_cross_entropy
from sslfast.train import Trainer, load_checkpoint
from task_checks import (check_encoder, check_loss_drops, check_resume, check_show_and_quality, photo_crops,
                         task_config, trained_checkpoint)


def skimage_lab(images: torch.Tensor) -> np.ndarray:
    return rgb2lab(images.permute(0, 2, 3, 1).numpy() / 255.0).transpose(0, 3, 1, 2)


def nearest_bins(ab: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Index of the nearest bin of every ab pair, ab [B, 2, h, w]."""
    d = ((ab[:, None] - bins[None, :, :, None, None]) ** 2).sum(2)  # [B, Q, h, w]
    return d.argmin(1)


def reference_loss(logits, index, weight, grayscale, class_weights) -> float:
    """The rebalanced soft cross-entropy, written out per pixel in float64."""
    logits, index, weight = logits.double().numpy(), index.numpy(), weight.double().numpy()
    class_weights = class_weights.double().numpy()
    total, pixels = 0.0, 0
    batch, bins, height, width = logits.shape
    for b in range(batch):
        if grayscale[b]:
            continue
        for y in range(height):
            for x in range(width):
                scores = logits[b, :, y, x]
                log_p = scores - (np.log(np.exp(scores - scores.max()).sum()) + scores.max())
                z = np.zeros(bins)
                np.add.at(z, index[b, :, y, x], weight[b, :, y, x])
                total += class_weights[index[b, 0, y, x]] * -(z * log_p).sum()
                pixels += 1
    return total / pixels


@pytest.mark.parametrize("rebalance", [True, False])
def test_rebalanced_loss_equals_float64_reference(generator, rebalance):
    batch, bins, k = 4, 313, 5
    logits = torch.randn(batch, bins, 3, 5, generator=generator) * 3
    index = torch.stack([torch.randperm(bins, generator=generator)[:k] for _ in range(batch * 15)])
    index = index.view(batch, 3, 5, k).permute(0, 3, 1, 2).contiguous()
    weight = torch.rand(batch, k, 3, 5, generator=generator)
    weight = weight / weight.sum(1, keepdim=True)
    grayscale = torch.tensor([False, True, False, False])
    class_weights = torch.rand(bins, generator=generator) * 4 + 0.1 if rebalance else None
    got = rebalanced_cross_entropy(logits, index, weight, grayscale, class_weights).item()
    expected = reference_loss(logits, index, weight, grayscale, class_weights if rebalance else torch.ones(bins))
    assert got == pytest.approx(expected, rel=1e-5)
    # All-grayscale batches contribute nothing (and no NaN).
    assert rebalanced_cross_entropy(logits, index, weight, torch.ones(batch, dtype=torch.bool)).item() == 0


def test_rebalanced_optimum_is_the_weighted_posterior(generator):
    """What "rebalancing undone" relies on: fitting one distribution to pixels
    whose bins follow p under the rebalanced loss converges to p_q w_q / Z,
    so softmax(logits - log w) recovers p (and the raw softmax does not)."""
    bins, pixels = 12, 600
    p = torch.rand(bins, generator=generator) + 0.2
    counts = (p / p.sum() * pixels).round().long()
    index = torch.repeat_interleave(torch.arange(bins), counts).view(1, 1, 1, -1)
    p = counts.double() / counts.sum()
    class_weights = torch.rand(bins, generator=generator) * 3 + 0.3
    logits = torch.zeros(bins, requires_grad=True)
    optimizer = torch.optim.LBFGS([logits], max_iter=200, tolerance_grad=1e-10, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = rebalanced_cross_entropy(logits.view(1, bins, 1, 1).expand(1, bins, 1, index.shape[-1]), index,
                                        torch.ones(index.shape), torch.tensor([False]), class_weights)
        loss.backward()
        return loss

    optimizer.step(closure)
    fitted = torch.softmax(logits.detach().double(), 0)
    weighted = p * class_weights.double() / (p * class_weights.double()).sum()
    assert torch.allclose(fitted, weighted, atol=1e-4)
    undone = torch.softmax(logits.detach().double() - class_weights.double().log(), 0)
    assert torch.allclose(undone, p, atol=1e-4) and not torch.allclose(fitted, p, atol=1e-2)


def test_make_batch_targets_are_the_nearest_bins_of_skimage_lab():
    images = photo_crops(4, 32, seed=3)
    task = get_task("colorization")
    lightness, targets = task.make_batch(images, torch.arange(4), seed=0)
    lab = skimage_lab(images)
    assert lightness.shape == (4, 1, 32, 32)
    assert np.abs(lightness.numpy() - (lab[:, :1] - 50) / 50).max() < 1e-3
    assert targets.index.shape == targets.weight.shape == (4, 5, 8, 8)
    nearest = nearest_bins(lab[:, 1:, ::4, ::4], ops.ab_gamut_bins().numpy())
    assert (targets.index[:, 0].numpy() == nearest).mean() > 0.99  # ties at bin borders may round either way
    assert torch.allclose(targets.weight.sum(1), torch.ones(4, 8, 8))
    gray = torch.full_like(images, 0)
    gray[:] = images[:, :1]
    assert task.make_batch(gray, torch.arange(4), 0)[1].grayscale.all()
    assert not targets.grayscale.any()


def test_l2_variant_targets_are_scaled_ab():
    images = photo_crops(2, 16, seed=4)
    lightness, targets = get_task("colorization", loss="l2").make_batch(images, torch.arange(2), 0)
    ab = skimage_lab(images)[:, 1:, ::4, ::4] / 110
    assert lightness.shape == (2, 1, 16, 16)
    assert np.abs(targets.weight.numpy() - ab).max() < 1e-4


def test_prior_is_counted_once_over_training_images_and_checkpointed(tmp_path, monkeypatch):
    images = photo_crops(24, 16, seed=5)
    task = get_task("colorization", prior_images=1000)
    trainer = Trainer(task, images, task_config(tmp_path, steps=2, batch_size=8))
    trainer.fit()
    prior = trainer.raw_model.prior
    assert bool(prior.ready)
    # Independent count: nearest bins of every training image's subsampled ab (scikit-image Lab).
    bins = ops.ab_gamut_bins().numpy()
    ab = skimage_lab(images)[:, 1:, ::4, ::4]
    colour = (np.abs(ab) > 5).reshape(len(ab), -1).any(1)  # grayscale images are left out
    assert 0 < colour.sum() < len(ab)
    nearest = nearest_bins(ab[colour], bins)
    counts = np.bincount(nearest.ravel(), minlength=len(bins)).astype(np.float64)
    assert np.abs(prior.probability.numpy() - counts / counts.sum()).sum() < 0.01
    probability = counts / counts.sum()
    smoothed = np.exp(-((bins[:, None] - bins[None]) ** 2).sum(-1) / 50) @ probability
    smoothed /= smoothed.sum()
    weights = 1 / (0.5 * smoothed + 0.5 / len(bins))
    weights /= (smoothed * weights).sum()
    assert np.allclose(prior.class_weights.numpy(), weights, rtol=0.05)
    _, model, _ = load_checkpoint(trainer.checkpoint_path)
    assert torch.equal(model.prior.class_weights, prior.class_weights)

    def counting_again(*args, **kwargs):
        raise AssertionError("the prior was counted again on resume")

    monkeypatch.setattr(task, "fit_prior", counting_again)
    resumed = Trainer(task, images, task_config(tmp_path, steps=4, batch_size=8), resume=True)
    resumed.fit()
    assert resumed.step == 4


@pytest.mark.parametrize("loss", ["classification", "l2"])
def test_a_few_steps_lower_the_loss(tmp_path, loss):
    check_loss_drops(get_task("colorization", loss=loss, prior_images=64), photo_crops(64, 32), tmp_path,
                     steps=30, lr=3e-3)


def test_resume_gives_the_same_next_losses(tmp_path):
    check_resume(get_task("colorization", prior_images=32), photo_crops(48, 16), tmp_path)


def test_show_quality_and_encoder(tmp_path):
    task = get_task("colorization", prior_images=32)
    images = photo_crops(32, 32)
    checkpoint = trained_checkpoint(task, images, tmp_path)
    check_show_and_quality("colorization", checkpoint, tmp_path, columns=3)
    _, model, _ = load_checkpoint(checkpoint)
    rows = task.quality(model, images[:8], torch.arange(8), 0)
    assert [r["metric"] for r in rows] == ["ab error (annealed mean T=0.38)",
                                           "ab error (annealed mean T=0.38, rebalancing undone)"]
    # Predicting gray: the baseline is the mean ab norm of the images.
    ab = skimage_lab(images[:8])[:, 1:, ::4, ::4]
    assert rows[0]["baseline"] == pytest.approx(np.linalg.norm(ab, axis=1).mean(), rel=1e-3)
    check_encoder(task, model, images[:8])
    assert task.encoder(model).in_channels == 1
