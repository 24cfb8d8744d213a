"""Sparse parity tasks: x uniform on {-1,+1}^n, label chi_S(x) = prod_{i in S} x_i.

Paper: Panigrahi et al., "Progressive distillation induces an implicit curriculum" (ICLR 2025), §3.
"""
from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np

from .validation import check_generator, check_int

__all__ = ["ParityTask", "check_generator", "check_int", "check_pm1"]


def check_pm1(x, name: str = "x", n: int | None = None) -> np.ndarray:
    """Validate a (m, n) array with entries in {-1, +1}; returns it as an int8 array."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (m, n); got shape {arr.shape}.")
    if n is not None and arr.shape[1] != n:
        raise ValueError(f"{name} must have n={n} columns; got shape {arr.shape}.")
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must be numeric with entries in {{-1, +1}}; got dtype {arr.dtype}.")
    bad = (arr != 1) & (arr != -1)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must have entries in {{-1, +1}}; got {arr[idx].item()!r} at index {idx}.")
    return arr.astype(np.int8, copy=False)


@dataclass(frozen=True)
class ParityTask:
    """The (n, k)-sparse parity task with support S (0-based, sorted, distinct).

    x ~ Uniform({-1,+1}^n), y = chi_S(x) = prod_{i in S} x_i in {-1,+1}.
    Two-class convention used by the models: class 0 <=> y = +1, class 1 <=> y = -1.
    """

    n: int
    support: tuple[int, ...]

    def __post_init__(self):
        n = check_int(self.n, "n", owner="ParityTask")
        try:
            support = tuple(self.support)
        except TypeError:
            raise TypeError(f"ParityTask.support must be a sequence of ints; got {self.support!r}.") from None
        if len(support) == 0:
            raise ValueError("ParityTask.support must be non-empty (k >= 1); got an empty support.")
        for i in support:
            if isinstance(i, bool) or not isinstance(i, Integral):
                raise TypeError(f"ParityTask.support must hold ints; got {i!r} ({type(i).__name__}) in {support!r}.")
            if not 0 <= i < n:
                raise ValueError(f"ParityTask.support indices must lie in [0, n-1] = [0, {n - 1}]; got {i} in {support!r}.")
        if len(set(support)) != len(support):
            raise ValueError(f"ParityTask.support must not repeat indices; got {support!r}.")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "support", tuple(sorted(int(i) for i in support)))

    @property
    def k(self) -> int:
        """Sparsity |S|."""
        return len(self.support)

    @classmethod
    def random(cls, n: int, k: int, rng: np.random.Generator) -> "ParityTask":
        """A task with a support of size k drawn uniformly from the C(n, k) subsets."""
        n = check_int(n, "n", owner="ParityTask")
        k = check_int(k, "k", owner="ParityTask")
        if k > n:
            raise ValueError(f"ParityTask.k must be an int in [1, n]; got k={k} with n={n}.")
        check_generator(rng)
        return cls(n, tuple(int(i) for i in rng.choice(n, size=k, replace=False)))

    def sample(self, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """m fresh samples: x int8 (m, n) in {-1,+1}, y = chi_S(x) int8 (m,)."""
        m = check_int(m, "m", owner="ParityTask.sample")
        check_generator(rng)
        x = rng.integers(0, 2, size=(m, self.n), dtype=np.int8)
        x *= 2
        x -= 1
        return x, self.label(x, validate=False)

    def label(self, x, validate: bool = True) -> np.ndarray:
        """chi_S(x) for x of shape (m, n): int8 (m,) in {-1,+1}."""
        xs = check_pm1(x, "x", self.n) if validate else x
        return np.prod(xs[:, list(self.support)], axis=1, dtype=np.int8)

    def class_of(self, x) -> np.ndarray:
        """Class index (0 for y=+1, 1 for y=-1), int64 (m,)."""
        return ((1 - self.label(x).astype(np.int64)) // 2)
