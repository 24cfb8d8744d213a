"""Tests for parity_theory.symmetric: the Krawtchouk formula against exact enumeration."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity_theory import fourier, symmetric
from parity_theory import strategies as pst


def enumerate_coefficients(values_by_j: np.ndarray, n: int, support: list[int]) -> np.ndarray:
    """All 2^n coefficients of h(x) = g(sum_{i in S} x_i), by building the truth table on the
    cube (Python loops) and transforming it."""
    k = len(support)
    table = np.empty(2**n)
    for b in range(2**n):
        j = sum((b >> i) & 1 for i in support)  # number of -1 entries among x_S
        table[b] = values_by_j[j]
    assert all(k - 2 * j == sum(-1 if (b >> i) & 1 else 1 for i in support)
               for b in range(min(2**n, 64)) for j in [sum((b >> i) & 1 for i in support)])
    return fourier.walsh_hadamard(table)


@given(st.integers(0, 10), st.integers(0, 2), pst.seeds())
def test_formula_matches_enumeration(k, extra, seed):
    rng = np.random.default_rng(seed)
    n = k + extra
    g = rng.uniform(-5, 5, size=k + 1)
    support = sorted(int(i) for i in rng.choice(n, size=k, replace=False)) if n else []
    h = symmetric.fourier_by_degree(g)
    assert h.shape == (k + 1,)
    coef = enumerate_coefficients(g, n, support)
    n_checked = 0
    for b in range(2**n):
        T = fourier.index_subset(b)
        expected = h[len(T)] if set(T) <= set(support) else 0.0
        assert abs(coef[b] - expected) < 1e-11, (T, coef[b], expected)
        n_checked += 1
    assert n_checked == 2**n


def test_relu_values_of_paper():
    """docs/paper.md §4: for ReLU(s + b), k = 6, h^_1 = 0.500 (b=0), 0.344 (b=-1), 0.1875 (b=-2),
    0.031 (b=-4). These are the coefficients of ReLU(s + b) itself (not normalised): the
    exact values are 1/2, 11/32, 3/16, 1/32."""
    stated = {0: 0.500, -1: 0.344, -2: 0.1875, -4: 0.031}
    for b, value in stated.items():
        h1 = symmetric.fourier_by_degree(symmetric.relu_values(6, b))[1]
        decimals = len(repr(value).split(".")[1])
        assert round(h1, decimals) == value, (b, h1, value)
    # and by enumeration on the 6-cube
    g = symmetric.relu_values(6, -1)
    coef = enumerate_coefficients(g, 6, list(range(6)))
    assert abs(coef[1] - 11 / 32) < 1e-12


def test_krawtchouk_generating_function_and_orthogonality():
    """sum_m K_m(j) z^m = (1 - z)^j (1 + z)^(k - j);  sum_j C(k,j) K_m(j) K_l(j) = 2^k C(k,m) [m=l]."""
    for k in range(0, 9):
        for j in range(k + 1):
            poly = np.polynomial.polynomial.polymul(
                np.polynomial.polynomial.polypow([1, -1], j), np.polynomial.polynomial.polypow([1, 1], k - j))
            got = [symmetric.krawtchouk(k, m, j) for m in range(k + 1)]
            np.testing.assert_array_equal(got, np.rint(poly).astype(int)[: k + 1])
        K = symmetric.krawtchouk_matrix(k)
        for m in range(k + 1):
            for l in range(k + 1):
                s = sum(math.comb(k, j) * K[m, j] * K[l, j] for j in range(k + 1))
                assert s == (2**k * math.comb(k, m) if m == l else 0)


def test_krawtchouk_matrix_recurrence_equals_the_defining_sum():
    """krawtchouk_matrix uses the three-term recurrence; krawtchouk is the defining sum."""
    n_checked = 0
    for k in range(0, 16):
        K = symmetric.krawtchouk_matrix(k)
        assert K.shape == (k + 1, k + 1)
        for m in range(k + 1):
            for j in range(k + 1):
                assert K[m, j] == symmetric.krawtchouk(k, m, j) and type(K[m, j]) is int, (k, m, j)
                n_checked += 1
    assert n_checked == sum((k + 1) ** 2 for k in range(16))


def test_large_k_constant_and_parity():
    """k = 300 (2^k beyond float range in intermediate weights; the defining sums would be O(k^3)):
    a constant has only h^_0, the parity (-1)^j only h^_k; error bound (k+1) 1e-16 max|g|."""
    k = 300
    h = symmetric.fourier_by_degree(np.full(k + 1, 2.5))
    np.testing.assert_allclose(h, np.r_[2.5, np.zeros(k)], atol=(k + 1) * 1e-15 * 2.5)
    h = symmetric.fourier_by_degree(np.array([(-1.0) ** j for j in range(k + 1)]))
    np.testing.assert_allclose(h, np.r_[np.zeros(k), 1.0], atol=(k + 1) * 1e-15)


def test_constant_and_parity_functions():
    k = 5
    np.testing.assert_allclose(symmetric.fourier_by_degree(np.full(k + 1, 2.5)), [2.5, 0, 0, 0, 0, 0], atol=1e-15)
    parity = np.array([(-1.0) ** j for j in range(k + 1)])  # chi_S = (-1)^j
    np.testing.assert_allclose(symmetric.fourier_by_degree(parity), [0, 0, 0, 0, 0, 1.0], atol=1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match=r"values_by_j must be finite.*nan.*index 1"):
        symmetric.fourier_by_degree([1.0, np.nan])
    with pytest.raises(ValueError, match=r"values_by_j must be 1-D of length k\+1 >= 1; got shape \(0,\)"):
        symmetric.fourier_by_degree([])
    with pytest.raises(ValueError, match=r"got shape \(2, 2\)"):
        symmetric.fourier_by_degree(np.ones((2, 2)))
    with pytest.raises(TypeError, match="values_by_j must be a real numeric array"):
        symmetric.fourier_by_degree(["a"])
    with pytest.raises(ValueError, match=r"m must be an int in \[0, 3\]; got 4."):
        symmetric.krawtchouk(3, 4, 0)
    with pytest.raises(ValueError, match=r"k must be an int >= 0; got -1."):
        symmetric.krawtchouk_matrix(-1)
    with pytest.raises(TypeError, match=r"k must be an int >= 0; got '3' \(str\)."):
        symmetric.krawtchouk_matrix("3")
    with pytest.raises(TypeError, match=r"m must be an int in \[0, 3\]; got 1.5."):
        symmetric.krawtchouk(3, 1.5, 0)
    with pytest.raises(ValueError, match=r"b must be a real number \(finite\); got nan."):
        symmetric.relu_values(3, float("nan"))
    with pytest.raises(TypeError, match=r"g must return a real number; g\(2\) failed"):
        symmetric.values_by_j(lambda s: "x", 2)


def test_exact_support_spectrum_matches_monte_carlo_twin_on_the_cube():
    """symmetric.support_spectrum (exact) == fourier.support_spectrum (estimator) on the full cube."""
    n, support = 7, [5, 0, 3, 6]
    g = np.random.default_rng(4).uniform(-1, 1, size=len(support) + 1)
    X = fourier.cube(n)
    f = g[(X[:, support] == -1).sum(axis=1)]
    est = fourier.support_spectrum(f, X, support)
    np.testing.assert_allclose(est.mean, symmetric.support_spectrum(g), atol=1e-12)
