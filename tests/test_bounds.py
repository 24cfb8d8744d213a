"""Tests for parity_theory.bounds: hand values, properties, simulations of the proved-here bounds, CLI."""
from __future__ import annotations

import contextlib
import math
import signal
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from parity_theory import bounds

FALSE_ALARM = 1e-6  # per statistical assertion


# --------------------------------------------------------------------------------------------
# hand-computed values
# --------------------------------------------------------------------------------------------
def test_hand_values():
    # log2 C(100, 6) = log2(1,192,052,400) = 30.150...
    assert bounds.get("info_theoretic").evaluate(d=100, k=6) == pytest.approx(30.15, abs=0.005)
    # 800 ln(2*100/0.01) = 800 ln(20000) = 800 * 9.90349 = 7922.79
    assert bounds.get("support_recovery").evaluate(d=100, j=1, rho=0.1, delta=0.01) == pytest.approx(7922.79, abs=0.01)
    # [-1,1] outputs with B = 1 and the same coefficient: same number; centred [0,1] (B = 1/2): a quarter
    assert bounds.get("support_recovery").evaluate(d=100, j=1, rho=0.1, delta=0.01, B=0.5) == pytest.approx(1980.70, abs=0.01)
    # 64 * 100^2 / 0.01^2 + 6^3 = 6.4e9 + 216 ; 100^5 = 1e10
    assert bounds.get("paper_progressive").evaluate(d=100, k=6, eps=0.01) == pytest.approx(6.4e9 + 216, rel=1e-12)
    assert bounds.get("paper_one_shot").evaluate(d=100, k=6) == pytest.approx(1e10, rel=1e-12)
    # refined one-shot with residual correlation d^-1: d^min(2, 5) = 1e4
    assert bounds.get("paper_one_shot").evaluate(d=100, k=6, c=1) == pytest.approx(1e4, rel=1e-12)
    # C(100, 6) tau^2 = 1,192,052,400 * 0.01
    assert bounds.get("sq_lower").evaluate(d=100, k=6, tau=0.1) == pytest.approx(11920524.0, rel=1e-12)
    # covering: p = C(10, 2) / C(12, 4) = 45 / 495 ; ln(20) / p = 32.95
    assert bounds.get("edelman2023").evaluate(d=12, k=2, s=4, delta=0.05) == pytest.approx(math.log(20) * 11, rel=1e-12)
    # leap default = k: d^max(6, 2) = 1e12 ; an explicit leap 1 gives d^2
    assert bounds.get("leap").evaluate(d=100, k=6) == pytest.approx(1e12, rel=1e-12)
    assert bounds.get("leap").evaluate(d=100, leap=1) == pytest.approx(1e4, rel=1e-12)
    # hidden constants enter as stated
    assert bounds.get("kou2024").evaluate(d=100, k=6, C_kou=3, a_log=1) == pytest.approx(3e10 * math.log(100), rel=1e-12)


def test_gaussian_elimination_hand_values():
    ge = bounds.get("gaussian_elimination")
    assert ge.evaluate(d=1, delta=0.01) == 7  # 2^-7 = 0.0078 <= 0.01 < 2^-6
    # d = 2: P(3) = 7/8 * 3/4 = 21/32 < 3/4 <= P(4) = 15/16 * 7/8 = 105/128
    assert ge.evaluate(d=2, delta=0.25) == 4
    assert bounds.gf2_span_probability(3, 2) == Fraction(21, 32)
    assert bounds.gf2_span_probability(4, 2) == Fraction(105, 128)
    assert bounds.gf2_span_probability(1, 2) == 0
    # exact tie: d = 1, delta = 1/2: P(1) = 1/2 = 1 - delta -> N = 1
    assert ge.evaluate(d=1, delta=0.5) == 1


def _brute_force_ge(d: int, delta: Fraction) -> int:
    n = d
    while True:
        p = Fraction(1)
        for i in range(d):
            p *= 1 - Fraction(1, 2 ** (n - i))
        if p >= 1 - delta:
            return n
        n += 1


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 13])
@pytest.mark.parametrize("delta", ["0.5", "0.25", "0.3", "0.1", "0.01", "0.001", "0.0078125", "1e-300"])
def test_gaussian_elimination_matches_brute_force(d, delta):
    ge = bounds.get("gaussian_elimination")
    assert ge.evaluate(d=d, delta=float(delta)) == _brute_force_ge(d, Fraction(delta))
    assert ge.evaluate_grid(d=np.array([d]), delta=np.array([float(delta)]))[0] == _brute_force_ge(d, Fraction(delta))


def test_gaussian_elimination_large_d():
    ge = bounds.get("gaussian_elimination")
    n = ge.evaluate(d=10**6, delta=0.01)
    t = 7  # ceil(log2(100))
    assert n in (10**6 - 1 + t, 10**6 + t)
    # for large d, P(N) -> prod_{m >= a} (1 - 2^-m) with a = N - d + 1; decide with that limit
    lim = math.prod(1 - 2.0 ** -mm for mm in range(t, 200))
    assert n == (10**6 - 1 + t if lim >= 0.99 else 10**6 + t)
    # big integers stay exact: delta = 1/2, d = 2^62 + 1: P(d) ~ 0.289 < 1/2, and at N = d + 1 the
    # failure probability is < sum_{m >= 2} 2^-m = 1/2, so N* = 2^62 + 2
    assert ge.evaluate_exact(d=2**62 + 1, delta=0.5) == 2**62 + 2


@contextlib.contextmanager
def _time_limit(seconds: int):
    """Fail (instead of hanging the suite) if the block runs longer than ``seconds`` (SIGALRM)."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def test_gaussian_elimination_tiny_delta_large_d_is_fast():
    """delta = 1e-300 at d = 10^5: the failure probability ~ 2^-(N-d) is compared relative to
    delta, so no exact d-term big-integer product is formed (it took minutes). Answer: N0 or N0 + 1,
    N0 = d - 1 + t, t = ceil(log2(1e300)) = 997; which one is decided by the limit
    1 - prod_{m >= a} (1 - 2^-m) ~ 2^-(a-1) vs 1e-300, a = N - d + 1 (2^-996 = 1.5e-300 > 1e-300)."""
    ge = bounds.get("gaussian_elimination")
    with _time_limit(20):
        assert ge.evaluate(d=10**5, delta=1e-300) == 10**5 + 997
        assert ge.evaluate_grid(d=np.array([10**5]), delta=np.array([1e-300]))[0] == 10**5 + 997


def test_gf2_span_probability_refuses_sizes_it_cannot_finish():
    with pytest.raises(ValueError, match=r"N=10000000, d=10000000 has a \d+-bit denominator.*limited to"):
        bounds.gf2_span_probability(10**7, 10**7)


def _gf2_rank(x: np.ndarray) -> np.ndarray:
    """Ranks over GF(2) of a batch of 0/1 matrices, shape (T, N, d) -> (T,)."""
    x = x.astype(bool).copy()
    t_, n_, d_ = x.shape
    used = np.zeros((t_, n_), dtype=bool)
    rank = np.zeros(t_, dtype=np.int64)
    ar = np.arange(t_)
    for col in range(d_):
        cand = x[:, :, col] & ~used
        has = cand.any(axis=1)
        piv = cand.argmax(axis=1)
        prow = x[ar, piv]  # (T, d)
        mask = x[:, :, col] & has[:, None]
        mask[ar, piv] = False
        x ^= mask[:, :, None] & prow[:, None, :]
        used[ar[has], piv[has]] = True
        rank += has
    return rank


def test_gf2_rank_helper_on_known_matrices():
    eye = np.eye(4, dtype=np.uint8)[None]
    dup = np.array([[[1, 1, 0], [1, 1, 0], [0, 0, 1]]], dtype=np.uint8)
    xor = np.array([[[1, 1, 0], [0, 1, 1], [1, 0, 1]]], dtype=np.uint8)  # row3 = row1 + row2
    assert _gf2_rank(eye)[0] == 4 and _gf2_rank(dup)[0] == 2 and _gf2_rank(xor)[0] == 2


def test_gf2_span_probability_matches_simulation():
    rng = np.random.default_rng(1234)
    d, trials = 5, 20000
    ns = [5, 6, 8, 10]
    tol = math.sqrt(math.log(2 * len(ns) / FALSE_ALARM) / (2 * trials))  # Hoeffding, union over the N's
    for n in ns:
        x = rng.integers(0, 2, size=(trials, n, d), dtype=np.uint8)
        emp = float((_gf2_rank(x) == d).mean())
        exact = float(bounds.gf2_span_probability(n, d))
        assert abs(emp - exact) <= tol, (n, emp, exact, tol)
    # at the bound's N*, elimination recovers S (rank d) in >= 1 - delta of trials
    dl = 0.1
    n_star = int(bounds.get("gaussian_elimination").evaluate(d=6, delta=dl))
    x = rng.integers(0, 2, size=(trials, n_star, 6), dtype=np.uint8)
    fails = int((_gf2_rank(x) < 6).sum())
    assert fails <= binom.ppf(1 - FALSE_ALARM, trials, dl), (n_star, fails)
    x = rng.integers(0, 2, size=(trials, n_star - 2, 6), dtype=np.uint8)
    assert (_gf2_rank(x) < 6).mean() > dl  # two samples fewer: fails too often (exact P = 0.61)


# --------------------------------------------------------------------------------------------
# proved-here: support recovery in simulation
# --------------------------------------------------------------------------------------------
def _recovery_trials(rng, n, trials, d, support, rho, j, outputs):
    """Fraction of trials in which thresholding degree-j correlations at (coef)/2 recovers the family.

    f has conditional mean mu(x) = 1/2 + rho * sum_{A subset S, |A| = j} chi_A(x) in [0, 1]; so
    E[y chi_T] = rho on the family, 0 on all other degree-j T. outputs: "01" y in {0,1};
    "pm1" y in {-1,+1} (coefficient 2 rho); "01c" y - 1/2 in {-1/2, 1/2} (coefficient rho).
    """
    import itertools

    fam = [tuple(a) for a in itertools.combinations(sorted(support), j)]
    coef = 2 * rho if outputs == "pm1" else rho
    allsets = [tuple(a) for a in itertools.combinations(range(d), j)]
    cols = np.array(allsets)  # (C(d, j), j)
    ok = 0
    for _ in range(trials):
        x = (2 * rng.integers(0, 2, size=(n, d), dtype=np.int8) - 1).astype(np.float32)
        mu = 0.5 + rho * sum(np.prod(x[:, list(a)], axis=1) for a in fam)
        y = (rng.random(n) < mu).astype(np.float32)
        if outputs == "pm1":
            y = 2 * y - 1
        elif outputs == "01c":
            y = y - 0.5
        corr = np.prod(x[:, cols], axis=2).T @ y / n  # (C(d, j),) empirical E[y chi_T], every |T| = j
        found = {allsets[i] for i in np.flatnonzero(np.abs(corr) > coef / 2)}
        ok += found == set(fam)
    return ok


@pytest.mark.parametrize(
    "outputs,j,B",
    [("01", 1, 1.0), ("pm1", 1, 1.0), ("01c", 1, 0.5), ("01", 2, 1.0)],
)
def test_support_recovery_holds_in_simulation(outputs, j, B):
    rng = np.random.default_rng(2024 + j)
    d, support, rho, dl, trials = (20 if j == 1 else 12), [3, 7, 11], 0.1, 0.05, 200
    coef = 2 * rho if outputs == "pm1" else rho
    n = math.ceil(bounds.get("support_recovery").evaluate(d=d, j=j, rho=coef, delta=dl, B=B))
    ok = _recovery_trials(rng, n, trials, d, support, rho, j, outputs)
    # H0 (the bound is true): failures ~ Bin(trials, p <= delta); reject at false-alarm 1e-6
    assert trials - ok <= binom.ppf(1 - FALSE_ALARM, trials, dl), (n, ok)
    # well below the bound the same procedure clearly fails
    ok_small = _recovery_trials(rng, max(n // 50, 2), trials, d, support, rho, j, outputs)
    assert ok_small <= trials // 2, (n // 50, ok_small)


def test_edelman_width_covering_holds_in_simulation():
    rng = np.random.default_rng(7)
    d, k, s, dl, trials = 12, 2, 4, 0.05, 4000
    mm = math.ceil(bounds.get("edelman2023").evaluate(d=d, k=k, s=s, delta=dl))  # 33

    def covered_fraction(width):
        u = rng.random((trials, width, d))
        rank = u.argsort(axis=2).argsort(axis=2)  # position of each coordinate in a random order
        covers = (rank[:, :, :k] < s).all(axis=2)  # S = {0, .., k-1} inside the neuron's first s
        return covers.any(axis=1)

    fails = int((~covered_fraction(mm)).sum())
    assert fails <= binom.ppf(1 - FALSE_ALARM, trials, dl), (mm, fails)
    assert covered_fraction(max(mm // 20, 1)).mean() <= 0.5


# --------------------------------------------------------------------------------------------
# properties (hypothesis)
# --------------------------------------------------------------------------------------------
@st.composite
def points(draw, dmin=4, dmax=400):
    d = draw(st.integers(dmin, dmax))
    k = draw(st.integers(1, min(math.isqrt(d), 8)))
    return {
        "d": d,
        "k": k,
        "j": draw(st.integers(1, min(d, 3))),
        "s": draw(st.integers(k, min(d, k + 10))),
        "leap": draw(st.integers(1, min(d, 8))),
        "eps": draw(st.floats(1e-4, 0.99)),
        "delta": draw(st.floats(1e-6, 0.99)),
        "rho": draw(st.floats(1e-3, 1.0)),
        "tau": draw(st.floats(1e-3, 1.0)),
        "c": draw(st.floats(0.05, 10.0)),
        "a_log": draw(st.sampled_from([0.0, 1.0, 2.0])),
    }


def _at(b, p):
    return {x: v for x, v in p.items() if x in b.symbols}


def test_declared_monotonicity_matches_the_statements():
    expected = {
        "paper_progressive": {"d": 1, "eps": -1},
        "support_recovery": {"d": 1, "delta": -1, "rho": -1},
        "gaussian_elimination": {"d": 1, "delta": -1},
        "info_theoretic": {"d": 1},
        "sq_lower": {"d": 1},
        "kou2024": {"d": 1},
        "edelman2023": {"d": 1, "delta": -1},
    }
    for name, mono in expected.items():
        assert mono.items() <= dict(bounds.get(name).monotone).items(), name


@settings(max_examples=30)
@given(p=points(), bump=st.integers(1, 60), shrink=st.floats(0.01, 0.99))
def test_monotone_where_stated(p, bump, shrink):
    n_checked = 0
    for b in bounds.all():
        for var, sign in b.monotone.items():
            if var not in ("d", "eps", "delta", "rho"):
                continue
            q = dict(p)
            if var == "d":
                q["d"] = p["d"] + bump  # larger d keeps every condition (k <= sqrt(d), s <= d, ...)
                lo, hi = b.evaluate(**_at(b, p)), b.evaluate(**_at(b, q))
            else:
                q[var] = p[var] * shrink  # smaller eps / delta / rho = larger 1/var
                lo, hi = b.evaluate(**_at(b, p)), b.evaluate(**_at(b, q))
                sign = -sign
            assert sign == 1
            assert hi >= lo * (1 - 1e-12), (b.name, var, p, q, lo, hi)
            n_checked += 1
    assert n_checked > 0


@settings(max_examples=40)
@given(p=points(dmin=3, dmax=3000))
def test_lower_bounds_below_upper_bounds_of_the_same_class(p):
    info = bounds.get("info_theoretic").evaluate(d=p["d"], k=p["k"])
    # any learner from labels: Gaussian elimination is one
    assert info <= bounds.get("gaussian_elimination").evaluate(d=p["d"], delta=p["delta"])
    # exhaustive correlation search over C(d, k) subsets from +-1 labels (coefficient 1 at S)
    assert info <= bounds.get("support_recovery").evaluate(d=p["d"], j=p["k"], rho=1.0, delta=p["delta"])
    # SGD on two-layer nets from labels / final teacher: one-shot lower <= Kou et al. upper (d >= 3: log d >= 1)
    lower = bounds.get("paper_one_shot").evaluate(d=p["d"], k=p["k"], c=p["c"])
    upper = bounds.get("kou2024").evaluate(d=p["d"], k=p["k"], a_log=p["a_log"])
    assert lower <= upper * (1 + 1e-12)


@settings(max_examples=15)
@given(p=points(), a_log=st.sampled_from([0, 1]), c=st.floats(0.25, 6.0))
def test_exponent_in_matches_numeric_slope(p, a_log, c):
    d1, d2 = 10**8, 10**10
    n_checked = 0
    for b in bounds.all():
        vals = {x: v for x, v in p.items() if x in b.symbols and x != "d"}
        if "a_log" in b.symbols:
            vals["a_log"] = a_log
        if "c" in b.symbols:
            vals["c"] = c
        hidden = {x: 1 for x in b.symbols if x.startswith("C_")}
        e = float(b.exponent_in("d", **vals, **hidden))
        v1 = b.evaluate_exact(d=d1, **vals)
        v2 = b.evaluate_exact(d=d2, **vals)
        slope = float((sp.log(v2) - sp.log(v1)).evalf(30)) / math.log(d2 / d1)
        # log factors move the slope by a_log * ln(ln d2 / ln d1) / ln(d2/d1) = 0.049 a_log
        assert abs(slope - e) <= 0.1, (b.name, vals, slope, e)
        n_checked += 1
    assert n_checked == len(bounds.all())


def test_exponent_in_symbolic():
    k_, c_ = bounds.SYMBOLS["k"], bounds.SYMBOLS["c"]
    assert bounds.get("kou2024").exponent_in("d") == k_ - 1
    assert bounds.get("paper_one_shot").exponent_in("d") == sp.Min(2 * c_, k_ - 1)
    assert bounds.get("paper_one_shot").exponent_in("d", c=sp.oo) == k_ - 1
    assert bounds.get("paper_progressive").exponent_in("d") == 2
    assert bounds.get("paper_progressive").exponent_in("eps") == 0  # eps -> oo: the eps^-2 term vanishes
    with pytest.raises(ValueError, match="faster than any power"):
        bounds.get("paper_progressive").exponent_in("k")  # 2^k
    assert bounds.get("sq_lower").exponent_in("d") == k_
    assert bounds.get("edelman2023").exponent_in("d") == k_
    assert bounds.get("support_recovery").exponent_in("d") == 0  # log(C(d, j)): log factors have degree 0
    sp_ = bounds.speedup_exponent("paper_progressive", "paper_one_shot", "d")
    assert sp.simplify(sp_ - (sp.Min(2 * c_, k_ - 1) - 2)) == 0
    assert bounds.speedup_exponent("paper_progressive", "paper_one_shot", "d", k=6, c=sp.oo) == 3


@settings(max_examples=25)
@given(p=points(dmax=2000))
def test_evaluate_grid_matches_exact_evaluation(p):
    for b in bounds.all():
        vals = _at(b, p)
        grid = b.evaluate_grid(**{x: np.array([v, v]) for x, v in vals.items()})
        exact = b.evaluate(**vals)
        assert grid.shape == (2,)
        assert grid[0] == pytest.approx(exact, rel=1e-9), (b.name, vals)


def test_evaluate_grid_log_binomial_at_large_d():
    """log C(d, j) at d >> j: gammaln(d+1) - gammaln(j+1) - gammaln(d-j+1) cancels to 0.0 at
    d = 1e30; evaluate_grid must agree with the 30-digit evaluate there too."""
    for name, vals in [("info_theoretic", {"k": 3}), ("support_recovery", {"j": 2, "rho": 0.1, "delta": 0.01}),
                       ("sq_lower", {"k": 4, "tau": 0.5})]:
        b = bounds.get(name)
        ds = [10**6, 10**9, 10**12, 10**15, 10**30]
        grid = b.evaluate_grid(d=np.array(ds, dtype=np.float64), **vals)
        exact = [b.evaluate(d=dv, **vals) for dv in ds]
        np.testing.assert_allclose(grid, exact, rtol=1e-9, err_msg=name)


def test_evaluate_grid_on_a_million_points_matches_exact_evaluation():
    """Vectorised evaluation over 1e6 points (speed: benchmarks/bench_bounds.py) agrees with the
    exact evaluation at 20 of them picked at random."""
    n = 10**6
    rng = np.random.default_rng(0)
    arrays = {"d": rng.integers(10, 10**4, n), "j": rng.integers(1, 4, n),
              "rho": rng.uniform(0.01, 1, n), "delta": rng.uniform(1e-6, 0.5, n)}
    n_checked = 0
    for name in ("support_recovery", "gaussian_elimination"):
        b = bounds.get(name)
        use = {x: v for x, v in arrays.items() if x in b.symbols}
        out = b.evaluate_grid(**use)
        assert out.shape == (n,) and np.isfinite(out).all()
        for i in rng.choice(n, size=20, replace=False):
            point = {x: (int(v[i]) if v.dtype.kind == "i" else float(v[i])) for x, v in use.items()}
            assert out[i] == pytest.approx(b.evaluate(**point), rel=1e-9), (name, point)
            n_checked += 1
    assert n_checked == 40


# --------------------------------------------------------------------------------------------
# comparisons, tables
# --------------------------------------------------------------------------------------------
def test_crossover_progressive_vs_one_shot():
    # 64e4 d^2 + 216 <= d^5  <=>  d >= 87 (86^5 = 4.704e9 < 4.733e9; 87^5 = 4.984e9 > 4.844e9)
    res = bounds.crossover("paper_progressive", "paper_one_shot", var="d", k=6, eps=0.01)
    assert res.value == 87 and int(res) == 87
    assert "87" in str(res)
    # beyond the linear scan: eps = 1e-4 moves it to d^3 >= 6.4e9, d = 1857 (1856^3 = 6.393e9)
    res = bounds.crossover("paper_progressive", "paper_one_shot", var="d", k=6, eps=1e-4)
    assert res.value == 1857
    # real-valued variable: a <= b  <=>  eps >= sqrt(6.4e5 / (1e10 - 216)) = 0.008000000086
    res = bounds.crossover("paper_progressive", "paper_one_shot", var="eps", d=100, k=6)
    assert res.value == pytest.approx(math.sqrt(6.4e5 / (1e10 - 216)), rel=1e-9)


def test_crossover_with_a_rational_exponent_is_fast_and_exact():
    """c = 2.123456789: paper_one_shot is d^(2c) with 2c = 4.246913578; evaluating that exactly at
    d = 384 (sympy perfect-root search) hung crossover. Checked against an independent 50-digit
    computation of 2^6 d^2 / eps^2 + 6^3 <= d^(2c)."""
    import mpmath

    c_, eps_ = "2.123456789", "0.01"
    with _time_limit(30):
        res = bounds.crossover("paper_progressive", "paper_one_shot", var="d", k=6, eps=float(eps_), c=float(c_))
    with mpmath.workdps(50):
        def le(dv):
            return 64 * mpmath.mpf(dv) ** 2 / mpmath.mpf(eps_) ** 2 + 216 <= mpmath.mpf(dv) ** (2 * mpmath.mpf(c_))
        assert le(res.value) and not le(res.value - 1), res
    assert res.value == 384 and "approximate" not in res.message


def test_crossover_none_is_explained():
    res = bounds.crossover("kou2024", "info_theoretic", var="d", k=4, hi=10**6)
    assert res.value is None and "no crossover" in res.message
    with pytest.raises(ValueError, match="no crossover"):
        int(res)


def test_ratio_is_symbolic():
    r = bounds.ratio("paper_one_shot", "kou2024")
    d_ = bounds.SYMBOLS["d"]
    val = r.subs({bounds.SYMBOLS[x]: v for x, v in {"c": sp.oo, "C_one": 1, "C_kou": 1, "a_log": 1, "k": 6}.items()})
    assert sp.simplify(val - 1 / sp.log(d_)) == 0


def test_table():
    df = bounds.table(["info_theoretic", "support_recovery", "kou2024"], {"d": [100, 1000], "k": 6, "delta": 0.01})
    assert len(df) == 6
    row = df[(df.name == "info_theoretic") & (df.d == 1000)].iloc[0]
    assert row.value == pytest.approx(math.log2(math.comb(1000, 6)))
    sr = df[df.name == "support_recovery"]
    assert sr.value.isna().all() and (sr.missing == "j, rho").all()
    assert set(df.status) == {"literature", "proved-here"}


def test_latex_and_objects():
    b = bounds.get("support_recovery")
    assert "binom{d}{j}" in b.latex() and r"\rho" in b.latex()
    assert r"\varepsilon" in bounds.get("paper_progressive").latex()
    assert b.latex(statement=True).startswith(r"N \le")
    assert bounds.get("paper_one_shot").latex(statement=True).startswith(r"N \ge")
    assert [x.name for x in bounds.all()][:10] == [
        "paper_progressive", "paper_one_shot", "support_recovery", "info_theoretic", "gaussian_elimination",
        "sq_lower", "kou2024", "barak2022", "leap", "edelman2023"]
    assert {x.status for x in bounds.all()} <= set(bounds.STATUSES)
    assert bounds.get("paper_progressive").status == "recalled" and bounds.get("paper_one_shot").status == "recalled"
    for x in bounds.all():
        assert x.citation and x.doc
        for sym in x.symbols:  # every symbol carries assumptions
            assert bounds.SYMBOLS[sym].is_real
        if x.status == "proved-here":
            assert "erivation" in x.doc or "iff" in x.doc


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name,kwargs,match",
    [
        ("info_theoretic", {"d": -3, "k": 1}, r"'d'.*integer >= 1.*d=-3"),
        ("info_theoretic", {"d": 5, "k": 7}, r"k <= d"),
        ("paper_progressive", {"d": 100, "k": 6, "eps": 1.0}, r"'eps'.*\(0, 1\)"),
        ("paper_progressive", {"d": 100, "k": 6, "eps": 0.1, "foo": 1}, r"unknown symbol.*'foo'"),
        ("paper_progressive", {"d": 100, "k": 6, "eps": 0.1, "delta": 0.1}, r"does not use.*'delta'"),
        ("paper_progressive", {"d": 100, "k": 6}, r"needs symbol.*'eps'"),
        ("kou2024", {"d": 16, "k": 5}, r"k <= sqrt\(d\)"),
        ("support_recovery", {"d": 10, "j": 1, "rho": 0.1, "delta": 0}, r"'delta'"),
        ("support_recovery", {"d": 10, "j": 1, "rho": 0.8, "delta": 0.1, "B": 0.5}, r"rho <= B"),
        ("gaussian_elimination", {"d": 2.5, "delta": 0.1}, r"'d'.*integer"),
        ("leap", {"d": 10}, r"'leap' or 'k'"),
        ("edelman2023", {"d": 10, "k": 4, "s": 3, "delta": 0.1}, r"k <= s"),
    ],
)
def test_bad_input_is_a_clear_value_error(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bounds.get(name).evaluate(**kwargs)


def test_bad_input_other():
    with pytest.raises(TypeError, match="'k'"):
        bounds.get("info_theoretic").evaluate(d=10, k="3")
    with pytest.raises(ValueError, match="unknown bound 'nope'.*paper_progressive"):
        bounds.get("nope")
    with pytest.raises(ValueError, match="one shape"):
        bounds.get("info_theoretic").evaluate_grid(d=np.array([10, 20]), k=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="k <= d"):
        bounds.get("info_theoretic").evaluate_grid(d=np.array([10, 2]), k=np.array([3, 3]))
    with pytest.raises(ValueError, match="'eps'"):
        bounds.get("paper_progressive").evaluate_grid(d=100, k=6, eps=np.array([0.1, 1.5]))
    with pytest.raises(ValueError, match="unknown symbol"):
        bounds.crossover("kou2024", "info_theoretic", var="dd", k=3)
    with pytest.raises(ValueError, match="'eps'"):
        bounds.crossover("paper_progressive", "paper_one_shot", var="d", k=6, eps=2.0)
    with pytest.raises(ValueError, match="N must be an integer"):
        bounds.gf2_span_probability(-1, 3)
    with pytest.raises(TypeError, match=r"symbol 'd' must be a real numeric array.*dtype <U"):
        bounds.get("info_theoretic").evaluate_grid(d=np.array(["a"]), k=3)
    with pytest.raises(ValueError, match=r"exponent_in: unknown symbol 'foo'"):
        bounds.get("paper_one_shot").exponent_in("d", foo=3)
    with pytest.raises(TypeError, match=r"exponent_in: k must be a number"):
        bounds.get("paper_one_shot").exponent_in("d", k="abc")
    # integers beyond float range are checked exactly, not OverflowError
    assert bounds.get("info_theoretic").evaluate(d=10**400, k=3) == pytest.approx(3 * 400 * math.log2(10) - math.log2(6))


# --------------------------------------------------------------------------------------------
# command line, import hygiene
# --------------------------------------------------------------------------------------------
def test_cli_table(capsys):
    assert bounds.cli_main(["--d", "100", "--k", "6", "--eps", "0.01"]) == 0
    out = capsys.readouterr().out
    for b in bounds.all():
        assert b.name in out
    for status in bounds.STATUSES:
        assert status in out
    assert "30.15" in out and "6.4e+09" in out
    assert "needs delta, j, rho" in out  # support_recovery without its symbols
    assert "unverified" in out.lower()


def test_cli_latex_and_errors(capsys):
    from pdistill.cli import main

    assert main(["bounds", "--d", "100", "--j", "1", "--rho", "0.1", "--delta", "0.01",
                 "--names", "support_recovery", "--latex"]) == 0
    out = capsys.readouterr().out
    assert r"\begin{tabular}" in out and "7{,}923" in out and "proved-here" in out
    assert bounds.cli_main(["--names", "nope"]) == 2
    assert "unknown bound" in capsys.readouterr().err
    assert bounds.cli_main(["--set", "C_prog=abc"]) == 2
    assert "--set C_prog expects a number; got 'abc'" in capsys.readouterr().err


def test_bounds_does_not_import_torch():
    code = "import sys, parity_theory.bounds; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------------------------
# large arguments: log-gamma, never a hang; evaluate_grid = evaluate
# --------------------------------------------------------------------------------------------
def _log2_binom(n: int, r: int) -> float:
    """Independent reference: log2 C(n, r) from math.lgamma (float; absolute error ~ 1e-16 n log n)."""
    return (math.lgamma(n + 1) - math.lgamma(r + 1) - math.lgamma(n - r + 1)) / math.log(2)


@pytest.mark.parametrize("name, values, log10_expected", [
    ("info_theoretic", {"d": 10**6, "k": 5 * 10**5}, None),
    ("info_theoretic", {"d": 10**9, "k": 5 * 10**8}, None),
    ("sq_lower", {"d": 10**9, "k": 5 * 10**8, "tau": 0.1}, lambda: _log2_binom(10**9, 5 * 10**8) * math.log10(2) - 2),
    ("sq_lower", {"d": 10**5, "k": 5 * 10**4, "tau": 1.0}, lambda: _log2_binom(10**5, 5 * 10**4) * math.log10(2)),
    ("support_recovery", {"d": 10**9, "j": 5 * 10**8, "rho": 0.1, "delta": 0.01}, None),
    ("edelman2023", {"d": 10**9, "s": 5 * 10**8, "k": 6, "delta": 0.01}, None),
])
def test_large_binomials_answer_fast(name, values, log10_expected):
    """C(10^9, 5 10^8) has 3 10^8 digits: sympy built it exactly (minutes). Log-gamma answers at once."""
    b = bounds.get(name)
    with _time_limit(10):
        val = b.evaluate(**values)
        lg = b.evaluate_log10(**values)
    d_ = values["d"]
    if name == "info_theoretic":
        assert val == pytest.approx(_log2_binom(d_, values["k"]), rel=1e-9)
    elif name == "support_recovery":  # 800 (ln 2 + ln C(d, j) + ln 100)
        assert val == pytest.approx(800 * (math.log(200) + _log2_binom(d_, values["j"]) * math.log(2)), rel=1e-9)
    elif name == "edelman2023":  # ln(100) prod_{i<6} (d - i) / (s - i)
        assert val == pytest.approx(math.log(100) * math.prod((d_ - i) / (values["s"] - i) for i in range(6)), rel=1e-12)
    if log10_expected is not None:  # beyond float range: evaluate says inf, evaluate_log10 the magnitude
        assert math.isinf(val)
        assert lg == pytest.approx(log10_expected(), rel=1e-9)
    else:
        assert lg == pytest.approx(math.log10(val), rel=1e-12)


def test_cli_prints_finite_values_beyond_float_range_and_answers_fast():
    """`pdistill bounds --d 1e9 --k 5e8 --eps 0.01` ran past 60 s; C(1e5, 5e4) tau^2 printed 'inf'."""
    cmd = [sys.executable, "-m", "pdistill", "bounds"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd + ["--d", "1000000000", "--k", "500000000", "--eps", "0.01"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert time.perf_counter() - t0 < 30
    out = subprocess.run(cmd + ["--d", "100000", "--k", "50000", "--tau", "1", "--names", "sq_lower"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("sq_lower"))
    lg = _log2_binom(10**5, 5 * 10**4) * math.log10(2)  # 30100.xx
    assert " inf " not in row
    assert f"e+{math.floor(lg)}" in row and f"{10 ** (lg - math.floor(lg)):.3f}"[:4] in row


def test_table_gives_log10_beyond_float_range():
    df = bounds.table(["sq_lower", "info_theoretic"], {"d": [100, 10**5], "k": [6, 5 * 10**4], "tau": 1.0})
    big = df[(df.name == "sq_lower") & (df.d == 10**5) & (df.k == 5 * 10**4)].iloc[0]
    assert math.isinf(big.value) and big.log10 == pytest.approx(_log2_binom(10**5, 5 * 10**4) * math.log10(2), rel=1e-9)
    small = df[(df.name == "sq_lower") & (df.d == 100) & (df.k == 6)].iloc[0]
    assert small.log10 == pytest.approx(math.log10(math.comb(100, 6)), rel=1e-12)
    assert df[(df.d == 100) & (df.k == 5 * 10**4)].log10.isna().all()  # k > d: invalid rows


def test_cli_exits_2_when_every_row_is_invalid(capsys):
    assert bounds.cli_main(["--d", "5", "--k", "7", "--names", "info_theoretic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no bound is valid" in err and "k <= d" in err
    assert bounds.cli_main(["--d", "5", "--k", "7", "--names", "info_theoretic,gaussian_elimination"]) == 0
    assert "invalid" in capsys.readouterr().out  # one invalid row beside a 'needs delta' row: still a table


@st.composite
def wide_points(draw):
    """Points over wide ranges (d up to 1e12, k up to d), log-uniform where it matters."""
    def int_log(lo, hi):
        e = draw(st.floats(math.log(lo), math.log(hi)))
        return max(lo, min(hi, int(round(math.exp(e)))))

    def small_or_wide(lo, hi, width):  # small values (the usual use) or anywhere up to hi
        return draw(st.integers(lo, min(hi, lo + width))) if draw(st.booleans()) else int_log(lo, hi)

    d = int_log(1, 10**12)
    k = small_or_wide(1, d, 11)
    s = d if draw(st.booleans()) else small_or_wide(k, d, 12)
    return {
        "d": d, "k": k, "s": s,
        "j": small_or_wide(1, d, 3),
        "leap": int_log(1, d),
        "eps": draw(st.floats(1e-12, 0.999)),
        "delta": draw(st.floats(1e-300, 0.999)),
        "rho": draw(st.floats(1e-6, 1.0)),
        "tau": draw(st.floats(1e-100, 1.0)),
        "c": draw(st.one_of(st.floats(0.01, 50.0), st.just(math.inf))),
        "a_log": draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
        **{name: draw(st.floats(1e-3, 1e3)) for name in bounds.SYMBOLS if name.startswith("C_")},
    }


@settings(max_examples=60, deadline=None)
@given(p=wide_points())
def test_evaluate_grid_equals_evaluate_over_wide_ranges(p):
    """Wherever evaluate answers, evaluate_grid gives the same number (both inf beyond float range).

    evaluate works at 30+ digits; evaluate_grid in float64, so where it subtracts log-gammas of size L
    (edelman2023: log B(s-k+1, k) - log B(d-k+1, k), L ~ k log d) its relative error is up to about
    L * 2^-52 on the value: the tolerance is 1e-9 + 64 L 2^-52. Per-example limit 20 s (no hang).
    evaluate reads a float as the decimal it prints as (0.01 -> 1/100); here it gets the float's exact
    binary value, the number evaluate_grid sees (they differ on exact ties such as delta = 2^-52)."""
    for b in bounds.all():
        vals = _at(b, p)
        exact_in = {x: (sp.Rational(*v.as_integer_ratio()) if isinstance(v, float) and math.isfinite(v) else v)
                    for x, v in vals.items()}
        with _time_limit(20):
            try:
                exact = b.evaluate(**exact_in)
            except ValueError as err:
                assert "valid only when" in str(err), (b.name, vals, err)
                continue
            grid = b.evaluate_grid(**{x: np.array([float(v)]) for x, v in vals.items()})[0]
        if math.isinf(exact) or exact > 1e300:
            assert grid > 1e290, (b.name, vals, exact, grid)
            continue
        assert math.isfinite(grid), (b.name, vals, exact, grid)
        L = 0.0
        if "binomial" in str(b.expr):
            L = max(abs(math.lgamma(p["k"] + 1.0)), p["k"] * math.log(p["d"] + 1.0), 1.0)
        assert grid == pytest.approx(exact, rel=1e-9 + 64 * L * 2.0**-52, abs=1e-300), (b.name, vals)


def test_evaluate_grid_known_disagreements():
    """Two points where evaluate_grid disagreed with evaluate: edelman2023 at d = 2000, s = 1000
    (inf / inf = NaN) and info_theoretic at d = k (log C(d, d) = 0, rounding gave -5.4e-13)."""
    b = bounds.get("edelman2023")
    exact = math.log(100) * math.prod((2000 - i) / (1000 - i) for i in range(6))
    assert b.evaluate(d=2000, s=1000, k=6, delta=0.01) == pytest.approx(exact, rel=1e-12)
    assert b.evaluate_grid(d=np.array([2000]), s=1000, k=6, delta=0.01)[0] == pytest.approx(exact, rel=1e-9)
    info = bounds.get("info_theoretic")
    assert info.evaluate(d=311, k=311) == 0.0
    assert info.evaluate_grid(d=np.array([311, 10**6]), k=np.array([311, 10**6]))[0] == 0.0
    assert (info.evaluate_grid(d=np.arange(1, 400), k=np.arange(1, 400) // 2 + 1) >= 0).all()


def test_crossover_rejects_an_empty_range_and_scan_0():
    with pytest.raises(ValueError, match=r"crossover: lo must be <= hi.*lo=100 > hi=10"):
        bounds.crossover("paper_progressive", "paper_one_shot", var="d", lo=100, hi=10, k=6, eps=0.01)
    with pytest.raises(ValueError, match=r"crossover: lo must be <= hi.*lo=0.5 > hi=0.1"):
        bounds.crossover("paper_progressive", "paper_one_shot", var="eps", lo=0.5, hi=0.1, d=100, k=6)
    with pytest.raises(ValueError, match=r"range of d searched is empty"):
        bounds.crossover("paper_progressive", "paper_one_shot", var="d", hi=0, k=6, eps=0.01)
    for scan in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match=r"scan must be an int >= 1"):
            bounds.crossover("paper_progressive", "paper_one_shot", var="d", scan=scan, k=6, eps=0.01)
