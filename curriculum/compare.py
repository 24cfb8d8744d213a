"""Paired comparisons and fits of run results (torch-free): speed-up ratios per seed, medians with
bootstrap intervals, the ratio verdict rule, power-law fits.

Used by every claim of ``paper_checks`` and by users comparing strategies from their own runs.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["paired_ratios", "median_ci", "ratio_verdict", "fit_exponent"]


def paired_ratios(baseline, method) -> np.ndarray:
    """Per-seed speed-up t95(baseline) / t95(method); inf/finite = inf, finite/inf = 0, inf/inf = 1
    (a tie: neither reached 95% within the budget, so no speed-up was observed).

    baseline, method: arrays of shape (S,) of steps (or samples) to 95%, +inf when not reached.
    """
    b = np.asarray(baseline, dtype=float)
    m = np.asarray(method, dtype=float)
    if b.shape != m.shape or b.ndim != 1:
        raise ValueError(f"paired_ratios needs two 1-D arrays of one shape; got {b.shape} and {m.shape}.")
    if np.any(b <= 0) or np.any(m <= 0):
        raise ValueError("paired_ratios needs positive step counts (t95 > 0).")
    with np.errstate(invalid="ignore", divide="ignore"):
        r = b / m
    r[np.isinf(b) & np.isinf(m)] = 1.0
    return r


def _median_with_inf(v: np.ndarray) -> float:
    v = np.sort(v[~np.isnan(v)])
    if v.size == 0:
        return float("nan")
    h = v.size // 2
    if v.size % 2:
        return float(v[h])
    return float(0.5 * (v[h - 1] + v[h]))  # inf-safe for non-negative values


def median_ci(values, rng: np.random.Generator, n_boot: int = 2000, level: float = 0.9) -> tuple[float, float, float]:
    """Median of ``values`` (nan left out, inf allowed) and a percentile-bootstrap interval over seeds.

    Returns (median, lo, hi); with fewer than 2 finite-or-inf values the interval is (median, median).
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    med = _median_with_inf(v)
    if v.size < 2:
        return med, med, med
    idx = rng.integers(0, v.size, size=(n_boot, v.size))
    boots = np.sort(v[idx], axis=1)
    # median of each resample (inf-safe: use the lower/upper middle then combine)
    h = v.size // 2
    if v.size % 2:
        meds = boots[:, h]
    else:
        meds = 0.5 * (boots[:, h - 1] + boots[:, h])
    alpha = (1.0 - level) / 2.0
    lo = float(np.quantile(meds, alpha, method="lower"))
    hi = float(np.quantile(meds, 1.0 - alpha, method="higher"))
    return med, lo, hi


def ratio_verdict(lo: float, med: float, threshold: float = 1.0) -> str:
    """'holds' when the interval's lower end is above threshold, 'does not hold' when the median is
    at or below it, else 'inconclusive'."""
    if math.isnan(med):
        return "inconclusive"
    if lo > threshold:
        return "holds"
    if med <= threshold:
        return "does not hold"
    return "inconclusive"


def fit_exponent(n, samples) -> tuple[float, float]:
    """Least-squares slope b and intercept a of log(samples) = a + b log(n). n, samples: (P,) positive."""
    ln = np.log(np.asarray(n, dtype=float))
    ls = np.log(np.asarray(samples, dtype=float))
    if ln.size < 2 or np.ptp(ln) == 0:
        return float("nan"), float("nan")
    b, a = np.polyfit(ln, ls, 1)
    return float(b), float(a)
