"""Sparse-parity data as torch batches: seeded online streams and fixed held-out sets.

Bits u ~ Bernoulli(1/2)^n (torch.randint on a CPU generator, so the stream is identical on every
device), x = 1 - 2u in {-1,+1}^n (float), class = sum_{i in S} u_i mod 2, i.e. class 1 <=>
chi_S(x) = -1, class 0 <=> chi_S(x) = +1 (the convention of parity_theory.ParityTask).
"""
from __future__ import annotations

import numpy as np
import torch

from parity_theory.parity import ParityTask

__all__ = ["ParityStream", "sample_streams", "eval_set", "as_model_input", "bits_to_batch"]


def bits_to_batch(bits: torch.Tensor, support: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """bits uint8/int (..., n) in {0,1} -> (x float32 (..., n) in {-1,+1}, class int64 (...))."""
    x = 1.0 - 2.0 * bits.to(torch.float32)
    cls = bits.index_select(-1, support).to(torch.int64).sum(-1).remainder_(2)
    return x, cls


class ParityStream:
    """Fresh samples of a ParityTask from a seeded CPU torch.Generator; state is saveable."""

    def __init__(self, task: ParityTask, seed: int):
        if not isinstance(task, ParityTask):
            raise TypeError(f"ParityStream.task must be a ParityTask; got {type(task).__name__}.")
        self.task = task
        self.support = torch.tensor(task.support, dtype=torch.int64)
        self.generator = torch.Generator()
        self.generator.manual_seed(int(seed))

    def bits(self, batch: int) -> torch.Tensor:
        """The next ``batch`` raw draws u, uint8 (batch, n) in {0, 1} (x = 1 - 2u)."""
        return torch.randint(0, 2, (batch, self.task.n), generator=self.generator, dtype=torch.uint8)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """x float32 (batch, n) in {-1,+1} and class int64 (batch,)."""
        return bits_to_batch(self.bits(batch), self.support)

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state.clone())


def sample_streams(streams: "list[ParityStream]", batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch from each stream, stacked: x float32 (S, batch, n), class int64 (S, batch).
    Equal to stacking ``s.sample(batch)`` of each stream (same draws), with fewer ops."""
    bits = torch.stack([s.bits(batch) for s in streams])
    return bits_to_batch(bits, streams[0].support)


def eval_set(task: ParityTask, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed held-out set: (x float32 (size, n), class int64 (size,)), a function of (task, size, seed)."""
    return ParityStream(task, seed).sample(size)


def as_model_input(x) -> torch.Tensor:
    """±1 inputs (numpy int8/float or torch) of shape (m, n) -> float32 torch tensor (CPU)."""
    if isinstance(x, torch.Tensor):
        t = x.to(torch.float32)
    else:
        arr = np.asarray(x)
        if arr.ndim != 2:
            raise ValueError(f"x must be a 2-D array of shape (m, n) with entries in {{-1,+1}}; got shape {arr.shape}.")
        t = torch.from_numpy(arr.astype(np.float32, copy=False))
    if t.dim() != 2:
        raise ValueError(f"x must be a 2-D array of shape (m, n) with entries in {{-1,+1}}; got shape {tuple(t.shape)}.")
    return t
