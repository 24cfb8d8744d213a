"""Hypothesis strategies for property tests on {-1,+1}^n (public; needs ``hypothesis``).

Example::

    from hypothesis import given
    from parity_theory import strategies as pst
    from parity_theory.fourier import walsh_hadamard

    @given(pst.truth_tables(max_n=6))
    def test_parseval(table):
        assert abs((table ** 2).mean() - (walsh_hadamard(table) ** 2).sum()) < 1e-9

Conventions: truth tables have length 2^n with entry b = f(x), x_i = -1 iff bit i of b is set;
subsets are sorted tuples of distinct indices in [0, n-1]; samples are int8 (m, n) in {-1,+1}.
Strategies that take ``n`` accept an int or a strategy of ints.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .parity import ParityTask

__all__ = ["parity_tasks", "subsets", "pm1_samples", "truth_tables", "pm1_functions", "seeds",
           "support_and_subsets"]


def _ints(v) -> st.SearchStrategy:
    return v if isinstance(v, st.SearchStrategy) else st.just(int(v))


def seeds() -> st.SearchStrategy[int]:
    """Seeds for numpy.random.default_rng: ints in [0, 2^32 - 1]."""
    return st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def parity_tasks(draw, max_n: int = 12, min_n: int = 1, max_k: int | None = None) -> ParityTask:
    """Valid ParityTask(n, support): n in [min_n, max_n], k in [1, min(n, max_k)], support a
    uniformly drawn set of k distinct indices (shrinks towards small n, k and low indices)."""
    n = draw(st.integers(min_value=min_n, max_value=max_n))
    k = draw(st.integers(min_value=1, max_value=n if max_k is None else min(n, max_k)))
    support = draw(st.lists(st.integers(0, n - 1), min_size=k, max_size=k, unique=True))
    return ParityTask(n, tuple(support))


@st.composite
def subsets(draw, n, min_size: int = 0, max_size: int | None = None) -> tuple[int, ...]:
    """A subset of {0, ..., n-1} as a sorted tuple of distinct ints, size in [min_size, max_size]."""
    n = draw(_ints(n))
    hi = n if max_size is None else min(n, max_size)
    idx = draw(st.lists(st.integers(0, max(n - 1, 0)), min_size=min(min_size, hi), max_size=hi, unique=True)
               if n > 0 else st.just([]))
    return tuple(sorted(idx))


@st.composite
def support_and_subsets(draw, max_n: int = 10, max_subsets: int = 20):
    """(n, list of subsets) with 1 <= n <= max_n and 0..max_subsets subsets (repeats allowed)."""
    n = draw(st.integers(1, max_n))
    return n, draw(st.lists(subsets(n), max_size=max_subsets))


@st.composite
def pm1_samples(draw, m, n) -> np.ndarray:
    """int8 array (m, n) with entries in {-1, +1}. For large m prefer drawing a seed
    (:func:`seeds`) and sampling with numpy; hypothesis builds this array element by element."""
    m = draw(_ints(m))
    n = draw(_ints(n))
    return draw(hnp.arrays(np.int8, (m, n), elements=st.sampled_from([-1, 1])))


@st.composite
def truth_tables(draw, max_n: int = 8, min_n: int = 0, lo: float = -1.0, hi: float = 1.0,
                 n=None) -> np.ndarray:
    """A bounded real function on {-1,+1}^n as a float64 truth table of length 2^n.

    n is drawn from [min_n, max_n] unless given (int or strategy); values are finite in [lo, hi]
    (default [-1, 1]; use lo=0, hi=1 for probabilities).
    """
    n = draw(st.integers(min_n, max_n) if n is None else _ints(n))
    elems = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False, width=64)
    return draw(hnp.arrays(np.float64, 1 << n, elements=elems))


@st.composite
def pm1_functions(draw, max_n: int = 8, min_n: int = 0, n=None) -> np.ndarray:
    """A Boolean function {-1,+1}^n -> {-1,+1} as a float64 truth table of length 2^n."""
    n = draw(st.integers(min_n, max_n) if n is None else _ints(n))
    return draw(hnp.arrays(np.float64, 1 << n, elements=st.sampled_from([-1.0, 1.0])))
