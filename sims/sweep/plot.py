"""Standard sweep figures from the collected long-format table (PNG; matplotlib's object API:
``matplotlib.figure.Figure``, no pyplot, no backend switch, so a caller's matplotlib state is untouched).

* ``<metric>_vs_<axis>.png`` (default metric t95; dots in the axis name become ``_``): for each swept numeric axis, the median over seeds (and runs sharing the
  axis value) of a summary metric (default t95, the first step with >= 95 % test accuracy) per
  strategy; the band spans the 25-75 % quantiles. Runs that never reached 95 % are left out and
  counted in the legend ("k/n reached").
* ``<metric>_by_strategy.png`` when the sweep has no numeric axis.
* ``curves.png``: mean test accuracy vs step per strategy, one panel per unit (at most 12).
"""
from __future__ import annotations

from pathlib import Path

from ..io import atomic_savefig

__all__ = ["plot_sweep"]


def plot_sweep(df, out_dir: str | Path, axes: list[str], metric: str = "t95", curve_metric: str = "accuracy") -> list[Path]:
    """Draw the figures for the table ``df`` into ``out_dir``; returns the written paths."""
    import numpy as np
    import pandas as pd
    from matplotlib.figure import Figure

    if df is None or len(df) == 0:
        raise ValueError("plot_sweep: the results table is empty; run the sweep (and collect) first.")
    available = sorted(df.loc[df["kind"] == "summary", "metric"].astype(str).unique())
    if available and metric not in available:  # (results with curves only: just the curves figure)
        raise ValueError(f"plot_sweep: metric {metric!r} is not a summary metric of these results; "
                         f"they have: {', '.join(available)}.")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    summ = df[(df["kind"] == "summary") & (df["metric"] == metric)]
    numeric = [a for a in axes if a in df.columns and pd.api.types.is_numeric_dtype(df[a]) and df[a].nunique() > 1]
    strategies = sorted(summ["strategy"].unique()) if len(summ) else []

    def _save(fig, name):
        written.append(atomic_savefig(fig, out_dir / name, close=False, dpi=110, bbox_inches="tight"))

    for axis in numeric:
        fig = Figure(figsize=(5.5, 3.8))
        ax = fig.add_subplot()
        for s in strategies:
            sub = summ[summ["strategy"] == s]
            xs, med, lo, hi, reached = [], [], [], [], []
            for x, g in sub.groupby(axis):
                vals = g["value"].to_numpy(dtype=float)
                ok = vals[np.isfinite(vals)]
                reached.append((len(ok), len(vals)))
                if len(ok):
                    xs.append(x)
                    med.append(np.median(ok))
                    lo.append(np.quantile(ok, 0.25))
                    hi.append(np.quantile(ok, 0.75))
            k = sum(r[0] for r in reached)
            n = sum(r[1] for r in reached)
            line, = ax.plot(xs, med, marker="o", label=f"{s} ({k}/{n} reached)")
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15)
        ax.set_xlabel(axis)
        ax.set_ylabel(f"{metric} (steps, median over seeds)")
        ax.set_title(f"{metric} per strategy vs {axis}")
        ax.legend(fontsize=7)
        _save(fig, f"{metric}_vs_{axis.replace('.', '_')}.png")
    if not numeric and strategies:
        fig = Figure(figsize=(5.5, 3.8))
        ax = fig.add_subplot()
        for i, s in enumerate(strategies):
            vals = summ[summ["strategy"] == s]["value"].to_numpy(dtype=float)
            ok = vals[np.isfinite(vals)]
            ax.scatter(np.full(len(ok), i), ok, alpha=0.6)
            if len(ok):
                ax.hlines(np.median(ok), i - 0.3, i + 0.3, color="k")
        ax.set_xticks(range(len(strategies)), [f"{s}\n{np.isfinite(summ[summ['strategy'] == s]['value']).sum()}/{(summ['strategy'] == s).sum()}" for s in strategies])
        ax.set_ylabel(f"{metric} (steps)")
        ax.set_title(f"{metric} per strategy (reached / runs)")
        _save(fig, f"{metric}_by_strategy.png")
    curves = df[(df["kind"] == "curve") & (df["metric"] == curve_metric)]
    if len(curves):
        unit_ids = list(dict.fromkeys(curves["unit_id"]))[:12]
        cols = min(3, len(unit_ids))
        rows = (len(unit_ids) + cols - 1) // cols
        fig = Figure(figsize=(4.2 * cols, 3.0 * rows))
        axs = fig.subplots(rows, cols, squeeze=False)
        for ax, uid in zip(axs.flat, unit_ids):
            sub = curves[curves["unit_id"] == uid]
            for s, g in sub.groupby("strategy"):
                m = g.groupby("step")["value"].mean()
                ax.plot(m.index, m.values, label=str(s))
            ax.set_title(uid, fontsize=8)
            ax.set_xlabel("step")
            ax.set_ylabel(curve_metric)
        for ax in list(axs.flat)[len(unit_ids):]:
            ax.axis("off")
        axs.flat[0].legend(fontsize=7)
        _save(fig, "curves.png")
    if not written:
        raise ValueError(f"plot_sweep: no '{metric}' summary rows and no '{curve_metric}' curve rows to draw.")
    return written
