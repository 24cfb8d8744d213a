"""Tests for parity_theory.stats: tolerances hold at their stated false-alarm rates."""
from __future__ import annotations

import math

import numpy as np
import pytest

from parity_theory.stats import Estimate, clt_tol, hoeffding_tol, noise_floor, required_samples


def test_hoeffding_tol_solves_the_bound():
    """2 n_checks exp(-2 m t^2 / range^2) = delta at t = hoeffding_tol."""
    for m, n_checks, delta, rng_ in [(100, 1, 0.05, (-1, 1)), (10_000, 500, 1e-6, (0, 1)), (7, 3, 0.5, (-2, 5))]:
        t = hoeffding_tol(m, n_checks, delta, value_range=rng_)
        width = rng_[1] - rng_[0]
        assert math.isclose(2 * n_checks * math.exp(-2 * m * t**2 / width**2), delta, rel_tol=1e-9)
    assert hoeffding_tol(400) == pytest.approx(hoeffding_tol(100) / 2)
    assert hoeffding_tol(100, n_checks=10) > hoeffding_tol(100, n_checks=1)
    assert hoeffding_tol(100, value_range=(0, 1)) == pytest.approx(hoeffding_tol(100) / 2)


def test_hoeffding_coverage_monte_carlo():
    """Means of m = 50 Rademacher variables leave [-t, t] (delta = 0.05) in at most a fraction
    delta of 20000 repetitions (plus a Hoeffding tolerance for the fraction, delta' = 1e-6)."""
    rng = np.random.default_rng(11)
    reps, m, delta = 20_000, 50, 0.05
    means = (2 * rng.integers(0, 2, size=(reps, m)) - 1).mean(axis=1)
    t = hoeffding_tol(m, 1, delta)
    frac = np.mean(np.abs(means) >= t)
    assert frac <= delta + hoeffding_tol(reps, 1, 1e-6, value_range=(0, 1))


def test_clt_tol_known_quantiles():
    assert clt_tol(1.0, 1, 0.05) == pytest.approx(1.959964, abs=1e-6)
    assert clt_tol(2.0, 10, 0.05) == pytest.approx(2 * 2.807034, abs=1e-5)  # z_{1 - 0.0025}
    np.testing.assert_allclose(clt_tol(np.array([0.0, 1.0]), 1, 0.05), [0.0, 1.959964], atol=1e-6)


def test_noise_floor_matches_simulation():
    """A zero coefficient: f = 1/2 constant (E f^2 = 1/4), chi_T(x) uniform +-1.
    The mean |estimate| over 4000 repetitions (m = 400) agrees with noise_floor within a CLT
    tolerance (delta 1e-6; |est| <= 1/2 so its sd <= 0.25); the 0.9 quantile is exceeded by
    about 10% (Hoeffding, delta 1e-6)."""
    rng = np.random.default_rng(12)
    reps, m = 4000, 400
    est = np.abs(0.5 * (2 * rng.integers(0, 2, size=(reps, m)) - 1).mean(axis=1))
    floor = noise_floor(m, second_moment=0.25)
    assert floor == pytest.approx(0.5 * math.sqrt(2 / (math.pi * m)))
    assert abs(est.mean() - floor) <= clt_tol(est.std(ddof=1) / math.sqrt(reps), 1, 1e-6) + 1e-4  # +lattice bias
    q90 = noise_floor(m, second_moment=0.25, quantile=0.9)
    exceed = np.mean(est > q90)
    assert abs(exceed - 0.1) <= hoeffding_tol(reps, 1, 1e-6, value_range=(0, 1)) + 0.02  # lattice of |est|


def test_required_samples_is_minimal():
    for rho, d in [(0.1, 100), (0.05, 1), (0.3, 5000)]:
        m = required_samples(rho, d, 1e-3)
        assert hoeffding_tol(m, d, 1e-3) <= rho / 2 < hoeffding_tol(max(1, m - 1), d, 1e-3)
        assert m == pytest.approx(8 / rho**2 * math.log(2 * d / 1e-3), rel=1e-3, abs=1)  # docs/paper.md §4 form


def test_estimate_helpers():
    e = Estimate(mean=np.array([0.1, -0.2, 0.3]), stderr=np.array([0.1, 0.1, 0.0]))
    assert len(e) == 3
    sub = e[1:]
    np.testing.assert_array_equal(sub.mean, [-0.2, 0.3])
    np.testing.assert_allclose(e.z[:2], [1.0, -2.0])
    assert np.isinf(e.z[2])
    lo, hi = e.interval(1, 0.05)
    np.testing.assert_allclose(hi - lo, 2 * 1.959964 * e.stderr, atol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match=r"m must be a positive int; got 0"):
        hoeffding_tol(0)
    with pytest.raises(TypeError, match=r"m must be a positive int; got 1.5"):
        hoeffding_tol(1.5)
    with pytest.raises(ValueError, match=r"delta must be a real number in \(0.0, 1.0\); got 0.0."):
        hoeffding_tol(10, delta=0)
    with pytest.raises(ValueError, match=r"value_range must be finite with lo < hi; got \(1, 1\)"):
        hoeffding_tol(10, value_range=(1, 1))
    with pytest.raises(ValueError, match=r"n_checks must be a positive int; got 0"):
        clt_tol(0.1, n_checks=0)
    with pytest.raises(ValueError, match="stderr must be >= 0"):
        clt_tol(-0.1)
    with pytest.raises(ValueError, match=r"quantile must be a real number in \(0.0, 1.0\); got 1.0."):
        noise_floor(10, quantile=1.0)
    with pytest.raises(ValueError, match=r"second_moment must be a real number >= 0.0 \(finite\); got nan."):
        noise_floor(10, second_moment=float("nan"))
    with pytest.raises(ValueError, match=r"rho must be a real number > 0.0; got 0.0."):
        required_samples(0)
    with pytest.raises(TypeError, match=r"delta must be a real number in \(0.0, 1.0\); got '0.1' \(str\)."):
        hoeffding_tol(10, delta="0.1")
    with pytest.raises(ValueError, match=r"delta must be a real number in \(0.0, 1.0\) \(finite\); got nan."):
        clt_tol(0.1, delta=float("nan"))
    with pytest.raises(ValueError, match=r"value_range must be finite with lo < hi; got \(1, -1\)"):
        required_samples(0.1, value_range=(1, -1))  # was silently accepted ((hi - lo)^2 > 0)
