"""Tasks for the ensemble engine: the protocol (base.py) and the tasks built on it (parity.py).

``make_task(config)`` turns a task config into a Task (today: sims.config.TaskConfig -> SparseParity).
"""
from __future__ import annotations

from .base import Batch, BatchStream, ModelInput, Task, soft_targets, soft_xent
from .parity import SparseParity

__all__ = ["Batch", "BatchStream", "ModelInput", "Task", "SparseParity", "soft_targets", "soft_xent", "as_task"]


def as_task(task) -> Task:
    """A Task from a Task (itself), a parity_theory.ParityTask or a sims.config.TaskConfig."""
    from parity_theory.parity import ParityTask

    from ..config import TaskConfig

    if isinstance(task, Task):
        return task
    if isinstance(task, ParityTask):
        return SparseParity(task)
    if isinstance(task, TaskConfig):
        return SparseParity(task.make_task())
    raise TypeError(f"task must be a sims.tasks.Task, a ParityTask or a TaskConfig; got {type(task).__name__}.")
