"""Shared pieces of the task tests: small real images and a tiny training run."""
import contextlib
import os

import torch
from torch import nn

from sslfast.cli import main as cli_main
from sslfast.data import load_photos
from sslfast.train import TrainConfig, Trainer


def photo_crops(count: int, size: int, seed: int = 0) -> torch.Tensor:
    """uint8 random crops of the bundled photographs, ``[count, 3, size, size]``."""
    generator = torch.Generator().manual_seed(seed)
    photos = [torch.tensor(p).permute(2, 0, 1) for p in load_photos().values()]
    crops = []
    for i in range(count):
        photo = photos[i % len(photos)]
        side = int(torch.randint(size, min(photo.shape[1:]) + 1, (1,), generator=generator))
        top = int(torch.randint(0, photo.shape[1] - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, photo.shape[2] - side + 1, (1,), generator=generator))
        crop = photo[:, top:top + side, left:left + side].float().unsqueeze(0)
        crops.append(nn.functional.interpolate(crop, size=(size, size), mode="area")[0].round().to(torch.uint8))
    return torch.stack(crops)


@contextlib.contextmanager
def one_thread():
    """Tiny convolutions on two threads of a loaded 2-core box spend most of
    their time waiting for each other: train the tiny test models on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def train_losses(task, images, tmp_path, steps: int, **overrides):
    """Losses of a short run on ``images`` with a tiny encoder."""
    settings = dict(steps=steps, batch_size=16, warmup_steps=2, log_every=1, checkpoint_every=1000,
                    out_dir=str(tmp_path), progress=False, backbone_options={"widths": (16, 32)},
                    **{"lr": 0.05, "optimizer": "sgd", **task.train_defaults})
    settings.update(overrides)
    with one_thread():
        return [row["loss"] for row in Trainer(task, images, TrainConfig(**settings)).fit()]


def fit_one_batch(task, images, steps: int = 25, lr: float = 2e-3):
    """Losses of ``steps`` AdamW steps on one pretext batch (the same puzzles
    each step): a model that can learn the task overfits it quickly."""
    with one_thread():
        torch.manual_seed(0)
        model = task.build_model(widths=(16, 32))
        inputs, targets = task.make_batch(images, torch.arange(len(images)), seed=0)
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
        losses = []
        for _ in range(steps):
            loss = task.loss(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def show_writes_a_picture(task_name: str, tmp_path, size: int = 32):
    out = tmp_path / f"{task_name}.png"
    cli_main(["show", task_name, "--data", "photos", "--size", str(size), "--count", "4", "--out", str(out)])
    assert os.path.getsize(out) > 100
