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
* :func:`degree_summary`, :func:`curriculum_summary` (re-exported from the torch-free
  :mod:`curriculum.probe_table`: per step x degree floors and spikes; transition and per-degree spike);
* :func:`choose_checkpoint` (rules "steepest" — the toolkit's default, ``curriculum.Transition`` —,
  "accuracy", "peak");
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
import contextlib
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

from curriculum.probe_table import (check_probe_table, curriculum_peak, curriculum_summary,  # noqa: F401
                                    degree_summary)
from curriculum.artifacts import config_hash, write_probe_table
from curriculum.folders import output_folder
from curriculum.resources import check_fits
from curriculum.transition import Transition
from parity_theory.parity import ParityTask, check_generator, check_int

from curriculum.io import atomic_savefig, atomic_write_text, ensure_writable_dir
from .probe_measure import (TABLE_COLUMNS, CallableRun, _check_run, _Forward, _plan_table, _Prober,  # noqa: F401
                            _select_steps, _subset_plan, probe_outputs, probe_run, write_parquet)
# (the private names are re-exported for benchmarks/bench_probe.py and the tests)

__all__ = [
    "CallableRun",
    "probe_outputs",
    "probe_run",
    "degree_summary",
    "curriculum_summary",
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
# checkpoint choice (the transition itself is curriculum.Transition's; the summaries curriculum.probe_table's)
# ----------------------------------------------------------------------------------------------
def _series_of(run, table) -> pd.DataFrame | None:
    """step, accuracy, loss per checkpoint: from the probe table, else from the run's history
    when it has an evaluation at every checkpoint (None otherwise: probe instead)."""
    if table is not None:
        return table.groupby("step").first().reset_index()
    hist = getattr(run, "history", None)
    if hist is None:
        return None
    h = pd.DataFrame(hist)
    if "step" not in h or "accuracy" not in h:
        return None
    h = h[h["step"].isin(list(run.steps))].drop_duplicates("step").sort_values("step")
    if len(h) < len(run.steps):
        return None
    return h


def choose_checkpoint(run=None, rule: str = "steepest", *, table: pd.DataFrame | None = None,
                      threshold: float = 0.6, degrees: Sequence[int] | None = None, **probe_kwargs) -> int:
    """A teacher checkpoint from inside the transition, for the 2-shot strategy.

    rule="steepest" (default): ``curriculum.Transition`` of the held-out loss, mid point = the
      checkpoint where the loss falls fastest (central difference) — the toolkit's one default;
    rule="accuracy": the first checkpoint with accuracy >= ``threshold`` (Transition rule "threshold");
    rule="peak": the checkpoint maximising the low-degree in-support correlation above both floors
      (``curriculum.probe_table.curriculum_peak``; needs a probe).
    Uses ``table`` (a probe_run table) when given; otherwise the run's history when it has an
    evaluation at every checkpoint, else probes the run with ``probe_kwargs``.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {list(RULES)}; got rule={rule!r}.")
    if isinstance(threshold, bool) or not isinstance(threshold, Real) or not 0 < threshold <= 1:
        raise ValueError(f"threshold must be a real in (0, 1]; got threshold={threshold!r}.")
    if table is None and run is None:
        raise TypeError("choose_checkpoint needs a run or a probe table; got neither.")
    if table is not None:
        check_probe_table(table)
    series = _series_of(run, table) if rule != "peak" else None
    if rule == "steepest" and series is not None and "loss" not in series:
        series = None
    if series is None and rule != "peak" or rule == "peak" and table is None:
        table = probe_run(run, **probe_kwargs)
        series = _series_of(None, table)
    if rule == "peak":
        return curriculum_peak(table, degrees)
    steps = series["step"].to_numpy()
    if rule == "accuracy":
        tr = Transition.from_series(steps, series["accuracy"].to_numpy(), metric="accuracy", rule="threshold",
                                    level=threshold)
    else:
        tr = Transition.from_series(steps, series["loss"].to_numpy(), metric="loss")
    return tr.mid_checkpoint(steps)


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
    check_probe_table(table)
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
    from matplotlib import rcParams
    from matplotlib.figure import Figure

    summ = degree_summary(table, delta=delta)
    fig = Figure(figsize=(7, 6))
    ax0, ax1 = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=[1, 2]))
    acc = summ.groupby("step")["accuracy"].first()
    ax0.plot(acc.index, acc.values, "k-", lw=1.5)
    ax0.set_ylabel("teacher accuracy")
    ax0.set_ylim(0.4, 1.02)
    colors = rcParams["axes.prop_cycle"].by_key()["color"]
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


def _is_pcfg_run(argv) -> bool:
    """Whether the first positional argument is a run directory whose config.json names a PCFG or text task."""
    args = list(sys.argv[1:] if argv is None else argv)
    first = next((a for a in args if not a.startswith("-")), None)
    cfg = Path(first) / "config.json" if first else None
    if cfg is None or not cfg.is_file():
        return False
    try:
        raw = json.loads(cfg.read_text())
    except (OSError, ValueError):
        return False
    task = (raw.get("config", raw) or {}).get("task", {}) if isinstance(raw, dict) else {}
    return isinstance(task, dict) and task.get("kind") in ("pcfg", "text")


def _window(text: str | None):
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"--steps must be LO:HI (either may be empty); got {text!r}.")
    return (int(lo) if lo else None, int(hi) if hi else None)


def cli_main(argv=None) -> int:
    """pdistill probe RUN_DIR --samples N --out OUT: correlations.parquet + manifest.json (the probe
    table, curriculum.artifacts), summary.json, probe.png. A PCFG or text teacher run
    goes to :func:`sims.pcfg_probe.cli_main` (n-gram and, for PCFG, non-terminal probes)."""
    if _is_pcfg_run(argv):
        from .pcfg_probe import cli_main as pcfg_cli

        return pcfg_cli(argv)
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
    with contextlib.ExitStack() as stack:
        return _probe_cli(args, stack)


def _probe_cli(args, stack: contextlib.ExitStack) -> int:
    try:
        ensure_writable_dir(args.out, "--out")
        run = _load_run(args.run_dir)
        claim = {"teacher_config": run.config.to_dict(), "samples": args.samples, "seed": args.seed,
                 "off_support_per_degree": args.off_per_degree, "center": not args.no_center,
                 "steps_window": list(args.steps) if args.steps is not None else None}
        stack.enter_context(output_folder(args.out, "probe", claim))  # locked for the whole run
        # the samples (int8), their float copy for the model, and a few float64 columns per checkpoint
        check_fits(float(args.samples) * (run.task.n * 5 + 64), f"probing {args.samples} samples at n={run.task.n}")
        t0 = time.perf_counter()
        table = probe_run(run, samples=args.samples, off_support_per_degree=args.off_per_degree, seed=args.seed,
                          steps=args.steps, device=args.device, center=not args.no_center)
        wall = time.perf_counter() - t0
        out = Path(args.out)
        probe_config = {"teacher_config": run.config.to_dict(), "samples": args.samples, "seed": args.seed,
                        "off_support_per_degree": args.off_per_degree, "center": not args.no_center,
                        "steps": sorted(int(s) for s in table["step"].unique())}
        write_probe_table(out, table, probe_config, claim_hash=config_hash(claim))  # kept even if the choice below fails
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
          f"accuracy transition [{t['start']}, {t['end']}], chosen ({args.rule}) = {chosen}")
    for d, s in summary["degrees"].items():
        print(f"  degree {d}: peak {s['peak_in_mean']:.4f} at step {s['peak_step']} (acc {s['peak_accuracy']:.2f}); "
              f"x{s['ratio_off_mean']:.1f} off-mean, x{s['ratio_sampling']:.1f} sampling floor; spikes={s['spikes']}")
    print(f"wrote {out / 'correlations.parquet'}, {out / 'summary.json'}, {out / 'probe.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(cli_main())
