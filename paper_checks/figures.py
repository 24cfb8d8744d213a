"""Figures of the reproduce report (matplotlib's object API, no global state; PNG written atomically).

Inputs are tidy pandas tables (one row per run x step), so plotting stays separate from measuring:
  accuracy_curves   figure-1 style: teacher and students' test accuracy vs step (median over seeds, min-max band)
  (figure-2 style correlations: sims.probe.plot_probe, called by check_spike)
  two_shot_sweep    speed-up t95(CE)/t95(2-shot) vs the first checkpoint's step, teacher accuracy beside it
  scaling_fit       samples-to-95% vs n on log-log axes with the fitted power laws
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._claims import save_figure_atomic

__all__ = ["accuracy_curves", "two_shot_sweep", "scaling_fit", "STRATEGY_STYLE"]

STRATEGY_STYLE = {
    "teacher": dict(color="black", lw=2.2, ls="-"),
    "ce": dict(color="tab:gray", lw=1.8, ls="--"),
    "one_shot": dict(color="tab:red", lw=1.8, ls="-."),
    "progressive": dict(color="tab:blue", lw=1.8, ls="-"),
    "two_shot": dict(color="tab:green", lw=1.8, ls="-"),
}


def _need(df: pd.DataFrame, cols, what: str):
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs columns {list(cols)}; missing {missing} (have {list(df.columns)}).")


def accuracy_curves(curves: pd.DataFrame, teacher: pd.DataFrame | None, path, title: str = "") -> Path:
    """Figure-1 style. curves: columns strategy, seed, step, accuracy; teacher: step, accuracy (or None)."""
    _need(curves, ("strategy", "seed", "step", "accuracy"), "accuracy_curves(curves)")
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    if teacher is not None and len(teacher):
        _need(teacher, ("step", "accuracy"), "accuracy_curves(teacher)")
        ax.plot(teacher["step"], teacher["accuracy"], label="teacher", **STRATEGY_STYLE["teacher"])
    for strategy, g in curves.groupby("strategy", sort=False):
        piv = g.pivot_table(index="step", columns="seed", values="accuracy", aggfunc="mean").sort_index()
        piv = piv.ffill()
        style = STRATEGY_STYLE.get(strategy, dict(lw=1.5))
        med = piv.median(axis=1)
        ax.plot(piv.index, med, label=f"{strategy} (median of {piv.shape[1]})", **style)
        ax.fill_between(piv.index, piv.min(axis=1), piv.max(axis=1), color=style.get("color"), alpha=0.12, lw=0)
    ax.axhline(0.95, color="k", lw=0.6, ls=":")
    ax.set_xlabel("training step")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.4, 1.02)
    ax.set_title(title or "Accuracy curves (figure-1 style)", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3)
    return save_figure_atomic(fig, path)


def two_shot_sweep(sweep: pd.DataFrame, path, title: str = "") -> Path:
    """2-shot checkpoint sweep. sweep: columns ckpt_step, teacher_accuracy, seed, speedup (t95 CE / t95 2-shot)."""
    _need(sweep, ("ckpt_step", "teacher_accuracy", "seed", "speedup"), "two_shot_sweep")
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    s = sweep.copy()
    finite_max = s["speedup"].replace(np.inf, np.nan).max()
    cap = max(2.0, float(finite_max) * 1.3) if np.isfinite(finite_max) else 10.0
    y = s["speedup"].clip(lower=0.05, upper=cap)
    ax.scatter(s["ckpt_step"], y, s=14, color="tab:green", alpha=0.6, label="per seed (∞ drawn at the top, 0 at the bottom)")
    med = s.assign(y=y).groupby("ckpt_step")["y"].median()
    ax.plot(med.index, med.values, color="tab:green", lw=2, label="median speed-up vs CE")
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("first checkpoint of the 2-shot schedule (teacher step)")
    ax.set_ylabel("t95(CE) / t95(2-shot)")
    ax2 = ax.twinx()
    acc = s.groupby("ckpt_step")["teacher_accuracy"].first()
    ax2.plot(acc.index, acc.values, color="black", lw=1, marker="o", ms=3, label="teacher accuracy")
    ax2.set_ylabel("teacher accuracy at the checkpoint")
    ax2.set_ylim(0.4, 1.02)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="upper left")
    ax.set_title(title or "2-shot: which checkpoint helps", fontsize=10)
    return save_figure_atomic(fig, path)


def scaling_fit(points: pd.DataFrame, fits: dict, path, title: str = "") -> Path:
    """Scaling. points: columns strategy, n, seed, samples95 (inf = not reached); fits: strategy ->
    dict(slope, intercept, lo, hi) of log(samples95) = intercept + slope * log(n)."""
    _need(points, ("strategy", "n", "seed", "samples95"), "scaling_fit")
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    for strategy, g in points.groupby("strategy", sort=False):
        style = STRATEGY_STYLE.get(strategy, dict(lw=1.5))
        fin = g[np.isfinite(g["samples95"])]
        ax.scatter(fin["n"], fin["samples95"], s=16, alpha=0.6, color=style.get("color"))
        nf = g[~np.isfinite(g["samples95"])]
        if len(nf):
            ax.scatter(nf["n"], [ax.get_ylim()[1] if len(fin) else 1.0] * len(nf), marker="^", s=22,
                       color=style.get("color"), alpha=0.6)
        f = fits.get(strategy)
        if f and f.get("slope") is not None and math.isfinite(f["slope"]):
            ns = np.linspace(g["n"].min(), g["n"].max(), 50)
            lab = f"{strategy}: exponent {f['slope']:.2f} [{f.get('lo', float('nan')):.2f}, {f.get('hi', float('nan')):.2f}]"
            ax.plot(ns, np.exp(f["intercept"]) * ns ** f["slope"], color=style.get("color"), lw=1.8,
                    ls=style.get("ls", "-"), label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n (input dimension)")
    ax.set_ylabel("samples to 95% test accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    ax.set_title(title or "Sample complexity vs n (log-log fit)", fontsize=10)
    return save_figure_atomic(fig, path)
