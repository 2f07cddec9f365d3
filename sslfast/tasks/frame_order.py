"""Frame order verification (Shuffle & Learn, Misra et al. 2016).

From a high-motion window of a video, five frames ``a < b < c < d < e``;
the tuple ``(b, c, d)`` is in order (label 1), ``(b, a, d)`` and
``(b, e, d)`` are not (label 0). A three-tower siamese network with shared
weights runs one :class:`sslfast.models.Encoder` and one fully connected
layer (the paper's fc7) on each frame, concatenates the three and classifies
the tuple with fully connected layers. The fc7 input keeps a coarse
``grid x grid`` layout of the feature map, as AlexNet's fc6 sees its 6x6 map:
globally pooled features cannot tell where things moved, which is the whole
question.

One deviation from the paper, by default: between the concatenation and the
2-way output sits one hidden layer (``fusion`` units, ReLU). A single linear
layer on the concatenation (the paper's fc8, ``fusion=0``) scores a tuple as
``g1(b) + g2(m) + g3(d)``, a sum of per-frame terms, and "m lies between b
and d" is not such a sum when the same content can sit anywhere in a clip:
it needs the frames compared with each other (for instance
``|f(b) - f(m)|``), which takes a nonlinearity after the concatenation. On
the built-in ``videos`` a pixel-distance rule (middle frame nearer to both
ends than the ends to each other) labels held-out tuples 85% right, yet
with ``fusion=0`` held-out accuracy stayed at or below chance (42-49%, train
59% after 150 steps at 32 px, ``grid=4``, lr 1e-3); the hidden layer alone
learnt only after about 250 steps (60-61% held out after 500, lr 2e-3).
With the fc7 input keeping the whole 8x8 map of a 32 px frame (``grid=8``;
pooling 2x2 cells averages away the few pixels a frame moves) and lr 3e-3
it reached 57-59% held out within 150 steps.

Order, not direction: each tuple is shown forwards or reversed, ``(b, c, d)``
or ``(d, c, b)``, by a fair coin drawn from ``(seed, index)``; both are in
order (label 1), and the negatives are reversed alike. Without it, runs
whose training accuracy rose stayed at or below chance on held-out clips
(46% and 50% for two 150-step ``grid=8`` runs): our reading is that a
short run can learn which way things move in the training clips (a pan
direction, an object's path) instead of whether the middle frame lies
between the others; the coin takes the direction away as a cue. It did not
make 150 steps enough: with it, two 150-step runs (batch 64, 32 px) still
ended at 50% and 46% held out, while a 300-step run reached 60.6% (majority
baseline 53.5%) with training loss 0.37. Learning the comparison starts
late and at a seed-dependent step; short runs are a coin toss.
At 300 steps (batch 64, 32 px, lr 3e-3, ``sslfast quality CKPT --data
videos --split test``, 256 held-out tuples, majority baseline 53.5%) two
seeds reached 65.6% and 67.2% held out; so the results table pretrains
frame_order for 300 steps (``make results``).

Positives are half of the tuples by default (the paper used 25%; RECIPES.md
allows balancing), which makes short runs learn the order rather than the
prior; ``positive=0.25`` restores the paper's share.

The data is a video data set (the built-in ``videos`` or
``VideoTuples(VideoFolder(path))``) whose items are the mined windows
``uint8 [5, 3, H, W]``: the Trainer collates them into ``[B, 5, 3, H, W]``
and :meth:`FrameOrderTask.make_batch` draws each window's label and crop
from ``(seed, index)`` and cuts the three frames on the device with
``gather_patches`` (:func:`sslfast.data.frame_tuples`). Mining decodes all
five frames of a window, so the label can be drawn on the device, per epoch.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from ..data.video import TUPLE_FRAMES, frame_tuples
from ..models import Encoder
from .base import DEFAULT_MEAN, DEFAULT_STD, PretextTask, accuracy, register_task

TOWERS = 3  # frames per tuple
REVERSE_STREAM = 0x5EE1  # keeps the forwards/reversed coin apart from other draws keyed by (seed, index)


class FrameOrderNet(nn.Module):
    """Shared encoder + fc7 per frame (``[B, 3, C, H, W]``), concatenated,
    then (with ``fusion`` > 0) a hidden layer of ``fusion`` units and the
    2-way output, else the 2-way output alone (the paper's fc8)."""

    def __init__(self, encoder: Encoder, hidden: int, grid: int, fusion: int = 0):
        super().__init__()
        self.encoder, self.grid = encoder, grid
        self.tower = nn.Sequential(nn.Linear(encoder.out_channels * grid * grid, hidden), nn.BatchNorm1d(hidden),
                                   nn.ReLU(inplace=True))
        if fusion:
            self.classifier = nn.Sequential(nn.Linear(TOWERS * hidden, fusion), nn.ReLU(inplace=True),
                                            nn.Linear(fusion, 2))
        else:
            self.classifier = nn.Linear(TOWERS * hidden, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n = x.shape[:2]
        if n != TOWERS:
            raise ValueError(f"x: expected {TOWERS} frames per tuple, got {n}")
        maps = nn.functional.adaptive_avg_pool2d(self.encoder(x.flatten(0, 1)), self.grid)
        return self.classifier(self.tower(maps.flatten(1)).view(b, -1))


@register_task
class FrameOrderTask(PretextTask):
    """Options: ``positive`` (share of in-order tuples, default 0.5),
    ``crop`` (tuple side in pixels; default 8/9 of the frames, i.e. the data
    set's ``size`` for ``videos``), ``hidden`` (fc7 width), ``grid`` (the
    fc7 input's layout, ``grid x grid`` cells of the feature map),
    ``fusion`` (hidden units after the concatenation; 0: the paper's single
    fc8),
    ``mean``/``std`` (input normalisation)."""

    name = "frame_order"
    default_data = held_out_data = "videos"  # tuples are mined from clips; still images cannot make them
    train_defaults = {"optimizer": "adamw", "lr": 3e-3, "weight_decay": 1e-4}  # SGD at 0.05 diverged in short runs

    def __init__(self, positive: float = 0.5, crop: Optional[int] = None, hidden: int = 256, grid: int = 8,
                 fusion: int = 256, mean=DEFAULT_MEAN, std=DEFAULT_STD):
        if not 0.0 < positive < 1.0:
            raise ValueError(f"positive: expected a share in (0, 1), got {positive!r}")
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
            raise ValueError(f"grid: expected a positive int, got {grid!r}")
        if isinstance(fusion, bool) or not isinstance(fusion, int) or fusion < 0:
            raise ValueError(f"fusion: expected an int >= 0, got {fusion!r}")
        super().__init__(positive=positive, crop=crop, hidden=hidden, grid=grid, fusion=fusion, mean=tuple(mean),
                         std=tuple(std))
        self.positive, self.crop, self.hidden, self.grid = float(positive), crop, int(hidden), grid
        self.fusion = fusion
        self.mean, self.std = tuple(mean), tuple(std)

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[torch.Tensor, torch.Tensor]:
        """Mined windows ``uint8 [B, 5, 3, H, W]`` -> ``(tuples [B, 3, 3, crop,
        crop] normalised, labels [B])``, each tuple forwards or reversed."""
        if images.dim() != 5 or images.shape[1] != TUPLE_FRAMES:
            raise ValueError(f"images: frame_order needs mined video windows [B, {TUPLE_FRAMES}, C, H, W] "
                             f"(--data videos or a folder of videos), got shape {tuple(images.shape)}")
        tuples, labels = frame_tuples(images, index, seed, crop=self.crop, positive=self.positive, mean=self.mean,
                                      std=self.std)
        reverse = torch.as_tensor([np.random.default_rng([REVERSE_STREAM, seed, i]).integers(2)
                                   for i in index.tolist()], dtype=torch.bool, device=tuples.device)
        return torch.where(reverse.view(-1, 1, 1, 1, 1), tuples.flip(1), tuples), labels

    def epoch_order(self, trainer, epoch: int) -> Optional[torch.Tensor]:
        """The video data set's own order (:meth:`sslfast.data.VideoTuples.epoch_order`:
        draws that share a video stay in one batch and are decoded together)."""
        data = trainer.dataset.dataset  # the Trainer's IndexedImages wraps the data set
        return data.epoch_order(trainer.config.seed, epoch) if hasattr(data, "epoch_order") else None

    def build_model(self, backbone: str = "small", **backbone_options) -> nn.Module:
        return FrameOrderNet(self.make_encoder(backbone, **backbone_options), self.hidden, self.grid, self.fusion)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs, targets)

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> Dict[str, float]:
        return {"accuracy": accuracy(outputs, targets)}

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """One picture per tuple, its three frames side by side, captioned
        with the label (and the model's prediction)."""
        tuples, labels = self.make_batch(images, index, seed)
        predictions = None
        if model is not None:
            with torch.no_grad():
                predictions = model.eval()(tuples).argmax(1).tolist()
        mean = torch.tensor(self.mean).view(1, 1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, 1, -1, 1, 1)
        frames = (tuples.float().cpu() * std + mean).clamp(0, 1)
        pictures = torch.cat(frames.unbind(1), dim=-1)  # [B, C, h, 3w]
        names = ("shuffled", "in order")
        captions = [names[label] + ("" if predictions is None else f" / pred {names[predictions[i]]}")
                    for i, label in enumerate(labels.tolist())]
        return pictures, captions

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict]:
        """Tuple accuracy beside always answering the batch's majority label."""
        tuples, labels = self.make_batch(images, index, seed)
        with torch.no_grad():
            outputs = model.eval()(tuples)
        share = labels.float().mean().item()
        return [{"metric": "frame order accuracy", "model": accuracy(outputs, labels),
                 "baseline": max(share, 1 - share), "baseline_name": "majority label", "better": "higher"}]
