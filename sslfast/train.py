"""One Trainer for every pretext task.

Features: AMP (bf16 on CPU and GPU, fp16 with a gradient scaler on GPU),
channels_last, opt-in ``torch.compile``, SGD (Nesterov) or AdamW with linear
warm-up and cosine decay, gradient clipping, atomic checkpoints (temp file +
rename) holding everything needed to resume exactly (model, optimisers,
schedulers, scaler, step, every RNG state), a tqdm bar with loss and
images/s, a CSV log and a PNG loss curve, and DistributedDataParallel when
started by ``torchrun`` (NCCL on GPU, gloo on CPU).

Data order is a pure function of ``(seed, epoch)``: the global batch of step
``s`` is the same whatever the world size (each rank takes its slice), and
pretext parameters come from the counter-based samplers, so a run resumes
without replaying the data and multi-process runs see the same labels.
"""
from __future__ import annotations

import contextlib
import csv
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .tasks import PretextTask, get_task

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainConfig:
    """Settings of a pretraining run (all stored in the checkpoint)."""

    steps: int = 1000
    batch_size: int = 64            # global: split across ranks under DDP
    lr: float = 0.1
    optimizer: str = "sgd"          # "sgd" (momentum 0.9, Nesterov) or "adamw"
    weight_decay: float = 5e-4
    warmup_steps: int = 0
    clip_grad: float = 0.0          # max gradient norm, 0 = off
    amp: Optional[str] = None       # None, "bf16" or "fp16" (fp16 needs CUDA)
    channels_last: bool = False
    compile: bool = False
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    num_workers: int = 0
    device: str = "cpu"
    out_dir: str = "runs/pretrain"
    data: str = ""                  # recorded for evaluate/show: data set name or folder
    image_size: int = 0             # recorded likewise
    backbone: str = "small"
    backbone_options: Dict[str, Any] = field(default_factory=dict)
    progress: bool = True

    def check(self) -> None:
        if self.steps <= 0:
            raise ValueError(f"steps: expected a positive number, got {self.steps}")
        if self.batch_size <= 0:
            raise ValueError(f"batch_size: expected a positive number, got {self.batch_size}")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer: expected 'sgd' or 'adamw', got {self.optimizer!r}")
        if self.amp not in (None, "bf16", "fp16"):
            raise ValueError(f"amp: expected None, 'bf16' or 'fp16', got {self.amp!r}")
        if self.amp == "fp16" and not self.device.startswith("cuda"):
            raise ValueError("amp: fp16 needs a CUDA device; use 'bf16' on the CPU")


# ---------------------------------------------------------------------------
# data order
# ---------------------------------------------------------------------------
class IndexedImages(Dataset):
    """Yields ``(uint8 image [C, H, W], index)`` from a data set whose items are
    images or ``(image, label, ...)`` tuples; labels are dropped."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    @staticmethod
    def _image(item):
        return torch.as_tensor(item[0] if isinstance(item, (tuple, list)) else item)

    def __getitem__(self, index: int):
        return self._image(self.dataset[index]), index

    def __getitems__(self, indices: List[int]):
        """Whole batches at once when the data set can (e.g. shapes renders a
        batch in one call)."""
        if hasattr(self.dataset, "__getitems__"):
            return [(self._image(item), i) for item, i in zip(self.dataset.__getitems__(indices), indices)]
        return [self[i] for i in indices]


class EpochBatches:
    """Batch sampler: epoch ``e`` is a permutation seeded by ``(seed, e)``, cut
    into global batches (last partial one dropped); this rank yields its slice
    of each, starting at global step ``start_step``. ``epoch_order(e)``, when
    given, is called as epoch ``e`` begins and may return that epoch's order
    (int64 ``[size]`` data-set indices, the same on every rank) instead."""

    def __init__(self, size: int, batch_size: int, seed: int, start_step: int = 0, rank: int = 0, world: int = 1,
                 epoch_order: Optional[Callable[[int], Optional[torch.Tensor]]] = None):
        if batch_size % world:
            raise ValueError(f"batch_size: {batch_size} does not split evenly over {world} processes")
        if size < batch_size:
            raise ValueError(f"data: {size} images is fewer than one batch of {batch_size}")
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.start_step, self.rank, self.world = start_step, rank, world
        self.steps_per_epoch = size // batch_size
        self.epoch_order = epoch_order

    def epoch_of(self, step: int) -> int:
        return step // self.steps_per_epoch

    def __iter__(self) -> Iterator[List[int]]:
        step, per_rank = self.start_step, self.batch_size // self.world
        while True:
            epoch, position = divmod(step, self.steps_per_epoch)
            order = self.epoch_order(epoch) if self.epoch_order is not None else None
            if order is None:
                order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100003 + epoch))
            for b in range(position, self.steps_per_epoch):
                start = b * self.batch_size + self.rank * per_rank
                yield order[start:start + per_rank].tolist()
                step += 1


def pretext_seed(seed: int, epoch: int) -> int:
    """The seed handed to ``make_batch``: new pretext draws every epoch."""
    return (seed * 0x9E3779B1 + epoch * 0x85EBCA77 + 1) % 2**63


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def atomic_save(obj: Any, path: str) -> None:
    """torch.save to a temporary file, then rename: a crash mid-write leaves
    the previous file intact."""
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def rng_state() -> Dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def warmup_cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


def distributed_env() -> tuple:
    """(rank, world size, local rank) from torchrun's environment."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    return int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0"))


# ---------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------
class Trainer:
    """Pretrains ``task`` on the images of ``dataset``.

    ``Trainer(task, dataset, config).fit()`` runs to ``config.steps`` and
    returns the list of logged rows; ``resume=True`` continues from
    ``out_dir/checkpoint.pt`` when it exists.
    """

    def __init__(self, task: PretextTask, dataset: Dataset, config: TrainConfig, resume: bool = False):
        config.check()
        self.task, self.config = task, config
        self.rank, self.world, local_rank = distributed_env()
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if config.device.startswith("cuda") else "gloo")
        if config.device.startswith("cuda") and self.world > 1:
            config.device = f"cuda:{local_rank}"
        self.device = torch.device(config.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.is_main = self.rank == 0
        self.dataset = IndexedImages(dataset)
        torch.manual_seed(config.seed)
        model = task.build_model(config.backbone, **config.backbone_options).to(self.device)
        if config.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.optimizers = task.configure_optimizers(model, self._build_optimizer)
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(config.warmup_steps,
                                                                                      config.steps))
                           for name, opt in self.optimizers.items()}
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.amp == "fp16")
        self.step, self.rows = 0, []
        os.makedirs(config.out_dir, exist_ok=True)
        self.checkpoint_path = os.path.join(config.out_dir, CHECKPOINT_NAME)
        self.raw_model = model
        if resume and os.path.exists(self.checkpoint_path):
            self._load(self.checkpoint_path)
        if self.world > 1:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.model = torch.compile(model) if config.compile else model

    # -- pieces the tasks' training_step uses ------------------------------
    def _build_optimizer(self, params, lr_scale: float = 1.0) -> torch.optim.Optimizer:
        c = self.config
        if c.optimizer == "sgd":
            return torch.optim.SGD(params, lr=c.lr * lr_scale, momentum=0.9, nesterov=True,
                                   weight_decay=c.weight_decay)
        return torch.optim.AdamW(params, lr=c.lr * lr_scale, weight_decay=c.weight_decay)

    def autocast(self):
        if self.config.amp is None:
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.config.amp == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def backward_and_step(self, loss: torch.Tensor, optimizer: str) -> None:
        """Backward (through the scaler), clip, step and zero ``optimizer``."""
        opt = self.optimizers[optimizer]
        self.scaler.scale(loss).backward()
        if self.config.clip_grad > 0:
            self.scaler.unscale_(opt)
            params = [p for group in opt.param_groups for p in group["params"]]
            nn.utils.clip_grad_norm_(params, self.config.clip_grad)
        self.scaler.step(opt)
        self.scaler.update()
        opt.zero_grad(set_to_none=True)

    # -- checkpoints -------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        return {
            "task": self.task.name, "task_options": self.task.options, "config": asdict(self.config),
            "step": self.step, "model": self.raw_model.state_dict(),
            "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()},
            "schedulers": {k: v.state_dict() for k, v in self.schedulers.items()},
            "scaler": self.scaler.state_dict(), "rng": rng_state(), "rows": self.rows,
            "task_state": self.task.state_dict(),
        }

    def save(self) -> None:
        if self.is_main:
            atomic_save(self.state_dict(), self.checkpoint_path)

    def _load(self, path: str) -> None:
        state = torch.load(path, map_location=self.device, weights_only=False)
        if state["task"] != self.task.name:
            raise ValueError(f"resume: {path} holds a {state['task']!r} run, not {self.task.name!r}")
        if not _same_run_shape(state, self.task, self.raw_model):
            raise ValueError(f"resume: {path} was trained with {self.task.name} options {state.get('task_options')} "
                             f"or another model, not {self.task.options}; delete it or choose another output folder")
        self.raw_model.load_state_dict(state["model"])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
            self.schedulers[name].load_state_dict(state["schedulers"][name])
        self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.task.load_state_dict(state.get("task_state", {}))
        self.step, self.rows = state["step"], state["rows"]

    # -- the loop ----------------------------------------------------------
    def fit(self, until: Optional[int] = None) -> List[Dict[str, float]]:
        """Train to ``config.steps`` (or stop early at step ``until``, with a
        checkpoint there, e.g. to split a run across sessions)."""
        c = self.config
        last = min(c.steps, until) if until is not None else c.steps
        if self.step >= last:
            return self.rows
        batches = EpochBatches(len(self.dataset), c.batch_size, c.seed, self.step, self.rank, self.world,
                               epoch_order=lambda epoch: self.task.epoch_order(self, epoch))
        loader = DataLoader(self.dataset, batch_sampler=batches, num_workers=c.num_workers,
                            pin_memory=self.device.type == "cuda", persistent_workers=False)
        bar = tqdm(total=c.steps, initial=self.step, disable=not (c.progress and self.is_main),
                   desc=f"{self.task.name}", unit="step", dynamic_ncols=True)
        self.model.train()
        window_start, window_images = time.perf_counter(), 0
        for images, index in loader:
            images = images.to(self.device, non_blocking=True)
            index = index.to(self.device, non_blocking=True)
            inputs, targets = self.task.make_batch(images, index, pretext_seed(c.seed, batches.epoch_of(self.step)))
            if c.channels_last and isinstance(inputs, torch.Tensor) and inputs.dim() == 4:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            scalars = self.task.training_step(self, inputs, targets)
            for scheduler in self.schedulers.values():
                scheduler.step()
            self.step += 1
            window_images += images.shape[0] * self.world
            if self.step % c.log_every == 0 or self.step == c.steps:
                elapsed = time.perf_counter() - window_start
                row = {"step": self.step, **scalars, "lr": self.schedulers[next(iter(self.schedulers))].get_last_lr()[0],
                       "images_per_s": window_images / max(elapsed, 1e-9)}
                self.rows.append(row)
                bar.set_postfix(loss=f"{scalars['loss']:.4f}", img_s=f"{row['images_per_s']:.0f}")
                window_start, window_images = time.perf_counter(), 0
            bar.update(1)
            if self.step % c.checkpoint_every == 0 or self.step == last:
                self.save()
                self.write_logs()
            if self.step >= last:
                break
        bar.close()
        return self.rows

    def write_logs(self) -> None:
        """CSV log and loss-curve PNG in the run folder (rank 0 only)."""
        if not self.is_main or not self.rows:
            return
        from .viz import plot_curves, save_png

        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        with open(os.path.join(self.config.out_dir, "log.csv"), "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        steps = [r["step"] for r in self.rows]
        curves = {k: [r.get(k, float("nan")) for r in self.rows] for k in keys if k.endswith("loss")}
        save_png(os.path.join(self.config.out_dir, "loss.png"),
                 plot_curves(steps, curves, title=f"{self.task.name}: training loss"))


def _same_run_shape(state: Dict[str, Any], task: PretextTask, model: nn.Module) -> bool:
    """Whether a checkpoint's task options, with defaults filled in for
    options added since it was written, are ``task``'s, and its weights fit
    ``model`` (an option that changed the network without a new name shows
    up there)."""
    try:
        stored = get_task(state["task"], **state.get("task_options", {})).options
    except (TypeError, ValueError):
        return False
    expected = model.state_dict()
    weights = state.get("model", {})
    return (stored == task.options and weights.keys() == expected.keys()
            and all(weights[k].shape == v.shape for k, v in expected.items()))


def checkpoint_matches(path: str, task: PretextTask, image_size: Optional[int] = None) -> bool:
    """Whether the checkpoint at ``path`` is a run of ``task`` that ``--resume``
    can continue (and, with ``image_size``, one pretrained at that image side)."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("task") != task.name:
        return False
    config = state.get("config", {})
    if image_size is not None and config.get("image_size", image_size) != image_size:
        return False
    model = task.build_model(config.get("backbone", "small"), **config.get("backbone_options", {}))
    return _same_run_shape(state, task, model)


def load_checkpoint(path: str, device: str = "cpu"):
    """(task, model, state) from a checkpoint written by the Trainer."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint: no such file {path!r}")
    state = torch.load(path, map_location=device, weights_only=False)
    if not isinstance(state, dict) or "task" not in state:
        raise ValueError(f"checkpoint: {path!r} was not written by the sslfast Trainer")
    task = get_task(state["task"], **state["task_options"])
    config = state["config"]
    model = task.build_model(config["backbone"], **config.get("backbone_options", {}))
    model.load_state_dict(state["model"])
    return task, model.to(device), state
