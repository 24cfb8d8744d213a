"""The implicit-curriculum probe: correlations of every teacher checkpoint with monomials.

For each checkpoint t of a teacher run, p_t(x) = the teacher's probability of class 1 (the class
chi_S(x) = -1) on N fresh samples x (seeded; the same samples for every checkpoint), and

    corr_t(T) = |mean_s(p_t(x_s) chi_T(x_s))|            (docs/paper.md §2, the paper's figure 2)

for every in-support T (every nonempty T subset of S, via ``support_spectrum``) and R random
off-support T per degree (T not a subset of S; ``random_off_support_subsets``; default R = 100,
the paper's; all of them when fewer exist). With ``center=True`` (default) the estimator uses
p - mean(p) instead of p: E[chi_T] = 0 for T != {}, so the target is the same and the sampling
floor drops from ~0.5/sqrt(N) to ~std(p)/sqrt(N) (a control variate; bias O(1/N)).

Public API
----------
* :func:`probe_run` (run -> tidy DataFrame: step, accuracy, loss, degree, in_support, T, coef,
  corr, stderr) and :func:`probe_outputs` (the same from probability arrays);
* :func:`degree_summary` (per step x degree: in-support mean/max, off-support mean and upper band,
  sampling floor, spike flag), :func:`curriculum_summary` (transition, per-degree spike);
* :func:`choose_checkpoint` (rules "accuracy", "peak", "steepest");
* :func:`thresholding_samples` and :func:`predicted_vs_measured` (support-recovery bound vs a
  correlation-thresholding learner on the checkpoint's outputs);
* :func:`plot_probe` (figure), :func:`cli_main` (``pdistill probe RUN_DIR --samples N --out OUT``);
* :class:`CallableRun` (a run made of Python callables; synthetic teachers for tests and docs).

The measurement (runs, forward passes, estimators, :func:`probe_outputs`, :func:`probe_run`,
:func:`write_parquet`, :class:`CallableRun`) lives in :mod:`sims.probe_measure` and is
re-exported here; this module holds the summaries, checkpoint choice, theory comparison, figure
and CLI.

A "run" is anything with ``task`` (ParityTask), ``steps`` (checkpoint steps) and
``predict_proba(step, x) -> (m,)`` (or ``load_model(step, device)`` returning a model of the
ensemble contract, forward(x float (B, n)) -> logits (E, B, 2)); ``sims.train.TeacherRun`` is one.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from itertools import combinations
from numbers import Real
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from parity_theory.parity import ParityTask, check_generator, check_int
from parity_theory.stats import clt_tol

from .io import atomic_savefig, atomic_write_text
from .probe_measure import (TABLE_COLUMNS, CallableRun, _check_run, _Forward, _plan_table, _Prober,  # noqa: F401
                            _select_steps, _subset_plan, probe_outputs, probe_run, write_parquet)
# (the private names are re-exported for benchmarks/bench_probe.py and the tests)

__all__ = [
    "CallableRun",
    "probe_outputs",
    "probe_run",
    "degree_summary",
    "curriculum_summary",
    "transition_window",
    "choose_checkpoint",
    "RULES",
    "subset_correlations_all",
    "thresholding_samples",
    "predicted_vs_measured",
    "plot_probe",
    "write_parquet",
    "cli_main",
]

RULES = ("accuracy", "peak", "steepest")


# ----------------------------------------------------------------------------------------------
# summaries
# ----------------------------------------------------------------------------------------------
def _check_table(table):
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame from probe_run; got {type(table).__name__}.")
    missing = [c for c in ("step", "accuracy", "degree", "in_support", "corr", "stderr") if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing columns {missing}; expected the output of probe_run.")


def degree_summary(table: pd.DataFrame, delta: float = 1e-3) -> pd.DataFrame:
    """Per (step, degree): in-support mean/max of corr, off-support mean and upper band, floors.

    sampling_floor = z * median(stderr) with z = Phi^-1(1 - delta / (2 J)), J = subsets probed at
    that step (clt_tol): a zero coefficient exceeds it anywhere with probability <= delta.
    off_upper = max over the R off-support subsets of the degree: if the in-support mean were
    exchangeable with them, exceeding all R has probability <= 1 / (R + 1).
    spikes = in_mean > max(sampling_floor, off_upper): the degree stands above both floors.
    """
    _check_table(table)
    rows = []
    for step, g in table.groupby("step", sort=True):
        J = len(g)
        for d, gd in g.groupby("degree", sort=True):
            ins, off = gd[gd["in_support"]], gd[~gd["in_support"]]
            floor = float(clt_tol(float(np.median(gd["stderr"])), n_checks=J, delta=delta))
            in_mean = float(ins["corr"].mean()) if len(ins) else float("nan")
            off_upper = float(off["corr"].max()) if len(off) else 0.0
            rows.append(dict(
                step=int(step), accuracy=float(g["accuracy"].iloc[0]),
                loss=float(g["loss"].iloc[0]) if "loss" in g else float("nan"), degree=int(d),
                in_mean=in_mean, in_max=float(ins["corr"].max()) if len(ins) else float("nan"),
                in_min=float(ins["corr"].min()) if len(ins) else float("nan"), in_count=len(ins),
                off_mean=float(off["corr"].mean()) if len(off) else float("nan"), off_upper=off_upper,
                off_q95=float(off["corr"].quantile(0.95)) if len(off) else float("nan"), off_count=len(off),
                sampling_floor=floor, spikes=bool(in_mean > max(floor, off_upper)),
            ))
    return pd.DataFrame(rows)


def transition_window(steps, accuracy, lo: float = 0.55, hi: float = 0.95) -> tuple[int, int | None]:
    """The teacher's accuracy transition [t_lo, t_hi]: t_hi = first step with accuracy >= hi
    (None if never); t_lo = the step just before the first one with accuracy >= lo (the last
    step at chance before the rise starts; the first step if it starts above lo)."""
    steps = np.asarray(steps)
    accuracy = np.asarray(accuracy, dtype=float)
    order = np.argsort(steps)
    steps, accuracy = steps[order], accuracy[order]
    above = np.flatnonzero(accuracy >= hi)
    t_hi = int(steps[above[0]]) if len(above) else None
    rise = np.flatnonzero(accuracy >= lo)
    t_lo = int(steps[max(rise[0] - 1, 0)]) if len(rise) else int(steps[-1])
    return t_lo, t_hi


def curriculum_summary(table: pd.DataFrame, delta: float = 1e-3) -> dict:
    """The accuracy transition and, per degree, the spike: peak step, value, ratios to both floors.

    Returns a JSON-able dict: transition {t_lo, t95}, degrees: {j: {peak_step, peak_accuracy,
    peak_in_mean, peak_in_max, off_mean, off_upper, sampling_floor, ratio_sampling,
    ratio_off_mean, ratio_off_upper, spikes, precedes_t95, final_in_mean, final_in_max}}.
    The peak is the step maximising in_mean - max(off_upper, sampling_floor).
    """
    summ = degree_summary(table, delta=delta)
    acc = summ.groupby("step")["accuracy"].first()
    t_lo, t95 = transition_window(acc.index.values, acc.values)
    out = {"transition": {"t_lo": t_lo, "t95": t95}, "samples": table.attrs.get("samples"),
           "delta": delta, "degrees": {}}
    last = summ["step"].max()
    for d, g in summ.groupby("degree"):
        margin = g["in_mean"] - np.maximum(g["off_upper"], g["sampling_floor"])
        r = g.loc[margin.idxmax()]
        fin = g[g["step"] == last].iloc[0]
        safe = lambda a, b: float(a / b) if b > 0 else float("inf")  # noqa: E731
        out["degrees"][int(d)] = dict(
            peak_step=int(r["step"]), peak_accuracy=float(r["accuracy"]), peak_in_mean=float(r["in_mean"]),
            peak_in_max=float(r["in_max"]), off_mean=float(r["off_mean"]), off_upper=float(r["off_upper"]),
            sampling_floor=float(r["sampling_floor"]), ratio_sampling=safe(r["in_mean"], r["sampling_floor"]),
            ratio_off_mean=safe(r["in_mean"], r["off_mean"]), ratio_off_upper=safe(r["in_mean"], r["off_upper"]),
            spikes=bool(r["spikes"]), precedes_t95=bool(t95 is not None and r["step"] < t95),
            final_in_mean=float(fin["in_mean"]), final_in_max=float(fin["in_max"]),
        )
    return out


# ----------------------------------------------------------------------------------------------
# checkpoint choice
# ----------------------------------------------------------------------------------------------
def _accuracy_loss_series(run, table):
    """(steps, accuracy, loss) per checkpoint: from the probe table, else from the run's history."""
    if table is not None:
        g = table.groupby("step").first()
        return g.index.values.astype(int), g["accuracy"].values, g["loss"].values if "loss" in g else None
    hist = getattr(run, "history", None)
    if hist is None:
        return None
    h = pd.DataFrame(hist)
    if "step" not in h or "accuracy" not in h:
        return None
    h = h[h["step"].isin(list(run.steps))].drop_duplicates("step").sort_values("step")
    if len(h) < len(run.steps):  # evals not at every checkpoint: probe instead
        return None
    return h["step"].values.astype(int), h["accuracy"].values, h["loss"].values if "loss" in h else None


def choose_checkpoint(run=None, rule: str = "steepest", *, table: pd.DataFrame | None = None,
                      threshold: float = 0.6, degrees: Sequence[int] | None = None, **probe_kwargs) -> int:
    """A teacher checkpoint from inside the transition, for the 2-shot strategy.

    Default "steepest": on the tiny (40, 4) teachers it gave the fastest 2-shot students
    (median t95 1000 vs 1100 "peak" and 1300 "accuracy"; docs/probe.md).

    rule="accuracy": the first checkpoint with accuracy >= ``threshold`` (default 0.6, docs/paper.md §3);
    rule="peak": the checkpoint maximising max_{j in degrees} (in_mean_j - max(off_upper_j,
      sampling_floor_j)) over low degrees (default 1..k-1): the peak of the implicit curriculum;
    rule="steepest": the checkpoint with the steepest loss drop, central difference
      (loss[i-1] - loss[i+1]) / (step[i+1] - step[i-1]).
    Uses ``table`` (a probe_run table) when given; otherwise the run's history for "accuracy" and
    "steepest" when it has them, else probes the run with ``probe_kwargs``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}; got rule={rule!r}.")
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a real in (0, 1]; got threshold={threshold!r}.")
    if table is None and run is None:
        raise TypeError("choose_checkpoint needs a run or a probe table; got neither.")
    if table is not None:
        _check_table(table)
    series = _accuracy_loss_series(run, table) if rule != "peak" else None
    if rule == "steepest" and series is not None and series[2] is None:
        series = None
    if series is None and rule != "peak" or rule == "peak" and table is None:
        table = probe_run(run, **probe_kwargs)
        series = _accuracy_loss_series(None, table)
    if rule == "accuracy":
        steps, acc, _ = series
        hit = np.flatnonzero(np.asarray(acc) >= threshold)
        if not len(hit):
            raise ValueError(f"no checkpoint reaches accuracy >= {threshold}; max accuracy {np.max(acc):.3f}.")
        return int(steps[hit[0]])
    if rule == "steepest":
        steps, _, loss = series
        steps, loss = np.asarray(steps, float), np.asarray(loss, float)
        if len(steps) < 3:
            raise ValueError(f"rule='steepest' needs >= 3 checkpoints; got {len(steps)}.")
        slope = (loss[:-2] - loss[2:]) / (steps[2:] - steps[:-2])
        return int(steps[1 + int(np.argmax(slope))])
    summ = degree_summary(table)
    k = int(summ["degree"].max()) if table.attrs.get("k") is None else int(table.attrs["k"])
    degs = tuple(range(1, max(k, 2))) if degrees is None else tuple(degrees)
    s = summ[summ["degree"].isin(degs)].copy()
    if s.empty:
        raise ValueError(f"the probe table holds no degree in {degs}.")
    s["margin"] = s["in_mean"] - np.maximum(s["off_upper"], s["sampling_floor"])
    best = s.groupby("step")["margin"].max()
    return int(best.idxmax())


# ----------------------------------------------------------------------------------------------
# predicted vs measured support recovery
# ----------------------------------------------------------------------------------------------
def subset_correlations_all(f, x, degree: int) -> np.ndarray:
    """mean_s(f_s chi_T(x_s)) for all C(n, degree) subsets T, in itertools.combinations order.

    degree 1: x^T f / m; degree 2: the upper triangle of (f x)^T x / m; degree 3: for each a,
    the upper triangle of (f x_a x_{>a})^T x_{>a} / m. Shapes: f (m,), x (m, n) -> (C(n, d),).
    """
    x = np.asarray(x)
    xf = x.astype(np.float64)
    f = np.asarray(f, dtype=np.float64)
    m, n = xf.shape
    if degree == 1:
        return xf.T @ f / m
    if degree == 2:
        M = (xf * f[:, None]).T @ xf / m
        iu = np.triu_indices(n, 1)
        return M[iu]
    if degree == 3:
        out = []
        for a in range(n - 2):
            rest = xf[:, a + 1:]
            M = (rest * (f * xf[:, a])[:, None]).T @ rest / m
            iu = np.triu_indices(n - a - 1, 1)
            out.append(M[iu])
        return np.concatenate(out)
    raise ValueError(f"degree must be 1, 2 or 3 (C(n, d) subsets are enumerated); got degree={degree}.")


def thresholding_samples(proba: Callable[[np.ndarray], np.ndarray], task: ParityTask, degree: int,
                         rng: np.random.Generator, *, threshold: float | None = None,
                         grid: Sequence[int] | None = None, trials: int = 10, success: float = 0.5,
                         center: bool = False) -> dict:
    """Samples a correlation-thresholding learner needs to recover S's degree-j subsets.

    For N on ``grid`` (nested prefixes of one fresh pool per trial) the learner computes
    |mean(p chi_T)| for all C(n, j) subsets T of degree j and returns
    (a) ``threshold`` rule: {T : |corr| > threshold} (the bound's learner, threshold = rho / 2);
    (b) top rule: the C(k, j) largest |corr| (knows k, no threshold).
    It succeeds when the returned set equals {T subset of S : |T| = j}. Returns, per rule, the
    smallest N on the grid with success rate > ``success`` over ``trials`` (None if none), and
    the success rates per N.
    """
    check_generator(rng)
    degree = check_int(degree, "degree")
    trials = check_int(trials, "trials")
    if degree >= task.k or degree > 3:
        raise ValueError(f"degree must be in [1, min(k - 1, 3)] = [1, {min(task.k - 1, 3)}]; got degree={degree}.")
    grid = sorted(int(g) for g in (grid or [2 ** i for i in range(7, 18)]))
    target = set(combinations(task.support, degree))
    combos = list(combinations(range(task.n), degree))
    is_target = np.array([c in target for c in combos])
    top = len(target)
    ok_thr = np.zeros((trials, len(grid)), bool)
    ok_top = np.zeros((trials, len(grid)), bool)
    for r in range(trials):
        x, _ = task.sample(grid[-1], rng)
        p = np.asarray(proba(x), dtype=np.float64)
        for gi, N in enumerate(grid):
            f = p[:N] - p[:N].mean() if center else p[:N]
            c = np.abs(subset_correlations_all(f, x[:N], degree))
            if threshold is not None:
                ok_thr[r, gi] = np.array_equal(c > threshold, is_target)
            pick = np.argpartition(-c, top - 1)[:top]
            ok_top[r, gi] = bool(is_target[pick].all())
    rate_thr, rate_top = ok_thr.mean(0), ok_top.mean(0)

    def first(rate):
        hit = np.flatnonzero(rate > success)
        return int(grid[hit[0]]) if len(hit) else None

    return dict(grid=grid, trials=trials, success=success,
                threshold=threshold, n_threshold=first(rate_thr) if threshold is not None else None,
                rate_threshold=rate_thr.tolist() if threshold is not None else None,
                n_top=first(rate_top), rate_top=rate_top.tolist())


def _support_recovery_bound(d: int, rho: float, delta: float, j: int, B: float = 1.0) -> float:
    """N >= (8 B^2 / rho^2) ln(2 C(d, j) / delta) (parity_theory.bounds 'support_recovery';
    B bounds |output|: 1 for raw p in [0, 1], 1/2 for centred p - mean(p), whose range is 1)."""
    try:
        from parity_theory import bounds  # noqa: PLC0415

        return float(bounds.get("support_recovery").evaluate(d=d, rho=rho, delta=delta, j=j, B=B))
    except ImportError:  # pragma: no cover - bounds module missing
        return 8.0 * B ** 2 / rho ** 2 * math.log(2 * math.comb(d, j) / delta)


def predicted_vs_measured(run, step: int, table: pd.DataFrame, *, degree: int | None = None,
                          delta: float = 0.1, trials: int = 10, seed: int = 0, grid=None,
                          student_samples: int | None = None, device: str | None = "cpu") -> dict:
    """Predicted (bound) vs measured (thresholding learner) samples to identify S from ``step``.

    degree: the strongest in-support degree j < k (j <= 3) at ``step`` — the one whose in-support
      mean stands highest above its off-support max — unless given;
    rho = the smallest in-support |corr| of that degree (the bound needs every T to clear rho/2);
    predicted = support_recovery bound N >= (8 B^2/rho^2) ln(2 C(n, j) / delta), B = 1/2 for the
      centred outputs the probe uses (range 1), B = 1 for raw p in [0, 1] (``center=False`` tables);
    measured = :func:`thresholding_samples` with threshold rho/2 and the top-C(k, j) rule;
    student_samples (optional) = the 2-shot student's samples to 95% (t95 x batch), reported as is.
    ``bounds_measurement`` is True when the prediction >= the measured threshold-learner count.
    """
    _check_table(table)
    task = run.task
    g = table[(table["step"] == step) & table["in_support"]]
    if g.empty:
        raise ValueError(f"table has no rows for step={step}.")
    if degree is None:  # the degree standing highest above its off-support band
        summ = degree_summary(table[table["step"] == step])
        cand = summ[(summ["degree"] < task.k) & (summ["degree"] <= 3)]
        degree = int(cand.loc[(cand["in_mean"] - cand["off_upper"]).idxmax(), "degree"])
    rho = float(g[g["degree"] == degree]["corr"].min())
    off = table[(table["step"] == step) & ~table["in_support"] & (table["degree"] == degree)]["corr"]
    center = bool(table.attrs.get("center", True))
    B = 0.5 if center else 1.0
    predicted = _support_recovery_bound(task.n, rho, delta, degree, B) if rho > 0 else float("inf")
    fwd = _Forward(run, np.zeros((1, task.n), np.int8), device, 8192)

    def proba(x):
        fwd.x = x
        if fwd.use_model:
            fwd.xt = fwd.torch.from_numpy(x).to(fwd.device, fwd.torch.float32)
        return fwd(step)

    meas = thresholding_samples(proba, task, degree, np.random.default_rng(seed), threshold=rho / 2,
                                grid=grid, trials=trials, center=center)
    n_thr = meas["n_threshold"]
    return dict(step=int(step), degree=int(degree), rho=rho, off_upper=float(off.max()) if len(off) else None,
                delta=delta, B=B, predicted=predicted, measured_threshold=n_thr, measured_top=meas["n_top"],
                student_samples=student_samples,
                bounds_measurement=bool(n_thr is not None and predicted >= n_thr), detail=meas)


# ----------------------------------------------------------------------------------------------
# figure
# ----------------------------------------------------------------------------------------------
def plot_probe(table: pd.DataFrame, path=None, *, chosen: int | None = None, delta: float = 1e-3, title=None):
    """Figure like the paper's figure 2: teacher accuracy (top) and in-support mean |corr| per
    degree (bottom) vs step, the off-support band (mean..max) shaded per degree, the sampling
    floor dashed, the chosen checkpoint marked. Saves a PNG atomically when ``path`` is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summ = degree_summary(table, delta=delta)
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(7, 6), sharex=True, gridspec_kw=dict(height_ratios=[1, 2]))
    acc = summ.groupby("step")["accuracy"].first()
    ax0.plot(acc.index, acc.values, "k-", lw=1.5)
    ax0.set_ylabel("teacher accuracy")
    ax0.set_ylim(0.4, 1.02)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (d, g) in enumerate(summ.groupby("degree")):
        c = colors[i % len(colors)]
        ax1.plot(g["step"], g["in_mean"], "-", color=c, lw=1.8, label=f"degree {d} (in-support mean)")
        ax1.fill_between(g["step"], g["off_mean"], g["off_upper"], color=c, alpha=0.15, lw=0)
    floor = summ.groupby("step")["sampling_floor"].max()
    ax1.plot(floor.index, floor.values, "k--", lw=0.8, label=f"sampling floor (delta={delta:g})")
    ax1.set_yscale("symlog", linthresh=1e-3)
    ax1.set_xlabel("teacher step")
    ax1.set_ylabel("|corr(p, chi_T)|")
    ax1.legend(fontsize=7, loc="upper left")
    if chosen is not None:
        for ax in (ax0, ax1):
            ax.axvline(chosen, color="r", lw=1, ls=":")
        ax0.annotate("chosen", (chosen, 0.45), color="r", fontsize=8)
    a = table.attrs
    fig.suptitle(title or f"implicit curriculum (n={a.get('n')}, k={a.get('k')}, N={a.get('samples')}); "
                 "shaded: off-support mean..max", fontsize=9)
    fig.tight_layout()
    if path is not None:
        atomic_savefig(fig, path, dpi=120)
    return fig


# ----------------------------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------------------------
def _load_run(run_dir: str):
    try:
        from .train import TeacherRun  # noqa: PLC0415
    except ImportError as e:  # pragma: no cover - engine missing
        raise SystemExit(f"pdistill probe: cannot import sims.train.TeacherRun ({e}).") from None
    return TeacherRun.load(run_dir)


def _window(text: str | None):
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"--steps must be LO:HI (either may be empty); got {text!r}.")
    return (int(lo) if lo else None, int(hi) if hi else None)


def cli_main(argv=None) -> int:
    """pdistill probe RUN_DIR --samples N --out OUT: correlations.parquet, summary.json, probe.png."""
    ap = argparse.ArgumentParser(prog="pdistill probe", description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", help="a teacher run directory (checkpoint-<step>/ subdirectories)")
    ap.add_argument("--samples", type=int, default=100_000, help="N fresh samples (default 1e5, the paper's)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--off-per-degree", type=int, default=100, help="random off-support subsets per degree")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=_window, default=None, help="LO:HI window of checkpoint steps")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rule", choices=RULES, default="steepest", help="checkpoint-choice rule to mark (default: steepest)")
    ap.add_argument("--threshold", type=float, default=0.6, help="accuracy threshold of rule 'accuracy'")
    ap.add_argument("--no-center", action="store_true", help="use p instead of p - mean(p)")
    args = ap.parse_args(argv)
    try:
        run = _load_run(args.run_dir)
        t0 = time.perf_counter()
        table = probe_run(run, samples=args.samples, off_support_per_degree=args.off_per_degree, seed=args.seed,
                          steps=args.steps, device=args.device, center=not args.no_center)
        wall = time.perf_counter() - t0
        out = Path(args.out)
        write_parquet(table, out / "correlations.parquet")  # kept even if the choice below fails
        chosen = choose_checkpoint(run, args.rule, table=table, threshold=args.threshold)
    except (ValueError, TypeError, FileNotFoundError) as exc:  # CheckpointError is a ValueError
        print(f"pdistill probe: error: {exc}", file=sys.stderr)
        return 2
    summary = curriculum_summary(table)
    summary.update(chosen_step=chosen, rule=args.rule, probe_wall_s=round(wall, 3), run_dir=str(args.run_dir))
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    plot_probe(table, out / "probe.png", chosen=chosen)
    t = summary["transition"]
    print(f"probed {table['step'].nunique()} checkpoints at N={args.samples} in {wall:.1f}s; "
          f"transition [{t['t_lo']}, {t['t95']}], chosen ({args.rule}) = {chosen}")
    for d, s in summary["degrees"].items():
        print(f"  degree {d}: peak {s['peak_in_mean']:.4f} at step {s['peak_step']} (acc {s['peak_accuracy']:.2f}); "
              f"x{s['ratio_off_mean']:.1f} off-mean, x{s['ratio_sampling']:.1f} sampling floor; spikes={s['spikes']}")
    print(f"wrote {out / 'correlations.parquet'}, {out / 'summary.json'}, {out / 'probe.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main())
