"""The results table: each pretext task's encoder against random init on
few-label transfer, mean ± std over pretraining seeds.

For every task, labelled data set and seed: pretrain on the unlabelled
training images of that data set (labels unused; or of ``pretrain_data`` when
given; at ``task_size`` px where a task pretrains on larger views than the
probe's ``size``: the encoders are fully convolutional, so the probe still
sees ``size`` px images), resuming a finished or interrupted run instead of
redoing it, then fit a linear probe on
``labels_per_class`` labels per class (the subset drawn by the same seed) on
the frozen pretrained encoder and on a randomly initialised one of the same
architecture, and report test accuracy.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch

from .evaluate import evaluate_encoders
from .tasks import get_task
from .train import CHECKPOINT_NAME, TrainConfig, Trainer, checkpoint_matches, load_checkpoint


@dataclass
class ResultsPlan:
    tasks: Sequence[str] = ("rotation",)
    seeds: int = 3
    pretrain_data: Optional[str] = None   # None: each evaluation data set's own train images
    eval_data: Sequence[str] = ("shapes", "digits")
    size: int = 32
    labels_per_class: int = 10
    out_dir: str = "runs/results"
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=1500, batch_size=64, lr=0.05,
                                                                   warmup_steps=50, checkpoint_every=250))
    task_options: Dict[str, dict] = field(default_factory=dict)
    task_steps: Dict[str, int] = field(default_factory=dict)  # pretraining steps per task (default train.steps)
    task_data: Dict[str, str] = field(default_factory=dict)   # pretraining data per task (default pretrain_data)
    task_size: Dict[str, int] = field(default_factory=dict)   # pretraining image side per task (default size)


def _mean_std(values: List[float]) -> str:
    arr = np.asarray(values) * 100
    return f"{arr.mean():.1f} ± {arr.std(ddof=1) if len(arr) > 1 else 0.0:.1f}"


def table_name(eval_data: Sequence[str]) -> str:
    """File stem of the table for these evaluation sets, e.g. ``results_shapes_digits``."""
    return "results_" + "_".join(os.path.basename(os.path.normpath(d)) for d in eval_data)


def _logged_images_per_s(run_dir: str) -> float:
    """Median pretraining throughput from a run's log.csv (also for a run
    finished earlier and only re-evaluated now)."""
    path = os.path.join(run_dir, "log.csv")
    if not os.path.isfile(path):
        return float("nan")
    with open(path) as f:
        values = [float(row["images_per_s"]) for row in csv.DictReader(f) if row.get("images_per_s")]
    return float(np.median(values)) if values else float("nan")


def run(plan: ResultsPlan, log=print) -> str:
    """Pretrain, evaluate, and write ``results_<eval sets>.md`` / ``.json``; returns the markdown."""
    from .data import get_dataset

    os.makedirs(plan.out_dir, exist_ok=True)
    eval_sets = {name: (get_dataset(name, split="train", size=plan.size),
                        get_dataset(name, split="test", size=plan.size)) for name in plan.eval_data}
    scores: Dict[tuple, Dict[str, List[float]]] = {}
    throughput: Dict[tuple, float] = {}
    steps: Dict[tuple, int] = {}
    features: Dict[tuple, Dict[str, List[str]]] = {}
    for task_name in plan.tasks:
        for data_name, (train, test) in eval_sets.items():
            source = plan.task_data.get(task_name) or plan.pretrain_data or data_name
            pretrain_size = plan.task_size.get(task_name, plan.size)
            pretrain_set = (train if source == data_name and pretrain_size == plan.size
                            else get_dataset(source, split="train", size=pretrain_size))
            for seed in range(plan.seeds):
                task = get_task(task_name, **plan.task_options.get(task_name, {}))
                run_dir = os.path.join(plan.out_dir, task_name, source, f"seed{seed}")
                config = replace(plan.train, **task.train_defaults, seed=seed, out_dir=run_dir, data=source,
                                 image_size=pretrain_size, steps=plan.task_steps.get(task_name, plan.train.steps))
                stale = os.path.join(run_dir, CHECKPOINT_NAME)
                if os.path.exists(stale) and not checkpoint_matches(stale, task, pretrain_size):
                    log(f"{run_dir}: trained with other {task_name} options or image size, training again")
                    os.remove(stale)
                trainer = Trainer(task, pretrain_set, config, resume=True)
                trainer.fit()
                throughput[(task_name, data_name)] = _logged_images_per_s(run_dir)
                steps[(task_name, data_name)] = trainer.step
                checkpoint = trainer.checkpoint_path
                log(f"{task_name} on {source}, seed {seed}: pretrained to step {trainer.step} ({checkpoint})")

                def encoders(eval_seed: int, task=task, checkpoint=checkpoint, config=config):
                    _, model, _ = load_checkpoint(checkpoint)
                    torch.manual_seed(eval_seed)
                    random_model = task.build_model(config.backbone, **config.backbone_options)
                    return {"pretrained": task.encoder(model), "random init": task.encoder(random_model)}

                chosen: Dict[str, List[str]] = {}
                result = evaluate_encoders(encoders, task.prepare_input, train, test, plan.labels_per_class,
                                           seeds=[seed], progress=False, chosen_features=chosen)
                for encoder_name, descriptions in chosen.items():
                    features.setdefault((task_name, data_name), {}).setdefault(encoder_name, []).extend(descriptions)
                for encoder_name, protocols in result.items():
                    scores.setdefault((task_name, data_name), {}).setdefault(encoder_name, []).extend(
                        protocols["linear"])
                log(f"{task_name} -> {data_name}, seed {seed}: linear probe "
                    + ", ".join(f"{name} {100 * p['linear'][0]:.1f}% ({chosen[name][0]})"
                                for name, p in result.items()))
    lines = [f"Linear probe, {plan.labels_per_class} labels per class, {plan.size} px, mean ± std over "
             f"{plan.seeds} pretraining seeds (accuracy %); the probe's features (a stage or all, pooled 2x2 or 4x4) "
             "chosen per encoder by 5-fold cross-validation on the labelled examples", "",
             "| task | data | pretrained | random init | gain (points) | pretrain steps | pretrain images/s |",
             "|---|---|---|---|---|---|---|"]
    table = []
    for (task_name, data_name), by_encoder in scores.items():
        gain = (np.mean(by_encoder["pretrained"]) - np.mean(by_encoder["random init"])) * 100
        lines.append(f"| {task_name} | {data_name} | {_mean_std(by_encoder['pretrained'])} | "
                     f"{_mean_std(by_encoder['random init'])} | {gain:+.1f} | {steps[(task_name, data_name)]} | "
                     f"{throughput[(task_name, data_name)]:.0f} |")
        table.append({"task": task_name, "data": data_name, **by_encoder, "gain_points": gain,
                      "probe_features": features[(task_name, data_name)]})
    text = "\n".join(lines)
    name = table_name(plan.eval_data)
    with open(os.path.join(plan.out_dir, f"{name}.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(plan.out_dir, f"{name}.json"), "w") as f:
        json.dump({"plan": {k: v for k, v in plan.__dict__.items() if k != "train"},
                   "train": plan.train.__dict__, "rows": table}, f, indent=2, default=str)
    return text
