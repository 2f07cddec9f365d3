"""Command line: ``sslfast demo``, ``sslfast show`` (more commands arrive
with the tasks)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional, Sequence

import cv2
import numpy as np
import torch


def _square_crop(photo: np.ndarray, size: int) -> torch.Tensor:
    """Centre square of an HWC photo, area-resized to size x size, as CHW uint8."""
    h, w = photo.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = cv2.resize(photo[top:top + side, left:left + side], (size, size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(square).permute(2, 0, 1).contiguous()


def demo(out: str, size: int, seed: int) -> str:
    """Rotation pretext samples of the bundled photographs, drawn as a grid:
    one row per photo, one column per label (k quarter turns counter-clockwise),
    with a red frame on the label the seeded sampler draws for that photo."""
    from . import ops
    from .data import load_photos
    from .viz import image_grid, save_png

    start = time.perf_counter()
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
    path = save_png(out, image_grid(rotated[order], captions, columns=4, highlight=chosen))
    print(f"rotation pretext: {len(names)} photos x 4 labels ({size}px); label k = k quarter turns "
          f"counter-clockwise; red frame = label sampled with seed {seed}: {sampled.tolist()}")
    print(f"wrote {path} in {time.perf_counter() - start:.2f}s")
    return path


def show(name: str, split: str, size: int, count: int, out: str) -> List[str]:
    """Write a captioned PNG grid of a data set's first ``count`` samples; for
    ``shapes`` also a second PNG with each image's rgb, depth, normals, edges
    and ids side by side. Returns the paths written."""
    from .data import Shapes, get_dataset
    from .viz import depth_to_rgb, image_grid, normals_to_rgb, save_png

    start = time.perf_counter()
    dataset = get_dataset(name, split, size)
    count = min(count, len(dataset))
    items = [dataset[i] for i in range(count)]
    captions = [f"{i}: {dataset.classes[label]}" if label >= 0 and dataset.classes else f"#{i}"
                for i, (_, label) in enumerate(items)]
    paths = [save_png(out, image_grid(torch.stack([image for image, _ in items]), captions, columns=8))]
    if isinstance(dataset, Shapes):
        maps = dataset.render(range(min(count, 6)))
        ids = maps["ids"].float() / max(1, int(maps["ids"].max()))
        columns = [maps["rgb"], depth_to_rgb(maps["depth"]), normals_to_rgb(maps["normals"]),
                   maps["edges"].expand(-1, 3, -1, -1), ids.expand(-1, 3, -1, -1)]
        tiles = torch.stack(columns, dim=1).flatten(0, 1)
        names = ["rgb", "depth", "normals", "edges", "ids"] * len(maps["rgb"])
        root, extension = os.path.splitext(out)
        paths.append(save_png(f"{root}_maps{extension}", image_grid(tiles, names, columns=len(columns))))
    print(f"{name} ({split}, {len(dataset)} images, {size}px): wrote {', '.join(paths)} "
          f"in {time.perf_counter() - start:.2f}s")
    return paths


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="sslfast", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="draw rotation pretext samples of the bundled photos")
    p.add_argument("--out", default=os.path.join("runs", "demo", "rotation_samples.png"))
    p.add_argument("--size", type=int, default=160)
    p.add_argument("--seed", type=int, default=0)
    p = commands.add_parser("show", help="write a PNG grid of a data set's samples with their labels")
    p.add_argument("dataset", help="photos, digits, shapes or a folder of images")
    p.add_argument("--split", default="train", choices=("train", "test"))
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--count", type=int, default=24)
    p.add_argument("--out", default=None, help="PNG path (default runs/show/<dataset>.png)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo(args.out, args.size, args.seed)
    elif args.command == "show":
        name = os.path.basename(os.path.normpath(args.dataset))
        show(args.dataset, args.split, args.size, args.count, args.out or os.path.join("runs", "show", f"{name}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
