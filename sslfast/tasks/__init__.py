"""Pretext tasks and their registry.

A task turns a batch of unlabelled images into ``(inputs, targets)`` with the
fused ops, builds the network that solves it, and says which part of that
network is the encoder kept for transfer. The CLI and the Trainer know tasks
only through :func:`get_task`.
"""
from .base import PretextTask, TASKS, get_task, register_task
from . import rotation  # noqa: F401  (registers "rotation")
from . import colorization, inpainting, splitbrain, superres  # noqa: F401  (register the colour and GAN tasks)
from . import synthetic  # noqa: F401  (registers "synthetic")
from . import context, deepcluster, jigsaw  # noqa: F401  (register "context", "deepcluster", "jigsaw")
from . import frame_order  # noqa: F401  (registers "frame_order")

__all__ = ["PretextTask", "TASKS", "get_task", "register_task"]
