"""Tests of the implicit-curriculum probe (sims/probe.py).

Statistical checks use tolerances from concentration bounds at a stated false-alarm rate:
CLT bands z * stderr with z = Phi^-1(1 - delta / (2 J)) over all J checks (delta = 1e-6), and
Hoeffding for the distribution-free version. Seeds are fixed.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from parity_theory.fourier import correlations
from parity_theory.parity import ParityTask
from parity_theory.stats import clt_tol, hoeffding_tol
from parity_theory.symmetric import fourier_by_degree, values_by_j
from sims.probe import (
    RULES,
    CallableRun,
    _Prober,
    choose_checkpoint,
    curriculum_summary,
    degree_summary,
    plot_probe,
    predicted_vs_measured,
    probe_run,
    subset_correlations_all,
    thresholding_samples,
    write_parquet,
)
from curriculum.transition import Transition


def _accuracy_window(run):
    """(start, end) of the run's accuracy transition from its own evals (curriculum.Transition)."""
    acc = run.accuracies()
    tr = Transition.from_series(list(acc), list(acc.values()), metric="accuracy")
    return tr.start, tr.end

DELTA = 1e-6  # family-wise false-alarm rate of every statistical assertion below


def _symmetric_teacher(task: ParityTask, g):
    """p(x) = g(sum_{i in S} x_i) and its exact coefficients h_m (m = 0..k) by Krawtchouk sums."""
    sup = list(task.support)

    def p(x):
        s = np.asarray(x)[:, sup].astype(np.int64).sum(1)
        return np.array([g(int(v)) for v in range(-task.k, task.k + 1)])[s + task.k]

    return p, fourier_by_degree(values_by_j(g, task.k))


# ------------------------------------------------------------------------------ synthetic teachers
@pytest.mark.parametrize("center", [True, False])
def test_symmetric_teacher_coefficients_recovered(center):
    task = ParityTask(30, (3, 8, 17, 25))
    g = lambda s: (s + 4) ** 2 / 64.0  # in [0, 1]; h_1 = 1/8, h_2 = 1/32, h_3 = h_4 = 0  # noqa: E731
    p, h = _symmetric_teacher(task, g)
    assert np.allclose(h[1:], [1 / 8, 1 / 32, 0, 0], atol=1e-12)  # independent hand computation
    run = CallableRun(task, {0: lambda x: np.full(len(x), 0.5), 10: p})
    N = 40_000
    tab = probe_run(run, samples=N, seed=3, device=None, center=center)
    assert set(tab.columns) >= {"step", "accuracy", "degree", "in_support", "T", "corr", "stderr"}
    t = tab[tab["step"] == 10]
    J = len(t)
    truth = np.where(t["in_support"], h[t["degree"].to_numpy()], 0.0)
    tol = clt_tol(t["stderr"].to_numpy(), n_checks=J, delta=DELTA)
    assert np.all(np.abs(t["coef"].to_numpy() - truth) <= tol + 1.0 / N)  # + O(1/N) centring bias
    hoef = hoeffding_tol(N, n_checks=J, delta=DELTA, value_range=(-1.0, 1.0))
    assert np.all(np.abs(t["coef"].to_numpy() - truth) <= hoef + 1.0 / N)
    # every in-support subset and R = 100 off-support subsets per degree (fewer at degree 1: 26)
    counts = t.groupby(["degree", "in_support"]).size()
    assert counts[(1, True)] == 4 and counts[(2, True)] == 6 and counts[(4, True)] == 1
    assert counts[(1, False)] == 26 and counts[(3, False)] == 100
    # the constant checkpoint: exactly 0 when centred, else sampling noise of 0.5 * mean(chi_T)
    t0 = tab[tab["step"] == 0]
    assert np.all(t0["corr"] <= (1e-12 if center else clt_tol(0.5 / math.sqrt(N), J, DELTA)))
    summ = degree_summary(tab, delta=1e-3)
    flags = summ[summ["step"] == 10].set_index("degree")["spikes"].to_dict()
    assert flags == {1: True, 2: True, 3: False, 4: False}
    assert not summ[summ["step"] == 0]["spikes"].any()


def test_matmul_path_equals_fourier_kernels():
    rng = np.random.default_rng(5)
    task = ParityTask(25, (1, 4, 9))
    x, _ = task.sample(3000, rng)
    mask = rng.random((40, 25)) < 0.1
    f = rng.random(3000)
    a = _Prober(x, mask, "matmul")(f)
    est = correlations(f, x, mask)
    assert np.allclose(a[0], est.mean, atol=1e-6)
    assert np.allclose(a[1], est.stderr, rtol=1e-6, atol=1e-9)
    b = _Prober(x, mask, "kernel")(f)
    assert np.array_equal(b[0], est.mean)
    # whole tables: matmul vs kernels (support_spectrum for in-support rows + correlations)
    p = lambda z: 0.5 + 0.1 * z[:, 1] * z[:, 4] + 0.05 * z[:, 9] + 0.02 * z[:, 0]  # noqa: E731
    run = CallableRun(task, {s: p for s in range(5)})
    tm = probe_run(run, samples=4000, seed=1, device=None, method="matmul")
    tk = probe_run(run, samples=4000, seed=1, device=None, method="kernel")
    assert np.allclose(tm["coef"], tk["coef"], atol=1e-6) and np.allclose(tm["stderr"], tk["stderr"], rtol=1e-5)
    truth = {"1,4": 0.1, "9": 0.05}
    t0 = tk[tk["step"] == 0].set_index("T")["coef"]
    for T, v in truth.items():
        assert abs(t0[T] - v) <= clt_tol(0.3 / math.sqrt(4000), len(t0), DELTA)


def test_subset_correlations_all_matches_kernels():
    rng = np.random.default_rng(7)
    x = rng.choice(np.array([-1, 1], np.int8), size=(500, 9))
    f = rng.random(500)
    from itertools import combinations

    for d in (1, 2, 3):
        subs = list(combinations(range(9), d))
        assert np.allclose(subset_correlations_all(f, x, d), correlations(f, x, subs).mean, atol=1e-12)
    with pytest.raises(ValueError, match="degree"):
        subset_correlations_all(f, x, 4)


def test_same_samples_for_all_checkpoints_and_seeded():
    task = ParityTask(12, (0, 5))
    p = lambda x: 0.5 + 0.2 * x[:, 0]  # noqa: E731
    run = CallableRun(task, {1: p, 2: p, 3: p})
    a = probe_run(run, samples=2000, seed=1, device=None, off_support_per_degree=10)
    by_step = [g["coef"].to_numpy() for _, g in a.groupby("step")]
    assert np.array_equal(by_step[0], by_step[1]) and np.array_equal(by_step[1], by_step[2])
    b = probe_run(run, samples=2000, seed=1, device=None, off_support_per_degree=10)
    pd.testing.assert_frame_equal(a, b)
    c = probe_run(run, samples=2000, seed=2, device=None, off_support_per_degree=10)
    assert not np.array_equal(a["coef"].to_numpy(), c["coef"].to_numpy())
    w = probe_run(run, samples=2000, seed=1, device=None, off_support_per_degree=10, steps=(2, None))
    assert sorted(w["step"].unique()) == [2, 3]


def test_bad_inputs_raise_clear_errors():
    task = ParityTask(10, (1, 2))
    run = CallableRun(task, {0: lambda x: np.full(len(x), 0.5)})
    with pytest.raises(TypeError, match="run must have"):
        probe_run(object())
    with pytest.raises(ValueError, match="samples"):
        probe_run(run, samples=1, device=None)
    with pytest.raises(TypeError, match="samples"):
        probe_run(run, samples=10.5, device=None)
    with pytest.raises(ValueError, match="not checkpoints"):
        probe_run(run, samples=100, steps=[5], device=None)
    with pytest.raises(ValueError, match="holds no checkpoint"):
        probe_run(run, samples=100, steps=(3, 4), device=None)
    bad = CallableRun(task, {0: lambda x: np.full(len(x), 1.5)})
    with pytest.raises(ValueError, match="probabilities"):
        probe_run(bad, samples=100, device=None)
    with pytest.raises(ValueError, match="rule must be one of"):
        choose_checkpoint(run, "median")
    with pytest.raises(ValueError, match="threshold"):
        choose_checkpoint(run, "accuracy", threshold=1.5)
    with pytest.raises(TypeError, match="DataFrame"):
        degree_summary([1, 2])


# ------------------------------------------------------------------------------ checkpoint choice
def _staged_run():
    """Synthetic teacher: correct on a fraction a_t of inputs (hashed from off-support bits),
    p = 1/2 elsewhere; a degree-1 bump on x_0 (in S) only at step 300."""
    task = ParityTask(20, (0, 1, 2))
    fracs = {0: 0.0, 100: 0.05, 200: 0.15, 300: 0.3, 400: 0.6, 500: 0.8, 600: 1.0, 700: 1.0}
    w = 2 ** np.arange(10)

    def make(step, a):
        def p(x):
            u = ((np.asarray(x)[:, 10:20] > 0) @ w) / 1024.0
            cls1 = np.prod(x[:, :3], axis=1) < 0
            out = np.where(u < a, np.where(cls1, 0.95, 0.05), 0.5)
            if step == 300:
                out = out + 0.04 * x[:, 0] * (u >= a)
            return out

        return p

    return task, CallableRun(task, {s: make(s, a) for s, a in fracs.items()}), fracs


def test_choose_checkpoint_rules_and_transition():
    task, run, fracs = _staged_run()
    tab = probe_run(run, samples=20_000, seed=0, device=None, off_support_per_degree=50)
    acc = tab.groupby("step")["accuracy"].first()
    # accuracy = a + (1 - a) / 2 up to sampling: within Hoeffding tolerance
    tol = hoeffding_tol(20_000, n_checks=len(fracs), delta=DELTA, value_range=(0, 1))
    assert np.all(np.abs(acc.values - np.array([a + (1 - a) / 2 for a in fracs.values()])) <= tol)
    assert choose_checkpoint(run, "accuracy", table=tab) == 300  # first with acc >= 0.6 (0.65)
    assert choose_checkpoint(run, "accuracy", table=tab, threshold=0.85) == 500
    assert choose_checkpoint(run, "peak", table=tab) == 300
    # loss drops most between 300 and 500 (fractions 0.3 -> 0.8): central difference picks 400
    assert choose_checkpoint(run, "steepest", table=tab) == 400
    # accuracy 0.5 -> 1.0: start = the step before the first >= 0.55 (0.575 at 200), end = first >= 0.95;
    # the steepest central difference of accuracy is at 400 ((0.9 - 0.65) / 200)
    cs = curriculum_summary(tab)
    assert cs["transition"] == {"start": 100, "mid": 400, "end": 600}
    d1 = cs["degrees"][1]
    assert d1["peak_step"] == 300 and d1["spikes"] and d1["precedes_end"]
    assert abs(d1["peak_in_max"] - 0.04 * 0.7) <= clt_tol(0.5 / math.sqrt(20_000), 1, DELTA)
    # without a table the rule probes the run itself
    assert choose_checkpoint(run, "peak", samples=20_000, seed=0, device=None, off_support_per_degree=50) == 300


# ------------------------------------------------------------------------------ predicted vs measured
def test_thresholding_learner_within_support_recovery_bound():
    task = ParityTask(16, (2, 7, 11))
    rho = 0.1
    p = lambda x: 0.5 + rho * x[:, list(task.support)].sum(1)  # in [0.2, 0.8]; h_1 = rho  # noqa: E731
    run = CallableRun(task, {5: p})
    tab = probe_run(run, samples=50_000, seed=0, device=None)
    res = predicted_vs_measured(run, 5, tab, degree=1, delta=0.1, trials=8, seed=1,
                                grid=[2 ** i for i in range(4, 14)], device=None)
    assert res["degree"] == 1 and abs(res["rho"] - rho) < 0.01
    # prediction (8 B^2/rho^2) ln(2 C(16, 1)/delta), B = 1/2 for centred outputs, rho as measured
    assert res["B"] == 0.5
    assert res["predicted"] == pytest.approx(2 / res["rho"] ** 2 * math.log(2 * 16 / 0.1), rel=1e-6)
    assert res["measured_threshold"] is not None and res["bounds_measurement"]
    assert res["measured_top"] <= res["measured_threshold"]
    # a threshold above the signal never recovers S (the learner cannot cheat)
    out = thresholding_samples(p, task, 1, np.random.default_rng(2), threshold=1.5 * rho, grid=[4096], trials=3)
    assert out["n_threshold"] is None and out["rate_threshold"] == [0.0]


def test_thresholding_learner_fails_without_signal():
    task = ParityTask(10, (1, 4))
    out = thresholding_samples(lambda x: np.full(len(x), 0.5) + 0.0 * x[:, 0], task, 1,
                               np.random.default_rng(0), threshold=0.05, grid=[64, 256], trials=4)
    assert out["n_threshold"] is None  # nothing exceeds the threshold: the set is empty, never S


# ------------------------------------------------------------------------------ figure, parquet
def test_plot_and_parquet(tmp_path):
    task, run, _ = _staged_run()
    tab = probe_run(run, samples=2000, seed=0, device=None, off_support_per_degree=20)
    path = write_parquet(tab, tmp_path / "c.parquet")
    back = pd.read_parquet(path)
    assert list(back.columns) == list(tab.columns) and len(back) == len(tab)
    plot_probe(tab, tmp_path / "p.png", chosen=300)
    assert (tmp_path / "p.png").stat().st_size > 5000
    assert not list(tmp_path.glob("*.tmp"))


# ------------------------------------------------------------------------------ real teachers
def _tiny_runs(root, seeds, ckpt_every):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from sims.config import TeacherConfig
    from sims.train import train_teachers

    cfg = TeacherConfig(ckpt_every=ckpt_every, eval_every=ckpt_every)  # defaults = docs/paper.md §3 tiny
    return train_teachers(cfg, seeds=seeds, out_root=root, device="cpu", progress=False)


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    """docs/paper.md §3 'tiny' teachers, (n, k) = (40, 4), width 500, Adam 3e-3, batch 32, 1200 steps,
    checkpoints every 50, 5 seeds trained as one ensemble (~15 s on 2 shared cores)."""
    return _tiny_runs(tmp_path_factory.mktemp("tiny"), [0, 1, 2, 3, 4], 50)


def _check_curriculum(run, tab, N):
    """The issue's criteria on one teacher; returns the spiking degree."""
    k = run.task.k
    summ = degree_summary(tab)
    low = summ[summ["degree"] < k]
    # a low in-support degree peaks at >= 4x the off-support mean of its degree and above 3/sqrt(N)
    ok = low[(low["in_mean"] >= 4 * low["off_mean"]) & (low["in_mean"] > 3 / math.sqrt(N))]
    assert len(ok) > 0, f"{run.out_dir}: no low-degree spike\n{low.sort_values('in_mean').tail()}"
    # at the final checkpoint every in-support T with |T| < k is below 3/sqrt(N) + 0.005
    fin = tab[(tab["step"] == run.final_step) & tab["in_support"] & (tab["degree"] < k)]
    assert len(fin) == 2 ** k - 2
    assert fin["corr"].max() < 3 / math.sqrt(N) + 0.005, fin.sort_values("corr").tail()
    # the chosen checkpoint lies inside the accuracy transition
    t_lo, t95 = _accuracy_window(run)
    for rule in RULES:
        c = choose_checkpoint(run, rule, table=tab)
        assert t95 is not None and t_lo <= c <= t95, (rule, c, t_lo, t95)
    return int(ok.loc[ok["in_mean"].idxmax(), "degree"])


def test_tiny_teachers_show_the_curriculum(tiny_runs):
    """Cheap faithful version: probe the window [t_lo, t95] (from the run's own evals) + final."""
    N = 30_000
    for run in tiny_runs:
        t_lo, t95 = _accuracy_window(run)
        assert t95 is not None
        steps = [s for s in run.steps if t_lo <= s <= t95] + [run.final_step]
        tab = probe_run(run, samples=N, seed=0, steps=steps, device="cpu", off_support_per_degree=30)
        _check_curriculum(run, tab, N)


def test_cli_writes_parquet_summary_and_figure(tiny_runs, tmp_path):
    import json

    from pdistill.cli import main

    run = tiny_runs[0]
    out = tmp_path / "probe"
    rc = main(["probe", str(run.out_dir), "--samples", "4000", "--out", str(out), "--steps", "500:900",
               "--off-per-degree", "20"])
    assert rc == 0
    tab = pd.read_parquet(out / "correlations.parquet")
    assert {"step", "degree", "in_support", "corr", "stderr"} <= set(tab.columns)
    assert tab["step"].min() >= 500 and tab["step"].max() <= 900
    summary = json.loads((out / "summary.json").read_text())
    assert summary["chosen_step"] in set(tab["step"]) and set(summary["degrees"]) == {"1", "2", "3", "4"}
    assert (out / "probe.png").stat().st_size > 5000


def test_cli_errors_name_the_problem_and_keep_the_table(tiny_runs, tmp_path, capsys):
    from sims.probe import cli_main

    assert cli_main([str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main([str(tiny_runs[0].out_dir), "--out", str(tmp_path / "o"), "--samples", "1"]) == 2
    assert "samples must be an int >= 2" in capsys.readouterr().err
    # the checkpoint choice fails (rule 'steepest' needs 3 checkpoints): the probed table is kept
    out = tmp_path / "two"
    steps = tiny_runs[0].steps[:2]
    rc = cli_main([str(tiny_runs[0].out_dir), "--out", str(out), "--samples", "500", "--off-per-degree", "2",
                   "--steps", f"{steps[0]}:{steps[1]}"])
    assert rc == 2 and "needs >= 3 evaluations" in capsys.readouterr().err
    assert sorted(pd.read_parquet(out / "correlations.parquet")["step"].unique()) == steps


def test_control_checkpoints_bracket_the_transition(tiny_runs):
    from sims.rule_study import control_checkpoints

    for run in tiny_runs:
        acc = run.accuracies()
        c = control_checkpoints(run)
        tr = Transition.from_history(run.history)
        mid = choose_checkpoint(run)  # the default rule: the loss transition's mid point
        assert c["before"] < c["edge"] <= tr.start < mid < tr.end <= c["after"] <= run.final_step
        assert acc[c["before"]] < 0.55 and acc[c["edge"]] < acc[mid] and acc[c["after"]] >= 0.95
        t_lo, t95 = _accuracy_window(run)
        assert t_lo < choose_checkpoint(run, "accuracy") <= t95  # from the run's own evals, no probe
    from sims.rule_study import two_shot_from_rule

    spec = two_shot_from_rule(tiny_runs[0], "accuracy")
    assert spec.name == "two_shot_accuracy" and spec.checkpoint == choose_checkpoint(tiny_runs[0], "accuracy")
    assert spec.checkpoint in tiny_runs[0].steps


@pytest.mark.slow
def test_rule_study_quick_slow(tiny_runs):
    """2-shot students from each rule's checkpoint beat CE on the tiny teachers (2 teachers, 2 seeds)."""
    from sims.config import StudentConfig
    from sims.rule_study import rule_study

    tab = rule_study(tiny_runs[:2], StudentConfig(seeds=(0, 1), steps=5000, early_stop=True), probe_samples=10_000)
    med = tab.groupby("strategy")["t95"].median()
    assert med["two_shot_accuracy"] < med["ce"] and med["two_shot_peak"] < med["ce"]


@pytest.mark.slow
def test_tiny_teachers_full_grid_slow(tmp_path):
    """Full version: 6 seeds, every checkpoint (every 50 steps), N = 1e5, R = 100."""
    N = 100_000
    runs = _tiny_runs(tmp_path, [0, 1, 2, 3, 4, 5], 50)
    for run in runs:
        tab = probe_run(run, samples=N, seed=1, device="cpu")
        _check_curriculum(run, tab, N)
        cs = curriculum_summary(tab)
        assert any(cs["degrees"][d]["spikes"] and cs["degrees"][d]["precedes_end"] for d in range(1, run.task.k))


def test_rules_constant():
    assert RULES == ("accuracy", "peak", "steepest")


@pytest.mark.parametrize("arch", ["mlp", "transformer"])
def test_any_architecture_batched_forward_matches_manual(arch):
    """probe_run through load_model (batched, inference mode) = the same estimator on p computed
    by hand from the model's logits, for both architectures of the ensemble contract."""
    torch = pytest.importorskip("torch")
    from sims.config import ModelConfig
    from sims.models import build_model

    task = ParityTask(12, (1, 5, 9))
    cfg = ModelConfig(arch=arch, width=64, n_layers=1, n_heads=2, head_dim=8)
    models = {s: build_model(arch, task.n, cfg, 1, [s]).eval() for s in (0, 1)}

    class Run:
        steps = [0, 1]

        def __init__(self):
            self.task = task

        def load_model(self, step, device="cpu"):
            return models[step]

    run = Run()
    tab = probe_run(run, samples=3000, seed=4, device="cpu", batch_size=700, off_support_per_degree=10)
    x, _ = task.sample(3000, np.random.default_rng(4))  # probe_run's first draw from seed 4
    for step in (0, 1):
        with torch.no_grad():
            p = torch.softmax(models[step](torch.from_numpy(x).float())[0].double(), -1)[:, 1].numpy()
        t = tab[tab["step"] == step]
        subs = [tuple(int(i) for i in T.split(",")) for T in t["T"]]
        est = correlations(p - p.mean(), x, subs)
        assert np.allclose(t["coef"].to_numpy(), est.mean, atol=1e-6)
        assert t["accuracy"].iloc[0] == pytest.approx(np.mean((p > 0.5) == (task.label(x) < 0)), abs=1e-3)


def _load_script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_scripts_run_in_quick_mode(capsys):
    pytest.importorskip("torch")
    bench = _load_script("bench_probe")
    rows = bench.main(["--samples", "2000", "--width", "32", "--repeats", "1", "--threads", "1"])
    assert [r["n"] for r in rows] == [40, 100] and all(r["probe_one_ckpt_s"] > 0 for r in rows)
