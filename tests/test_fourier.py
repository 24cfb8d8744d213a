"""Tests for parity_theory.fourier and its Numba kernels (exact enumeration first, then Monte Carlo)."""
from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from parity_theory import _kernels, fourier
from parity_theory import strategies as pst
from parity_theory.parity import ParityTask
from parity_theory.stats import hoeffding_tol


# ----------------------------------------------------------------------------------------------
# independent references (plain Python loops, the definitions)
# ----------------------------------------------------------------------------------------------
def cube_by_definition(n: int) -> np.ndarray:
    """Row b: x_i = -1 iff bit i of b is set (written with Python loops)."""
    return np.array([[-1 if (b >> i) & 1 else 1 for i in range(n)] for b in range(2**n)], dtype=np.int8)


def coefficient_by_definition(table: np.ndarray, T: tuple[int, ...], n: int) -> float:
    """f^(T) = 2^-n sum_x f(x) prod_{i in T} x_i."""
    X = cube_by_definition(n)
    total = 0.0
    for b in range(2**n):
        chi = 1
        for i in T:
            chi *= int(X[b, i])
        total += table[b] * chi
    return total / 2**n


def all_subsets(n: int) -> list[tuple[int, ...]]:
    """All subsets, listed in the coefficient-vector order b = sum_{i in T} 2^i."""
    return [tuple(i for i in range(n) if (b >> i) & 1) for b in range(2**n)]


@pytest.fixture(autouse=True)
def _one_numba_thread():
    """Kernels run single-threaded here (thread start-up dominates tiny inputs on a shared 2-core
    box); test_results_do_not_depend_on_thread_count exercises 2 threads explicitly."""
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(old)


def rand_pm1(rng, m, n):
    return (1 - 2 * rng.integers(0, 2, size=(m, n))).astype(np.int8)


# ----------------------------------------------------------------------------------------------
# exact transform
# ----------------------------------------------------------------------------------------------
def test_cube_matches_definition():
    for n in range(0, 7):
        np.testing.assert_array_equal(fourier.cube(n), cube_by_definition(n))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 7])
def test_walsh_hadamard_matches_definition(n):
    rng = np.random.default_rng(100 + n)
    table = rng.uniform(-1, 1, size=2**n)
    coef = fourier.walsh_hadamard(table)
    assert coef.dtype == np.float64 and coef.shape == (2**n,)
    expected = np.array([coefficient_by_definition(table, T, n) for T in all_subsets(n)])
    np.testing.assert_allclose(coef, expected, rtol=0, atol=1e-12)


@given(pst.truth_tables(max_n=9))
def test_parseval_and_involution(table):
    N = len(table)
    coef = fourier.walsh_hadamard(table)
    assert math.isclose(float(np.sum(coef**2)), float(np.mean(table**2)), rel_tol=1e-12, abs_tol=1e-14)
    np.testing.assert_allclose(fourier.walsh_hadamard(coef) * N, table, rtol=0, atol=1e-12)


def test_inplace_transforms_the_input_and_leaves_copy_alone():
    rng = np.random.default_rng(1)
    table = rng.normal(size=2**10)
    keep = table.copy()
    out = fourier.walsh_hadamard(table)
    np.testing.assert_array_equal(table, keep)  # not modified
    res = fourier.walsh_hadamard(table, inplace=True)
    assert res is table
    np.testing.assert_allclose(table, out, atol=1e-12)


def test_characters_are_orthonormal():
    n = 6
    X = cube_by_definition(n).astype(np.float64)
    C = np.stack([np.prod(X[:, list(T)], axis=1) for T in all_subsets(n)], axis=1)  # (2^n x, 2^n T)
    np.testing.assert_allclose(C.T @ C / 2**n, np.eye(2**n), atol=1e-12)
    # and the transform of chi_T is the indicator of T
    for b, T in enumerate(all_subsets(n)):
        e = np.zeros(2**n)
        e[b] = 1.0
        np.testing.assert_allclose(fourier.walsh_hadamard(C[:, b]), e, atol=1e-12)


def test_exact_coefficients_of_a_parity_task():
    task = ParityTask(7, (1, 4, 6))
    coef = fourier.exact_coefficients(task.label, 7)
    expected = np.zeros(2**7)
    expected[fourier.subset_index(task.support)] = 1.0
    np.testing.assert_allclose(coef, expected, atol=1e-12)


@pytest.mark.parametrize("n", [11, 13])  # crosses the FWHT tile (2^10): the cross-tile stages run
def test_fwht_kernel_large_sizes_vs_numpy_twin(n):
    v = np.random.default_rng(n).normal(size=2**n)
    np.testing.assert_allclose(_kernels.fwht_inplace(v.copy()), _kernels.fwht_numpy(v), rtol=1e-12, atol=1e-9)


@given(st.integers(0, 12), pst.seeds())
def test_fwht_kernel_vs_numpy_twin(n, seed):
    v = np.random.default_rng(seed).uniform(-1, 1, size=2**n)
    np.testing.assert_allclose(_kernels.fwht_inplace(v.copy()), _kernels.fwht_numpy(v), rtol=1e-12, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# Monte Carlo estimators on the full cube: exact
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 4, 8])
def test_correlations_on_full_cube_equal_exact(n):
    rng = np.random.default_rng(7 + n)
    table = rng.uniform(0, 1, size=2**n)
    X = cube_by_definition(n)
    est = fourier.correlations(table, X, all_subsets(n))
    np.testing.assert_allclose(est.mean, fourier.walsh_hadamard(table), rtol=0, atol=1e-12)
    # stderr: sample std (ddof=1) of f * chi_T over the 2^n points, / sqrt(2^n)
    for b, T in enumerate(all_subsets(n)[:8]):
        prod = table * np.prod(X[:, list(T)].astype(float), axis=1)
        assert math.isclose(est.stderr[b], np.std(prod, ddof=1) / math.sqrt(2**n), rel_tol=1e-9, abs_tol=1e-15)


@pytest.mark.parametrize("n", [3, 8])
def test_support_spectrum_on_full_cube_equal_exact(n):
    rng = np.random.default_rng(70 + n)
    table = rng.uniform(-1, 1, size=2**n)
    X = cube_by_definition(n)
    support = list(rng.permutation(n)[: max(1, n - 2)])  # unsorted order: entry b <-> support[i]
    est = fourier.support_spectrum(table, X, support)
    exact = fourier.walsh_hadamard(table)
    for b in range(2 ** len(support)):
        T = [support[i] for i in range(len(support)) if (b >> i) & 1]
        assert abs(est.mean[b] - exact[fourier.subset_index(T)]) < 1e-12


@given(st.integers(1, 300), st.integers(1, 140), st.integers(0, 6), pst.seeds())
def test_support_spectrum_equals_correlations(m, n, k, seed):
    rng = np.random.default_rng(seed)
    k = min(k, n)
    x = rand_pm1(rng, m, n)
    f = rng.uniform(0, 1, size=m)
    support = [int(i) for i in rng.choice(n, size=k, replace=False)]
    sp = fourier.support_spectrum(f, x, support)
    subs = [tuple(support[i] for i in range(k) if (b >> i) & 1) for b in range(2**k)]
    co = fourier.correlations(f, x, subs)
    np.testing.assert_allclose(sp.mean, co.mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(sp.stderr, co.stderr, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Numba kernels vs numpy twins
# ----------------------------------------------------------------------------------------------
@given(pst.pm1_samples(st.integers(1, 200), st.integers(1, 70)))
def test_pack_planes_vs_numpy_twin(x):
    planes, n_bad = _kernels.pack_planes(x)
    assert n_bad == 0
    np.testing.assert_array_equal(planes, _kernels.pack_planes_numpy(x))


@given(st.integers(1, 1200), st.integers(1, 130), st.lists(pst.subsets(130, max_size=8), max_size=12), pst.seeds())
def test_corr_sums_vs_numpy_twin(m, n, subsets, seed):
    rng = np.random.default_rng(seed)
    subsets = [tuple(i for i in T if i < n) for T in subsets]
    x = rand_pm1(rng, m, n)
    f = rng.uniform(-1, 1, size=m)
    mask = fourier.subsets_mask(subsets, n)
    planes, _ = _kernels.pack_planes(x)
    indptr, indices = _kernels.csr_from_bool(mask)
    got = _kernels.corr_sums(f, planes, indptr, indices)
    np.testing.assert_allclose(got, _kernels.corr_sums_numpy(f, x, mask), rtol=0, atol=1e-9)


@given(st.integers(1, 600), st.integers(1, 40), st.integers(0, 8), pst.seeds())
def test_pattern_sums_vs_numpy_twin(m, n, k, seed):
    rng = np.random.default_rng(seed)
    k = min(k, n)
    x = rand_pm1(rng, m, n)
    f = rng.uniform(-1, 1, size=m)
    support = rng.choice(n, size=k, replace=False).astype(np.int64)
    sums, sq, n_bad = _kernels.pattern_sums(f, x, support)
    ref_sums, ref_sq = _kernels.pattern_sums_numpy(f, x, support)
    assert n_bad == 0
    np.testing.assert_allclose(sums, ref_sums, rtol=0, atol=1e-9)
    assert math.isclose(sq, ref_sq, rel_tol=1e-12)


@pytest.mark.parametrize("m, k", [(20_000, 3), (9_000, 11), (70_000, 2)])
def test_pattern_sums_vs_numpy_twin_multi_chunk(m, k):
    """Sizes the hypothesis test above never reaches: several sample chunks (m > BLOCK = 4096)
    and the single-copy histogram (2^k > 1024)."""
    rng = np.random.default_rng(m + k)
    x = rand_pm1(rng, m, 20)
    f = rng.uniform(-1, 1, size=m)
    support = rng.choice(20, size=k, replace=False).astype(np.int64)
    assert m > _kernels.BLOCK  # more than one chunk
    sums, sq, n_bad = _kernels.pattern_sums(f, x, support)
    ref_sums, ref_sq = _kernels.pattern_sums_numpy(f, x, support)
    assert n_bad == 0
    np.testing.assert_allclose(sums, ref_sums, rtol=0, atol=1e-9)
    assert math.isclose(sq, ref_sq, rel_tol=1e-12)


@given(st.integers(1, 300), st.integers(1, 30), pst.seeds())
def test_count_not_pm1_vs_numpy(m, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(m, n)).astype(np.int8)
    assert _kernels.count_not_pm1(x) == int(np.sum((x != 1) & (x != -1)))


def test_results_do_not_depend_on_thread_count():
    rng = np.random.default_rng(3)
    x = rand_pm1(rng, 70_000, 100)
    f = rng.uniform(0, 1, size=70_000)
    subs = [(0,), (1, 2), (5, 50, 99), ()]
    a = fourier.correlations(f, x, subs, threads=1)
    b = fourier.correlations(f, x, subs, threads=2)
    np.testing.assert_array_equal(a.mean, b.mean)
    c = fourier.support_spectrum(f, x, [1, 2, 3], threads=1)
    d = fourier.support_spectrum(f, x, [1, 2, 3], threads=2)
    np.testing.assert_array_equal(c.mean, d.mean)


# ----------------------------------------------------------------------------------------------
# Monte Carlo within a Hoeffding tolerance
# ----------------------------------------------------------------------------------------------
def test_correlations_within_hoeffding_tolerance():
    """f(x) = 0.5 + 0.2 x_3 + 0.1 x_1 x_7 - 0.15 chi_S(x) in [0.05, 0.95]; all J probed subsets
    must lie within hoeffding_tol(m, J, delta=1e-6) of the exact coefficient (false-alarm rate
    <= 1e-6 per run; fixed seed)."""
    rng = np.random.default_rng(2024)
    n, m = 40, 20_000
    task = ParityTask(n, (0, 5, 9, 20))
    x, y = task.sample(m, rng)
    f = 0.5 + 0.2 * x[:, 3] + 0.1 * x[:, 1] * x[:, 7] - 0.15 * y
    truth = {(): 0.5, (3,): 0.2, (1, 7): 0.1, task.support: -0.15}
    subs = list(truth) + fourier.in_support_subsets(task.support)[:10]
    subs += fourier.random_off_support_subsets(n, task.support, 2, 50, rng)
    est = fourier.correlations(f, x, subs)
    tol = hoeffding_tol(m, n_checks=len(subs), delta=1e-6, value_range=(-1.0, 1.0))
    n_checked = 0
    for j, T in enumerate(subs):
        assert abs(est.mean[j] - truth.get(T, 0.0)) <= tol, (T, est.mean[j], tol)
        n_checked += 1
    assert n_checked == len(subs) > 0
    sp = fourier.support_spectrum(f, x, task.support)
    assert abs(sp.mean[-1] - (-0.15)) <= tol


# ----------------------------------------------------------------------------------------------
# subsets helpers
# ----------------------------------------------------------------------------------------------
def test_subset_index_roundtrip():
    for b in range(300):
        assert fourier.subset_index(fourier.index_subset(b)) == b
    assert fourier.index_subset(0) == ()
    assert fourier.subset_index((0, 3)) == 9


@given(st.integers(2, 30), st.integers(1, 5), st.integers(1, 4), st.integers(0, 60), pst.seeds(), st.booleans())
def test_random_off_support_subsets(n, k, degree, count, seed, disjoint):
    k = min(k, n - 1)
    degree = min(degree, n)
    rng = np.random.default_rng(seed)
    support = tuple(int(i) for i in rng.choice(n, size=k, replace=False))
    pool = n - k if disjoint else n
    available = math.comb(pool, degree) - (0 if disjoint else math.comb(k, degree))
    if count > available:
        with pytest.raises(ValueError, match="count"):
            fourier.random_off_support_subsets(n, support, degree, count, rng, disjoint=disjoint)
        got = fourier.random_off_support_subsets(n, support, degree, count, rng, disjoint=disjoint, allow_fewer=True)
        assert len(got) == available
    else:
        got = fourier.random_off_support_subsets(n, support, degree, count, rng, disjoint=disjoint)
        assert len(got) == count
    assert len(set(got)) == len(got)
    for T in got:
        assert len(T) == degree and list(T) == sorted(T) and all(0 <= i < n for i in T)
        assert not set(T) <= set(support)
        if disjoint:
            assert not set(T) & set(support)
    # reproducible from the seed
    again = fourier.random_off_support_subsets(n, support, degree, min(count, available),
                                               np.random.default_rng(seed + 1), disjoint=disjoint)
    assert again == fourier.random_off_support_subsets(n, support, degree, min(count, available),
                                                       np.random.default_rng(seed + 1), disjoint=disjoint)


def test_random_off_support_subsets_cover_all_degree1_uniformly():
    """Degree 1, n = 10, S = {0, 1}: 8 candidates; 4000 draws of one subset each; every index
    2..9 has frequency 1/8 within Hoeffding tol (delta 1e-6 over 8 checks)."""
    rng = np.random.default_rng(5)
    counts = np.zeros(10)
    draws = 4000
    for _ in range(draws):
        (T,) = fourier.random_off_support_subsets(10, (0, 1), 1, 1, rng)
        counts[T[0]] += 1
    assert counts[0] == counts[1] == 0
    tol = hoeffding_tol(draws, n_checks=8, delta=1e-6, value_range=(0.0, 1.0))
    assert np.all(np.abs(counts[2:] / draws - 1 / 8) <= tol)


# ----------------------------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------------------------
def test_walsh_hadamard_bad_input():
    with pytest.raises(ValueError, match=r"values must have length 2\^n.*got length 6"):
        fourier.walsh_hadamard(np.ones(6))
    with pytest.raises(ValueError, match=r"values must have length 2\^n.*got length 0"):
        fourier.walsh_hadamard(np.ones(0))
    with pytest.raises(ValueError, match=r"values must be finite.*nan.*index 2"):
        fourier.walsh_hadamard(np.array([0.0, 1.0, np.nan, 2.0]))
    with pytest.raises(ValueError, match=r"values must be a 1-D.*shape \(2, 2\)"):
        fourier.walsh_hadamard(np.ones((2, 2)))
    with pytest.raises(TypeError, match="values must be a real numeric array"):
        fourier.walsh_hadamard(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="inplace=True"):
        fourier.walsh_hadamard(np.ones(4, dtype=np.float32), inplace=True)
    with pytest.raises(TypeError, match="threads"):
        fourier.walsh_hadamard(np.ones(4), threads=1.5)


def test_walsh_hadamard_memory_error_is_clear(monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(fourier.np, "array", no_memory)
    with pytest.raises(MemoryError, match=r"n=3.*inplace=True"):
        fourier.walsh_hadamard(np.ones(8))


def test_correlations_bad_input():
    rng = np.random.default_rng(0)
    x = rand_pm1(rng, 10, 5)
    f = rng.uniform(size=10)
    bad = x.copy()
    bad[3, 2] = 0
    with pytest.raises(ValueError, match=r"x must have entries in \{-1, \+1\}; got 0 at index \(3, 2\)"):
        fourier.correlations(f, bad, [(0,)])
    with pytest.raises(ValueError, match=r"x must have entries.*got 2"):
        fourier.correlations(f, np.where(x == 1, 2, -1), [(0,)])  # int64 path
    with pytest.raises(ValueError, match=r"x must have entries.*got 255"):
        fourier.correlations(f, np.where(x == 1, 255, 1).astype(np.int64), [(0,)])  # no wrap-around to -1
    with pytest.raises(ValueError, match=r"f must have one value per sample, shape \(10,\); got shape \(9,\)"):
        fourier.correlations(f[:9], x, [(0,)])
    with pytest.raises(ValueError, match=r"x must be a 2-D array.*got shape \(10,\)"):
        fourier.correlations(f, x[:, 0], [(0,)])
    f_nan = f.copy()
    f_nan[4] = np.nan
    with pytest.raises(ValueError, match=r"f must be finite.*nan.*index 4"):
        fourier.correlations(f_nan, x, [(0,)])
    with pytest.raises(ValueError, match=r"subsets\[1\] indices must lie in \[0, n-1\] = \[0, 4\]; got 5"):
        fourier.correlations(f, x, [(0,), (1, 5)])
    with pytest.raises(ValueError, match=r"subsets\[0\] must not repeat indices; got \(2, 2\)"):
        fourier.correlations(f, x, [(2, 2)])
    with pytest.raises(TypeError, match=r"subsets\[0\] must hold ints; got 1.5"):
        fourier.correlations(f, x, [(1.5,)])
    with pytest.raises(ValueError, match=r"subsets mask must have shape \(J, n\) with n=5; got shape \(2, 4\)"):
        fourier.correlations(f, x, np.zeros((2, 4), dtype=bool))
    with pytest.raises(TypeError, match="boolean"):
        fourier.correlations(f, x, np.zeros((2, 5), dtype=np.int64))
    with pytest.raises(TypeError, match="subsets must be a sequence"):
        fourier.correlations(f, x, 3)


def test_support_spectrum_bad_input():
    rng = np.random.default_rng(0)
    x = rand_pm1(rng, 10, 5)
    f = rng.uniform(size=10)
    with pytest.raises(ValueError, match=r"must not repeat indices; got \(1, 1\)"):
        fourier.support_spectrum(f, x, [1, 1])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, n-1\] = \[0, 4\]; got 7"):
        fourier.support_spectrum(f, x, [1, 7])
    bad = x.copy()
    bad[9, 4] = 3  # outside the support: still rejected
    with pytest.raises(ValueError, match=r"x must have entries.*got 3 at index \(9, 4\)"):
        fourier.support_spectrum(f, bad, [0, 1])
    with pytest.raises(ValueError, match="f must be finite"):
        fourier.support_spectrum(np.full(10, np.inf), x, [0])


def test_edge_cases():
    x = np.ones((1, 3), dtype=np.int8)
    est = fourier.correlations(np.array([0.7]), x, [(), (0, 1)])
    np.testing.assert_allclose(est.mean, [0.7, 0.7])
    assert np.all(np.isinf(est.stderr))  # one sample: no standard error
    empty = fourier.correlations(np.array([0.7, 0.2]), np.ones((2, 3), dtype=np.int8), [])
    assert empty.mean.shape == (0,) and empty.stderr.shape == (0,)
    sp = fourier.support_spectrum(np.array([1.0, 3.0]), np.ones((2, 3), dtype=np.int8), [])
    np.testing.assert_allclose(sp.mean, [2.0])


def test_support_helpers_reject_bad_supports():
    """Floats and bools used to be truncated silently by int() (1.7 -> 1, True -> 1)."""
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match=r"support must hold ints; got 1.7 \(float\)"):
        fourier.in_support_subsets([1.7, 2])
    with pytest.raises(TypeError, match=r"support must hold ints; got True \(bool\)"):
        fourier.probe_subsets(10, [True, 3], rng)
    with pytest.raises(ValueError, match=r"support must not repeat indices; got \(1, 1\)"):
        fourier.in_support_subsets([1, 1], 1)
    with pytest.raises(ValueError, match=r"support indices must be >= 0; got -2"):
        fourier.in_support_subsets([-2, 1])
    assert fourier.in_support_subsets(np.array([3, 1]), 1) == [(1,), (3,)]


def test_chi_helper():
    x = np.array([[1, -1, -1], [-1, 1, -1]], dtype=np.int8)
    np.testing.assert_array_equal(fourier.chi(x, (1, 2)), [1, -1])
    np.testing.assert_array_equal(fourier.chi(x, ()), [1, 1])


def test_probe_subsets_paper_layout():
    """n = 100, k = 6: degrees 1..5, C(6, d) in-support, 100 off-support (94 at degree 1)."""
    rng = np.random.default_rng(8)
    task = ParityTask.random(100, 6, rng)
    probe = fourier.probe_subsets(task.n, task.support, rng)
    assert sorted(probe) == [1, 2, 3, 4, 5]
    for d, (ins, off) in probe.items():
        assert len(ins) == math.comb(6, d) and all(set(T) <= set(task.support) for T in ins)
        assert len(off) == (94 if d == 1 else 100) and not any(set(T) <= set(task.support) for T in off)


@pytest.mark.slow
def test_walsh_hadamard_large_n_parseval():
    """n = 24 (128 MiB table): Parseval and a spot check of the definition at T = {0, 23}."""
    n = 24
    table = np.random.default_rng(24).uniform(-1, 1, size=2**n)
    mean_sq = float(np.mean(table**2))
    b = (1 << 0) | (1 << 23)
    idx = np.arange(2**n)
    chi = (1 - 2 * (idx & 1)) * (1 - 2 * ((idx >> 23) & 1))
    direct = float(np.mean(table * chi))
    coef = fourier.walsh_hadamard(table, inplace=True)
    assert math.isclose(float(np.sum(coef**2)), mean_sq, rel_tol=1e-10)
    assert abs(coef[b] - direct) < 1e-12


# ----------------------------------------------------------------------------------------------
# extreme magnitudes: overflow-safe accumulation, parameter-named support errors
# ----------------------------------------------------------------------------------------------
@given(st.integers(1, 200), st.integers(1, 12), st.integers(-1000, 1000), pst.seeds())
def test_correlations_scale_exactly_with_the_values(m, n, e, seed):
    """correlations(2^e f) = 2^e correlations(f) for every e with 2^e max|f| finite: scaling by a
    power of two is exact, so mean and stderr must scale exactly, finite, never NaN (sum f^2 overflowed
    at |f| ~ 1e155 and underflowed at ~1e-155)."""
    rng = np.random.default_rng(seed)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(m, n))
    f = rng.uniform(-1, 1, size=m)
    subsets = [(), (0,), tuple(range(n))]
    base, big = fourier.correlations(f, x, subsets), fourier.correlations(np.ldexp(f, e), x, subsets)
    np.testing.assert_array_equal(big.mean, np.ldexp(base.mean, e))
    if m >= 2:
        assert np.isfinite(big.stderr).all()
        np.testing.assert_allclose(big.stderr, np.ldexp(base.stderr, e), rtol=1e-12)
    spec, spec_big = fourier.support_spectrum(f, x, (0,)), fourier.support_spectrum(np.ldexp(f, e), x, (0,))
    np.testing.assert_allclose(spec_big.mean, np.ldexp(spec.mean, e), rtol=1e-12, atol=0)
    if m >= 2:
        assert np.isfinite(spec_big.stderr).all()
        np.testing.assert_allclose(spec_big.stderr, np.ldexp(spec.stderr, e), rtol=1e-12)


def test_correlations_stderr_at_1e300_matches_the_definition():
    f = np.array([1e300, -1e300, 1e300, 1e300])
    x = np.array([[1], [1], [-1], [1]], dtype=np.int8)
    est = fourier.correlations(f, x, [(0,)])
    z = np.array([1.0, -1.0, -1.0, 1.0])  # f chi_{0}(x) / 1e300
    assert est.mean[0] == 0.0
    assert est.stderr[0] == pytest.approx(1e300 * np.std(z, ddof=1) / 2, rel=1e-12)


@given(st.integers(0, 10), st.integers(900, 1023), pst.seeds())
def test_walsh_hadamard_does_not_overflow_to_nan(n, e, seed):
    """Values near the float maximum: partial sums reach 2^n max|v| (inf - inf = NaN). Every
    coefficient is an average of the values, so it is finite; checked against the transform of the
    values scaled down by 2^e (exact) and scaled back."""
    rng = np.random.default_rng(seed)
    v = rng.uniform(-1, 1, size=1 << n)
    big = fourier.walsh_hadamard(np.ldexp(v, e))
    assert np.isfinite(big).all()
    np.testing.assert_allclose(big, np.ldexp(fourier.walsh_hadamard(v), e), rtol=1e-12, atol=math.ldexp(1e-15, e))


def test_walsh_hadamard_near_the_float_maximum():
    # all 1e308: f^(()) = 1e308, every other coefficient 0 (the unnormalised sum 8e308 overflowed to NaN)
    out = fourier.walsh_hadamard(np.full(8, 1e308))
    np.testing.assert_array_equal(out, [1e308] + [0.0] * 7)
    # (M, -M): coefficients (0, M) with M the largest float
    big = np.finfo(np.float64).max
    np.testing.assert_array_equal(fourier.walsh_hadamard(np.array([big, -big])), [0.0, big])


def test_support_errors_name_the_parameter():
    rng = np.random.default_rng(0)
    x = rng.choice(np.array([-1, 1], dtype=np.int8), size=(8, 5))
    with pytest.raises(ValueError, match=r"^support indices must lie in \[0, n-1\] = \[0, 4\]; got 7"):
        fourier.random_off_support_subsets(5, (7,), 1, 1, rng)
    with pytest.raises(ValueError, match=r"^support must not repeat indices"):
        fourier.support_spectrum(np.ones(8), x, (1, 1))
    with pytest.raises(ValueError, match=r"^support indices must lie"):
        fourier.support_spectrum(np.ones(8), x, (9,))
    with pytest.raises(ValueError, match=r"^subset indices must lie"):
        fourier.chi(x, (5,))
