"""Pretext tasks and their registry.

A task turns a batch of unlabelled images into ``(inputs, targets)`` with the
fused ops, builds the network that solves it, and says which part of that
network is the encoder kept for transfer. The CLI and the Trainer know tasks
only through :func:`get_task`.
"""
from .base import PretextTask, TASKS, get_task, register_task
from . import frame_order, rotation  # noqa: F401  (register "frame_order", "rotation")

__all__ = ["PretextTask", "TASKS", "get_task", "register_task"]
