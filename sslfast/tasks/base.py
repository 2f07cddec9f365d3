"""The task interface and the registry."""
from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Tuple, Type

import torch
from torch import nn

from ..models import Encoder, build_backbone

# ImageNet statistics: sensible for natural images, fine for renders too.
DEFAULT_MEAN = (0.485, 0.456, 0.406)
DEFAULT_STD = (0.229, 0.224, 0.225)


class PretextTask:
    """Base class of every pretext task.

    Subclasses set ``name`` and implement :meth:`make_batch`, :meth:`build_model`
    and :meth:`loss`. ``options`` are the task's keyword arguments, stored in
    checkpoints so a model can be rebuilt. ``input_channels`` is what the
    encoder sees (1 for grayscale-input tasks).
    """

    name: str = ""
    input_channels: int = 3
    # TrainConfig fields this task trains best with (e.g. {"optimizer": "adamw",
    # "lr": 2e-4} for a GAN); used by `sslfast pretrain` for flags the user did
    # not give, and by the results table.
    train_defaults: Dict[str, Any] = {}
    # What `sslfast pretrain` trains on when --data is not given.
    default_data: str = "shapes"
    # What `sslfast show` and `sslfast quality` draw and score when --data is
    # not given: held-out real photographs, for the tasks on still images.
    held_out_data: str = "photos"

    def __init__(self, **options: Any):
        self.options = options

    def make_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int) -> Tuple[Any, Any]:
        """uint8 images ``[B, C, H, W]`` and their data-set indices (int64 ``[B]``,
        same device) -> ``(inputs, targets)``. Pure in ``(images, index, seed)``."""
        raise NotImplementedError

    def build_model(self, backbone: str = "small", **backbone_options: Any) -> nn.Module:
        """The network solving the task; it must expose ``.encoder``."""
        raise NotImplementedError

    def loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        raise NotImplementedError

    def metrics(self, outputs: Any, targets: Any) -> Dict[str, float]:
        """Extra scalars for the log (accuracy, ...). Default: none."""
        return {}

    def prepare_input(self, images: torch.Tensor) -> torch.Tensor:
        """What the encoder sees at transfer time: uint8 images -> float input,
        normalised as in pretraining."""
        x = images.float() / 255
        mean = torch.tensor(self.options.get("mean", DEFAULT_MEAN), device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.options.get("std", DEFAULT_STD), device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def configure_optimizers(self, model: nn.Module, build_optimizer) -> Dict[str, torch.optim.Optimizer]:
        """Named optimisers; ``build_optimizer(params, lr_scale=1.0)`` makes one
        from the run's settings. GAN tasks return two."""
        return {"model": build_optimizer(model.parameters())}

    def training_step(self, trainer, inputs: Any, targets: Any) -> Dict[str, float]:
        """One optimisation step; GAN tasks override it to alternate their two
        optimisers. Returns the scalars to log (``loss`` first)."""
        with trainer.autocast():
            outputs = trainer.model(inputs)
            loss = self.loss(outputs, targets)
        trainer.backward_and_step(loss, "model")
        return {"loss": loss.item(), **self.metrics(outputs.detach().float(), targets)}

    def show_batch(self, images: torch.Tensor, index: torch.Tensor, seed: int, model: Optional[nn.Module] = None):
        """Pictures of the pretext: ``(images [N, C, H, W] in [0, 1], captions)``
        for a grid — by default each input (de-normalised) with its target, and
        the model's prediction when a model is given."""
        inputs, targets = self.make_batch(images, index, seed)
        predictions = None
        if model is not None:
            with torch.no_grad():
                predictions = model.eval()(inputs).argmax(1)
        mean = torch.tensor(self.options.get("mean", DEFAULT_MEAN)).view(1, -1, 1, 1)
        std = torch.tensor(self.options.get("std", DEFAULT_STD)).view(1, -1, 1, 1)
        pictures = (inputs.float().cpu() * std + mean).clamp(0, 1)
        captions = [f"target {int(t)}" + ("" if predictions is None else f" pred {int(predictions[i])}")
                    for i, t in enumerate(targets.tolist())]
        return pictures, captions

    def epoch_order(self, trainer, epoch: int) -> Optional[torch.Tensor]:
        """Called by the Trainer as epoch ``epoch`` begins, before its first
        batch is drawn (with ``DataLoader`` workers, possibly while the last
        batches of the previous epoch are still in flight). May return the
        epoch's sample order (int64 ``[len(dataset)]`` indices, the same on
        every rank); None keeps the default seeded permutation. DeepCluster
        re-clusters the data set here. Default: nothing."""
        return None

    def state_dict(self) -> Dict[str, Any]:
        """Task state that training changes and a resume needs (checkpointed
        beside the model; DeepCluster keeps its cluster labels). Default: none."""
        return {}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""

    def quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int) -> List[Dict[str, Any]]:
        """How well a trained model solves the pretext on held-out uint8
        ``images``, beside a trivial baseline: rows ``{"metric", "model",
        "baseline", "baseline_name", "better": "higher"|"lower"}``, each the
        mean over this batch (``sslfast quality`` averages over batches)."""
        raise NotImplementedError(f"task {self.name!r} has no quality check")

    def classification_quality(self, model: nn.Module, images: torch.Tensor, index: torch.Tensor, seed: int,
                               metric: str, classes: int) -> List[Dict[str, Any]]:
        """The ``quality`` of a task whose pretext is a ``classes``-way
        classification: accuracy on the pretext batch beside chance."""
        inputs, targets = self.make_batch(images, index, seed)
        with torch.no_grad():
            outputs = model.eval()(inputs)
        return [{"metric": metric, "model": accuracy(outputs, targets), "baseline": 1 / classes,
                 "baseline_name": "chance", "better": "higher"}]

    def encoder(self, model: nn.Module) -> Encoder:
        """What transfer evaluation keeps."""
        return getattr(model, "module", model).encoder

    def make_encoder(self, backbone: str, **backbone_options: Any) -> Encoder:
        return build_backbone(backbone, in_channels=self.input_channels, **backbone_options)


TASKS: Dict[str, Type[PretextTask]] = {}


def register_task(cls: Type[PretextTask]) -> Type[PretextTask]:
    """Class decorator adding a task to the registry under ``cls.name``."""
    if not cls.name or cls.name in TASKS:
        raise ValueError(f"task name: expected a new non-empty name, got {cls.name!r}")
    TASKS[cls.name] = cls
    return cls


def get_task(name: str, **options: Any) -> PretextTask:
    """A task instance by name, e.g. ``get_task("rotation", mode="one")``."""
    if name not in TASKS:
        raise ValueError(f"task: unknown task {name!r}; available: {', '.join(sorted(TASKS))}")
    accepted = [p for p in inspect.signature(TASKS[name].__init__).parameters.values() if p.name != "self"]
    if not any(p.kind == p.VAR_KEYWORD for p in accepted):
        unknown = sorted(set(options) - {p.name for p in accepted})
        if unknown:
            raise ValueError(f"options: {name} has no option {', '.join(map(repr, unknown))}; "
                             f"it takes {', '.join(p.name for p in accepted)}")
    return TASKS[name](**options)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return (logits.argmax(1) == labels).float().mean().item()


