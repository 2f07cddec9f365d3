"""The synthetic-imagery task (Ren & Lee 2018): renders with free depth,
normals and contours, a domain discriminator behind gradient reversal."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from sslfast import ops
from sslfast.cli import main as cli_main
from sslfast.data import PhotoCrops, get_dataset
from sslfast.tasks import get_task
from sslfast.tasks.synthetic import (DEPTH_RANGE, DEPTH_REFERENCE, HELD_OUT_OFFSET, balanced_bce, balanced_error,
                                     domain_probe_accuracy, reverse_gradient)
from sslfast.train import TrainConfig, Trainer, load_checkpoint

TINY = {"widths": (8, 16)}


def real_images(count: int, size: int, split: str = "train") -> torch.Tensor:
    crops = PhotoCrops(split, size, length=count, seed=3)
    return torch.stack([crops[i][0] for i in range(count)])


def config(tmp_path, **overrides) -> TrainConfig:
    settings = dict(steps=8, batch_size=8, lr=2e-3, optimizer="adamw", weight_decay=1e-4, warmup_steps=2,
                    log_every=1, checkpoint_every=4, out_dir=str(tmp_path), progress=False, backbone_options=TINY)
    settings.update(overrides)
    return TrainConfig(**settings)


def test_make_batch_renders_scenes_of_seed_and_index():
    task = get_task("synthetic")
    images, index = real_images(4, 24), torch.tensor([7, 3, 90, 12])
    inputs, targets = task.make_batch(images, index, seed=5)
    assert inputs.shape == (8, 3, 24, 24) and inputs.dtype == torch.float32
    assert targets["depth"].shape == targets["edges"].shape == targets["hit"].shape == (4, 1, 24, 24)
    assert targets["normals"].shape == (4, 3, 24, 24)
    assert targets["domain"].tolist() == [0.0] * 4 + [1.0] * 4
    # The renders are those of the sampled scenes (seed, index), whatever the batch.
    scenes = ops.sample_scenes(5, index, n_objects=(1, 4), ground_plane=0.7, central=True)
    maps = ops.render_scenes(scenes, 24, 24, samples=2, background=images.roll(1, 0))
    hit = maps["depth"] > 0
    assert torch.equal(targets["hit"].bool(), hit)
    expected_depth = torch.log(maps["depth"].clamp(*DEPTH_RANGE) / DEPTH_REFERENCE)
    torch.testing.assert_close(targets["depth"][hit], expected_depth[hit])
    assert torch.equal(targets["edges"], maps["edges"]) and torch.equal(targets["normals"], maps["normals"])
    mean, std = torch.tensor(task.mean).view(1, 3, 1, 1), torch.tensor(task.std).view(1, 3, 1, 1)
    torch.testing.assert_close(inputs[:4], (maps["rgb"] - mean) / std)
    torch.testing.assert_close(inputs[4:], (images.float() / 255 - mean) / std)
    _, alone = task.make_batch(images[2:3], index[2:3], seed=5)
    assert torch.equal(alone["depth"], targets["depth"][2:3])
    _, other_seed = task.make_batch(images, index, seed=6)
    assert not torch.equal(other_seed["depth"], targets["depth"])


def test_grayscale_input_and_real_backgrounds():
    task = get_task("synthetic", grayscale=True, background="real")
    images, index = real_images(3, 20), torch.arange(3)
    inputs, targets = task.make_batch(images, index, seed=1)
    assert inputs.shape == (6, 1, 20, 20) and task.input_channels == 1
    luma = torch.tensor([0.2989, 0.587, 0.114]).view(1, 3, 1, 1)
    gray_real = (images.float() / 255 * luma).sum(1, keepdim=True)
    torch.testing.assert_close(inputs[3:], (gray_real - task.mean[0]) / task.std[0], atol=1e-5, rtol=1e-5)
    # Away from any hit (anti-aliasing blends the rim), each render shows the previous real image of the batch.
    miss = F.max_pool2d(targets["hit"], 3, 1, 1) == 0
    assert miss.any()
    background = images.roll(1, 0).float() / 255
    torch.testing.assert_close(targets["rgb"][miss.expand(-1, 3, -1, -1)],
                               background[miss.expand(-1, 3, -1, -1)], atol=1 / 255, rtol=0)
    model = task.build_model("small", **TINY)
    assert model.encoder.in_channels == 1 and task.prepare_input(images).shape == (3, 1, 20, 20)


def test_gradient_reversal_layer():
    x = torch.randn(5, 4, requires_grad=True)
    y = reverse_gradient(x, 0.05)
    assert torch.equal(y, x)
    upstream = torch.randn(5, 4)
    (y * upstream).sum().backward()
    torch.testing.assert_close(x.grad, -0.05 * upstream)


def test_trunk_gets_the_reversed_discriminator_gradient_and_the_discriminator_the_plain_one():
    task = get_task("synthetic", domain_weight=0.05)
    model = task.build_model("small", **TINY)
    inputs, targets = task.make_batch(real_images(4, 16), torch.arange(4), seed=0)
    domain = F.binary_cross_entropy_with_logits(model(inputs)["domain"], targets["domain"])
    params = list(model.encoder.parameters()) + list(model.discriminator.parameters())
    reversed_grads = torch.autograd.grad(domain, params)
    # The same loss without the reversal layer.
    pooled = torch.flatten(F.adaptive_avg_pool2d(model.encoder(inputs), 1), 1)
    plain = F.binary_cross_entropy_with_logits(model.discriminator(pooled).squeeze(1), targets["domain"])
    plain_grads = torch.autograd.grad(plain, params)
    n_encoder = len(list(model.encoder.parameters()))
    for got, want in zip(reversed_grads[:n_encoder], plain_grads[:n_encoder]):
        torch.testing.assert_close(got, -0.05 * want)
    for got, want in zip(reversed_grads[n_encoder:], plain_grads[n_encoder:]):
        torch.testing.assert_close(got, want)


def test_balanced_bce_and_error_against_formulas():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 1, 6, 6, generator=generator)
    target = (torch.rand(2, 1, 6, 6, generator=generator) < 0.2).float()
    p = target.mean().item()
    x, t = logits.flatten().numpy().astype(np.float64), target.flatten().numpy()
    log_sigmoid = -np.logaddexp(0, -x)
    log_one_minus = -np.logaddexp(0, x)
    per_pixel = -(t * 0.5 / p * log_sigmoid + (1 - t) * 0.5 / (1 - p) * log_one_minus)
    assert balanced_bce(logits, target).item() == pytest.approx(per_pixel.mean(), rel=1e-5)
    assert balanced_bce(torch.zeros_like(logits), target).item() == pytest.approx(math.log(2), rel=1e-5)
    predicted = x > 0
    recall = (predicted & (t > 0)).sum() / (t > 0).sum()
    specificity = (~predicted & (t == 0)).sum() / (t == 0).sum()
    assert balanced_error(logits, target).item() == pytest.approx(1 - (recall + specificity) / 2, rel=1e-6)
    assert balanced_error(torch.full_like(logits, 3.0), target).item() == pytest.approx(0.5)


def test_a_few_steps_lower_the_loss_and_log_the_discriminator(tmp_path):
    task = get_task("synthetic", domain_weight=0.05, ramp=True)
    trainer = Trainer(task, real_images(16, 16), config(tmp_path, steps=20))
    rows = trainer.fit()
    dense = [r["loss"] - r["domain_loss"] for r in rows]
    assert np.mean(dense[-5:]) < np.mean(dense[:5]) - 0.5, dense
    assert all(0 <= r["disc_accuracy"] <= 1 for r in rows)
    # DANN's schedule, written out: 0.05 * (2 / (1 + exp(-10 p)) - 1) at the step's progress p.
    assert [r["reversal"] for r in rows] == pytest.approx(
        [0.05 * (2 / (1 + math.exp(-10 * step / 20)) - 1) for step in range(20)])
    with open(tmp_path / "log.csv") as f:
        header = f.readline()
    assert "disc_accuracy" in header and "depth_loss" in header
    # The initial trunk is kept as built (same seed, same weights) and never trained.
    torch.manual_seed(0)
    fresh = task.build_model("small", **TINY)
    kept, trained = trainer.raw_model.initial_encoder.state_dict(), trainer.raw_model.encoder.state_dict()
    for name, value in fresh.encoder.state_dict().items():
        assert torch.equal(kept[name], value), name
    assert not all(torch.equal(trained[name], value) for name, value in fresh.encoder.state_dict().items())


def test_discriminator_sees_the_features_standardised_over_the_batch():
    model = get_task("synthetic").build_model("small", **TINY).train()
    generator = torch.Generator().manual_seed(2)
    features = torch.randn(12, model.encoder.out_channels, generator=generator)
    # The same MLP on the batch-standardised features (biased variance, BatchNorm's eps), written out.
    standardised = (features - features.mean(0)) / torch.sqrt(features.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(model.discriminator(features), model.discriminator[1:](standardised))
    # So a per-channel rescale and shift of the trunk's features cannot fool it.
    scale = torch.rand(model.encoder.out_channels, generator=generator) * 10 + 0.1
    shift = torch.randn(model.encoder.out_channels, generator=generator) * 5
    torch.testing.assert_close(model.discriminator(features * scale + shift), model.discriminator(features),
                               atol=1e-4, rtol=1e-4)


def test_discriminator_learns_at_its_own_rate_and_the_initial_trunk_is_not_optimised():
    task = get_task("synthetic", disc_lr=4.0)
    model = task.build_model("small", **TINY)
    optimizer = task.configure_optimizers(model, lambda params: torch.optim.AdamW(params, lr=1e-3))["model"]
    rest, discriminator = optimizer.param_groups
    assert {id(p) for p in discriminator["params"]} == {id(p) for p in model.discriminator.parameters()}
    assert discriminator["lr"] == pytest.approx(4e-3) and rest["lr"] == pytest.approx(1e-3)
    optimised = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert not optimised & {id(p) for p in model.initial_encoder.parameters()}
    assert {id(p) for p in model.encoder.parameters()} <= optimised


def test_domain_probe_accuracy_is_held_out():
    generator = torch.Generator().manual_seed(1)
    domain = (torch.arange(200) >= 100).float()
    # One-hot features per sample with random labels: a classifier that saw a
    # sample would get it right, held out it can only guess.
    random_labels = torch.randperm(200, generator=generator) % 2
    assert abs(domain_probe_accuracy(torch.eye(200), random_labels, folds=4, seed=0) - 0.5) < 0.12
    noise = torch.randn(200, 16, generator=generator)
    assert abs(domain_probe_accuracy(noise, domain, folds=4, seed=0) - 0.5) < 0.12
    shifted = noise + domain[:, None] * 3  # the domains apart along every axis
    assert domain_probe_accuracy(shifted, domain, folds=4, seed=0) > 0.97


def test_resume_gives_the_same_next_losses(tmp_path):
    images, task = real_images(24, 16), get_task("synthetic", ramp=True, disc_lr=3.0)
    settings = dict(steps=6, checkpoint_every=3)
    whole = Trainer(task, images, config(tmp_path / "whole", **settings)).fit()
    Trainer(task, images, config(tmp_path / "split", **settings)).fit(until=3)
    resumed = Trainer(task, images, config(tmp_path / "split", **settings), resume=True)
    rows = resumed.fit()
    assert resumed.step == 6 and len(rows) == 6
    assert [r["loss"] for r in rows[3:]] == [r["loss"] for r in whole[3:]]


def test_bad_options_name_the_argument():
    for options, name in (({"background": "sky"}, "background"), ({"weights": (1, 2)}, "weights"),
                          ({"domain_weight": -1}, "domain_weight"), ({"disc_lr": 0}, "disc_lr"),
                          ({"probe_folds": 1}, "probe_folds"), ({"disc_hidden": 0}, "disc_hidden"),
                          ({"disc_hidden": 2.5}, "disc_hidden")):
        with pytest.raises(ValueError, match=f"^{name}"):
            get_task("synthetic", **options)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic_run")
    assert cli_main(["pretrain", "synthetic", "--size", "24", "--steps", "6", "--batch-size", "8", "--warmup", "1",
                     "--device", "cpu", "--out", str(out)]) == 0
    return out / "checkpoint.pt"


def test_pretrain_defaults_to_photos_as_the_real_domain(checkpoint):
    state = torch.load(checkpoint, weights_only=False)
    assert state["config"]["data"] == "photos" and state["task"] == "synthetic"
    assert state["config"]["optimizer"] == "adamw"


def test_show_writes_pictures_with_and_without_a_model(tmp_path, checkpoint):
    import cv2

    for extra, tiles in (([], 4), (["--checkpoint", str(checkpoint)], 8)):
        out = tmp_path / f"show{tiles}.png"
        assert cli_main(["show", "synthetic", "--size", "24", "--count", "2", "--columns", str(tiles),
                         "--out", str(out), *extra]) == 0
        picture = cv2.imread(str(out))
        assert picture is not None and picture.shape[1] > tiles * 24 and picture.shape[0] > 2 * 24


def test_quality_reports_dense_errors_and_the_fresh_domain_classifier(tmp_path, checkpoint):
    assert cli_main(["quality", str(checkpoint), "--data", "shapes", "--count", "16", "--device", "cpu",
                     "--out", str(tmp_path)]) == 0
    with open(tmp_path / "quality_shapes.json") as f:
        rows = {r["metric"]: r for r in json.load(f)["rows"]}
    domain_row = "fresh domain classifier accuracy (chance 0.5)"
    assert set(rows) == {"depth L1 (log depth)", "normal angle error (deg)", "edge balanced error", domain_row}
    # The baseline is the same probe on the trunk as initialised.
    task, model, _ = load_checkpoint(str(checkpoint))
    images = torch.stack([get_dataset("shapes", split="test", size=24)[i][0] for i in range(16)])
    inputs, targets = task.make_batch(images, torch.arange(16) + HELD_OUT_OFFSET, seed=0)
    with torch.no_grad():
        initial = domain_probe_accuracy(model.initial_encoder.eval().pooled(inputs), targets["domain"], 4, seed=0)
    assert rows[domain_row]["baseline"] == pytest.approx(initial)
    assert 0 <= rows[domain_row]["model"] <= 1
    assert 0 <= rows["normal angle error (deg)"]["baseline"] <= 180
    assert rows["edge balanced error"]["baseline"] == 0.5


def test_quality_baselines_are_the_best_constants():
    """A model that predicts the batch's best constants scores exactly the baseline."""
    task = get_task("synthetic")
    images, index = real_images(4, 16, "test"), torch.arange(4)
    _, targets = task.make_batch(images, index + HELD_OUT_OFFSET, seed=0)
    hit = targets["hit"] > 0
    median = targets["depth"][hit].median()
    mean_normal = F.normalize((targets["normals"] * targets["hit"]).sum((0, 2, 3)), dim=0)

    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = self.initial_encoder = task.build_model("small", **TINY).encoder

        def forward(self, x):
            n = x.shape[0]
            return {"depth": median.expand(n, 1, 16, 16), "normals": mean_normal.view(1, 3, 1, 1).expand(n, 3, 16, 16),
                    "edges": torch.full((n, 1, 16, 16), -1.0), "domain": torch.zeros(n)}

    rows = task.quality(Constant(), images, index, seed=0)
    for row in rows[:3]:
        assert row["model"] == pytest.approx(row["baseline"], rel=1e-5), row
    assert rows[3]["model"] == rows[3]["baseline"]  # the same trunk twice
