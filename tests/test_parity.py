"""Tests for parity_theory.parity.ParityTask: validation, labels, reproducible sampling."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given

from parity_theory import strategies as pst
from parity_theory.parity import ParityTask, check_pm1
from parity_theory.stats import hoeffding_tol


@given(pst.parity_tasks(max_n=20), pst.seeds())
def test_labels_are_the_parity_of_the_support(task, seed):
    x, y = task.sample(64, np.random.default_rng(seed))
    assert x.dtype == np.int8 and x.shape == (64, task.n)
    assert y.dtype == np.int8 and y.shape == (64,)
    for s in range(64):
        prod = 1
        for i in task.support:
            prod *= int(x[s, i])
        assert y[s] == prod
    np.testing.assert_array_equal(task.label(x), y)
    np.testing.assert_array_equal(task.class_of(x), (y == -1).astype(np.int64))
    assert set(np.unique(x)) <= {-1, 1}


def test_same_seed_same_samples_and_different_seed_differs():
    task = ParityTask(30, (2, 7, 11))
    x1, y1 = task.sample(500, np.random.default_rng(42))
    x2, y2 = task.sample(500, np.random.default_rng(42))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    x3, _ = task.sample(500, np.random.default_rng(43))
    assert not np.array_equal(x1, x3)
    t1 = ParityTask.random(100, 6, np.random.default_rng(5))
    t2 = ParityTask.random(100, 6, np.random.default_rng(5))
    assert t1 == t2 and t1.k == 6 and len(set(t1.support)) == 6
    assert all(0 <= i < 100 for i in t1.support) and list(t1.support) == sorted(t1.support)


def test_same_seed_same_samples_in_a_fresh_process():
    """The stream depends only on the seed (numpy PCG64), not on process state."""
    code = (
        "import json, numpy as np; from parity_theory import ParityTask;"
        "t = ParityTask.random(50, 4, np.random.default_rng(9));"
        "x, y = t.sample(200, np.random.default_rng(10));"
        "print(json.dumps([list(t.support), x.astype(int).sum(axis=0).tolist(), y.astype(int).tolist()]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    support, col_sums, labels = json.loads(out)
    t = ParityTask.random(50, 4, np.random.default_rng(9))
    x, y = t.sample(200, np.random.default_rng(10))
    assert support == list(t.support)
    assert col_sums == x.astype(int).sum(axis=0).tolist()
    assert labels == y.astype(int).tolist()


def test_samples_are_uniform_within_hoeffding_tolerance():
    """E[x_i] = 0 for each coordinate and E[y] = 0 (k >= 1): n + 1 checks at delta = 1e-6."""
    task = ParityTask(50, (0, 10, 20, 30))
    m = 20_000
    x, y = task.sample(m, np.random.default_rng(123))
    tol = hoeffding_tol(m, n_checks=51, delta=1e-6)
    assert np.all(np.abs(x.mean(axis=0)) <= tol)
    assert abs(y.mean()) <= tol


def test_support_is_sorted_and_normalised():
    t = ParityTask(np.int64(10), np.array([7, 2, 5]))
    assert t.support == (2, 5, 7) and isinstance(t.n, int) and all(type(i) is int for i in t.support)
    assert ParityTask(10, [5, 2]) == ParityTask(10, (2, 5))


@pytest.mark.parametrize(
    "args, exc, pattern",
    [
        ((0, (0,)), ValueError, r"ParityTask.n must be a positive int; got 0"),
        ((2.5, (0,)), TypeError, r"ParityTask.n must be a positive int; got 2.5"),
        ((True, (0,)), TypeError, r"ParityTask.n must be a positive int; got True"),
        ((5, ()), ValueError, r"support must be non-empty"),
        ((5, (1, 1)), ValueError, r"must not repeat indices; got \(1, 1\)"),
        ((5, (0, 5)), ValueError, r"indices must lie in \[0, n-1\] = \[0, 4\]; got 5"),
        ((5, (-1,)), ValueError, r"got -1"),
        ((5, (1.0,)), TypeError, r"support must hold ints; got 1.0"),
        ((5, 3), TypeError, r"support must be a sequence of ints; got 3"),
    ],
)
def test_bad_construction(args, exc, pattern):
    with pytest.raises(exc, match=pattern):
        ParityTask(*args)


def test_bad_random_and_sample_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"ParityTask.k must be an int in \[1, n\]; got k=7 with n=5"):
        ParityTask.random(5, 7, rng)
    with pytest.raises(ValueError, match=r"ParityTask.k must be a positive int; got 0"):
        ParityTask.random(5, 0, rng)
    with pytest.raises(TypeError, match=r"ParityTask.k must be a positive int; got '3' \(str\)"):
        ParityTask.random(5, "3", rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator.*got 0\."):
        ParityTask.random(5, 2, 0)
    task = ParityTask(5, (0, 1))
    with pytest.raises(ValueError, match=r"ParityTask.sample.m must be a positive int; got 0"):
        task.sample(0, rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator.*got RandomState"):
        task.sample(3, np.random.RandomState(0))


def test_bad_label_input():
    task = ParityTask(4, (0, 3))
    x = np.ones((3, 4), dtype=np.int8)
    x[1, 2] = 0
    with pytest.raises(ValueError, match=r"x must have entries in \{-1, \+1\}; got 0 at index \(1, 2\)"):
        task.label(x)
    with pytest.raises(ValueError, match=r"x must have n=4 columns; got shape \(3, 5\)"):
        task.label(np.ones((3, 5), dtype=np.int8))
    with pytest.raises(ValueError, match=r"x must be a 2-D array of shape \(m, n\); got shape \(4,\)"):
        task.label(np.ones(4, dtype=np.int8))
    with pytest.raises(ValueError, match=r"got nan"):
        task.label(np.array([[1.0, -1.0, np.nan, 1.0]]))
    with pytest.raises(TypeError, match=r"x must be numeric.*got dtype bool"):
        task.label(np.ones((2, 4), dtype=bool))
    # float and int64 inputs in {-1, +1} are accepted and labelled
    np.testing.assert_array_equal(task.label(np.array([[-1.0, 1, 1, 1], [-1, 1, 1, -1]])), [-1, 1])
    np.testing.assert_array_equal(check_pm1(np.array([[1, -1]], dtype=np.int64)), np.array([[1, -1]], dtype=np.int8))


@given(pst.support_and_subsets(max_n=12), pst.pm1_functions(max_n=5), pst.truth_tables(max_n=4, lo=0.0, hi=1.0))
def test_public_strategies_produce_valid_objects(n_subsets, pm1_table, prob_table):
    n, subs = n_subsets
    for T in subs:
        assert list(T) == sorted(set(T)) and all(0 <= i < n for i in T)
    assert set(np.unique(pm1_table)) <= {-1.0, 1.0} and len(pm1_table) & (len(pm1_table) - 1) == 0
    assert np.all((prob_table >= 0) & (prob_table <= 1)) and len(prob_table) & (len(prob_table) - 1) == 0
