"""The Task protocol: what the one training loop (sims/loop.py) needs from a task.

A task supplies
  * ``model_input()``: the input format a model must read (a :class:`ModelInput`), so that
    ``sims.models.build_model(arch, task.model_input(), ...)`` builds a fitting model;
  * ``stream(seed)``: a seeded, resumable stream of training batches (``get_state`` /
    ``set_state`` go into checkpoints), and ``sample(streams, batch)`` that draws one batch from
    each of S streams, stacked: ``Batch(x (S, B, ...), labels (S, B[, P]), mask None | (S, B[, P]))``;
  * ``eval_set(size, seed)``: a fixed held-out batch ``Batch(x (M, ...), labels (M[, P]), mask)``;
  * the loss of model outputs against labels and against soft teacher targets, and the metrics
    (loss, accuracy). The defaults below are written for per-position outputs with a mask:

    logits z of shape (E, B, C) (one position: parity) or (E, B, P, C) (P positions: sequences),
    labels (.., B[, P]) int64, mask (.., B[, P]) bool (None = every position counts);
    targets  q = alpha * onehot(label) + (1 - alpha) * softmax(z_teacher / tau)
               (tau = 0: onehot(argmax z_teacher); no teacher: q = onehot(label))
    loss_e   = sum_{b,p} m_bp * ( -sum_c q_bpc log softmax(z_ebp)_c ) / sum_{b,p} m_bp
               (mask None: the plain mean over b (and p))
    accuracy_e = sum_{b,p} m_bp [argmax_c z_ebpc == label_bp] / sum m_bp

Panigrahi et al. (ICLR 2025), §2 (distillation loss) and §5 (masked / next-token sequence tasks).

Adding a task is writing one module: a subclass of :class:`Task` that implements
``model_input``, ``stream`` and ``sample`` (and ``eval_set`` if the default, one stream of
``seed``, does not fit). The loop, checkpoints, strategies and models do not change.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import torch

from parity_theory.validation import check_choice, check_int

__all__ = ["ModelInput", "Batch", "BatchStream", "Task", "soft_targets", "soft_xent", "evaluate_members"]

INPUT_KINDS = ("pm1", "tokens")


@dataclass(frozen=True)
class ModelInput:
    """The input a task feeds its models and the output it reads.

    kind "pm1": float vectors in {-1,+1}^n, shape (B, n); "tokens": int64 token ids in
    [0, vocab), shape (B, n). n_classes: logits per output position; positions: output positions
    (1 = one class per example, read as logits (E, B, C)); pad: the padding token id models must
    not attend to (tokens only; None = no padding)."""

    kind: str
    n: int
    n_classes: int = 2
    positions: int = 1
    vocab: int | None = None
    pad: int | None = None

    def __post_init__(self):
        check_choice(self.kind, "kind", INPUT_KINDS, owner="ModelInput")
        check_int(self.n, "n", owner="ModelInput")
        check_int(self.n_classes, "n_classes", lo=2, owner="ModelInput")
        check_int(self.positions, "positions", owner="ModelInput")
        check_int(self.vocab, "vocab", lo=2, allow_none=True, owner="ModelInput")
        check_int(self.pad, "pad", lo=0, allow_none=True, owner="ModelInput")


class Batch(NamedTuple):
    """x: model input; labels: int64 class per example (and position); mask: bool or None (all count)."""

    x: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor | None = None

    def to(self, device) -> "Batch":
        return Batch(self.x.to(device), self.labels.to(device), None if self.mask is None else self.mask.to(device))

    def rows(self, index) -> "Batch":
        """The batch of every member ``index[e]`` picks (leading axis): x[index], labels[index], mask[index]."""
        return Batch(self.x[index], self.labels[index], None if self.mask is None else self.mask[index])


class BatchStream(ABC):
    """A seeded stream of training examples whose state can be saved and restored (a 1-D uint8 tensor)."""

    @abstractmethod
    def get_state(self) -> torch.Tensor: ...

    @abstractmethod
    def set_state(self, state: torch.Tensor) -> None: ...


def soft_targets(labels: torch.Tensor, n_classes: int, teacher_logits: torch.Tensor | None = None,
                 tau: float = 1.0, alpha: float = 0.0) -> torch.Tensor:
    """q = alpha * onehot(labels) + (1 - alpha) * softmax(teacher_logits / tau); tau = 0: onehot of
    the teacher's argmax; teacher_logits None: onehot(labels). labels (...) -> q (..., C) float32."""
    if teacher_logits is None:
        return torch.nn.functional.one_hot(labels, n_classes).to(torch.float32)
    if tau == 0:
        pt = torch.nn.functional.one_hot(teacher_logits.argmax(-1), teacher_logits.shape[-1]).to(teacher_logits.dtype)
    else:
        pt = torch.softmax(teacher_logits / tau, dim=-1)
    if alpha == 0:
        return pt
    oh = torch.nn.functional.one_hot(labels, teacher_logits.shape[-1]).to(pt.dtype)
    return alpha * oh + (1 - alpha) * pt


def soft_xent(logits: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-member masked mean of -sum_c q_c log softmax(z)_c: logits, q (E, B[, P], C), mask
    (E, B[, P]) or None -> (E,)."""
    per = -(q * torch.log_softmax(logits, dim=-1)).sum(-1)
    if mask is None:
        return per.mean(-1) if per.dim() == 2 else per.flatten(1).mean(-1)
    m = mask.to(per.dtype)
    return (per * m).flatten(1).sum(-1) / m.flatten(1).sum(-1).clamp_min(1.0)


class Task(ABC):
    """A learning task for the ensemble engine (see the module docstring)."""

    name: str = "task"

    @abstractmethod
    def model_input(self) -> ModelInput:
        """The input format and output shape models of this task must have."""

    @abstractmethod
    def stream(self, seed: int) -> BatchStream:
        """A fresh stream of training examples seeded with ``seed``."""

    @abstractmethod
    def sample(self, streams: Sequence[BatchStream], batch: int) -> Batch:
        """One batch of ``batch`` examples from each stream, stacked on a leading axis of len(streams)."""

    def eval_set(self, size: int, seed: int) -> Batch:
        """A fixed held-out set of ``size`` examples, a function of (task, size, seed)."""
        b = self.sample([self.stream(seed)], size)
        return Batch(b.x[0], b.labels[0], None if b.mask is None else b.mask[0])

    # -- losses (per position, masked)
    def targets(self, labels: torch.Tensor, teacher_logits: torch.Tensor | None = None, tau: float = 1.0,
                alpha: float = 0.0) -> torch.Tensor:
        """Soft targets q (..., C) against labels (teacher None) or a teacher's logits (see soft_targets)."""
        return soft_targets(labels, self.model_input().n_classes, teacher_logits, tau, alpha)

    def loss(self, logits: torch.Tensor, q: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Per-member loss (E,) of logits against soft targets q (see soft_xent)."""
        return soft_xent(logits, q, mask)

    def evaluate(self, model: torch.nn.Module, data: Batch, max_elems: int = 1 << 23) -> dict[str, np.ndarray]:
        """Held-out {"accuracy", "loss"} per member (see :func:`evaluate_members`)."""
        return evaluate_members(model, data, max_elems)


@torch.no_grad()
def evaluate_members(model: torch.nn.Module, data: Batch, max_elems: int = 1 << 23) -> dict[str, np.ndarray]:
    """Held-out {"accuracy", "loss"} per member, float64 numpy (E,), of ``model`` on ``data``
    (x shared by all members; masked positions only). Rows go in chunks so that
    E * chunk * widest activation (x the model's sequence length) <= max_elems."""
    x, labels, mask = data
    E = next(model.parameters()).shape[0]
    width = max(p.shape[-1] for p in model.parameters()) * int(getattr(model, "seq_len", 1))
    chunk = max(64, int(max_elems // max(E * width, 1)))
    correct = torch.zeros(E, dtype=torch.float64, device=x.device)
    nll = torch.zeros(E, dtype=torch.float64, device=x.device)
    for s in range(0, x.shape[0], chunk):
        z = model(x[s:s + chunk])
        z = z.reshape(E, -1, z.shape[-1])                     # (E, rows * P, C)
        c = labels[s:s + chunk].reshape(-1)
        hit = (z.argmax(-1) == c)
        ce = torch.nn.functional.cross_entropy(z.transpose(1, 2), c.expand(E, -1), reduction="none")
        if mask is not None:
            m = mask[s:s + chunk].reshape(-1)
            hit, ce = hit & m, ce * m
        correct += hit.sum(1).double()
        nll += ce.sum(1).double()
    count = float(x.shape[0] * int(np.prod(labels.shape[1:], dtype=np.int64))) if mask is None else float(mask.sum())
    return {"accuracy": (correct / count).cpu().numpy(), "loss": (nll / count).cpu().numpy()}
