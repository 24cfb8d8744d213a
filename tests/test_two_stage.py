"""The simulated 2-stage algorithm (parity_theory.two_stage, sims.two_stage): exact population gradients
against enumeration, Monte Carlo against the closed form, the algorithm's pieces, the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parity_theory import fourier, hoeffding_tol, symmetric
from parity_theory import strategies as pst
from parity_theory import two_stage as ts

FALSE_ALARM = 1e-6


def all_inputs(d: int) -> np.ndarray:
    """All 2^d points of {-1,+1}^d as float (2^d, d), row b has x_i = -1 iff bit i of b is set."""
    b = np.arange(2**d)[:, None]
    return 1.0 - 2.0 * ((b >> np.arange(d)[None, :]) & 1)


# ------------------------------------------------------------------------------------------------
# two-block Krawtchouk closed form
# ------------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(k1=st.integers(0, 5), k2=st.integers(0, 5), seed=pst.seeds())
def test_two_block_formula_matches_enumeration(k1, k2, seed):
    rng = np.random.default_rng(seed)
    n = k1 + k2
    G = rng.uniform(-3, 3, size=(k1 + 1, k2 + 1))
    block1 = set(int(i) for i in rng.choice(n, size=k1, replace=False)) if n else set()
    H = symmetric.fourier_two_block(G)
    x = all_inputs(n)
    j1 = ((x[:, sorted(block1)] < 0).sum(1)).astype(int) if k1 else np.zeros(2**n, int)
    j2 = ((x[:, sorted(set(range(n)) - block1)] < 0).sum(1)).astype(int) if k2 else np.zeros(2**n, int)
    coef = fourier.walsh_hadamard(G[j1, j2])
    for b in range(2**n):
        T = set(fourier.index_subset(b))
        assert coef[b] == pytest.approx(H[len(T & block1), len(T - block1)], abs=1e-12)


def test_two_block_reduces_to_one_block_and_rejects_bad_input():
    g = np.array([0.3, -1.0, 2.0, 0.5])
    H = symmetric.fourier_two_block(np.repeat(g[:, None], 4, axis=1))  # constant in block 2
    assert np.allclose(H[:, 0], symmetric.fourier_by_degree(g), atol=1e-15)
    assert np.allclose(H[:, 1:], 0, atol=1e-15)
    with pytest.raises(ValueError, match="2-D"):
        symmetric.fourier_two_block(g)
    with pytest.raises(ValueError, match="finite"):
        symmetric.fourier_two_block(np.array([[1.0, np.nan]]))


# ------------------------------------------------------------------------------------------------
# exact population gradients of the algorithm, by enumeration
# ------------------------------------------------------------------------------------------------
def _dense_teacher(teacher: ts.Teacher, in_s: np.ndarray):
    U = teacher.alpha[:, None] * in_s[None, :] + teacher.beta[:, None] * (~in_s)[None, :]
    return U, teacher.c


@pytest.mark.parametrize("d,k", [(9, 3), (10, 4), (8, 2)])
def test_population_gradient_equals_enumeration(d, k):
    cfg = ts.TwoStageConfig(d=d, k=k, teacher_width=16, n_init_biases=4)
    teacher = ts.train_teacher(cfg)
    rng = np.random.default_rng(d * 10 + k)
    support = np.sort(rng.choice(d, size=k, replace=False))
    in_s = np.zeros(d, bool)
    in_s[support] = True
    x = all_inputs(d)
    U, c = _dense_teacher(teacher, in_s)
    phi = np.maximum(x @ U.T + c, 0.0)  # the teacher network evaluated directly, not through its tables
    direct = {"labels": np.prod(x[:, support], axis=1), "mid": np.clip(phi @ teacher.a_init, -1, 1),
              "final": np.clip(phi @ teacher.a_final, -1, 1)}
    j1, j2 = ts._block_index(x.astype(np.float32), support, k, d)
    b = cfg.init_biases()
    for name, y in direct.items():
        table = ts.target_table(teacher, name)
        assert np.allclose(table[j1, j2], y, atol=1e-9), name  # the tables are the network
        pop = ts.population_gradient(table, d, k, b)  # (n_b, 2)
        brute = np.array([(y[:, None] * (x.sum(1) + bb > 0)[:, None] * x).mean(0) for bb in b])  # (n_b, d)
        assert np.allclose(brute[:, in_s], pop[:, [0]], atol=1e-12), name
        assert np.allclose(brute[:, ~in_s], pop[:, [1]], atol=1e-12), name
        # the sampled estimator, fed every input once, is exactly the population gradient
        emp = ts.empirical_gradient(x.astype(np.float32), y.astype(np.float32), b) / 2**d
        assert np.allclose(emp, brute, atol=1e-6), name
    # the exact degree-1 coefficients the teacher reports
    assert direct["mid"] @ x[:, support[0]] / 2**d == pytest.approx(teacher.rho_mid, abs=1e-12)
    off = direct["mid"] @ x[:, np.flatnonzero(~in_s)[0]] / 2**d
    assert off == pytest.approx(symmetric.fourier_two_block(ts.target_table(teacher, "mid"))[0, 1], abs=1e-12)
    if not np.any(teacher.beta):  # first layer zero off S: no degree-1 mass there
        assert abs(off) < 1e-12
    assert np.mean((phi @ teacher.a_final - direct["labels"]) ** 2) == pytest.approx(teacher.mse_final, abs=1e-12)


def test_labels_gradient_signal_is_degree_k_minus_1():
    """On labels the in-support gradient is the degree-(k-1) coefficient of the threshold of sum(x)
    (closed form of the one-block Krawtchouk formula over all d coordinates); off support degree k+1."""
    d, k, b = 16, 3, -2.5
    thr = symmetric.fourier_by_degree(symmetric.values_by_j(lambda s: float(s + b > 0), d))
    cfg = ts.TwoStageConfig(d=d, k=k)
    labels = ts.target_table(ts.train_teacher(cfg), "labels")
    g_in, g_off = ts.population_gradient(labels, d, k, b)[0]
    assert g_in == pytest.approx(thr[k - 1], abs=1e-14) and g_off == pytest.approx(thr[k + 1], abs=1e-14)


def test_monte_carlo_gradient_within_hoeffding_tolerance():
    """Each term y 1[.] x_j lies in [-1, 1]: Hoeffding with a union over all (bias, coordinate, target)."""
    d, k, n = 24, 3, 200_000
    cfg = ts.TwoStageConfig(d=d, k=k)
    teacher = ts.train_teacher(cfg)
    rng = np.random.default_rng(7)
    support = np.sort(rng.choice(d, size=k, replace=False))
    in_s = np.zeros(d, bool)
    in_s[support] = True
    x = ts.sample_inputs(rng, n, d)
    j1, j2 = ts._block_index(x, support, k, d)
    b = cfg.init_biases()
    names = ("labels", "mid", "final")
    tol = hoeffding_tol(n, n_checks=len(names) * len(b) * d, delta=FALSE_ALARM)
    for name in names:
        table = ts.target_table(teacher, name)
        emp = ts.empirical_gradient(x, table[j1, j2].astype(np.float32), b) / n
        pop = ts.population_gradient(table, d, k, b)
        want = np.where(in_s[None, :], pop[:, [0]], pop[:, [1]])
        assert np.abs(emp - want).max() <= tol, (name, np.abs(emp - want).max(), tol)
    # and the mid-checkpoint signal is resolved at this n (signal, not sampling noise)
    assert np.abs(ts.population_gradient(ts.target_table(teacher, "mid"), d, k, b)[:, 0]).max() > 10 * tol


# ------------------------------------------------------------------------------------------------
# the algorithm's pieces
# ------------------------------------------------------------------------------------------------
def test_teacher_is_the_parity_and_its_mid_checkpoint_leaks_the_support():
    for d, k in [(16, 3), (20, 4), (16, 5)]:
        t = ts.train_teacher(ts.TwoStageConfig(d=d, k=k))
        assert t.mse_final < 1e-6, (d, k, t.mse_final)
        assert abs(t.rho_mid) > 0.1, (d, k, t.rho_mid)  # the intermediate checkpoint has degree-1 mass on S
        assert abs(t.rho_final) < 1e-4  # the final one does not
        assert np.allclose(t.mid, -t.mid[::-1, ::-1], atol=1e-12)  # odd in x: f(-x) = -f(x)


def test_stage2_on_clean_features_fits_the_parity():
    d, k = 20, 4
    cfg = ts.TwoStageConfig(d=d, k=k)
    rng = np.random.default_rng(3)
    support = np.arange(k)
    G = np.zeros((cfg.n_init_biases, d))
    G[:, support] = 1.0
    U, c, a0 = ts.stage1_weights(G, cfg, cfg.width)
    assert U.shape == (cfg.width, d) and np.array_equal(ts.read_support(U), np.arange(d) < k)
    x = ts.sample_inputs(rng, 4096, d)
    a = ts.stage2_fit(ts.features(x, U, c), np.prod(x[:, support], axis=1), cfg.ridge)
    xt = ts.sample_inputs(rng, 4096, d)
    mse = np.mean((ts.features(xt, U, c) @ a - np.prod(xt[:, support], axis=1)) ** 2)
    assert mse < 1e-3


def test_progressive_needs_fewer_samples_than_one_shot_and_ce_on_every_seed():
    cfg = ts.TwoStageConfig(d=16, k=3)
    teacher = ts.train_teacher(cfg)
    grid = ts.grid_sizes(32, 2**20)
    for seed in range(3):
        r = ts.first_passage(teacher, seed, grid)
        assert math.isfinite(r["progressive"]["samples"]) and r["progressive"]["mse"] <= cfg.eps
        assert r["progressive"]["samples"] * 8 < r["one_shot"]["samples"], (seed, r)
        assert r["progressive"]["samples"] * 8 < r["ce"]["samples"], (seed, r)
    again = ts.first_passage(teacher, 0, grid)  # reproducible from the seed
    assert again == ts.first_passage(teacher, 0, grid)


def test_grid_and_config_validation():
    g = ts.grid_sizes(32, 1024)
    assert g[0] == 32 and g[-1] <= 1024 and np.all(np.diff(g) > 0) and 1024 in g
    with pytest.raises(ValueError, match="k must be an int in"):
        ts.TwoStageConfig(d=5, k=5)
    with pytest.raises(ValueError, match="width must be even"):
        ts.TwoStageConfig(d=10, k=3, width=7)
    with pytest.raises(ValueError, match="eps must be a real in"):
        ts.TwoStageConfig(d=10, k=3, eps=1.5)
    with pytest.raises(TypeError, match="d must be an int"):
        ts.TwoStageConfig(d=10.0, k=3)
    with pytest.raises(ValueError, match="init_bias_range must be finite with lo <= hi"):
        ts.TwoStageConfig(d=10, k=3, init_bias_range=(0.5, -0.5))
    b = ts.TwoStageConfig(d=16, k=3, n_init_biases=4).init_biases()
    assert b == pytest.approx([-3.2, -2.4, -1.6, -0.8])  # [-0.8, -0.2] * sqrt(16), evenly spaced
    with pytest.raises(ValueError, match="strategies must be among"):
        ts.first_passage(ts.train_teacher(ts.TwoStageConfig(d=8, k=2)), 0, g, strategies=("nope",))
    with pytest.raises(ValueError, match="grid must be"):
        ts.first_passage(ts.train_teacher(ts.TwoStageConfig(d=8, k=2)), 0, np.array([4, 2]))


# ------------------------------------------------------------------------------------------------
# the scaling table, the fit and the CLI
# ------------------------------------------------------------------------------------------------
def test_fit_exponent_recovers_a_power_law():
    from sims.two_stage import fit_exponent

    d = np.array([8, 16, 32, 64])
    assert fit_exponent(d, 3 * d**1.5) == pytest.approx(1.5, abs=1e-12)
    assert math.isnan(fit_exponent([8, 8], [1, 2]))


def test_scaling_table_and_cli_smoke(tmp_path, capsys):
    from pdistill.cli import main as pdistill

    out = tmp_path / "out"
    rc = pdistill(["scaling", "--algorithm", "two_stage", "--k", "3", "--d", "8,10", "--seeds", "2",
                   "--n-max", "8192", "--out", str(out), "--quiet"])
    assert rc == 0, capsys.readouterr().err
    for f in ("exponents.parquet", "by_d.parquet", "points.parquet", "two_stage_scaling.png", "manifest.json"):
        assert (out / f).is_file(), f
    ex = pd.read_parquet(out / "exponents.parquet").set_index("strategy")
    assert set(ex.index) == {"ce", "one_shot", "progressive"}
    # the calculator's exponents at k = 3: one-shot (max reading) d^(k-1) = d^2; progressive d^2; CE (kou2024) d^2
    assert ex.loc["one_shot", "calculator_bound"] == "paper_one_shot_max" and ex.loc["one_shot", "calculator_exponent"] == 2
    assert ex.loc["progressive", "calculator_exponent"] == 2 and ex.loc["ce", "calculator_bound"] == "kou2024"
    pts = pd.read_parquet(out / "points.parquet")
    assert len(pts) == 2 * 2 * 3 and set(pts["d"]) == {8, 10}
    assert json.loads((out / "manifest.json").read_text())["config"]["k"] == [3]


@pytest.mark.parametrize("argv,msg", [
    (["--d", "8"], "at least two distinct"),
    (["--k", "1", "--d", "8,10"], "k must be ints >= 2"),
    (["--k", "3", "--d", "3,10"], "d must be ints > k"),
    (["--algorithm", "sgd", "--d", "8,10"], "--algorithm must be one of"),
    (["--d", "8,x"], "comma-separated integers"),
    (["--d", "8,10", "--bogus"], "unrecognized arguments"),
    (["--d", "8,10", "--seeds", "1"], "seeds must be an int >= 2"),
    (["--d", "8,10", "--strategies", "ce,nope"], "strategies must be"),
    (["--d", "8,10", "--eps", "2"], "eps must be a real in"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, msg):
    from sims.two_stage import main

    rc = main(["--k", "3", *argv, "--out", str(tmp_path / "o")] if "--k" not in argv else [*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and msg in err and len(err.strip().splitlines()) == 1, err


def test_cli_out_must_be_a_folder(tmp_path, capsys):
    from sims.two_stage import main

    f = tmp_path / "file"
    f.write_text("x")
    assert main(["--k", "3", "--d", "8,10", "--out", str(f)]) == 2
    assert "must be a folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# the claim check
# ------------------------------------------------------------------------------------------------
def test_check_two_stage_verdict_rule():
    from paper_checks.check_two_stage import verdict_from

    assert verdict_from([dict(lo=0.2, median=1.0)]) == "holds"
    assert verdict_from([dict(lo=0.2, median=1.0), dict(lo=-0.1, median=0.5)]) == "inconclusive"
    assert verdict_from([dict(lo=0.2, median=1.0), dict(lo=-0.5, median=-0.1)]) == "does not hold"
    assert verdict_from([dict(lo=-0.5, median=0.0)]) == "does not hold"
    assert verdict_from([dict(lo=math.nan, median=math.nan)]) == "inconclusive"
    assert verdict_from([]) == "inconclusive"


def test_check_two_stage_grids_and_bad_grid():
    import argparse

    from paper_checks._claims import Context
    from paper_checks.check_two_stage import GRIDS, grid_for

    ns = argparse.Namespace(quick=False, scale="cpu", device="cpu", no_progress=True, out="x", cache_dir=None,
                            seeds=None, threads=1, transformer=False, two_stage_grid="long")
    g = grid_for(Context(ns))
    assert g["name"] == "long" and [k for k, _ in g["cells"]] == [3, 4, 5] and g["seeds"] == 8
    assert all(min(ds) > k for k, ds in GRIDS["long"]["cells"])
    ns.two_stage_grid = "huge"
    with pytest.raises(ValueError, match="--two-stage-grid must be one of"):
        grid_for(Context(ns))
