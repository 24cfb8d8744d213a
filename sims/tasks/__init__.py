"""Tasks for the ensemble engine: the protocol (base.py) and the tasks built on it (parity.py, pcfg.py, text.py).

``as_task(x)`` turns a task config (sims.config.TaskConfig or any config registered with
``sims.config.register_task_config``), a ParityTask or a Task into a Task.
"""
from __future__ import annotations

from .base import Batch, BatchStream, ModelInput, Task, soft_targets, soft_xent
from .parity import SparseParity
from .pcfg import PCFGTask, PCFGTaskConfig
from .text import TextTask, TextTaskConfig

__all__ = ["Batch", "BatchStream", "ModelInput", "Task", "SparseParity", "PCFGTask", "PCFGTaskConfig", "TextTask", "TextTaskConfig", "soft_targets", "soft_xent", "as_task"]


def as_task(task) -> Task:
    """A Task from a Task (itself), a parity_theory.ParityTask (SparseParity) or a task config
    (anything with ``make_task()``, e.g. sims.config.TaskConfig or a registered task config)."""
    from parity_theory.parity import ParityTask

    if isinstance(task, Task):
        return task
    if isinstance(task, ParityTask):
        return SparseParity(task)
    if hasattr(task, "make_task"):
        made = task.make_task()
        if isinstance(made, (Task, ParityTask)):
            return as_task(made)
    raise TypeError(f"task must be a sims.tasks.Task, a ParityTask or a task config with make_task(); got {type(task).__name__}.")
