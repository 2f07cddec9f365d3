"""Super-resolution GAN: pairs against torch's antialiased bicubic, the
alternating two-optimiser step, training, resume of both optimisers, show,
quality and the trunk as transfer encoder."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from sslfast.tasks import get_task
from sslfast.tasks.superres import psnr
from sslfast.train import Trainer, load_checkpoint
from task_checks import (check_encoder, check_loss_drops, check_resume, check_show_and_quality, photo_crops,
                         task_config, trained_checkpoint)

SMALL = dict(channels=16, blocks=2)


def test_make_batch_is_bicubic_x4_pairs():
    images = photo_crops(3, 32, seed=2)
    task = get_task("superres")
    lr, hr = task.make_batch(images, torch.arange(3), 0)
    assert lr.shape == (3, 3, 8, 8) and hr.shape == (3, 3, 32, 32)
    assert torch.allclose(task.to_unit(hr), images.float() / 255, atol=1e-5)
    expected = F.interpolate(images.float(), size=(8, 8), mode="bicubic", antialias=True,
                             align_corners=False).round().clamp(0, 255) / 255
    assert (task.to_unit(lr) - expected).abs().max() <= 1.5 / 255


def test_psnr_matches_the_definition(generator):
    a, b = torch.rand(2, 3, 8, 8, generator=generator), torch.rand(2, 3, 8, 8, generator=generator)
    mse = ((a - b) ** 2).double().numpy().reshape(2, -1).mean(1)
    assert np.allclose(psnr(a, b).numpy(), 10 * np.log10(1 / mse), rtol=1e-5)


def test_optimisers_and_the_generator_step_leave_the_discriminator_alone(tmp_path):
    task = get_task("superres", **SMALL)
    trainer = Trainer(task, photo_crops(16, 32), task_config(tmp_path, steps=1))
    model = trainer.raw_model
    assert list(trainer.optimizers) == ["generator", "discriminator"]
    d_params = {id(p) for p in model.discriminator.parameters()}
    assert {id(p) for g in trainer.optimizers["discriminator"].param_groups for p in g["params"]} == d_params
    assert not d_params & {id(p) for g in trainer.optimizers["generator"].param_groups for p in g["params"]}
    rows = trainer.fit()
    assert {"loss", "d_loss", "mse_loss", "content_loss", "adversarial_loss"} <= set(rows[0])
    assert all(p.grad is None and p.requires_grad for p in model.parameters())


def test_a_few_steps_lower_the_loss(tmp_path):
    check_loss_drops(get_task("superres", **SMALL), photo_crops(64, 32), tmp_path, key="mse_loss", steps=30)


@pytest.mark.parametrize("content", ["discriminator", "none"])
def test_resume_restores_both_gan_optimisers(tmp_path, content):
    check_resume(get_task("superres", content=content, **SMALL), photo_crops(48, 16), tmp_path)


def test_content_features_from_a_named_checkpoint(tmp_path):
    rotation = trained_checkpoint(get_task("rotation"), photo_crops(16, 32), tmp_path / "rotation")
    task = get_task("superres", content=rotation, **SMALL)
    rows = Trainer(task, photo_crops(16, 32), task_config(tmp_path / "sr", steps=2)).fit()
    assert rows[-1]["content_loss"] > 0
    assert all(not p.requires_grad for p in task._content_net[1].parameters())


def test_show_quality_and_encoder(tmp_path):
    task = get_task("superres", **SMALL)
    images = photo_crops(32, 32)
    checkpoint = trained_checkpoint(task, images, tmp_path)
    check_show_and_quality("superres", checkpoint, tmp_path, columns=3)
    _, model, _ = load_checkpoint(checkpoint)
    rows = task.quality(model, images[:8], torch.arange(8), 0)
    assert rows[0]["metric"] == "PSNR (dB, mean over images)" and rows[0]["baseline"] > 15
    features = check_encoder(task, model, images[:4])
    assert features.shape[1] == 16 * 2 * 4


@pytest.mark.parametrize("name, options", [("superres", SMALL), ("inpainting", {}), ("colorization", {"prior_images": 16}),
                                           ("splitbrain", {"prior_images": 16})])
def test_bf16_autocast_steps_are_finite(tmp_path, name, options):
    rows = Trainer(get_task(name, **options), photo_crops(16, 16), task_config(tmp_path, steps=2, amp="bf16")).fit()
    assert all(np.isfinite(value) for row in rows for key, value in row.items() if key.endswith("loss"))


def test_generator_starts_at_bicubic_without_checkerboard(generator):
    from sslfast.tasks.superres import icnr_conv

    conv = icnr_conv(4, 2)
    shuffled = F.pixel_shuffle(conv(torch.randn(1, 4, 5, 5, generator=generator)), 2)
    for dy, dx in ((0, 1), (1, 0), (1, 1)):  # every sub-pixel of a 2x2 cell starts alike
        assert torch.equal(shuffled[..., 0::2, 0::2], shuffled[..., dy::2, dx::2])
    model = get_task("superres", **SMALL).build_model()
    lr = torch.randn(2, 3, 6, 6, generator=generator)
    expected = F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)
    assert torch.allclose(model.eval()(lr), expected, atol=1e-6)


def randomised(model):
    """The model with every parameter redrawn (so the residual branch is not the zero it starts as)."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.05)
    return model.eval()


def test_bias_free_generator_leaves_flat_images_exactly_bicubic(generator):
    task = get_task("superres", **SMALL)
    model = randomised(task.build_model())
    images = torch.full((3, 3, 32, 32), 60, dtype=torch.uint8)
    images[1], images[2, 0] = 230, 10
    lr, hr = task.make_batch(images, torch.arange(3), 0)
    up = task.upsample(model, lr)
    assert torch.allclose(up["SR"], images.float() / 255, atol=1e-6)
    assert torch.allclose(up["SR"], up["bicubic"], atol=1e-6)
    # Positively homogeneous residual: scaling the contrast around the mean scales the residual.
    x = torch.randn(2, 3, 8, 8, generator=generator)
    bicubic = F.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
    with torch.no_grad():
        residual, residual_scaled = model(x) - bicubic, model(2.5 * x + 1.0) - 2.5 * bicubic - 1.0
    assert residual.abs().max() > 1e-2
    assert torch.allclose(residual_scaled, 2.5 * residual, atol=1e-4)
    # With biases (SRGAN's conv-BN), flat images do get a residual.
    biased = randomised(get_task("superres", bias_free=False, batch_norm=True, **SMALL).build_model())
    assert (task.upsample(biased, lr)["SR"] - images.float() / 255).abs().max() > 1e-3


def test_bias_free_refuses_batch_norm():
    with pytest.raises(ValueError, match="^batch_norm"):
        get_task("superres", bias_free=True, batch_norm=True)
    with pytest.raises(ValueError, match="^mse_warmup"):
        get_task("superres", mse_warmup=1.5)


def test_mse_warmup_trains_the_generator_on_mse_alone_first(tmp_path):
    task = get_task("superres", mse_warmup=0.5, **SMALL)
    rows = Trainer(task, photo_crops(16, 16), task_config(tmp_path, steps=4, log_every=1, batch_size=4)).fit()
    for row in rows[:2]:  # steps 0-1: the loss is the MSE; content and adversarial are logged, not trained
        assert row["loss"] == pytest.approx(row["mse_loss"]) and row["content_loss"] > 0
    for row in rows[2:]:
        expected = row["mse_loss"] + row["content_loss"] + 1e-3 * row["adversarial_loss"]
        assert row["loss"] == pytest.approx(expected, rel=1e-5)
