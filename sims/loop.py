"""The one training loop, used by teachers (sims/train.py) and students (sims/distill.py) alike.

An ensemble of E members trains on a Task (sims/tasks) for ``steps`` updates. Per update t
(0-based): the learning rate of the schedule, one batch from each of the S data streams, each
member e reads the batch of stream ``member_stream[e]``, the targets q come from ``targets`` (the
labels, a fixed teacher, or a schedule of teacher checkpoints), one optimizer step on
sum_e loss_e (members never interact, so each gets its own gradient). After update t the step is
t + 1; at step 0 (fresh runs) and every ``eval_every`` / ``ckpt_every`` step and the last one the
loop evaluates on the held-out set, checks for divergence, records a history row per member, lets
adaptive targets observe the accuracy, and calls ``on_checkpoint`` at checkpoint steps.

History rows: member, step, loss, accuracy (held-out), train_loss (mean since the previous row;
NaN at step 0), teacher_step (the checkpoint that supervised the last update; NaN = labels).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from parity_theory.validation import check_int

from .config import OptimConfig
from .tasks.base import Batch, Task, soft_xent

__all__ = [
    "make_optimizer", "set_lr", "clip_grad_per_member", "ensemble_step", "Targets", "LabelTargets",
    "ModelTargets", "LoopSpec", "run_loop", "train_ensemble", "progress_bar",
]


# ----------------------------------------------------------------------------- optimizer, one step
def make_optimizer(params: Sequence[torch.nn.Parameter], cfg: OptimConfig, fused: bool | None = None) -> torch.optim.Optimizer:
    """torch.optim SGD / Adam / AdamW over the stacked ensemble parameters (element-wise, so
    equal to one optimizer per member). ``fused`` (default: on) uses the fused kernels, faster per
    step than foreach on CPU for small ensembles; results agree to float rounding."""
    params = list(params)
    if fused is None or fused:
        try:
            return _make_optimizer(params, cfg, {"fused": True})
        except (RuntimeError, TypeError, ValueError):  # older torch / device without fused kernels
            if fused:
                raise
    return _make_optimizer(params, cfg, {"foreach": True})


def _make_optimizer(params, cfg: OptimConfig, impl: dict) -> torch.optim.Optimizer:
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay, **impl)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                weight_decay=cfg.weight_decay, **impl)
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps,
                                 weight_decay=cfg.weight_decay, **impl)
    raise ValueError(f"OptimConfig.name must be one of ['sgd', 'adam', 'adamw']; got {cfg.name!r}.")


def set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


@torch.no_grad()
def clip_grad_per_member(params: Sequence[torch.nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale each member's gradient so that its global L2 norm is <= max_norm.

    norm_e = sqrt(sum_p ||grad_p[e]||^2); scale_e = min(1, max_norm / (norm_e + 1e-6)). Returns norm (E,).
    """
    grads = [p.grad for p in params if p.grad is not None]
    sq = sum(g.reshape(g.shape[0], -1).pow(2).sum(1) for g in grads)
    norm = sq.sqrt()
    scale = (max_norm / (norm + 1e-6)).clamp_(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
    return norm


def ensemble_step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, q: torch.Tensor,
                  grad_clip: float | None = None, manual: bool = True, mask: torch.Tensor | None = None,
                  loss_fn: Callable | None = None) -> torch.Tensor:
    """One update of every member on sum_e loss_e, loss_e = loss_fn(model(x), q, mask)_e
    (loss_fn None: the soft cross-entropy ``sims.tasks.soft_xent``). x (B, ...) shared or
    (E, B, ...); q (E, B[, P], C). ``manual`` uses the model's hand-written ``xent_backward`` when
    it has one (the default loss without a mask only). Returns loss (E,)."""
    if loss_fn is None and manual and mask is None and hasattr(model, "xent_backward"):
        loss = model.xent_backward(x, q)
    else:
        opt.zero_grad(set_to_none=True)
        loss = (loss_fn or soft_xent)(model(x), q, mask)
        loss.sum().backward()
        loss = loss.detach()
    if grad_clip is not None:
        clip_grad_per_member(list(model.parameters()), grad_clip)
    opt.step()
    return loss


# ----------------------------------------------------------------------------- targets
class Targets:
    """Who supervises each member: ``q(t, data, member_stream)`` -> soft targets (E, B[, P], C) for
    update t, where ``data`` is the stacked batch of the S streams; ``current`` = the teacher
    checkpoint step per member of the last call (None = labels); ``observe`` sees each evaluation."""

    def __init__(self, task: Task, n_members: int):
        self.task = task
        self.current: list[int | None] = [None] * n_members

    def q(self, t: int, data: Batch, member_stream: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def observe(self, step: int, accuracy: np.ndarray) -> None:
        return None


class LabelTargets(Targets):
    """q = onehot(label): plain supervised training (teachers, CE students)."""

    def q(self, t, data, member_stream):
        labels = data.labels if member_stream is None else data.labels[member_stream]
        return self.task.targets(labels)


class ModelTargets(Targets):
    """A fixed teacher model (an ensemble of one member, or of E members, member e teaching member e):
    q = alpha * onehot(label) + (1 - alpha) * softmax(z_teacher / tau)."""

    def __init__(self, task: Task, n_members: int, teacher: torch.nn.Module, tau: float = 1.0, alpha: float = 0.0):
        super().__init__(task, n_members)
        self.teacher, self.tau, self.alpha = teacher, float(tau), float(alpha)

    @torch.no_grad()
    def q(self, t, data, member_stream):
        x = data.x if member_stream is None else data.x[member_stream]          # (E, B, ...)
        labels = data.labels if member_stream is None else data.labels[member_stream]
        E, B = x.shape[:2]
        if next(self.teacher.parameters()).shape[0] == 1:                       # one teacher for all
            z = self.teacher(x.reshape(E * B, *x.shape[2:]))[0]
            z = z.reshape(E, B, *z.shape[1:])
        else:
            z = self.teacher(x)
        return self.task.targets(labels, z.float(), self.tau, self.alpha)


# ----------------------------------------------------------------------------- the loop
@dataclass(frozen=True)
class LoopSpec:
    """What to run: ``steps`` updates (total, counting from 0) of ``batch`` examples per stream,
    LR schedule of ``optim``, evaluation every ``eval_every`` steps, checkpoints every
    ``ckpt_every`` (None = never); ``label`` names the run in messages and progress bars."""

    optim: OptimConfig
    steps: int
    batch: int
    eval_every: int
    ckpt_every: int | None = None
    label: str = "training"

    def __post_init__(self):
        for name in ("steps", "batch", "eval_every"):
            check_int(getattr(self, name), name, owner="LoopSpec")
        check_int(self.ckpt_every, "ckpt_every", allow_none=True, owner="LoopSpec")
        if not isinstance(self.optim, OptimConfig):
            raise TypeError(f"LoopSpec.optim must be an OptimConfig; got {type(self.optim).__name__}.")


def progress_bar(it, enabled: bool, desc: str):
    """A tqdm bar over ``it`` when ``enabled`` and stderr is a terminal (a log file gets no bars)."""
    if not enabled or not getattr(sys.stderr, "isatty", lambda: False)():
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False, mininterval=0.5)


def run_loop(model: torch.nn.Module, opt: torch.optim.Optimizer, task: Task, streams: Sequence, spec: LoopSpec,
             targets: Targets, eval_data: Batch, *, member_stream: torch.Tensor | None = None,
             member_names: Sequence[str] | None = None, start: int = 0,
             on_record: Callable[[int, dict], None] | None = None,
             on_checkpoint: Callable[[int, dict], None] | None = None,
             stop: Callable[[int, dict], bool] | None = None, progress: bool = True, manual_backward: bool = True,
             divergence_hint: Callable[[], str] | None = None,
             on_step: Callable[[int], None] | None = None) -> int:
    """Train ``model`` from step ``start`` to ``spec.steps`` (see the module docstring).

    streams: the S data streams of ``task`` (state advanced in place); member_stream: LongTensor (E,)
    of stream indices (None: stream e feeds member e, S = E). on_record(step, row) gets every
    evaluation: row = {"accuracy", "loss", "train_loss" (E,) numpy, "teacher_step": list}; a
    non-finite eval or train loss raises FloatingPointError naming the members, before on_record.
    on_checkpoint(step, row) runs at step 0 (fresh runs), every ckpt_every steps and the last step.
    stop(step, row) -> True ends training early. on_step(step) runs at step 0 (fresh runs, before
    any update) and after every update (before that step's evaluation); it must leave the model,
    the optimizer and every random stream as it found them (probes read the live model).
    Returns the last step trained.
    """
    check_int(start, "start", lo=0, hi=spec.steps, owner="run_loop")
    dev = next(model.parameters()).device
    E = next(model.parameters()).shape[0]
    names = list(member_names) if member_names is not None else [f"member {e}" for e in range(E)]
    run_loss = torch.zeros(E, dtype=torch.float64, device=dev)
    n_acc = 0
    loss_fn = None if type(task).loss is Task.loss else task.loss  # the default loss may use a hand-written backward

    def record(step: int, train_loss: np.ndarray) -> dict:
        row = task.evaluate(model, eval_data)
        bad = ~np.isfinite(row["loss"]) | (~np.isfinite(train_loss) if step > 0 else False)
        if np.any(bad):
            which = [names[i] for i in np.flatnonzero(bad)]
            hint = divergence_hint() if divergence_hint is not None else ""
            raise FloatingPointError(f"{spec.label} diverged: non-finite loss by step {step} for {which} "
                                     f"(lr={spec.optim.lr}); lower the learning rate or set grad_clip.{hint}")
        row["train_loss"] = train_loss
        row["teacher_step"] = list(targets.current)
        targets.observe(step, row["accuracy"])
        if on_record is not None:
            on_record(step, row)
        if on_checkpoint is not None and spec.ckpt_every is not None and (step % spec.ckpt_every == 0 or step == spec.steps):
            on_checkpoint(step, row)
        return row

    if start == 0:
        if on_step is not None:
            on_step(0)
        row = record(0, np.full(E, np.nan))
        if stop is not None and stop(0, row):
            return 0
    bar = progress_bar(range(start, spec.steps), progress, spec.label)
    step = start
    for t in bar:
        set_lr(opt, spec.optim.lr_at(t, spec.steps))
        data = task.sample(streams, spec.batch).to(dev)
        q = targets.q(t, data, member_stream)
        x = data.x if member_stream is None else data.x[member_stream]
        mask = data.mask if (data.mask is None or member_stream is None) else data.mask[member_stream]
        loss = ensemble_step(model, opt, x, q, spec.optim.grad_clip, manual_backward, mask, loss_fn)
        run_loss += loss
        n_acc += 1
        step = t + 1
        if on_step is not None:
            on_step(step)
        if step % spec.eval_every == 0 or (spec.ckpt_every is not None and step % spec.ckpt_every == 0) or step == spec.steps:
            row = record(step, (run_loss / n_acc).cpu().numpy())
            run_loss.zero_()
            n_acc = 0
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(acc=f"{row['accuracy'][0]:.3f}")
            if stop is not None and stop(step, row):
                break
    return step


def history_frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def train_ensemble(task: Task, model_config, optim: OptimConfig, seeds: Sequence[int], *, steps: int, batch: int = 32,
                   eval_every: int = 100, eval_size: int = 4096, eval_seed: int = 12345, targets: Targets | None = None,
                   init_label: str = "teacher-init", data_label: str = "teacher-data", device="auto",
                   progress: bool = False, manual_backward: bool = True) -> tuple[torch.nn.Module, pd.DataFrame]:
    """Train one member per seed on ``task`` in memory (no checkpoints) through the one loop.

    Member e: init from derive_seed(seeds[e], init_label), data stream from derive_seed(seeds[e],
    data_label) — the seeds ``train_teacher`` uses. ``targets`` None = labels. Returns the trained
    ensemble and its history (seed, step, loss, accuracy, train_loss, teacher_step)."""
    from .config import derive_seed
    from .devices import resolve_device
    from .models import build_model
    from .tasks import as_task

    dev = resolve_device(device)
    task = as_task(task)
    seeds = [check_int(s, "seeds[i]", lo=0, owner="train_ensemble") for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"train_ensemble.seeds must be a non-empty list of distinct ints >= 0; got {seeds!r}.")
    E = len(seeds)
    model = build_model(model_config.arch, task.model_input(), model_config, E,
                        [derive_seed(s, init_label) for s in seeds]).to(dev)
    opt = make_optimizer(list(model.parameters()), optim)
    streams = [task.stream(derive_seed(s, data_label)) for s in seeds]
    tg = targets if targets is not None else LabelTargets(task, E)
    rows: list[dict] = []

    def on_record(step, row):
        for e in range(E):
            ts = row["teacher_step"][e]
            rows.append({"seed": seeds[e], "step": step, "loss": float(row["loss"][e]), "accuracy": float(row["accuracy"][e]),
                         "train_loss": float(row["train_loss"][e]), "teacher_step": float("nan") if ts is None else float(ts)})

    spec = LoopSpec(optim=optim, steps=steps, batch=batch, eval_every=eval_every, label=f"{task.name} x{E}")
    run_loop(model, opt, task, streams, spec, tg, task.eval_set(eval_size, eval_seed).to(dev),
             member_names=[f"seed {s}" for s in seeds], on_record=on_record, progress=progress,
             manual_backward=manual_backward)
    return model, history_frame(rows, ["seed", "step", "loss", "accuracy", "train_loss", "teacher_step"])
