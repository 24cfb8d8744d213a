"""The paper's theorem in the bounds catalog: statuses, citations with the quote, both readings of the
garbled one-shot term, and the bounds claim's verdict rule."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_theory import bounds
from parity_theory.bounds.catalog import REVIEW_QUOTE

PAPER_BOUNDS = ("paper_progressive", "paper_one_shot", "paper_one_shot_min", "paper_one_shot_max")


def test_statuses_follow_what_is_known():
    assert bounds.get("paper_progressive").status == "quoted-secondary"
    assert bounds.get("paper_one_shot_min").status == "quoted-ambiguous"
    assert bounds.get("paper_one_shot_max").status == "quoted-ambiguous"
    assert bounds.get("paper_one_shot").status == "interpretation"
    for st_ in ("quoted-secondary", "quoted-ambiguous", "interpretation"):
        assert st_ in bounds.STATUSES


def test_citations_carry_the_quote_and_its_source():
    assert "2 checkpoints" in REVIEW_QUOTE and "\u03a9(d^k\u22121, \u03f5^\u22122)" in REVIEW_QUOTE
    for name in ("paper_progressive", "paper_one_shot_min", "paper_one_shot_max"):
        b = bounds.get(name)
        assert REVIEW_QUOTE in b.citation, name
        assert "wPMRwmytZe" in b.citation and "Theorem 3.2" in b.citation and "review" in b.citation, name
    for name in PAPER_BOUNDS:  # hypotheses are said to be unknown, not invented
        assert "Hypotheses: UNKNOWN" in bounds.get(name).doc, name
    assert "interpretation" in bounds.get("paper_one_shot").citation
    assert "max reading" in bounds.get("paper_one_shot").doc.lower() or "MAX reading" in bounds.get("paper_one_shot").doc


def test_no_ce_bound_is_presented_as_the_papers():
    for name in PAPER_BOUNDS:
        b = bounds.get(name)
        algo = b.algorithm.lower()
        assert "/ ce" not in algo and "or ce" not in algo and "(or ce)" not in algo, (name, b.algorithm)
        if b.direction == "lower":
            assert "not ce" in algo, (name, b.algorithm)


def test_both_readings_evaluate_as_documented():
    mn, mx = bounds.get("paper_one_shot_min"), bounds.get("paper_one_shot_max")
    # d = 100, k = 6, eps = 0.01: d^5 = 1e10, eps^-2 = 1e4
    assert mn.evaluate(d=100, k=6, eps=0.01) == pytest.approx(1e4, rel=1e-12)
    assert mx.evaluate(d=100, k=6, eps=0.01) == pytest.approx(1e10, rel=1e-12)
    # d = 10, k = 3, eps = 0.5: d^2 = 100, eps^-2 = 4
    assert mn.evaluate(d=10, k=3, eps=0.5) == pytest.approx(4.0, rel=1e-12)
    assert mx.evaluate(d=10, k=3, eps=0.5) == pytest.approx(100.0, rel=1e-12)
    assert mx.evaluate(d=10, k=3, eps=0.5, C_one=3) == pytest.approx(300.0, rel=1e-12)
    # exponents of d: the min reading saturates at eps^-2 (degree 0); the max reading has degree k - 1
    assert mn.exponent_in("d") == 0
    assert mx.exponent_in("d") == bounds.SYMBOLS["k"] - 1
    grid = dict(d=np.array([4, 10, 100, 1000]), k=np.array([2, 3, 6, 6]), eps=np.array([0.3, 0.5, 0.01, 1e-3]))
    for b in (mn, mx):
        want = [b.evaluate(d=int(d), k=int(k), eps=float(e)) for d, k, e in zip(*grid.values())]
        assert np.allclose(b.evaluate_grid(**grid), want, rtol=1e-12)


@settings(max_examples=60, deadline=None)
@given(d=st.integers(2, 5000), k_frac=st.floats(0, 1), eps=st.floats(1e-4, 0.99))
def test_readings_bracket_the_calculators_one_shot_form(d, k_frac, eps):
    k = 1 + int(k_frac * (min(d, 8) - 1))
    mn = bounds.get("paper_one_shot_min").evaluate(d=d, k=k, eps=eps)
    mx = bounds.get("paper_one_shot_max").evaluate(d=d, k=k, eps=eps)
    plain = bounds.get("paper_one_shot").evaluate(d=d, k=k)  # c = oo: d^(k-1)
    prog = bounds.get("paper_progressive").evaluate(d=d, k=k, eps=eps)
    power, inv = float(d) ** (k - 1), eps ** -2
    assert mn <= plain * (1 + 1e-12) and plain <= mx * (1 + 1e-12)  # max reading implies the plain form
    assert math.isclose(mn, min(power, inv), rel_tol=1e-9) and math.isclose(mx, max(power, inv), rel_tol=1e-9)
    if power <= inv:  # the min reading agrees with the plain form exactly where d^(k-1) <= eps^-2
        assert math.isclose(mn, plain, rel_tol=1e-9)
    assert mn < prog  # the min reading never separates: <= eps^-2 < 2^k d^2 eps^-2


def test_crossovers_of_the_two_readings():
    mx = bounds.crossover("paper_progressive", "paper_one_shot_max", var="d", k=6, eps=0.01)
    assert mx.value == 87  # 2^6 d^2 1e4 + 216 <= d^5 first at d = 87 (86^5 = 4.70e9 < 4.73e9)
    assert mx.value == bounds.crossover("paper_progressive", "paper_one_shot", var="d", k=6, eps=0.01).value
    assert bounds.crossover("paper_progressive", "paper_one_shot_min", var="d", k=6, eps=0.01).value is None
    assert bounds.speedup_exponent("paper_progressive", "paper_one_shot_max", "d", k=6) == 3


def test_bounds_claim_verdict_rule():
    from paper_checks.check_bounds import main, reading_summary, verdict_from

    q = ["quoted-secondary", "quoted-ambiguous", "quoted-ambiguous"]
    assert verdict_from([True, True], q) == "holds"
    assert verdict_from([False, False], q) == "does not hold"
    assert verdict_from([True, False], q) == "inconclusive"
    assert verdict_from([True, True], q + ["interpretation"]) == "inconclusive"
    assert verdict_from([True, True], ["recalled"]) == "inconclusive"
    assert reading_summary("paper_one_shot_max")["separates"] is True
    assert reading_summary("paper_one_shot_min")["separates"] is False
    (r,) = main(["--no-progress"])
    assert r.verdict == "inconclusive"
    assert r.details["crossover_d_max"] == 87 and r.details["crossover_d_min"] is None
    assert "Cannot be concluded" in r.notes and "CE" in r.notes


def test_cli_footer_names_what_is_not_verified(capsys):
    assert bounds.cli_main(["--d", "100", "--k", "6", "--eps", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "quoted-ambiguous (paper_one_shot_min, paper_one_shot_max)" in out
    assert "interpretation (paper_one_shot)" in out
