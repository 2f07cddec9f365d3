"""Pictures: captioned image grids written as PNG (OpenCV, no display needed)."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import cv2
import numpy as np
import torch

__all__ = ["image_grid", "plot_curves", "save_png", "depth_to_rgb", "normals_to_rgb"]


def _to_hwc_uint8(image: torch.Tensor) -> np.ndarray:
    image = image.detach().cpu()
    if image.dtype != torch.uint8:
        image = (image.float().clamp(0, 1) * 255).round().to(torch.uint8)
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return np.ascontiguousarray(image.permute(1, 2, 0).numpy())


def image_grid(images: torch.Tensor, captions: Optional[Sequence[str]] = None, columns: int = 4,
               pad: int = 6, caption_height: int = 18, highlight: Optional[Sequence[bool]] = None) -> np.ndarray:
    """Tile ``[N, C, H, W]`` images (uint8, or float in [0, 1]; C = 1 or 3) into
    one RGB ``[rows*(H+pad+caption), columns*(W+pad), 3]`` uint8 array, each with
    an optional caption above it; images flagged in ``highlight`` get a red frame."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images: expected [N, 1 or 3, H, W], got {tuple(images.shape)}")
    if captions is not None and len(captions) != images.shape[0]:
        raise ValueError(f"captions: expected {images.shape[0]}, got {len(captions)}")
    n, _, h, w = images.shape
    rows = (n + columns - 1) // columns
    cell_h, cell_w = h + pad + (caption_height if captions else 0), w + pad
    grid = np.full((rows * cell_h + pad, columns * cell_w + pad, 3), 255, np.uint8)
    for i in range(n):
        top, left = (i // columns) * cell_h + pad, (i % columns) * cell_w + pad
        if captions:
            text = captions[i]
            while len(text) > 1 and cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)[0][0] > w:
                text = text[:-1]  # clip to the cell
            cv2.putText(grid, text, (left, top + caption_height - 5), cv2.FONT_HERSHEY_SIMPLEX,
                        0.45, (0, 0, 0), 1, cv2.LINE_AA)
            top += caption_height
        if highlight is not None and highlight[i]:
            cv2.rectangle(grid, (left - 3, top - 3), (left + w + 2, top + h + 2), (220, 30, 30), 3)
        grid[top:top + h, left:left + w] = _to_hwc_uint8(images[i])
    return grid


def save_png(path: str, rgb: np.ndarray) -> str:
    """Write an RGB uint8 array as PNG (creating folders); returns the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


_CURVE_COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def plot_curves(x: Sequence[float], curves: dict, title: str = "", size=(640, 400)) -> np.ndarray:
    """Line plot of named curves over ``x`` (e.g. losses over steps) as an RGB
    uint8 image, drawn with OpenCV: axes with min/max ticks and a legend."""
    width, height = size
    image = np.full((height, width, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 30, 40
    values = [v for ys in curves.values() for v in ys if np.isfinite(v)]
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title, (left, 20), font, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.rectangle(image, (left, top), (width - right, height - bottom), (0, 0, 0), 1)
    if not values or len(x) == 0:
        return image
    x0, x1 = float(min(x)), float(max(x))
    y0, y1 = float(min(values)), float(max(values))
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1e-9)

    def to_pixel(xv, yv):
        px = left + (xv - x0) / (x1 - x0) * (width - left - right)
        py = height - bottom - (yv - y0) / (y1 - y0) * (height - top - bottom)
        return int(round(px)), int(round(py))

    for text, pos in ((f"{y1:.3g}", (5, top + 5)), (f"{y0:.3g}", (5, height - bottom)),
                      (f"{x0:g}", (left, height - bottom + 18)), (f"{x1:g}", (width - right - 40, height - bottom + 18))):
        cv2.putText(image, text, pos, font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, ys) in enumerate(curves.items()):
        colour = _CURVE_COLOURS[i % len(_CURVE_COLOURS)]
        points = np.array([to_pixel(xv, yv) for xv, yv in zip(x, ys) if np.isfinite(yv)], np.int32)
        if len(points):
            cv2.polylines(image, [points.reshape(-1, 1, 2)], False, colour, 2, cv2.LINE_AA)
        cv2.putText(image, name, (width - right - 150, top + 18 * (i + 1)), font, 0.45, colour, 1, cv2.LINE_AA)
    return image


def depth_to_rgb(depth: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` depth (0 = nothing) as float RGB in [0, 1] for viewing:
    inverse depth scaled per image (near is bright) through OpenCV's
    "turbo" colour map; black where there is nothing."""
    inverse = torch.where(depth > 0, 1 / depth.clamp_min(1e-6), torch.zeros_like(depth))
    scaled = inverse / inverse.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)
    levels = (scaled[:, 0] * 255).round().to(torch.uint8).cpu().numpy()
    colored = np.stack([cv2.cvtColor(cv2.applyColorMap(level, cv2.COLORMAP_TURBO), cv2.COLOR_BGR2RGB)
                        for level in levels])
    rgb = torch.from_numpy(colored).permute(0, 3, 1, 2).float() / 255
    return torch.where(depth.cpu() > 0, rgb, torch.zeros_like(rgb))


def normals_to_rgb(normals: torch.Tensor) -> torch.Tensor:
    """Unit normals ``[N, 3, H, W]`` as RGB (n + 1) / 2; black where the
    normal is 0 (nothing hit)."""
    hit = normals.abs().sum(dim=1, keepdim=True) > 0
    return torch.where(hit, (normals + 1) / 2, torch.zeros_like(normals)).cpu()
