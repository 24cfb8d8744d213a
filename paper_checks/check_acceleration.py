"""Claim 1 (acceleration): progressive and 2-shot students reach 95% faster than CE and one-shot.

Measured: t95 (first student step with >= 95% test accuracy; +inf when never) of students of one
MLP teacher, the four strategies trained as one ensemble with paired seeds (same init and data
stream per seed). Speed-up = t95(baseline) / t95(method) per seed; median over seeds with a 90%
percentile-bootstrap interval. Verdict: holds when the interval's lower end is > 1 for all four
pairs (CE/progressive, CE/2-shot, one-shot/progressive, one-shot/2-shot); does not hold when any
median is <= 1; else inconclusive. Inconclusive also when, for some pair, no seed reached 95% with
either strategy (all ties: nothing was measured). Figure: figure-1-style accuracy curves.

Transformer (``--transformer``, always at --scale paper): the configuration of
``_runs.transformer_configs`` (CPU: docs/transformer.md's (14, 2) one-layer 8-vs-2-head setting); without
the flag it is reported as inconclusive ("not run at this scale").
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np

from curriculum.transition import first_step_reaching

from . import _runs
from ._claims import ClaimResult, Context, fmt, median_ci, paired_ratios, ratio_verdict

__all__ = ["main", "speedups", "acceleration_result"]

CLAIM = "progressive and 2-shot students reach 95% accuracy faster than CE and one-shot (MLP)"
CLAIMED = ("figure 1 (MLP, (100,6)): teacher and progressive student at 100% by ≈10.5–11M steps; "
           "one-shot at 50% through 20M steps; CE ≈0.65 at 20M (CE and one-shot never reach 95% in the figure, so "
           "the implied speed-up is > 20M/11M ≈ 1.8×, a lower bound)")
PAIRS = (("ce", "progressive"), ("ce", "two_shot"), ("one_shot", "progressive"), ("one_shot", "two_shot"))


def speedups(t95, pairs=PAIRS, seed: int = 0) -> dict:
    """For each (baseline, method): per-seed ratios, median and 90% bootstrap interval.

    t95: wide DataFrame (index seed, columns strategy). Returns {"ce/progressive": {...}, ...}.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for base, meth in pairs:
        if base not in t95.columns or meth not in t95.columns:
            continue
        r = paired_ratios(t95[base].to_numpy(), t95[meth].to_numpy())
        med, lo, hi = median_ci(r, rng)
        out[f"{base}/{meth}"] = dict(per_seed=r.tolist(), median=med, lo=lo, hi=hi,
                                     n_ties=int(np.sum(np.isinf(t95[base].to_numpy()) & np.isinf(t95[meth].to_numpy()))))
    return out


def acceleration_result(name: str, t95, seeds, wall_s: float, figures=(), extra_notes: str = "",
                        claim: str = CLAIM, claimed: str = CLAIMED) -> ClaimResult:
    """Build the ClaimResult from a wide t95 table."""
    sp = speedups(t95)
    verdicts = [ratio_verdict(v["lo"], v["median"]) for v in sp.values()]
    if not sp or any(v["n_ties"] == len(t95) for v in sp.values()):
        verdict = "inconclusive"
    elif any(v == "does not hold" for v in verdicts):
        verdict = "does not hold"
    elif all(v == "holds" for v in verdicts):
        verdict = "holds"
    else:
        verdict = "inconclusive"
    medians = {s: float(np.median(t95[s].to_numpy())) for s in t95.columns}
    weakest = min((v["median"] for v in sp.values()), default=float("nan"))
    reached = {s: f"{int(np.isfinite(t95[s]).sum())}/{len(t95)}" for s in t95.columns}
    measured = "median t95: " + ", ".join(f"{s} {fmt(medians[s])} ({reached[s]} reached)" for s in t95.columns)
    lines = ["| speed-up | per seed | median | 90% bootstrap | ties (neither reached 95%, ratio 1) |",
             "|---|---|---|---|---|"]
    for k, v in sp.items():
        lines.append(f"| {k} | {fmt(v['per_seed'])} | {fmt(v['median'])} | [{fmt(v['lo'])}, {fmt(v['hi'])}] | "
                     f"{v['n_ties']}/{len(t95)} |")
    notes = ("Ratio column = the weakest of the four median speed-ups.\n\n" + "\n".join(lines)
             + ("\n\n" + extra_notes if extra_notes else ""))
    return ClaimResult(
        name=name, claim=claim, claimed=claimed, measured=measured, ratio=weakest, verdict=verdict,
        seeds=tuple(int(s) for s in seeds), wall_s=wall_s,
        details=dict(t95={s: t95[s].tolist() for s in t95.columns}, speedups=sp), figures=tuple(figures), notes=notes)


def _mlp(ctx: Context) -> ClaimResult:
    from .figures import accuracy_curves

    t0 = time.perf_counter()
    cfg = _runs.configs(ctx)
    run = _runs.get_teacher(ctx, cfg["teacher"])
    summary, curves = _runs.get_students(ctx, run, cfg["student"], label="main")
    t95 = _runs.t95_table(summary)
    hist = _runs.teacher_history(run)
    fig = accuracy_curves(curves, hist, ctx.figure_path("figure1_accuracy_mlp.png"),
                          title=f"MLP (n,k)=({cfg['teacher'].task.n},{cfg['teacher'].task.k}): teacher width "
                                f"{cfg['teacher'].model.width}, students width {cfg['student'].model.width}")
    tcfg, scfg = cfg["teacher"], cfg["student"]
    setting = (f"Setting: (n,k)=({tcfg.task.n},{tcfg.task.k}), teacher width {tcfg.model.width} "
               f"{tcfg.optim.name} lr {tcfg.optim.lr} batch {tcfg.batch} {tcfg.steps} steps (checkpoint every "
               f"{tcfg.ckpt_every}); students width {scfg.model.width}, {scfg.steps} steps, tau {scfg.tau}, "
               f"seeds {list(scfg.seeds)}.")
    return acceleration_result("acceleration", t95, scfg.seeds, time.perf_counter() - t0, figures=[fig],
                               extra_notes=setting)


def _transformer(ctx: Context) -> ClaimResult:
    """Transformer acceleration (default except in --quick; --no-transformer skips it), pooled over several teachers."""
    t0 = time.perf_counter()
    name = "acceleration_transformer"
    claim = "progressive and 2-shot Transformer students (few heads) reach 95% faster than CE and one-shot"
    claimed = ("figure 1 (Transformer, 32-head teacher, 4-head student): progressive ≈ teacher (transition "
               "≈3.3–3.6M samples); CE and one-shot at 0.5 through 8M samples")
    choice = getattr(ctx.args, "transformer", None)
    wanted = (not ctx.quick) if choice is None else bool(choice)
    if not wanted:
        why = ("not run: skipped by --quick or --no-transformer (the CPU-feasible Transformer configuration, "
               "docs/transformer.md: (14,2), 1 layer, 8-head teachers, 2-head students, 4 teachers, costs about "
               "3 minutes on 2 cores); run `pdistill reproduce` without those flags")
        return ClaimResult(name=name, claim=claim, claimed=claimed, measured=why, ratio=None,
                           verdict="inconclusive", seeds=(), wall_s=time.perf_counter() - t0, notes=why)
    tcfg0, scfg = _runs.transformer_configs(ctx)
    # docs/transformer.md's protocol: several teachers (teacher seed s with support seed s) x the
    # student seeds; one teacher is one draw of the teacher, so pairs are pooled over teachers.
    n_teachers = 1 if ctx.quick else len(ctx.seeds)
    import pandas as pd

    from .figures import accuracy_curves

    tables, skipped, fig = [], [], None
    for ti in range(n_teachers):
        tcfg = tcfg0.replace(seed=ti, task=tcfg0.task.replace(support_seed=ti))
        run = _runs.get_teacher(ctx, tcfg)
        hist = _runs.teacher_history(run)
        if not math.isfinite(first_step_reaching(hist["step"], hist["accuracy"], 0.95)):
            skipped.append(f"teacher {ti}: best accuracy {hist['accuracy'].max():.3f} in {tcfg.steps} steps")
            continue
        summary, curves = _runs.get_students(ctx, run, scfg, label=f"transformer teacher {ti}")
        t = _runs.t95_table(summary)
        t.index = [f"T{ti}/S{s}" for s in t.index]
        tables.append(t)
        if fig is None:
            fig = accuracy_curves(curves, hist, ctx.figure_path("figure1_accuracy_transformer.png"),
                                  title=f"Transformer (n,k)=({tcfg.task.n},{tcfg.task.k}): {tcfg.model.n_heads}-head "
                                        f"teacher {ti}, {scfg.model.n_heads}-head students")
    setting = (f"Setting (docs/transformer.md): (n,k)=({tcfg0.task.n},{tcfg0.task.k}), {tcfg0.model.n_layers} layer, "
               f"readout {tcfg0.model.readout}, head dim {tcfg0.model.head_dim}, teacher {tcfg0.model.n_heads} heads "
               f"({tcfg0.steps} steps, checkpoint every {tcfg0.ckpt_every}), students {scfg.model.n_heads} heads "
               f"({scfg.steps} steps), Adam {tcfg0.optim.lr}; {n_teachers} teacher(s) (teacher seed = support seed) x "
               f"student seeds {list(scfg.seeds)}, pairs pooled (the bootstrap resamples pairs, ignoring the "
               f"clustering by teacher).")
    if skipped:
        setting += " Teachers that never reached 95% (no transition to distil, left out): " + "; ".join(skipped) + "."
    if not tables:
        why = "not measured: no Transformer teacher reached 95%. " + setting
        return ClaimResult(name=name, claim=claim, claimed=claimed, measured=why, ratio=None, verdict="inconclusive",
                           seeds=(), wall_s=time.perf_counter() - t0, details=dict(teacher=tcfg0.to_dict()), notes=why)
    pooled = pd.concat(tables)
    per_teacher = "\n".join(
        f"- teacher {i}: median t95 " + ", ".join(f"{c} {fmt(float(np.median(t[c])))}" for c in t.columns)
        for i, t in enumerate(tables))
    return acceleration_result(name, pooled, scfg.seeds, time.perf_counter() - t0, figures=[fig] if fig else [],
                               claim=claim, claimed=claimed, extra_notes=setting + "\n\n" + per_teacher)


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> list[ClaimResult]:
    """Run the acceleration check (MLP, and the Transformer when feasible)."""
    ctx = ctx or Context.from_argv(argv, "check_acceleration", __doc__.splitlines()[0])
    return [_mlp(ctx), _transformer(ctx)]


if __name__ == "__main__":
    import sys

    for r in main(sys.argv[1:]):
        print(r.name, r.verdict, r.measured, fmt(r.ratio))
