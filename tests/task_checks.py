"""Checks every task's tests run: a few steps lower the loss, a resumed run
continues exactly (all optimisers), `sslfast show` and `sslfast quality`
work on a checkpoint, and the encoder serves transfer evaluation."""
import os

import torch

from sslfast.cli import main as cli_main
from sslfast.evaluate import extract_features
from sslfast.models import Encoder
from sslfast.train import TrainConfig, Trainer, load_checkpoint
from test_train import photo_crops  # noqa: F401  (re-exported for the task tests)


def task_config(tmp_path, **overrides) -> TrainConfig:
    settings = dict(steps=8, batch_size=16, lr=2e-3, optimizer="adamw", weight_decay=0.0, warmup_steps=2,
                    log_every=1, checkpoint_every=4, out_dir=str(tmp_path), progress=False,
                    backbone_options={"widths": (8, 16)}, data="photos", image_size=32)
    settings.update(overrides)
    return TrainConfig(**settings)


def mean_of(rows, key: str, part: slice) -> float:
    values = [r[key] for r in rows[part]]
    return sum(values) / len(values)


def check_loss_drops(task, images, tmp_path, key: str = "loss", steps: int = 30, margin: float = 0.0,
                     **overrides) -> list:
    rows = Trainer(task, images, task_config(tmp_path, steps=steps, **overrides)).fit()
    first, last = mean_of(rows, key, slice(0, 5)), mean_of(rows, key, slice(-5, None))
    assert last < first - margin, (key, first, last)
    return rows


def check_resume(task, images, tmp_path, **overrides) -> None:
    """Stopped at step 4 and resumed, a run logs the same losses as an
    uninterrupted one and ends with the same weights and optimiser states."""
    whole = Trainer(task, images, task_config(tmp_path / "whole", **overrides))
    whole_rows = whole.fit()
    Trainer(task, images, task_config(tmp_path / "split", **overrides)).fit(until=4)
    resumed = Trainer(task, images, task_config(tmp_path / "split", **overrides), resume=True)
    assert resumed.step == 4
    rows = resumed.fit()
    assert [r["step"] for r in rows] == list(range(1, 9))
    loss_keys = [k for k in whole_rows[0] if k.endswith("loss")]
    for key in loss_keys:
        assert [r[key] for r in rows[4:]] == [r[key] for r in whole_rows[4:]], key
    for name, value in whole.raw_model.state_dict().items():
        assert torch.equal(value, resumed.raw_model.state_dict()[name]), name
    assert set(resumed.optimizers) == set(whole.optimizers)
    for name, optimizer in whole.optimizers.items():
        expected, got = optimizer.state_dict(), resumed.optimizers[name].state_dict()
        assert expected["state"].keys() == got["state"].keys(), name
        for param, state in expected["state"].items():
            for key, value in state.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(got["state"][param][key])), (name, key)
        assert whole.schedulers[name].state_dict() == resumed.schedulers[name].state_dict(), name


def check_show_and_quality(task_name: str, checkpoint: str, tmp_path, columns: int) -> None:
    out = str(tmp_path / "show.png")
    assert cli_main(["show", task_name, "--checkpoint", checkpoint, "--data", "photos", "--size", "32",
                     "--count", "2", "--columns", str(columns), "--out", out]) == 0
    assert os.path.getsize(out) > 1000
    assert cli_main(["quality", checkpoint, "--data", "photos", "--count", "16", "--device", "cpu",
                     "--out", str(tmp_path)]) == 0
    assert os.path.exists(tmp_path / "quality_photos.md")


def check_encoder(task, model, images) -> torch.Tensor:
    """The transfer encoder has the Encoder interface and gives probe features."""
    encoder = task.encoder(model)
    assert isinstance(encoder, Encoder)
    features = extract_features(encoder, task.prepare_input, images)
    assert features.shape[0] == len(images) and torch.isfinite(features).all()
    assert encoder.pooled(task.prepare_input(images)).shape == (len(images), encoder.out_channels)
    return features


def trained_checkpoint(task, images, tmp_path, steps: int = 2, **overrides) -> str:
    trainer = Trainer(task, images, task_config(tmp_path, steps=steps, **overrides))
    trainer.fit()
    task_loaded, model, _ = load_checkpoint(trainer.checkpoint_path)
    assert task_loaded.options == task.options
    return trainer.checkpoint_path
