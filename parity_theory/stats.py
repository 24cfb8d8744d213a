"""Estimates with standard errors, concentration tolerances and noise floors.

* :class:`Estimate` (mean, stderr) — the shared return type of every Monte Carlo estimator;
* :func:`hoeffding_tol` — distribution-free tolerance for a mean of bounded values;
* :func:`clt_tol` — normal-approximation tolerance from a standard error;
* :func:`noise_floor` — the typical |estimate| of a zero Fourier coefficient from m samples.

All tolerances are two-sided and take a union bound over ``n_checks`` simultaneous checks, so
"all n_checks estimates lie within tol of the truth" fails with probability at most ``delta``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .validation import check_float, check_int

__all__ = ["Estimate", "hoeffding_tol", "clt_tol", "noise_floor", "required_samples"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``mean`` and its standard error ``stderr`` (same shapes)."""

    mean: np.ndarray
    stderr: np.ndarray

    def __len__(self) -> int:
        return len(self.mean)

    def __getitem__(self, idx) -> "Estimate":
        """Sub-estimate, e.g. ``est[1:4]`` or ``est[mask]``."""
        return Estimate(mean=np.asarray(self.mean)[idx], stderr=np.asarray(self.stderr)[idx])

    @property
    def z(self) -> np.ndarray:
        """mean / stderr (z-scores; +-inf where stderr = 0 and mean != 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.mean) / np.asarray(self.stderr)

    def interval(self, n_checks: int = 1, delta: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) = mean -+ clt_tol(stderr, n_checks, delta): simultaneous normal-approximation bands."""
        tol = clt_tol(self.stderr, n_checks, delta)
        return np.asarray(self.mean) - tol, np.asarray(self.mean) + tol


def _check_delta(delta) -> float:
    return check_float(delta, "delta", lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def _check_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise TypeError(f"value_range must be a pair (lo, hi) of reals; got {value_range!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
        raise ValueError(f"value_range must be finite with lo < hi; got {value_range!r}.")
    return lo, hi


def hoeffding_tol(m: int, n_checks: int = 1, delta: float = 1e-6,
                  value_range: tuple[float, float] = (-1.0, 1.0)) -> float:
    """Two-sided Hoeffding tolerance for the mean of m iid values in [lo, hi], union over n_checks.

    P(|mean - E| >= t) <= 2 exp(-2 m t^2 / (hi - lo)^2)  =>
    t = (hi - lo) * sqrt(ln(2 n_checks / delta) / (2 m)).
    Default range [-1, 1]: products f(x) chi_T(x) with f in [0, 1] or [-1, 1].
    """
    m = check_int(m, "m")
    n_checks = check_int(n_checks, "n_checks")
    delta = _check_delta(delta)
    lo, hi = _check_range(value_range)
    return (hi - lo) * math.sqrt(math.log(2.0 * n_checks / delta) / (2.0 * m))


def clt_tol(stderr, n_checks: int = 1, delta: float = 1e-6):
    """Normal-approximation tolerance z * stderr with z = Phi^-1(1 - delta / (2 n_checks)).

    Valid for large m (CLT); prefer :func:`hoeffding_tol` for small m or heavy tails.
    Returns an array shaped like ``stderr`` (a float for a scalar).
    """
    n_checks = check_int(n_checks, "n_checks")
    delta = _check_delta(delta)
    z = NormalDist().inv_cdf(1.0 - delta / (2.0 * n_checks))
    se = np.asarray(stderr, dtype=np.float64)
    if np.any(se < 0) or np.any(np.isnan(se)):
        raise ValueError(f"stderr must be >= 0 and not NaN; got {stderr!r}.")
    out = z * se
    return float(out) if out.ndim == 0 else out


def noise_floor(m: int, second_moment: float = 0.25, quantile: float | None = None) -> float:
    """Typical |estimate| of a Fourier coefficient that is exactly 0, from m samples.

    The estimate (1/m) sum f(x_s) chi_T(x_s) is then approximately N(0, E[f^2] / m), since
    chi_T^2 = 1. Returns E|N(0, s^2)| = s sqrt(2/pi) with s = sqrt(second_moment / m), or, with
    ``quantile`` q in (0, 1), the q-quantile of |N(0, s^2)|, s * Phi^-1((1 + q) / 2).
    ``second_moment`` = E[f^2]: 0.25 for outputs near 1/2 (a teacher at chance), 0.5 for a perfect
    {0,1} teacher, at most 1 for any output in [0, 1] or [-1, 1].
    Example: m = 1e5, E[f^2] = 0.25 -> mean 1.26e-3; the 0.999 quantile is 5.2e-3.
    """
    m = check_int(m, "m")
    second_moment = check_float(second_moment, "second_moment", lo=0.0)
    s = math.sqrt(second_moment / m)
    if quantile is None:
        return s * math.sqrt(2.0 / math.pi)
    quantile = check_float(quantile, "quantile", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    return s * NormalDist().inv_cdf((1.0 + quantile) / 2.0)


def required_samples(rho: float, n_checks: int = 1, delta: float = 1e-6,
                     value_range: tuple[float, float] = (-1.0, 1.0)) -> int:
    """Smallest m with hoeffding_tol(m, n_checks, delta, value_range) <= rho / 2.

    With that m, thresholding at rho / 2 separates all coefficients >= rho from zeros
    (docs/paper.md §4: N >= (8 / rho^2) ln(2 d / delta) for range [-1, 1] and d checks).
    """
    rho = check_float(rho, "rho", lo=0.0, lo_open=True)
    n_checks = check_int(n_checks, "n_checks")
    delta = _check_delta(delta)
    lo, hi = _check_range(value_range)
    m = math.ceil((hi - lo) ** 2 * math.log(2.0 * n_checks / delta) / (2.0 * (rho / 2.0) ** 2))
    return max(1, m)
