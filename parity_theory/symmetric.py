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

__all__ = ["krawtchouk", "krawtchouk_matrix", "degree_weights", "fourier_by_degree", "fourier_two_block",
           "support_spectrum", "values_by_j", "relu_values"]


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


def degree_weights(k: int) -> np.ndarray:
    """W[m, j] = C(k, j) K_m(j) / (2^k C(k, m)), float64 (k+1, k+1): h^_m = sum_j W[m, j] g(k - 2j).

    Each entry is one correctly rounded division of exact integers (also beyond 2^1023); since
    |K_m(j)| <= C(k, m), every row has sum_j |W[m, j]| <= 1.
    """
    k = _check_k(k)
    K = krawtchouk_matrix(k)
    W = np.empty((k + 1, k + 1), dtype=np.float64)
    for m in range(k + 1):
        den = (1 << k) * math.comb(k, m)
        W[m] = [math.comb(k, j) * K[m, j] / den for j in range(k + 1)]
    return W


def _real_table(values, name: str, ndim: int) -> np.ndarray:
    g = np.asarray(values)
    if g.dtype == object or not (np.issubdtype(g.dtype, np.number) or g.dtype == bool) or np.iscomplexobj(g):
        raise TypeError(f"{name} must be a real numeric array; got dtype {g.dtype}.")
    if g.ndim != ndim or min(g.shape) < 1:
        want = "1-D of length k+1 >= 1" if ndim == 1 else "2-D of shape (k1+1, k2+1)"
        raise ValueError(f"{name} must be {want}; got shape {g.shape}.")
    g = g.astype(np.float64)
    if not np.isfinite(g).all():
        i = tuple(int(t) for t in np.argwhere(~np.isfinite(g))[0])
        raise ValueError(f"{name} must be finite (no NaN/inf); got {g[i].item()!r} at index {i if ndim > 1 else i[0]}.")
    return g


def fourier_by_degree(values_by_j) -> np.ndarray:
    """Coefficients h^_m, m = 0..k, of h(x) = g(sum_{i in S} x_i) from values_by_j[j] = g(k - 2j).

    values_by_j: real (k+1,), j = number of -1 entries among x_S. Returns float64 (k+1,);
    entry m is the coefficient of chi_A for every A subset of S with |A| = m. Binomials and
    Krawtchouk numbers are exact integers and each weight (:func:`degree_weights`) is one correctly
    rounded division of exact integers; the sum over j is in float64, so the error is
    ~ (k + 1) * 1e-16 * max|g|.
    """
    g = _real_table(values_by_j, "values_by_j", 1)
    return degree_weights(g.shape[0] - 1) @ g


def fourier_two_block(values) -> np.ndarray:
    """Coefficients of h(x) = G(sum_{i in B1} x_i, sum_{i in B2} x_i) for two disjoint blocks.

    values: real (k1+1, k2+1), values[j1, j2] = G(k1 - 2 j1, k2 - 2 j2) (j1, j2 = number of -1
    entries in block 1, block 2). Returns float64 H of the same shape: H[m1, m2] is the coefficient
    of chi_A for every A with |A & B1| = m1, |A & B2| = m2 (and A inside B1 u B2). The uniform
    measure is a product over the blocks, so H = W1 G W2^T with W the one-block weights of
    :func:`degree_weights`. Used for population gradients of neurons whose weights are constant on
    the support and on its complement (the 2-stage simulation, docs/two_stage.md).
    """
    g = _real_table(values, "values", 2)
    return degree_weights(g.shape[0] - 1) @ g @ degree_weights(g.shape[1] - 1).T


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
