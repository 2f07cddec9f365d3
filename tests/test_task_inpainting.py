"""Inpainting GAN (context encoder): masked inputs and loss weights against
independent constructions, the 10x generator lr, the channel-wise FC,
training, resume of both optimisers, show, quality and the encoder."""
import cv2
import numpy as np
import pytest
import torch

from sslfast.models import SmallConvNet
from sslfast.tasks import get_task
from sslfast.tasks.base import DEFAULT_MEAN, DEFAULT_STD
from sslfast.tasks.inpainting import ChannelwiseFC
from sslfast.train import Trainer, load_checkpoint
from task_checks import (check_encoder, check_loss_drops, check_resume, check_show_and_quality, photo_crops,
                         task_config, trained_checkpoint)

MEAN = torch.tensor(DEFAULT_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(DEFAULT_STD).view(1, 3, 1, 1)


@pytest.mark.parametrize("kind", ["center", "blocks", "region"])
def test_make_batch_fills_the_mask_with_the_data_set_mean(kind):
    images = photo_crops(4, 32, seed=1)
    masked, targets = get_task("inpainting", mask=kind).make_batch(images, torch.arange(4), seed=5)
    normalised = (images.float() / 255 - MEAN) / STD
    assert torch.allclose(targets.image, normalised, atol=1e-5)
    hole = targets.mask.expand_as(masked)
    filled = ((torch.tensor([255 * m for m in DEFAULT_MEAN]).view(1, 3, 1, 1) / 255 - MEAN) / STD).expand_as(masked)
    assert torch.allclose(masked[hole], filled[hole], atol=1e-5)
    assert torch.allclose(masked[~hole], normalised[~hole], atol=1e-5)
    coverage = targets.mask.float().mean().item()
    if kind == "center":
        assert targets.mask[:, :, 8:24, 8:24].all() and coverage == 0.25
    else:
        assert 0.01 < coverage < 0.4


def test_loss_weights_are_one_in_the_hole_and_ten_on_the_overlap_ring():
    task = get_task("inpainting", overlap=2)
    _, targets = task.make_batch(photo_crops(2, 32), torch.arange(2), seed=0)
    weights = task.loss_weights(targets.mask)
    for mask, weight in zip(targets.mask[:, 0].numpy().astype(np.uint8), weights[:, 0].numpy()):
        grown = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        expected = mask * 1.0 + (grown - mask) * 10.0
        assert np.array_equal(weight, expected)


def test_channelwise_fc_mixes_positions_within_each_channel_only(generator):
    layer = ChannelwiseFC(3, 4)
    x = torch.randn(2, 3, 2, 2, generator=generator)
    flat = torch.stack([x[:, c].flatten(1) @ layer.weight[c] + layer.bias[c] for c in range(3)], 1)
    expected = layer.mix(flat.view(2, 3, 2, 2))
    assert torch.allclose(layer(x), expected, atol=1e-6)


def test_generator_lr_is_ten_times_the_discriminators(tmp_path):
    trainer = Trainer(get_task("inpainting"), photo_crops(16, 32), task_config(tmp_path, steps=1, lr=1e-3))
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5)  # warm-up step 1 of 2
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(1e-4 * 0.5)


def test_a_few_steps_lower_the_loss(tmp_path):
    check_loss_drops(get_task("inpainting"), photo_crops(64, 32), tmp_path, key="l2_loss", steps=30, lr=3e-3)


@pytest.mark.parametrize("kind", ["center", "region"])
def test_resume_restores_both_gan_optimisers(tmp_path, kind):
    check_resume(get_task("inpainting", mask=kind), photo_crops(48, 16), tmp_path)


def test_show_quality_and_encoder(tmp_path):
    task = get_task("inpainting")
    images = photo_crops(32, 32)
    checkpoint = trained_checkpoint(task, images, tmp_path)
    check_show_and_quality("inpainting", checkpoint, tmp_path, columns=3)
    _, model, _ = load_checkpoint(checkpoint)
    rows = task.quality(model, images[:8], torch.arange(8), 0)
    hole = torch.zeros(1, 1, 32, 32, dtype=torch.bool)
    hole[..., 8:24, 8:24] = True
    fill = torch.tensor([round(255 * m) for m in DEFAULT_MEAN]).view(1, 3, 1, 1) / 255
    expected = ((fill - images[:8].float() / 255) ** 2 * hole).sum((1, 2, 3)) / (hole.sum() * 3)
    assert rows[0]["baseline"] == pytest.approx(expected.mean().item(), rel=0.02)
    assert isinstance(check_encoder(task, model, images[:4]), torch.Tensor)
    assert isinstance(task.encoder(model), SmallConvNet)
