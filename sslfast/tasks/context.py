"""Context prediction (Doersch, Gupta & Efros 2015).

A centre patch and one of its 8 neighbours on a 3x3 layout (gap between
patches, independent jitter of each); the network names the neighbour's
position (0-7, row-major around the centre). Pairs come from the fused patch
ops (``sample_context`` + ``gather_patches``) with the recipe's
chromatic-aberration countermeasures:

- colour dropping: each patch keeps one random channel and the other two
  become Gaussian noise, with probability ``drop`` per patch. The paper
  drops colour in every patch (``drop=1``); the default here is 0 because
  rendered and small images have no chromatic aberration to hide and a
  7 px patch with one channel left is too little to learn from in a short
  CPU run (at 32 px and 200 steps, ``drop=1`` stayed at chance);
- per-patch normalisation: minus each channel's mean, divided by the patch's
  RMS (fused in ``gather_patches(normalize='rms')``);
- downsample-upsample: a third of the patches is resized down to
  ``downsample_to`` of its side (the recipe's ~100 pixels for 96 px patches
  is ~10/96 of the side; default 0.5 here since 32-64 px images give
  7-15 px patches) and back up, bilinear.

Geometry scales the recipe's 96 px patches, 48 px gap and 7 px jitter to the
image (``ops.context_geometry``; 32 px images: 7 px patches, 3 px gap, no
jitter; options ``patch``/``gap``/``jitter`` override).

Model: a siamese trunk (the shared encoder) on both patches, pooled features
concatenated, MLP to 8 classes (``head_convs`` puts conv stages of the head's
own between the trunk and the pooling).

Measured on ``shapes`` (linear probe at 32 px, 10 labels per class, seed 0):
pretraining on 64 px renders (15 px patches, ``--pretrain-size context=64``)
for 600 steps gave 32.8% against 32.3% for random init, no real gain. At
32 px, 300 steps, the default ``head_convs=1`` (a conv stage of the head's
own, as rotation's) gave 34.2 / 27.8 / 29.0% over seeds 0-2 against
32.3 / 25.4 / 28.3% for random init (+1.7 points, every seed ahead); without
it the table read 28.7 against 28.7.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

from .. import ops
from ..models import SiameseHead
from .base import PretextTask, accuracy, register_task
from .draws import uniform
from .patch_batches import normalize_whole, to_picture, torch_gather_patches

DOWNSAMPLE_FIELD = 0x446f776e  # "Down"


@register_task
class ContextTask(PretextTask):
    """Options: ``patch``/``gap``/``jitter`` (px, default scaled from the
    recipe), ``drop`` (colour-dropping probability per patch), ``downsample``
    (fraction of patches blurred by down- and up-sampling, 1/3),
    ``downsample_to`` (relative side of the small copy), ``hidden`` (head
    width), ``pairs_per_image`` (independent pairs cut from each image per
    batch, 4: more signal per decoded image, as RotNet feeds all four
    rotations; 1 is the paper's one pair), ``head_convs`` (conv stages of the
    head's own on each patch's map before pooling, shared by both towers, as
    rotation's :class:`~sslfast.models.ConvHead`), ``batch_ops`` ("sslfast" or "torch", as the other tasks)."""

    name = "context"
    train_defaults = {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4}

    def __init__(self, patch: Optional[int] = None, gap: Optional[int] = None, jitter: Optional[int] = None,
                 drop: float = 0.0, downsample: float = 1 / 3, downsample_to: float = 0.5, hidden: int = 512,
                 pairs_per_image: int = 4, head_convs: int = 1, batch_ops: str = "sslfast"):
        if batch_ops not in ("sslfast", "torch"):
            raise ValueError(f"batch_ops: expected 'sslfast' or 'torch', got {batch_ops!r}")
        for name, value in (("drop", drop), ("downsample", downsample)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
        if not isinstance(pairs_per_image, int) or pairs_per_image < 1:
            raise ValueError(f"pairs_per_image: expected a positive int, got {pairs_per_image!r}")
        if not isinstance(head_convs, int) or head_convs < 0:
            raise ValueError(f"head_convs: expected 0 or more, got {head_convs!r}")
        if not 0 < downsample_to <= 1:
            raise ValueError(f"downsample_to: expected a relative size in (0, 1], got {downsample_to}")
        super().__init__(patch=patch, gap=gap, jitter=jitter, drop=drop, downsample=downsample,
                         downsample_to=downsample_to, hidden=hidden, pairs_per_image=pairs_per_image,
                         head_convs=head_convs, batch_ops=batch_ops)
        self.patch, self.gap, self.jitter = patch, gap, jitter
        self.drop, self.downsample, self.downsample_to = drop, downsample, downsample_to
        self.hidden, self.pairs_per_image, self.batch_ops = hidden, pairs_per_image, batch_ops
        self.head_convs = head_convs

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """``([B * P, 2, C, p, p] float32 (centre, neighbour), labels [B * P] in
        0..7)`` with ``P = pairs_per_image``, pairs of an image consecutive."""
        size = images.shape[-2:]
        patch, _, _ = ops.context_geometry(size, self.patch, self.gap, self.jitter)
        # Pair j of image b is sample index[b] * P + j of the samplers, cut from image b.
        per_image = self.pairs_per_image
        pair_index = (index.view(-1, 1) * per_image + torch.arange(per_image, device=index.device)).view(-1)
        _, origins, labels = ops.sample_context(seed, pair_index, size, patch=self.patch, gap=self.gap,
                                                jitter=self.jitter)
        src = (torch.arange(len(pair_index), device=index.device) // per_image).view(-1, 1).expand(-1, 2)
        keep = None
        if self.drop > 0 and images.shape[1] > 1:
            keep, _ = ops.sample_color_drop(seed, pair_index, 2, drop=self.drop, channels=images.shape[1])
        if self.batch_ops == "torch":
            pairs = torch_gather_patches(images, src.contiguous(), origins, patch, normalize="rms", keep_channel=keep)
        else:
            pairs = ops.gather_patches(images, src.contiguous(), origins, patch, normalize="rms", keep_channel=keep,
                                       noise_seed=seed, out_dtype=torch.float32)
        if self.downsample > 0:
            pairs = self._blur_some(pairs, pair_index, seed)
        return pairs, labels

    def _blur_some(self, pairs: torch.Tensor, index: torch.Tensor, seed: int) -> torch.Tensor:
        """Down- and up-sample the patches drawn with probability ``downsample``."""
        b, n, c, p, _ = pairs.shape
        small = max(1, round(p * self.downsample_to))
        flat = pairs.flatten(0, 1)
        if self.batch_ops == "torch":
            down = nn.functional.interpolate(flat, size=(small, small), mode="bilinear", antialias=True)
            blurred = nn.functional.interpolate(down, size=(p, p), mode="bilinear")
        else:
            blurred = ops.resize(ops.resize(flat, small, filter="bilinear"), p, filter="bilinear")
        chosen = uniform(seed, index, n, DOWNSAMPLE_FIELD) < self.downsample
        return torch.where(chosen[..., None, None, None], blurred.view_as(pairs), pairs)

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """Each image minus its channel means over its RMS, as each patch was."""
        return normalize_whole(images, "rms")

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return SiameseHead(self.make_encoder(backbone, **backbone_options), towers=2, classes=8, hidden=self.hidden,
                           convs=self.head_convs)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> Dict[str, float]:
        return {"accuracy": accuracy(outputs, targets)}

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Each pair drawn at its places on a 3x3 layout: centre in the middle,
        the neighbour in its label's cell; captioned with the label (and the
        model's guess)."""
        pairs, labels = self.make_batch(images, index, seed)
        predictions = None
        if model is not None:
            with torch.no_grad():
                predictions = model.eval()(pairs).argmax(1)
        pictures = to_picture(pairs.cpu())
        b, _, _, p, _ = pictures.shape
        step = p + 1
        board = torch.ones(b, 3, 3 * step - 1, 3 * step - 1)
        board[:, :, step:step + p, step:step + p] = pictures[:, 0]
        for i, label in enumerate(labels.tolist()):
            dy, dx = ops.patches.CONTEXT_OFFSETS[label]
            y, x = (1 + dy) * step, (1 + dx) * step
            board[i, :, y:y + p, x:x + p] = pictures[i, 1]
        captions = [f"label {int(t)}" + ("" if predictions is None else f" pred {int(predictions[i])}")
                    for i, t in enumerate(labels.tolist())]
        return board, captions

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        return self.classification_quality(model, images, index, seed, "neighbour accuracy", 8)
