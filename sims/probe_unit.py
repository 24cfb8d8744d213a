"""Sweep unit "train a teacher, probe every checkpoint": the degree-1 (and any-degree) spike search.

Use it as ``unit = "sims.probe_unit:run_unit"`` in a sweep file (docs/sweeps.md,
examples/sweeps/degree1_spike.toml); the sweep's ``seeds`` are teacher seeds, each trained and
probed on its own. Tables read:

    [base.teacher]   sims.config.TeacherConfig fields (task, model, optim, steps, ckpt_every, ...)
    [base.probe]     samples (N, default 30000), off_support_per_degree (default 50), seed (default 0)

Rows returned (long format, strategy "teacher", seed = the teacher seed):
  kind "curve", per checkpoint step: accuracy, loss, and per degree j: in_mean_dj, off_mean_dj,
      off_upper_dj, sampling_floor_dj (curriculum.probe_table.degree_summary);
  kind "summary": per degree j: spikes_dj (1 when degree j stands above both floors at its peak and
      that peak precedes the end of the accuracy transition), peak_step_dj, peak_in_mean_dj,
      peak_accuracy_dj, final_in_mean_dj, vanishes_dj (1 when it is back under both floors at the
      last checkpoint); and the transition's start / mid / end (curriculum.Transition on accuracy).
"""
from __future__ import annotations

import os

__all__ = ["run_unit", "default_config", "estimate_seconds", "validate", "PROBE_DEFAULTS"]

PROBE_DEFAULTS = {"samples": 30_000, "off_support_per_degree": 50, "seed": 0}


def default_config() -> dict:
    """Every key an axis may name: the teacher's fields and the probe's."""
    from sims.config import TeacherConfig

    return {"teacher": TeacherConfig().to_dict(), "probe": dict(PROBE_DEFAULTS)}


def _configs(unit):
    from parity_theory.parity import check_int
    from sims.config import TeacherConfig

    extra = sorted(set(unit.teacher_config) - {"teacher", "probe"})
    if extra:
        raise ValueError(f"the probe unit reads [base.teacher] and [base.probe] only; got table(s) {extra}.")
    probe = dict(PROBE_DEFAULTS)
    unknown = sorted(set(unit.teacher_config.get("probe", {})) - set(PROBE_DEFAULTS))
    if unknown:
        raise ValueError(f"[base.probe]: unknown keys {unknown}; allowed: {sorted(PROBE_DEFAULTS)}.")
    probe.update(unit.teacher_config.get("probe", {}))
    probe["samples"] = check_int(probe["samples"], "probe.samples", lo=2)
    probe["off_support_per_degree"] = check_int(probe["off_support_per_degree"], "probe.off_support_per_degree", lo=0)
    probe["seed"] = check_int(probe["seed"], "probe.seed", lo=0)
    base = TeacherConfig.from_dict(unit.teacher_config.get("teacher", {}))
    return [base.replace(seed=int(s)) for s in unit.seeds], probe


def validate(unit) -> None:
    """Build the configs of ``unit`` before any job starts (clear errors for bad fields)."""
    _configs(unit)


def estimate_seconds(unit) -> float:
    """Rough CPU seconds: start-up + ~1 ms per teacher step (x width/1000) + ~2 us per probe sample
    and checkpoint, per seed. A planning guide, not a promise."""
    try:
        teachers, probe = _configs(unit)
    except (TypeError, ValueError):
        return float("nan")
    t = 5.0
    for c in teachers:
        n_ckpt = c.steps // c.ckpt_every + 1
        t += c.steps * 1e-3 * max(1.0, c.model.width / 1000) + n_ckpt * probe["samples"] * 2e-6 * max(1.0, c.model.width / 1000)
    return t


def run_unit(ctx):
    """Unit callable for the sweep runner (see the module docstring)."""
    import pandas as pd
    import torch

    from curriculum.probe_table import curriculum_summary, degree_summary
    from sims.probe_measure import probe_run
    from sims.train import train_teacher

    threads = int(os.environ.get("PDISTILL_THREADS") or os.environ.get("SLURM_CPUS_PER_TASK") or 1)
    torch.set_num_threads(max(1, threads))
    teachers, probe = _configs(ctx.unit)
    point = ctx.unit.points[0]["point_id"]
    rows = []
    for cfg in teachers:
        run = train_teacher(cfg, ctx.work_dir / f"teacher-seed-{cfg.seed}", device=ctx.device, progress=False)
        table = probe_run(run, samples=probe["samples"], off_support_per_degree=probe["off_support_per_degree"],
                          seed=probe["seed"], device=ctx.device if ctx.device != "auto" else "cpu")
        summ = degree_summary(table)
        base = dict(point_id=point, seed=int(cfg.seed), strategy="teacher")
        for step, g in summ.groupby("step"):
            rows.append(dict(base, kind="curve", step=int(step), metric="accuracy", value=float(g["accuracy"].iloc[0])))
            rows.append(dict(base, kind="curve", step=int(step), metric="loss", value=float(g["loss"].iloc[0])))
            for _, r in g.iterrows():
                for m in ("in_mean", "off_mean", "off_upper", "sampling_floor"):
                    rows.append(dict(base, kind="curve", step=int(step), metric=f"{m}_d{int(r['degree'])}", value=float(r[m])))
        cs = curriculum_summary(table)
        last = summ[summ["step"] == summ["step"].max()].set_index("degree")
        for j, d in cs["degrees"].items():
            j = int(j)
            vanish = not bool(last.loc[j, "spikes"]) if j in last.index else False
            for m, v in (("spikes", float(d["spikes"] and d["precedes_end"])), ("peak_step", d["peak_step"]),
                         ("peak_in_mean", d["peak_in_mean"]), ("peak_accuracy", d["peak_accuracy"]),
                         ("final_in_mean", d["final_in_mean"]), ("vanishes", float(vanish))):
                rows.append(dict(base, kind="summary", step=pd.NA, metric=f"{m}_d{j}", value=float(v)))
        for key, v in cs["transition"].items():
            rows.append(dict(base, kind="summary", step=pd.NA, metric=f"transition_{key}",
                             value=float(v) if v is not None else float("nan")))
    return pd.DataFrame(rows)[["point_id", "seed", "strategy", "kind", "step", "metric", "value"]]
