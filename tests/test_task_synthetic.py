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
from sslfast.data import PhotoCrops
from sslfast.tasks import get_task
from sslfast.tasks.synthetic import (DEPTH_RANGE, DEPTH_REFERENCE, HELD_OUT_OFFSET, balanced_bce, balanced_error,
                                     reverse_gradient)
from sslfast.train import TrainConfig, Trainer

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
    task = get_task("synthetic", start_skip=2, start_window=4)
    rows = Trainer(task, real_images(16, 16), config(tmp_path, steps=20)).fit()
    dense = [r["loss"] - r["domain_loss"] for r in rows]
    assert np.mean(dense[-5:]) < np.mean(dense[:5]) - 0.5, dense
    assert all(0 <= r["disc_accuracy"] <= 1 for r in rows)
    expected_start = np.mean([r["disc_accuracy"] for r in rows[2:6]])
    assert rows[-1]["disc_accuracy_start"] == pytest.approx(expected_start, abs=1e-6)
    assert "disc_accuracy_start" not in rows[1]
    with open(tmp_path / "log.csv") as f:
        header = f.readline()
    assert "disc_accuracy" in header and "depth_loss" in header


def test_resume_gives_the_same_next_losses(tmp_path):
    images, task = real_images(24, 16), get_task("synthetic", start_skip=1, start_window=6)
    settings = dict(steps=6, checkpoint_every=3)
    whole = Trainer(task, images, config(tmp_path / "whole", **settings)).fit()
    Trainer(task, images, config(tmp_path / "split", **settings)).fit(until=3)
    resumed = Trainer(task, images, config(tmp_path / "split", **settings), resume=True)
    rows = resumed.fit()
    assert resumed.step == 6 and len(rows) == 6
    assert [r["loss"] for r in rows[3:]] == [r["loss"] for r in whole[3:]]
    assert rows[-1]["disc_accuracy_start"] == whole[-1]["disc_accuracy_start"]


def test_bad_options_name_the_argument():
    for options, name in (({"background": "sky"}, "background"), ({"weights": (1, 2)}, "weights"),
                          ({"domain_weight": -1}, "domain_weight"), ({"start_window": 0}, "start_window")):
        with pytest.raises(ValueError, match=f"^{name}"):
            get_task("synthetic", **options)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic_run")
    assert cli_main(["pretrain", "synthetic", "--size", "24", "--steps", "6", "--batch-size", "8", "--warmup", "1",
                     "--device", "cpu", "--out", str(out), "--option", "start_skip=0",
                     "--option", "start_window=3"]) == 0
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


def test_quality_reports_dense_errors_and_discriminator_accuracy(tmp_path, checkpoint):
    assert cli_main(["quality", str(checkpoint), "--data", "shapes", "--count", "16", "--device", "cpu",
                     "--out", str(tmp_path)]) == 0
    with open(tmp_path / "quality_shapes.json") as f:
        rows = {r["metric"]: r for r in json.load(f)["rows"]}
    assert set(rows) == {"depth L1 (log depth)", "normal angle error (deg)", "edge balanced error",
                         "discriminator accuracy (chance 0.5)"}
    logged_start = torch.load(checkpoint, weights_only=False)["rows"][-1]["disc_accuracy_start"]
    assert rows["discriminator accuracy (chance 0.5)"]["baseline"] == pytest.approx(logged_start, abs=1e-6)
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
            self.register_buffer("disc_start", torch.tensor([0.9, 1.0]))

        def forward(self, x):
            n = x.shape[0]
            return {"depth": median.expand(n, 1, 16, 16), "normals": mean_normal.view(1, 3, 1, 1).expand(n, 3, 16, 16),
                    "edges": torch.full((n, 1, 16, 16), -1.0), "domain": torch.zeros(n)}

    rows = task.quality(Constant(), images, index, seed=0)
    for row in rows[:3]:
        assert row["model"] == pytest.approx(row["baseline"], rel=1e-5), row
    assert rows[3]["model"] == 0.5 and rows[3]["baseline"] == pytest.approx(0.9)
