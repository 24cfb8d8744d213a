"""curriculum.compare: paired speed-ups, bootstrap medians, the verdict rule, power-law fits."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curriculum.compare import fit_exponent, median_ci, paired_ratios, ratio_verdict


def test_paired_ratios_conventions_for_runs_that_never_reach():
    r = paired_ratios([100, math.inf, 300, math.inf], [50, 200, math.inf, math.inf])
    assert r.tolist() == [2.0, math.inf, 0.0, 1.0]
    with pytest.raises(ValueError, match="positive"):
        paired_ratios([0], [1])
    with pytest.raises(ValueError, match="one shape"):
        paired_ratios([1, 2], [1])


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.1, 100), min_size=1, max_size=15))
def test_median_ci_brackets_the_median(values):
    med, lo, hi = median_ci(values, np.random.default_rng(0), n_boot=300)
    assert med == pytest.approx(float(np.median(values)))
    assert lo <= med + 1e-12 and med <= hi + 1e-12
    assert min(values) <= lo and hi <= max(values)


def test_ratio_verdict_rule():
    assert ratio_verdict(1.2, 2.0) == "holds"
    assert ratio_verdict(0.5, 1.0) == "does not hold"
    assert ratio_verdict(0.9, 1.5) == "inconclusive"
    assert ratio_verdict(float("nan"), float("nan")) == "inconclusive"


@settings(max_examples=50, deadline=None)
@given(b=st.floats(-3, 3), a=st.floats(-5, 5))
def test_fit_exponent_recovers_an_exact_power_law(b, a):
    n = np.array([10.0, 20.0, 40.0, 80.0])
    slope, intercept = fit_exponent(n, np.exp(a) * n ** b)
    assert slope == pytest.approx(b, abs=1e-9) and intercept == pytest.approx(a, abs=1e-8)
    assert all(math.isnan(v) for v in fit_exponent([5, 5], [1, 2]))
