"""Summaries of a probe table (torch-free): per-degree spikes, the curriculum's peak.

A probe table is the tidy output of ``sims.probe.probe_run``: one row per (checkpoint step, subset T)
with columns step, accuracy, loss, degree, in_support, T, coef, corr, stderr, where
corr = |mean_s(p_t(x_s) chi_T(x_s))| (the paper's correlation measure, figure 2; docs/paper.md §2).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from parity_theory.stats import clt_tol

from .transition import Transition

__all__ = ["TABLE_REQUIRED", "check_probe_table", "degree_summary", "curriculum_summary", "curriculum_peak"]

TABLE_REQUIRED = ("step", "accuracy", "degree", "in_support", "corr", "stderr")


def check_probe_table(table) -> pd.DataFrame:
    """The table itself when it is a DataFrame with the probe columns; TypeError / ValueError otherwise."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame from probe_run; got {type(table).__name__}.")
    missing = [c for c in TABLE_REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing columns {missing}; expected the output of probe_run.")
    return table


def degree_summary(table: pd.DataFrame, delta: float = 1e-3) -> pd.DataFrame:
    """Per (step, degree): in-support mean/max of corr, off-support mean and upper band, floors.

    sampling_floor = z * median(stderr) with z = Phi^-1(1 - delta / (2 J)), J = subsets probed at
    that step (clt_tol): a zero coefficient exceeds it anywhere with probability <= delta.
    off_upper = max over the R off-support subsets of the degree: if the in-support mean were
    exchangeable with them, exceeding all R has probability <= 1 / (R + 1).
    spikes = in_mean > max(sampling_floor, off_upper): the degree stands above both floors.
    """
    check_probe_table(table)
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


def accuracy_transition(table: pd.DataFrame) -> Transition:
    """The teacher's accuracy transition over the probed checkpoints (curriculum.Transition)."""
    acc = check_probe_table(table).groupby("step")["accuracy"].first()
    return Transition.from_series(acc.index.values, acc.values, metric="accuracy")


def curriculum_summary(table: pd.DataFrame, delta: float = 1e-3) -> dict:
    """The accuracy transition and, per degree, the spike: peak step, value, ratios to both floors.

    Returns a JSON-able dict: transition {start, mid, end} (``Transition`` on the probed accuracy),
    degrees: {j: {peak_step, peak_accuracy, peak_in_mean, peak_in_max, off_mean, off_upper,
    sampling_floor, ratio_sampling, ratio_off_mean, ratio_off_upper, spikes, precedes_end,
    final_in_mean, final_in_max}}. The peak is the step maximising in_mean - max(off_upper, sampling_floor).
    """
    summ = degree_summary(table, delta=delta)
    steps = summ["step"].unique()
    tr = accuracy_transition(table) if len(steps) >= 3 else None
    end = tr.end if tr is not None else None
    out = {"transition": ({"start": tr.start, "mid": tr.mid, "end": tr.end} if tr is not None
                          else {"start": None, "mid": None, "end": None}),
           "samples": table.attrs.get("samples"), "delta": delta, "degrees": {}}
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
            spikes=bool(r["spikes"]), precedes_end=bool(end is not None and r["step"] < end),
            final_in_mean=float(fin["in_mean"]), final_in_max=float(fin["in_max"]),
        )
    return out


def curriculum_peak(table: pd.DataFrame, degrees=None, delta: float = 1e-3) -> int:
    """The checkpoint maximising max_{j in degrees} (in_mean_j - max(off_upper_j, sampling_floor_j))
    over low degrees (default 1..k-1): the peak of the implicit curriculum."""
    summ = degree_summary(table, delta=delta)
    k = int(summ["degree"].max()) if table.attrs.get("k") is None else int(table.attrs["k"])
    degs = tuple(range(1, max(k, 2))) if degrees is None else tuple(degrees)
    s = summ[summ["degree"].isin(degs)].copy()
    if s.empty:
        raise ValueError(f"the probe table holds no degree in {degs}.")
    s["margin"] = s["in_mean"] - np.maximum(s["off_upper"], s["sampling_floor"])
    return int(s.groupby("step")["margin"].max().idxmax())
