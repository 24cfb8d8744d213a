"""Exact Fourier coefficients of symmetric functions of the support (Krawtchouk polynomials).

For h(x) = g(sum_{i in S} x_i) with |S| = k, every A subset of S with |A| = m has the same
coefficient, and every A not contained in S has coefficient 0:

    h^_m = 2^-k * sum_{j=0..k} C(k, j) * g(k - 2j) * K_m(j) / C(k, m),
    K_m(j) = sum_t (-1)^t C(j, t) C(k - j, m - t)     (Krawtchouk),

where j is the number of -1 entries among x_S (so sum_{i in S} x_i = k - 2j).
Reference: docs/paper.md §4 (mechanism); O'Donnell, "Analysis of Boolean Functions", §5.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .validation import check_float, check_int

__all__ = ["krawtchouk", "krawtchouk_matrix", "fourier_by_degree", "support_spectrum", "values_by_j",
           "relu_values"]


def _check_k(k) -> int:
    return check_int(k, "k", lo=0)


def krawtchouk(k: int, m: int, j: int) -> int:
    """K_m(j) = sum_t (-1)^t C(j, t) C(k - j, m - t) = sum over A with |A| = m of chi_A(x), for
    any x in {-1,+1}^k with j entries -1 (exact integer)."""
    k = _check_k(k)
    for name, v in (("m", m), ("j", j)):
        check_int(v, name, lo=0, hi=k)
    return sum((-1) ** t * math.comb(j, t) * math.comb(k - j, m - t) for t in range(0, min(j, m) + 1))


def krawtchouk_matrix(k: int) -> np.ndarray:
    """Exact integer matrix K[m, j] = K_m(j), shape (k+1, k+1), dtype object (Python ints).

    Built column by column with the three-term recurrence (from (1 - z^2) G' = ((k - 2j) - k z) G
    for the generating function G(z) = (1 - z)^j (1 + z)^(k-j)):
        (m + 1) K_{m+1}(j) = (k - 2j) K_m(j) - (k - m + 1) K_{m-1}(j),  K_0 = 1, K_1(j) = k - 2j,
    O(k^2) exact integer operations (the defining sum, :func:`krawtchouk`, costs O(k^3) in all).
    """
    k = _check_k(k)
    K = np.empty((k + 1, k + 1), dtype=object)
    for j in range(k + 1):
        K[0, j] = 1
        if k >= 1:
            K[1, j] = k - 2 * j
        for m in range(1, k):
            q, r = divmod((k - 2 * j) * K[m, j] - (k - m + 1) * K[m - 1, j], m + 1)
            assert r == 0, (k, m, j)  # exact by the recurrence
            K[m + 1, j] = q
    return K


def fourier_by_degree(values_by_j) -> np.ndarray:
    """Coefficients h^_m, m = 0..k, of h(x) = g(sum_{i in S} x_i) from values_by_j[j] = g(k - 2j).

    values_by_j: real (k+1,), j = number of -1 entries among x_S. Returns float64 (k+1,);
    entry m is the coefficient of chi_A for every A subset of S with |A| = m. Binomials and
    Krawtchouk numbers are exact integers and each weight w_mj = C(k, j) K_m(j) / (2^k C(k, m)) is
    one correctly rounded division of exact integers; the sum over j is in float64. Since
    |K_m(j)| <= C(k, m), sum_j |w_mj| <= 1 and the error is ~ (k + 1) * 1e-16 * max|g|.
    """
    g = np.asarray(values_by_j)
    if g.dtype == object or not (np.issubdtype(g.dtype, np.number) or g.dtype == bool) or np.iscomplexobj(g):
        raise TypeError(f"values_by_j must be a real numeric array; got dtype {g.dtype}.")
    if g.ndim != 1 or g.shape[0] < 1:
        raise ValueError(f"values_by_j must be 1-D of length k+1 >= 1; got shape {g.shape}.")
    g = g.astype(np.float64)
    if not np.isfinite(g).all():
        i = int(np.flatnonzero(~np.isfinite(g))[0])
        raise ValueError(f"values_by_j must be finite (no NaN/inf); got {g[i].item()!r} at index {i}.")
    k = g.shape[0] - 1
    K = krawtchouk_matrix(k)
    out = np.empty(k + 1, dtype=np.float64)
    for m in range(k + 1):
        # weights C(k, j) K_m(j) / (2^k C(k, m)): int / int is correctly rounded, also beyond 2^1023
        den = (1 << k) * math.comb(k, m)
        w = np.array([math.comb(k, j) * K[m, j] / den for j in range(k + 1)], dtype=np.float64)
        out[m] = float(np.sum(w * g))
    return out


def support_spectrum(values_by_j) -> np.ndarray:
    """Exact twin of :func:`parity_theory.fourier.support_spectrum` for h = g(sum_{i in S} x_i):
    float64 (2^k,), entry b = h^_{popcount(b)} (b <-> {support[i] : bit i of b})."""
    h = fourier_by_degree(values_by_j)
    k = len(h) - 1
    degree = np.array([bin(b).count("1") for b in range(1 << k)], dtype=np.int64)
    return h[degree]


def values_by_j(g: Callable[[int], float], k: int) -> np.ndarray:
    """[g(k - 2j) for j = 0..k] as float64 (k+1,): the input to :func:`fourier_by_degree`."""
    k = _check_k(k)
    if not callable(g):
        raise TypeError(f"g must be callable on the integer sum s in [-k, k]; got {type(g).__name__}.")
    out = np.empty(k + 1, dtype=np.float64)
    for j in range(k + 1):
        try:
            out[j] = float(g(k - 2 * j))
        except (TypeError, ValueError) as err:
            raise TypeError(f"g must return a real number; g({k - 2 * j}) failed: {err}") from None
    return out


def relu_values(k: int, b: float = 0.0) -> np.ndarray:
    """values_by_j for g(s) = ReLU(s + b) (docs/paper.md §4's example; not normalised)."""
    b = check_float(b, "b")
    return values_by_j(lambda s: max(s + b, 0.0), k)
