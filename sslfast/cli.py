"""sslfast command line.

  sslfast pretrain TASK --data {photos,shapes,digits,videos,PATH} [--steps N ...]
  sslfast evaluate CHECKPOINT --data shapes --labels-per-class 10
  sslfast show TASK [--checkpoint C] --data photos
  sslfast show {photos,shapes,digits,videos,PATH}  (a data set's samples and labels)
  sslfast quality CHECKPOINT --data photos     (pretext quality vs a trivial baseline)
  sslfast demo
  sslfast results [--seeds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np
import torch


class CommandError(Exception):
    """A user error: printed as a message, not a traceback."""


def _square_crop(photo: np.ndarray, size: int) -> torch.Tensor:
    """Centre square of an HWC photo, area-resized to size x size, as CHW uint8."""
    h, w = photo.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = cv2.resize(photo[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(square).permute(2, 0, 1).contiguous()


def _option_value(text: str) -> object:
    """An option's value: parsed as JSON when it can be, else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _task_options(pairs: Sequence[str]) -> Dict[str, object]:
    """``key=value`` strings -> dict, values parsed by :func:`_option_value`."""
    options = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise CommandError(f"--option: expected key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        options[key] = _option_value(value)
    return options


def _results_options(pairs: Sequence[str], tasks: Sequence[str]) -> Dict[str, Dict[str, object]]:
    """``[TASK:]KEY=VALUE`` strings -> per-task option dicts; without
    ``TASK:`` the option goes to every task of the table."""
    options: Dict[str, Dict[str, object]] = {}
    for pair in pairs or ():
        head, equals, value = pair.partition("=")
        name, _, key = head.rpartition(":")
        if not equals or not key:
            raise CommandError(f"--option: expected KEY=VALUE or TASK:KEY=VALUE, got {pair!r}")
        if name and name not in tasks:
            raise CommandError(f"--option: {name!r} is not one of --tasks ({', '.join(tasks)})")
        for target in [name] if name else tasks:
            options.setdefault(target, {})[key] = _option_value(value)
    return options


def _dataset(name: str, split: str, size: int):
    if name not in ("photos", "shapes", "digits", "videos") and not os.path.isdir(name):
        raise CommandError(f"--data: {name!r} is neither a built-in data set (photos, shapes, digits, videos) "
                           "nor an existing folder")
    from .data import get_dataset

    return get_dataset(name, split=split, size=size)


# ---------------------------------------------------------------------------
# commands
# ---------------------------------------------------------------------------
def pretrain(args) -> str:
    from .tasks import get_task
    from .train import TrainConfig, Trainer

    task = get_task(args.task, **_task_options(args.option))
    args.data = args.data or task.default_data
    # Flags left unset take the task's preferred value, then the generic default.
    chosen = {name: value for name, value in (("lr", args.lr), ("optimizer", args.optimizer),
                                              ("weight_decay", args.weight_decay)) if value is not None}
    settings = {"lr": 0.05, "optimizer": "sgd", "weight_decay": 5e-4, **task.train_defaults, **chosen}
    config = TrainConfig(steps=args.steps, batch_size=args.batch_size, **settings, warmup_steps=args.warmup, amp=args.amp,
                         channels_last=args.channels_last, compile=args.compile,
                         checkpoint_every=args.checkpoint_every, seed=args.seed, num_workers=args.workers,
                         device=args.device, out_dir=args.out, backbone=args.backbone, data=args.data,
                         image_size=args.size)
    trainer = Trainer(task, _dataset(args.data, "train", args.size), config, resume=args.resume)
    rows = trainer.fit()
    if trainer.is_main and rows:
        print(f"{task.name}: step {rows[-1]['step']}, loss {rows[-1]['loss']:.4f}; "
              f"checkpoint {trainer.checkpoint_path}, log {os.path.join(args.out, 'log.csv')}, "
              f"curve {os.path.join(args.out, 'loss.png')}")
    return trainer.checkpoint_path


def evaluate(args) -> str:
    from .evaluate import evaluate_encoders, summarize, write_report
    from .train import load_checkpoint

    task, _, state = load_checkpoint(args.checkpoint, "cpu")
    config = state["config"]

    def encoders(seed: int):
        _, model, _ = load_checkpoint(args.checkpoint, "cpu")
        torch.manual_seed(seed)
        random_model = task.build_model(config["backbone"], **config.get("backbone_options", {}))
        return {f"{task.name} (pretrained)": task.encoder(model), "random init": task.encoder(random_model)}

    size = args.size or config.get("image_size") or 64
    results = evaluate_encoders(encoders, task.prepare_input, _dataset(args.data, "train", size),
                                _dataset(args.data, "test", size), args.labels_per_class, range(args.seeds),
                                args.protocol, args.device)
    title = f"{task.name} -> {args.data}, {args.labels_per_class} labels per class, {args.seeds} seeds"
    out_dir = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    text = write_report(summarize(results), out_dir, f"eval_{os.path.basename(str(args.data))}", title,
                        {"checkpoint": args.checkpoint, "data": args.data, "labels_per_class": args.labels_per_class})
    print(text)
    return text


def quality(args) -> str:
    from .evaluate import quality_markdown, quality_report
    from .train import load_checkpoint

    task, model, state = load_checkpoint(args.checkpoint, "cpu")
    size = args.size or state["config"].get("image_size") or 64
    args.data = args.data or task.held_out_data
    dataset = _dataset(args.data, args.split, size)
    try:
        rows = quality_report(task, model, dataset, args.count, args.seed, args.device)
    except NotImplementedError as error:
        raise CommandError(str(error)) from None
    title = f"{task.name} quality on {args.data} ({args.split}, {min(args.count, len(dataset))} images, {size} px)"
    text = quality_markdown(rows, title)
    out_dir = args.out or os.path.dirname(os.path.abspath(args.checkpoint))
    os.makedirs(out_dir, exist_ok=True)
    name = f"quality_{os.path.basename(os.path.normpath(str(args.data)))}"
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump({"checkpoint": args.checkpoint, "data": args.data, "rows": rows}, f, indent=2)
    print(text)
    return text


def show_data(name: str, split: str, size: int, count: int, out: str) -> List[str]:
    """Write a captioned PNG grid of a data set's first ``count`` samples; for
    ``shapes`` also a second PNG with each image's rgb, depth, normals, edges
    and ids side by side. Returns the paths written."""
    from .data import Shapes
    from .viz import depth_to_rgb, image_grid, normals_to_rgb, save_png

    dataset = _dataset(name, split, size)
    items = [dataset[i] for i in range(min(count, len(dataset)))]
    images = torch.stack([image for image, _ in items])
    if images.dim() == 5:  # video windows [N, T, C, H, W]: the frames of each side by side
        images = torch.cat(images.unbind(1), dim=-1)
    captions = [f"{i}: {dataset.classes[label]}" if label >= 0 and dataset.classes else f"#{i}"
                for i, (_, label) in enumerate(items)]
    paths = [save_png(out, image_grid(images, captions, columns=8))]
    if isinstance(dataset, Shapes):
        maps = dataset.render(range(min(count, 6)))
        ids = maps["ids"].float() / max(1, int(maps["ids"].max()))
        columns = [maps["rgb"], depth_to_rgb(maps["depth"]), normals_to_rgb(maps["normals"]),
                   maps["edges"].expand(-1, 3, -1, -1), ids.expand(-1, 3, -1, -1)]
        tiles = torch.stack(columns, dim=1).flatten(0, 1)
        names = ["rgb", "depth", "normals", "edges", "ids"] * len(maps["rgb"])
        root, extension = os.path.splitext(out)
        paths.append(save_png(f"{root}_maps{extension}", image_grid(tiles, names, columns=len(columns))))
    print(f"{name} ({split}, {len(dataset)} images, {size}px): wrote {', '.join(paths)}")
    return paths


def show(args) -> str:
    from .data import BUILT_IN

    if args.task in BUILT_IN or os.path.isdir(args.task):
        name = os.path.basename(os.path.normpath(args.task))
        return show_data(args.task, args.split, args.size, args.count,
                         args.out or os.path.join("runs", "show", f"{name}.png"))[0]
    from .tasks import get_task
    from .train import load_checkpoint
    from .viz import image_grid, save_png

    model = None
    if args.checkpoint:
        task, model, _ = load_checkpoint(args.checkpoint, "cpu")
        if task.name != args.task:
            raise CommandError(f"--checkpoint: {args.checkpoint} holds a {task.name!r} model, not {args.task!r}")
    else:
        task = get_task(args.task, **_task_options(args.option))
    data = _dataset(args.data or task.held_out_data, args.split, args.size)
    index = torch.arange(min(args.count, len(data)))
    images = torch.stack([torch.as_tensor(data[i][0] if isinstance(data[i], (tuple, list)) else data[i])
                          for i in index.tolist()])
    pictures, captions = task.show_batch(images, index, args.seed, model)
    path = save_png(args.out or os.path.join("runs", "show", f"{task.name}.png"),
                    image_grid(pictures, captions, columns=args.columns))
    print(f"wrote {path}")
    return path


def rotation_samples(out: str, size: int, seed: int) -> str:
    """Rotation pretext samples of the bundled photographs, drawn as a grid:
    one row per photo, one column per label (k quarter turns counter-clockwise),
    with a red frame on the label the seeded sampler draws for that photo."""
    from . import ops
    from .data import load_photos
    from .viz import image_grid, save_png

    photos = load_photos()
    names = list(photos)
    batch = torch.stack([_square_crop(photos[n], size) for n in names])
    rotated, labels = ops.rotate90_all(batch)  # [4B], rotation-major
    sampled = ops.sample_rotation(seed, torch.arange(len(names)))
    # Reorder to photo-major so each grid row is one photo in its 4 rotations.
    order = torch.arange(4 * len(names)).view(4, -1).t().reshape(-1)
    captions, chosen = [], []
    for i in order.tolist():
        photo, label = i % len(names), int(labels[i])
        captions.append(f"{names[photo][:11]}  label {label}")
        chosen.append(label == int(sampled[photo]))
    return save_png(out, image_grid(rotated[order], captions, columns=4, highlight=chosen))


def demo(args) -> None:
    """The whole workflow in a few minutes on the CPU: rotation pretext
    samples, pretraining on unlabelled built-in images, and few-label transfer
    against a random init."""
    from .results import ResultsPlan, run, table_name
    from .train import TrainConfig

    start = time.perf_counter()
    path = rotation_samples(os.path.join(args.out, "rotation_samples.png"), 160, args.seed)
    print(f"1/3 rotation pretext samples: {path} (label k = k quarter turns counter-clockwise; "
          f"red frame = label drawn by the seeded sampler)")
    plan = ResultsPlan(tasks=("rotation",), seeds=1, pretrain_data=args.data, eval_data=tuple(args.eval_data),
                       size=args.size, out_dir=args.out,
                       train=TrainConfig(steps=args.steps, batch_size=64, lr=0.05, warmup_steps=30,
                                         checkpoint_every=max(1, args.steps // 4), device=args.device))
    print(f"2/3 pretraining rotation on {args.data or 'each data set'} ({args.size} px, {args.steps} steps, {args.device}), "
          f"then a linear probe with 10 labels per class on {', '.join(args.eval_data)} vs random init")
    table = run(plan, log=lambda line: print("   " + line))
    print(f"3/3 results ({os.path.join(args.out, table_name(args.eval_data) + '.md')}):\n\n{table}\n")
    print(f"loss curves and logs: {os.path.join(args.out, 'rotation', '*', 'seed0', 'loss.png')} and log.csv")
    print(f"done in {time.perf_counter() - start:.0f}s")


def _per_task(flag: str, values: Sequence[str], parse, default):
    """``["300", "colorization=150"]`` -> (300, {"colorization": 150}): a bare
    value is the default for every task, ``TASK=VALUE`` overrides one."""
    by_task = {}
    for value in values or ():
        name, _, text = value.rpartition("=")
        try:
            parsed = parse(text)
        except ValueError as error:
            raise CommandError(f"{flag}: expected VALUE or TASK=VALUE, got {value!r} ({error})") from None
        if name:
            by_task[name] = parsed
        else:
            default = parsed
    return default, by_task


def _steps(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError("steps must be a whole number >= 1")
    return int(text)


def _pixels(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError("image side must be a whole number of pixels >= 1")
    return int(text)


def _data_name(text: str) -> str:
    if not text:
        raise ValueError("empty data set name")
    return text


def results(args) -> None:
    """Each task against random init, mean ± std over pretraining seeds."""
    from .results import ResultsPlan, run
    from .train import TrainConfig

    steps, task_steps = _per_task("--steps", args.steps, _steps, 1500)
    pretrain_data, task_data = _per_task("--pretrain-data", args.pretrain_data, _data_name, None)
    pretrain_size, task_size = _per_task("--pretrain-size", args.pretrain_size, _pixels, None)
    task_size = {**({name: pretrain_size for name in args.tasks} if pretrain_size else {}), **task_size}
    plan = ResultsPlan(tasks=tuple(args.tasks), seeds=args.seeds, pretrain_data=pretrain_data, task_data=task_data,
                       eval_data=tuple(args.eval_data), size=args.size,
                       out_dir=args.out, task_steps=task_steps, task_size=task_size,
                       task_options=_results_options(args.option, args.tasks),
                       train=TrainConfig(steps=steps, batch_size=64, lr=0.05, warmup_steps=50,
                                         checkpoint_every=250, device=args.device))
    print(run(plan))


# ---------------------------------------------------------------------------
# argument parsing
# ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sslfast", description="Self-supervised pretraining with pretext tasks.",
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("pretrain", help="pretrain an encoder on a pretext task")
    p.add_argument("task", help="pretext task name (e.g. rotation)")
    p.add_argument("--data", default=None, help="photos, shapes, digits, videos, or a folder of images "
                                                 "(default: the task's, shapes for most)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=64, help="global batch (split across torchrun ranks)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the task's, else 0.05)")
    p.add_argument("--optimizer", choices=("sgd", "adamw"), default=None, help="default: the task's, else sgd")
    p.add_argument("--weight-decay", type=float, default=None, help="default: the task's, else 5e-4")
    p.add_argument("--warmup", type=int, default=50, help="linear warm-up steps before cosine decay")
    p.add_argument("--backbone", default="small", help="small, resnet18, resnet34 or resnet50")
    p.add_argument("--amp", choices=("bf16", "fp16"), default=None)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--checkpoint-every", type=int, default=500)
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="task option, e.g. mode=one")
    p.add_argument("--out", default=os.path.join("runs", "pretrain"), help="run folder")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")

    p = commands.add_parser("evaluate", help="few-label transfer of a pretrained encoder vs random init")
    p.add_argument("checkpoint")
    p.add_argument("--data", default="shapes", help="labelled data: shapes, digits or a class-folder tree")
    p.add_argument("--size", type=int, default=None, help="image side (default: the pretraining size)")
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3, help="number of seeds (label subsets and random inits)")
    p.add_argument("--protocol", action="append", choices=("linear", "knn", "finetune"),
                   help="evaluation protocol (repeatable; default linear)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=None, help="folder for the JSON/Markdown table (default: the checkpoint's)")

    p = commands.add_parser("quality", help="how well a trained model solves its pretext on held-out data, "
                                            "beside a trivial baseline")
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None, help="held-out data (default: the task's, photos for still-image tasks, "
                                                "videos for frame_order)")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--size", type=int, default=None, help="image side (default: the pretraining size)")
    p.add_argument("--count", type=int, default=256, help="number of held-out images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=None, help="folder for quality_DATA.md/json (default: the checkpoint's)")

    p = commands.add_parser("show", help="draw a task's pretext inputs and targets (and predictions), "
                                         "or a data set's samples with their labels")
    p.add_argument("task", help="a task name, or a data set (photos, shapes, digits or a folder)")
    p.add_argument("--split", choices=("train", "test"), default="test")
    p.add_argument("--checkpoint", default=None)
    p.add_argument("--data", default=None, help="source images (default: the task's, photos for still-image tasks, "
                                                "videos for frame_order)")
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--count", type=int, default=8, help="number of source images")
    p.add_argument("--columns", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--option", action="append", metavar="KEY=VALUE")
    p.add_argument("--out", default=None, help="PNG path (default runs/show/TASK.png or DATASET.png)")

    p = commands.add_parser("demo", help="pretrain on built-in data, evaluate against random init, draw pictures")
    p.add_argument("--out", default=os.path.join("runs", "demo"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=None,
                   help="unlabelled pretraining images (default: each evaluation set's own training images, "
                        "labels unused)")
    p.add_argument("--eval-data", nargs="+", default=["shapes", "digits"], help="labelled data sets for the probe")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--steps", type=int, default=150, help="pretraining steps per data set")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p = commands.add_parser("results", help="the transfer table: tasks vs random init over seeds (long)")
    p.add_argument("--tasks", nargs="+", default=["rotation"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--pretrain-data", nargs="+", default=None, metavar="DATA|TASK=DATA",
                   help="pretraining data for every task or for one, e.g. frame_order=videos (default: each "
                        "evaluation set's own training images, labels unused)")
    p.add_argument("--eval-data", nargs="+", default=["shapes", "digits"])
    p.add_argument("--size", type=int, default=32, help="image side of the probe (and of pretraining by default)")
    p.add_argument("--pretrain-size", nargs="+", default=None, metavar="PX|TASK=PX",
                   help="pretrain on larger renders of the same data, for every task or one (e.g. jigsaw=64); "
                        "the probe stays at --size (the encoders are fully convolutional)")
    p.add_argument("--steps", nargs="+", default=["1500"], metavar="N|TASK=N",
                   help="pretraining steps: N for every task, TASK=N for one (e.g. 300 colorization=150)")
    p.add_argument("--option", action="append", metavar="[TASK:]KEY=VALUE",
                   help="task option for every task or one, e.g. deepcluster:cluster_crop=1 (repeatable)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default=os.path.join("runs", "results"))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "evaluate" and not args.protocol:
        args.protocol = ["linear"]
    handlers = {"pretrain": pretrain, "evaluate": evaluate, "show": show, "demo": demo, "results": results,
                "quality": quality}
    try:
        handlers[args.command](args)
    except (CommandError, ValueError, FileNotFoundError) as error:
        print(f"sslfast {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
