"""Sample complexity of the simulated 2-stage algorithm over a grid of d: measured exponents of d
beside the bounds calculator's (``pdistill scaling --algorithm two_stage``).

The algorithm, the teacher and the students are in :mod:`parity_theory.two_stage` (numpy; what the
paper states and what is this toolkit's choice: docs/two_stage.md). Here:

* for each k and d: the teacher (exact, infinite batches), then for each seed the first stage-1
  batch N1 on a geometric grid (ratio sqrt 2) at which each student reaches test MSE <= eps, with
  N2 = N1 stage-2 samples: samples = 2 N1 (``first_passage``; a student that never gets there by
  ``n_max`` is censored at 2 n_max, a lower bound on its cost);
* ``samples_at_success``: the smallest grid value by which at least ceil(success * seeds) seeds
  succeeded (the stated success probability over seeds);
* the exponent of d: least squares of log(samples) on log(d) over all (d, seed) points; 90%
  bootstrap interval resampling seeds within each d, one resample shared by all strategies (paired);
* beside it, the calculator's exponents at this k (``bounds.get(name).exponent_in("d")``):
  ``paper_one_shot_max`` (one-shot lower bound, max reading of the quoted theorem: k - 1),
  ``paper_progressive`` (upper bound: 2), ``kou2024`` (CE from labels, literature upper bound: k - 1);
* the exact population stage-1 gradient of each student (in-support vs off-support, best init bias)
  and the support-recovery bound at rho = that gradient: signal, told apart from sampling noise.

Python: ``scaling_table(k=4, d=[16, 24, 32])`` returns a :class:`ScalingResult` (``exponents``,
``by_d``, ``points`` DataFrames). CLI: ``pdistill scaling --algorithm two_stage --k 4 --d 16,24,32
--out DIR`` writes exponents.parquet, by_d.parquet, points.parquet, two_stage_scaling.png, manifest.json.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from parity_theory import two_stage as ts

__all__ = ["ScalingResult", "scaling_table", "fit_exponent", "bootstrap_exponents", "calculator_exponents",
           "plot_scaling", "main", "ALGORITHMS"]

ALGORITHMS = ("two_stage",)
CALCULATOR = {"one_shot": "paper_one_shot_max", "progressive": "paper_progressive", "ce": "kou2024"}


@dataclass(frozen=True)
class ScalingResult:
    """exponents: one row per (k, strategy); by_d: one row per (k, d, strategy); points: one row per
    (k, d, strategy, seed); config: the arguments."""

    exponents: pd.DataFrame
    by_d: pd.DataFrame
    points: pd.DataFrame
    config: dict


def fit_exponent(x, y) -> float:
    """Least-squares slope b of log y = a + b log x. x, y: positive (P,). NaN with < 2 distinct x."""
    lx = np.log(np.asarray(x, dtype=float))
    ly = np.log(np.asarray(y, dtype=float))
    if lx.size < 2 or np.ptp(lx) == 0:
        return float("nan")
    return float(np.polyfit(lx, ly, 1)[0])


def bootstrap_exponents(points: pd.DataFrame, rng: np.random.Generator, n_boot: int = 1000,
                        pairs=(("one_shot", "progressive"), ("ce", "progressive"))) -> dict:
    """points: columns d, seed, strategy, samples (one k). Per strategy the slope and its 90% interval;
    per pair (a, b) the slope difference a - b with its paired 90% interval (seeds resampled within d)."""
    strategies = list(dict.fromkeys(points["strategy"]))
    ds = sorted(points["d"].unique())
    piv = {s: points[points["strategy"] == s].pivot_table(index="seed", columns="d", values="samples") for s in strategies}
    seeds = piv[strategies[0]].index.to_numpy()
    out = {s: dict(slope=fit_exponent(np.repeat([ds], len(seeds), 0).ravel(), piv[s][ds].to_numpy().ravel()))
           for s in strategies}
    boots = {s: np.empty(n_boot) for s in strategies}
    for t in range(n_boot):
        pick = [rng.integers(0, len(seeds), size=len(seeds)) for _ in ds]
        xx = np.concatenate([np.full(len(p), d, float) for d, p in zip(ds, pick)])
        for s in strategies:
            boots[s][t] = fit_exponent(xx, np.concatenate([piv[s][d].to_numpy()[p] for d, p in zip(ds, pick)]))
    for s in strategies:
        out[s]["lo"], out[s]["hi"] = (float(q) for q in np.quantile(boots[s], [0.05, 0.95]))
    diffs = {}
    for a, b in pairs:
        if a in boots and b in boots:
            dd = boots[a] - boots[b]
            diffs[f"{a}-{b}"] = dict(diff=out[a]["slope"] - out[b]["slope"], median=float(np.median(dd)),
                                     lo=float(np.quantile(dd, 0.05)), hi=float(np.quantile(dd, 0.95)))
    return dict(fits=out, diffs=diffs)


def calculator_exponents(k: int) -> dict:
    """strategy -> dict(bound, exponent (at this k, c = oo), status, direction) from parity_theory.bounds."""
    import sympy as sp

    from parity_theory import bounds

    out = {}
    for strategy, name in CALCULATOR.items():
        b = bounds.get(name)
        e = b.exponent_in("d", k=k)
        e = e.subs({sym: sp.oo for sym in e.free_symbols if str(sym) == "c"})
        out[strategy] = dict(bound=name, exponent=float(e), status=b.status, direction=b.direction)
    return out


def _diff_columns(fit: dict, strategy: str) -> dict:
    """exponent(strategy) - exponent(progressive) with its paired 90% interval (NaN for progressive itself)."""
    v = fit["diffs"].get(f"{strategy}-progressive")
    if v is None:
        return dict(diff_vs_progressive=math.nan, diff_lo=math.nan, diff_hi=math.nan, diff_median=math.nan)
    return dict(diff_vs_progressive=v["diff"], diff_lo=v["lo"], diff_hi=v["hi"], diff_median=v["median"])


def _population_signal(teacher: ts.Teacher, strategy: str) -> tuple[float, float]:
    """Best init bias's exact stage-1 gradient on S and off S (absolute values) for this student."""
    cfg = teacher.config
    target = {"ce": "labels", "one_shot": "final", "progressive": "mid"}[strategy]
    G = np.abs(ts.population_gradient(ts.target_table(teacher, target), cfg.d, cfg.k, cfg.init_biases()))
    i = int(np.argmax(G[:, 0]))
    return float(G[i, 0]), float(G[i, 1])


def _check_args(k_list, d_list, seeds, eps, success, n_min, n_max, strategies):
    if not k_list:
        raise ValueError("k: give at least one k >= 2; got none.")
    for k in k_list:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
            raise ValueError(f"k must be ints >= 2 (k = 1 is learnable from degree-1 correlations); got k={k!r}.")
    if len(set(d_list)) < 2:
        raise ValueError(f"d must hold at least two distinct dimensions to fit an exponent; got d={list(d_list)}.")
    for d in d_list:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= max(k_list):
            raise ValueError(f"d must be ints > k = {max(k_list)}; got d={d!r}.")
    if isinstance(seeds, bool) or not isinstance(seeds, (int, np.integer)) or seeds < 2:
        raise ValueError(f"seeds must be an int >= 2 (the interval resamples seeds); got seeds={seeds!r}.")
    if not 0 < success <= 1:
        raise ValueError(f"success must be a probability in (0, 1]; got success={success!r}.")
    bad = [s for s in strategies if s not in ts.STRATEGIES]
    if bad or not strategies:
        raise ValueError(f"strategies must be a non-empty subset of {ts.STRATEGIES}; got {list(strategies)}.")
    ts.grid_sizes(n_min, n_max)
    ts.TwoStageConfig(d=min(d_list), k=max(k_list), eps=eps)


def scaling_table(k=4, d=(16, 24, 32), seeds: int = 8, eps: float = 0.05, success: float = 0.75,
                  n_min: int = 32, n_max: int = 2**22, strategies: Sequence[str] = ts.STRATEGIES,
                  width: int = 0, teacher_width: int = 256, n_boot: int = 1000, progress=None) -> ScalingResult:
    """Measure the 2-stage students' sample complexity over d (module docstring). k: int or list of ints.

    ``support_recovery_bound`` in ``by_d``: the calculator's ``support_recovery`` bound (j = 1,
    delta = 0.1) at rho = the exact stage-1 gradient on S of the student's target (best init bias).
    """
    from parity_theory import bounds

    k_list = [int(x) for x in (k if isinstance(k, (list, tuple, np.ndarray)) else [k])]
    d_list = sorted(int(x) for x in d)
    strategies = list(strategies)
    _check_args(k_list, d_list, seeds, eps, success, n_min, n_max, strategies)
    grid = ts.grid_sizes(n_min, n_max)
    rows, by_d, exps = [], [], []
    for kk in k_list:
        for dd in d_list:
            t0 = time.perf_counter()
            cfg = ts.TwoStageConfig(d=dd, k=kk, width=width, teacher_width=teacher_width, eps=eps)
            teacher = ts.train_teacher(cfg)
            per_seed = {}
            for seed in range(seeds):
                per_seed[seed] = ts.first_passage(teacher, seed, grid, strategies)
                if progress:
                    progress(f"k={kk} d={dd} seed={seed}: " + ", ".join(
                        f"{s} {per_seed[seed][s]['samples']}" for s in strategies))
            wall = time.perf_counter() - t0
            for s in strategies:
                n = np.array([per_seed[i][s]["samples"] for i in range(seeds)], dtype=float)
                cens = ~np.isfinite(n)
                for i in range(seeds):
                    r = per_seed[i][s]
                    rows.append(dict(k=kk, d=dd, strategy=s, seed=i, samples=float(2 * grid[-1]) if cens[i] else n[i],
                                     censored=bool(cens[i]), support_n1=float(r["support"]), mse=r["mse"]))
                need = math.ceil(success * seeds)
                srt = np.sort(n)
                at_p = float(srt[need - 1]) if need <= seeds else math.inf
                g_in, g_off = _population_signal(teacher, s)
                pred = bounds.get("support_recovery").evaluate(d=dd, j=1, rho=min(g_in, 1.0), delta=0.1) if g_in > 0 else math.inf
                by_d.append(dict(k=kk, d=dd, strategy=s, samples_at_success=at_p, success=success,
                                 reached=int((~cens).sum()), seeds=seeds, median_samples=float(np.median(np.where(cens, 2 * grid[-1], n))),
                                 pop_grad_in=g_in, pop_grad_off=g_off, support_recovery_bound=pred,
                                 rho_mid=teacher.rho_mid, teacher_mse=teacher.mse_final, wall_s_cell=wall))
        pts = pd.DataFrame([r for r in rows if r["k"] == kk])
        fit = bootstrap_exponents(pts, np.random.default_rng(kk), n_boot=n_boot)
        calc = calculator_exponents(kk)
        bd = pd.DataFrame([r for r in by_d if r["k"] == kk])
        for s in strategies:
            f = fit["fits"][s]
            sub = bd[bd["strategy"] == s]
            exps.append(dict(k=kk, strategy=s, exponent=f["slope"], lo=f["lo"], hi=f["hi"],
                             exponent_at_success=fit_exponent(sub["d"], sub["samples_at_success"]) if np.isfinite(sub["samples_at_success"]).all() else math.nan,
                             exponent_signal_bound=fit_exponent(sub["d"], sub["support_recovery_bound"]),
                             calculator_bound=calc[s]["bound"], calculator_exponent=calc[s]["exponent"],
                             calculator_direction=calc[s]["direction"], calculator_status=calc[s]["status"],
                             censored=int(pts[(pts["strategy"] == s)]["censored"].sum()), points=int((pts["strategy"] == s).sum()),
                             **_diff_columns(fit, s)))
    config = dict(algorithm="two_stage", k=k_list, d=d_list, seeds=seeds, eps=eps, success=success, n_min=n_min,
                  n_max=n_max, strategies=strategies, width=width, teacher_width=teacher_width, n_boot=n_boot)
    return ScalingResult(pd.DataFrame(exps), pd.DataFrame(by_d), pd.DataFrame(rows), config)


_STYLE = {"ce": dict(color="tab:gray", marker="s", ls="--"), "one_shot": dict(color="tab:red", marker="^", ls="-."),
          "progressive": dict(color="tab:blue", marker="o", ls="-")}


def plot_scaling(result: ScalingResult, path) -> Path:
    """Samples vs d on log-log axes, one panel per k: per-seed points, the fitted power laws (label:
    measured exponent [90% interval]) and the calculator's exponents as dotted reference slopes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curriculum.io import atomic_savefig

    ks = list(dict.fromkeys(result.points["k"]))
    fig, axes = plt.subplots(1, len(ks), figsize=(5.2 * len(ks), 4.0), squeeze=False)
    for ax, kk in zip(axes[0], ks):
        pts = result.points[result.points["k"] == kk]
        ex = result.exponents[result.exponents["k"] == kk].set_index("strategy")
        for s, g in pts.groupby("strategy", sort=False):
            st = _STYLE.get(s, {})
            jitter = 1 + 0.03 * (list(_STYLE).index(s) - 1 if s in _STYLE else 0)
            ax.scatter(g["d"] * jitter, g["samples"], s=10, alpha=0.35, color=st.get("color"), marker=st.get("marker", "o"))
            med = g.groupby("d")["samples"].median()
            ds = np.array(med.index, float)
            e = ex.loc[s]
            a = np.exp(np.mean(np.log(g["samples"])) - e["exponent"] * np.mean(np.log(g["d"])))
            ax.plot(ds, a * ds ** e["exponent"], color=st.get("color"), ls=st.get("ls", "-"),
                    label=f"{s}: d^{e['exponent']:.2f} [{e['lo']:.2f}, {e['hi']:.2f}]")
            ref = med.iloc[0] * (ds / ds[0]) ** e["calculator_exponent"]
            ax.plot(ds, ref, color=st.get("color"), ls=":", lw=1,
                    label=f"  calculator {e['calculator_bound']} ({e['calculator_direction']}): d^{e['calculator_exponent']:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        dticks = sorted(pts["d"].unique())
        ax.set_xticks(dticks)
        ax.set_xticklabels([str(int(v)) for v in dticks])
        ax.minorticks_off()
        ax.set_xlabel("d")
        ax.set_ylabel("samples to test MSE ≤ eps (N1 + N2)")
        ax.set_title(f"2-stage algorithm, k = {kk}")
        ax.legend(fontsize=6.5, loc="upper left")
    fig.tight_layout()
    return atomic_savefig(fig, path, close=True, dpi=110, bbox_inches="tight", format="png")


def _int_list(text: str, name: str) -> list[int]:
    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ValueError(f"--{name} expects comma-separated integers; got {text!r}.") from None
    if not out:
        raise ValueError(f"--{name} expects comma-separated integers; got {text!r}.")
    return out


class _Parser(argparse.ArgumentParser):
    """argparse whose errors raise (so that the CLI prints one line and exits 2)."""

    def error(self, message):
        raise ValueError(message)


def main(argv: Sequence[str] | None = None) -> int:
    """``pdistill scaling``: measured exponents of d for the 2-stage algorithm beside the calculator's."""
    p = _Parser(prog="pdistill scaling", description=(
        "Samples the simulated 2-stage algorithm (the paper's Algorithm 1 as chosen in docs/two_stage.md) needs "
        "to reach test MSE <= eps, over a grid of d; fitted exponents of d beside the bounds calculator's."))
    p.add_argument("--algorithm", default="two_stage", help=f"one of {', '.join(ALGORITHMS)} (default two_stage)")
    p.add_argument("--k", default="4", help="parity degree(s), comma-separated ints >= 2 (default 4)")
    p.add_argument("--d", default="16,24,32", help="dimensions, comma-separated ints > k (default 16,24,32)")
    p.add_argument("--seeds", type=int, default=8, help="seeds per (k, d) (default 8)")
    p.add_argument("--eps", type=float, default=0.05, help="target test mean squared error (default 0.05)")
    p.add_argument("--success", type=float, default=0.75, help="success probability over seeds for samples_at_success (default 0.75)")
    p.add_argument("--n-min", type=int, default=32, help="smallest stage-1 batch searched (default 32)")
    p.add_argument("--n-max", type=int, default=2**22, help="largest stage-1 batch searched; beyond it a run is censored (default 2^22)")
    p.add_argument("--strategies", default=",".join(ts.STRATEGIES), help="subset of " + ",".join(ts.STRATEGIES))
    p.add_argument("--width", type=int, default=0, help="student neurons, even (default 0: 2^(k+2))")
    p.add_argument("--teacher-width", type=int, default=256, help="teacher neurons, even (default 256)")
    p.add_argument("--out", required=True, help="output folder (Parquet tables, figure, manifest.json)")
    p.add_argument("--quiet", action="store_true", help="no per-seed progress lines")
    try:
        args = p.parse_args(list(argv) if argv is not None else None)
    except SystemExit as e:  # --help
        return int(e.code or 0)
    except ValueError as e:
        print(f"pdistill scaling: {e}", file=sys.stderr)
        return 2
    try:
        if args.algorithm not in ALGORITHMS:
            raise ValueError(f"--algorithm must be one of {', '.join(ALGORITHMS)}; got {args.algorithm!r}.")
        k_list, d_list = _int_list(args.k, "k"), _int_list(args.d, "d")
        strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
        _check_args(k_list, sorted(d_list), args.seeds, args.eps, args.success, args.n_min, args.n_max, strategies)
        ts.TwoStageConfig(d=min(d_list), k=max(k_list), width=args.width, teacher_width=args.teacher_width, eps=args.eps)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"--out must be a folder; {str(out)!r} is a file.")
        out.mkdir(parents=True, exist_ok=True)
    except (ValueError, TypeError, OSError) as e:
        print(f"pdistill scaling: {e}", file=sys.stderr)
        return 2
    from curriculum.io import atomic_write_json, atomic_write_parquet

    t0 = time.perf_counter()
    say = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    res = scaling_table(k_list, d_list, seeds=args.seeds, eps=args.eps, success=args.success, n_min=args.n_min,
                        n_max=args.n_max, strategies=strategies, width=args.width, teacher_width=args.teacher_width,
                        progress=say)
    atomic_write_parquet(out / "exponents.parquet", res.exponents, index=False)
    atomic_write_parquet(out / "by_d.parquet", res.by_d, index=False)
    atomic_write_parquet(out / "points.parquet", res.points, index=False)
    plot_scaling(res, out / "two_stage_scaling.png")
    atomic_write_json(out / "manifest.json", dict(config=res.config, wall_s=time.perf_counter() - t0,
                                                  files=["exponents.parquet", "by_d.parquet", "points.parquet",
                                                         "two_stage_scaling.png"]), indent=2)
    cols = ["k", "strategy", "exponent", "lo", "hi", "calculator_bound", "calculator_exponent", "calculator_status", "censored"]
    print(res.exponents[cols].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nWrote {out}/exponents.parquet, by_d.parquet, points.parquet, two_stage_scaling.png "
          f"({time.perf_counter() - t0:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
