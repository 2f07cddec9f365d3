"""Training core: Trainer, checkpoints/resume, DDP, transfer evaluation, CLI."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from sslfast.cli import main as cli_main
from sslfast.evaluate import (choose_probe_features, evaluate_encoders, few_labels, knn_probe, linear_probe,
                              probe_choices, summarize)
from sslfast.models import Encoder, build_backbone
from sslfast.tasks import get_task
from sslfast.train import EpochBatches, TrainConfig, Trainer, atomic_save, checkpoint_matches, load_checkpoint
from task_helpers import photo_crops


def config(tmp_path, **overrides) -> TrainConfig:
    settings = dict(steps=8, batch_size=16, lr=0.05, warmup_steps=2, log_every=1, checkpoint_every=4,
                    out_dir=str(tmp_path), progress=False, backbone_options={"widths": (8, 16)})
    settings.update(overrides)
    return TrainConfig(**settings)


def test_a_few_steps_lower_the_loss(tmp_path):
    images = photo_crops(32, 32)
    rows = Trainer(get_task("rotation"), images, config(tmp_path, steps=40, lr=0.1, log_every=1,
                                                        backbone_options={"widths": (16, 32)})).fit()
    first = sum(r["loss"] for r in rows[:5]) / 5
    last = sum(r["loss"] for r in rows[-5:]) / 5
    assert last < first - 0.05, (first, last)
    assert os.path.exists(tmp_path / "log.csv") and os.path.exists(tmp_path / "loss.png")
    with open(tmp_path / "log.csv") as f:
        assert f.readline().startswith("step,loss,accuracy")


@pytest.mark.parametrize("mode", ["all", "one"])
def test_resume_gives_the_same_next_losses(tmp_path, mode):
    images = photo_crops(48, 24)
    task = get_task("rotation", mode=mode)
    whole = Trainer(task, images, config(tmp_path / "whole")).fit()
    first = Trainer(task, images, config(tmp_path / "split"))
    first.fit(until=4)  # a stop after step 4, checkpointed
    resumed = Trainer(task, images, config(tmp_path / "split"), resume=True)
    assert resumed.step == 4
    rows = resumed.fit()
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert [r["loss"] for r in rows[4:]] == [r["loss"] for r in whole[4:]]


def test_resume_refuses_another_tasks_checkpoint(tmp_path):
    Trainer(get_task("rotation"), photo_crops(32, 16), config(tmp_path, steps=2)).fit()
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    state["task"] = "jigsaw"
    torch.save(state, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="resume"):
        Trainer(get_task("rotation"), photo_crops(32, 16), config(tmp_path, steps=2), resume=True)


def test_resume_refuses_a_checkpoint_with_other_task_options(tmp_path):
    Trainer(get_task("rotation"), photo_crops(32, 16), config(tmp_path, steps=2)).fit()
    assert checkpoint_matches(str(tmp_path / "checkpoint.pt"), get_task("rotation"))
    other = get_task("rotation", head_convs=0)
    assert not checkpoint_matches(str(tmp_path / "checkpoint.pt"), other)
    with pytest.raises(ValueError, match="^resume: .*head_convs"):
        Trainer(other, photo_crops(32, 16), config(tmp_path, steps=2), resume=True)


def test_checkpoint_killed_mid_write_keeps_the_previous_one(tmp_path, monkeypatch):
    path = str(tmp_path / "checkpoint.pt")
    atomic_save({"step": 1}, path)
    real_save = torch.save

    def dying_save(obj, f, *args, **kwargs):
        with open(f, "wb") as partial:
            partial.write(b"half a checkpoint")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": 2}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(path)["step"] == 1
    assert os.listdir(tmp_path) == ["checkpoint.pt"]


def test_epoch_batches_are_the_same_whatever_the_world_size():
    single = EpochBatches(40, 8, seed=3)
    ranks = [EpochBatches(40, 8, seed=3, rank=r, world=2) for r in range(2)]
    for (whole, a, b), _ in zip(zip(iter(single), *map(iter, ranks)), range(12)):
        assert whole == a + b
    stream = iter(single)
    expected = [next(stream) for _ in range(8)][7]
    assert next(iter(EpochBatches(40, 8, seed=3, start_step=7))) == expected


class MeanColour(Encoder):
    """Encoder whose features are the mean colour: separates colour classes."""

    out_channels = 3

    def forward(self, x):
        return x

    def probe_features(self, x, grid=2):
        return self.pooled(x)


def colour_classes(per_class: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    palette = torch.tensor([[220, 30, 30], [30, 220, 30], [30, 30, 220], [200, 200, 40]], dtype=torch.float32)
    images, labels = [], []
    for cls, colour in enumerate(palette):
        noise = torch.randn(per_class, 3, 8, 8, generator=generator) * 20
        images.append((colour.view(1, 3, 1, 1) + noise).clamp(0, 255).to(torch.uint8))
        labels += [cls] * per_class
    return list(zip(torch.cat(images), labels))


def test_linear_probe_separates_separable_features():
    train, test = colour_classes(30, 0), colour_classes(20, 1)
    prepare = lambda images: images.float() / 255  # noqa: E731
    results = evaluate_encoders(lambda seed: {"colour": MeanColour()}, prepare, train, test, labels_per_class=5,
                                seeds=(0, 1), protocols=("linear", "knn"), progress=False)
    assert min(results["colour"]["linear"]) >= 0.97
    assert min(results["colour"]["knn"]) >= 0.97
    rows = summarize(results)
    assert {r["protocol"] for r in rows} == {"linear", "knn"} and all(r["runs"] == 2 for r in rows)


def test_probe_features_chosen_by_cross_validation_on_the_labels():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat_interleave(10)
    noise = [torch.randn(40, 8, 4, 4, generator=generator) for _ in range(3)]
    informative = noise[1].clone()
    informative[:, :4] += 3 * nn.functional.one_hot(labels, 4).float().view(40, 4, 1, 1)
    maps = [noise[0], informative, noise[2]]
    stages, grid = choose_probe_features(maps, labels, seed=0)
    assert stages == (1,) and grid in (2, 4)
    assert probe_choices(3) == [(s, g) for s in [(0,), (1,), (2,), (0, 1, 2)] for g in (2, 4)]
    assert probe_choices(1) == [((0,), 2), ((0,), 4)]


def test_probes_are_at_chance_on_noise():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(200, 16, generator=generator), torch.randint(0, 4, (200,), generator=generator)
    assert linear_probe(x[:100], y[:100], x[100:], y[100:]) < 0.45
    assert knn_probe(x[:100], y[:100], x[100:], y[100:]) < 0.45


def test_few_labels_picks_k_per_class():
    labels = torch.tensor([0, 1, 2] * 10)
    chosen = few_labels(labels, 4, seed=0)
    assert torch.bincount(labels[chosen]).tolist() == [4, 4, 4]
    assert not torch.equal(chosen, few_labels(labels, 4, seed=1))
    with pytest.raises(ValueError, match="labels_per_class"):
        few_labels(labels, 11, seed=0)


def test_backbones_report_their_width():
    for name, probe_width in (("small", (32 + 64 + 128) * 4), ("resnet18", (256 + 512) * 4)):
        encoder = build_backbone(name)
        x = torch.randn(2, 3, 32, 32)
        assert encoder.pooled(x).shape == (2, encoder.out_channels)
        assert encoder.probe_features(x).shape == (2, probe_width)
        assert torch.equal(encoder.stages(x)[-1], encoder(x))
    with pytest.raises(ValueError, match="backbone"):
        build_backbone("vgg")


def test_checkpoint_loads_back_into_the_same_model(tmp_path):
    trainer = Trainer(get_task("rotation"), photo_crops(32, 16), config(tmp_path, steps=2))
    trainer.fit()
    task, model, state = load_checkpoint(str(tmp_path / "checkpoint.pt"))
    assert task.name == "rotation" and state["step"] == 2
    x = torch.randn(2, 3, 16, 16)
    trainer.raw_model.eval(), model.eval()
    assert torch.equal(model(x), trainer.raw_model(x))


def test_torchrun_two_processes_on_cpu(tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(textwrap.dedent(f"""
        import torch
        from sslfast.tasks import get_task
        from sslfast.train import TrainConfig, Trainer
        images = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
        cfg = TrainConfig(steps=4, batch_size=16, lr=0.05, out_dir={str(tmp_path / 'run')!r}, progress=False,
                          checkpoint_every=2, log_every=1, backbone_options={{"widths": (8, 16)}})
        rows = Trainer(get_task("rotation"), images, cfg).fit()
        assert torch.distributed.get_world_size() == 2
        print("rank", torch.distributed.get_rank(), "rows", len(rows))
        torch.distributed.destroy_process_group()
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as probe:  # a free port: parallel runs must not collide
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                             "--master_port", str(port), str(script)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 0 rows 4" in result.stdout and "rank 1 rows 4" in result.stdout
    task, model, state = load_checkpoint(str(tmp_path / "run" / "checkpoint.pt"))
    assert state["step"] == 4 and task.name == "rotation"


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "no_such_task", "--data", "photos"], "unknown task"),
    (["pretrain", "rotation", "--data", "/no/such/folder"], "--data"),
    (["evaluate", "/no/such/checkpoint.pt"], "checkpoint"),
    (["results", "--steps", "rotation=0"], "--steps"),
    (["results", "--steps", "many"], "--steps"),
    (["results", "--tasks", "rotation", "--option", "jigsaw:permutations=64"], "--option"),
    (["results", "--option", "no_value"], "--option"),
    (["pretrain", "rotation", "--option", "bogus=1"], "no option 'bogus'"),
])
def test_cli_errors_are_messages(argv, message, capsys):
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cli_show_refuses_a_checkpoint_of_another_task(tmp_path, capsys):
    Trainer(get_task("rotation"), photo_crops(32, 16), config(tmp_path, steps=1)).fit()
    assert cli_main(["show", "jigsaw_not_rotation", "--checkpoint", str(tmp_path / "checkpoint.pt")]) == 2
    assert "holds a 'rotation' model" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["all", "one"])
def test_rotation_batch_ops_agree(mode):
    images = photo_crops(6, 16)
    index = torch.arange(6)
    fused = get_task("rotation", mode=mode).make_batch(images, index, 3)
    plain = get_task("rotation", mode=mode, batch_ops="torch").make_batch(images, index, 3)
    torch.testing.assert_close(fused[0], plain[0])
    assert torch.equal(fused[1], plain[1])


def test_quality_command_reports_rotation_accuracy_beside_chance(tmp_path, capsys):
    out = str(tmp_path / "run")
    assert cli_main(["pretrain", "rotation", "--data", "shapes", "--size", "32", "--steps", "30",
                     "--batch-size", "32", "--out", out]) == 0
    assert cli_main(["quality", os.path.join(out, "checkpoint.pt"), "--data", "shapes", "--count", "64"]) == 0
    with open(os.path.join(out, "quality_shapes.json")) as f:
        rows = json.load(f)["rows"]
    assert [r["metric"] for r in rows] == ["rotation accuracy"]
    assert 0.0 <= rows[0]["model"] <= 1.0 and rows[0]["baseline"] == 0.25
    assert rows[0]["holds"] == (rows[0]["model"] > 0.25)
    assert "rotation accuracy" in capsys.readouterr().out


def test_results_settings_per_task():
    from sslfast.cli import _data_name, _per_task, _steps

    assert _per_task("--steps", ["300", "colorization=150"], _steps, 1500) == (300, {"colorization": 150})
    assert _per_task("--steps", ["jigsaw=20"], _steps, 1500) == (1500, {"jigsaw": 20})
    assert _per_task("--pretrain-data", ["frame_order=videos"], _data_name, None) == (None, {"frame_order": "videos"})


def test_results_options_per_task():
    from sslfast.cli import _results_options

    tasks = ["jigsaw", "context"]
    assert _results_options(["jigsaw:permutations=64", "flip=false"], tasks) == {
        "jigsaw": {"permutations": 64, "flip": False}, "context": {"flip": False}}
    assert _results_options(None, tasks) == {}


def test_results_table_reuses_finished_runs(tmp_path):
    from sslfast.results import ResultsPlan, run

    plan = ResultsPlan(tasks=("rotation",), seeds=1, eval_data=("shapes",), size=32, out_dir=str(tmp_path),
                       train=TrainConfig(steps=4, batch_size=16, lr=0.05, checkpoint_every=4),
                       task_steps={"rotation": 3})
    first = run(plan, log=lambda line: None)
    checkpoint = tmp_path / "rotation" / "shapes" / "seed0" / "checkpoint.pt"
    written = checkpoint.stat().st_mtime_ns
    assert run(plan, log=lambda line: None) == first  # same table, no retraining
    assert checkpoint.stat().st_mtime_ns == written
    assert torch.load(checkpoint, weights_only=False)["step"] == 3
    row = [line for line in first.splitlines() if line.startswith("| rotation | shapes |")]
    assert len(row) == 1 and row[0].split("|")[6].strip() == "3"
    assert (tmp_path / "results_shapes.md").read_text().strip() == first


def test_results_pretrain_size_per_task(tmp_path):
    """A task pretrained on larger renders: its run records that size, the
    probe still reads size-px images, and a run of another size is retrained."""
    from dataclasses import replace

    from sslfast.cli import CommandError, _per_task, _pixels
    from sslfast.results import ResultsPlan, run

    assert _per_task("--pretrain-size", ["jigsaw=64"], _pixels, None) == (None, {"jigsaw": 64})
    with pytest.raises(CommandError, match="--pretrain-size"):
        _per_task("--pretrain-size", ["jigsaw=0"], _pixels, None)
    plan = ResultsPlan(tasks=("rotation",), seeds=1, eval_data=("shapes",), size=16, out_dir=str(tmp_path),
                       train=TrainConfig(steps=2, batch_size=8, lr=0.05, checkpoint_every=2),
                       task_size={"rotation": 24})
    run(plan, log=lambda line: None)
    checkpoint = tmp_path / "rotation" / "shapes" / "seed0" / "checkpoint.pt"
    assert torch.load(checkpoint, weights_only=False)["config"]["image_size"] == 24
    assert checkpoint_matches(str(checkpoint), get_task("rotation"), 24)
    assert not checkpoint_matches(str(checkpoint), get_task("rotation"), 16)
    lines = []
    run(replace(plan, task_size={}), log=lines.append)
    assert any("image size, training again" in line for line in lines)
    assert torch.load(checkpoint, weights_only=False)["config"]["image_size"] == 16
