"""Sparse parity as a Task (Panigrahi et al., ICLR 2025, §3): one output position, two classes.

x ~ Uniform({-1,+1}^n) as float32 (B, n); class 1 <=> chi_S(x) = -1 (sims/data.py). The stream is
``sims.data.ParityStream`` (a CPU torch.Generator, so the draws are identical on every device).
"""
from __future__ import annotations

from typing import Sequence

from parity_theory.parity import ParityTask

from ..data import ParityStream, sample_streams
from .base import Batch, ModelInput, Task

__all__ = ["SparseParity"]


class SparseParity(Task):
    """The (n, k)-sparse parity task of ``parity``; models read ±1 vectors of length n."""

    name = "parity"

    def __init__(self, parity: ParityTask):
        if not isinstance(parity, ParityTask):
            raise TypeError(f"SparseParity.parity must be a parity_theory.ParityTask; got {type(parity).__name__}.")
        self.parity = parity

    def __repr__(self) -> str:
        return f"SparseParity(n={self.parity.n}, support={self.parity.support})"

    def model_input(self) -> ModelInput:
        return ModelInput(kind="pm1", n=self.parity.n, n_classes=2, positions=1)

    def stream(self, seed: int) -> ParityStream:
        return ParityStream(self.parity, seed)

    def sample(self, streams: Sequence[ParityStream], batch: int) -> Batch:
        x, cls = sample_streams(list(streams), batch)
        return Batch(x, cls, None)

    def eval_set(self, size: int, seed: int) -> Batch:
        x, cls = ParityStream(self.parity, seed).sample(size)
        return Batch(x, cls, None)
