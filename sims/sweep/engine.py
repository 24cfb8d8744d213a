"""The default unit: train one teacher (resumable), then distil all students x seeds from it.

Sweep config layout (tables of ``[base]``; any field of the engine's configs may be an axis)::

    [base.teacher]   TeacherConfig fields: task = {n, k, ...}, model = {width, ...}, optim, steps, ...
    [base.student]   StudentConfig fields: model, optim, steps, strategies, tau, ...

The sweep's ``seeds`` become ``StudentConfig.seeds`` (all seeds x strategies train as one batched
ensemble); the teacher seed is ``teacher.seed`` (make it an axis for several teachers). The teacher
lives in ``work/teacher`` and ``train_teacher`` resumes it from its last checkpoint, so a killed
unit loses at most one checkpoint interval of teacher training (students are retrained: they are
one batched run).

Rows returned (long format): ``kind = "curve"`` with metrics accuracy / loss per (strategy, seed,
step) — the teacher's own curve under strategy "teacher" — and ``kind = "summary"`` with t95, t99,
samples95, samples99, final_accuracy per (strategy, seed); inf = threshold never reached.
"""
from __future__ import annotations

import os

__all__ = ["run_unit", "default_config", "estimate_seconds", "validate"]

# imported once by the local executor's forkserver, so pool workers start with them loaded
# (torch._dynamo: the first torch.optim.Adam imports it, ~4 s)
PRELOAD = ["torch", "torch.optim", "torch._dynamo", "pandas", "pyarrow.parquet", "sims.train", "sims.distill"]


def default_config() -> dict:
    """Every key an axis may name (the engine's defaults), as nested dicts."""
    from sims.config import StudentConfig, TeacherConfig

    return {"teacher": TeacherConfig().to_dict(), "student": StudentConfig().to_dict()}


def _teacher_and_students(unit):
    from sims.config import StudentConfig, TeacherConfig

    extra = sorted(set(unit.teacher_config) - {"teacher"})
    if extra:
        raise ValueError(f"the engine unit reads [base.teacher] and [base.student] only; got table(s) {extra}.")
    teacher = TeacherConfig.from_dict(unit.teacher_config.get("teacher", {}))
    students = []
    for p in unit.points:
        s = dict(p["config"].get("student", {}))
        if "seeds" in s:
            raise ValueError("student.seeds is set by the sweep's top-level 'seeds'; remove it from [base.student] and [axes].")
        s["seeds"] = list(unit.seeds)
        students.append((p["point_id"], StudentConfig.from_dict(s)))
    return teacher, students


def validate(unit) -> None:
    """Build the engine configs of ``unit`` (raises the engine's TypeError / ValueError) before any job starts."""
    _teacher_and_students(unit)


def estimate_seconds(unit) -> float:
    """Rough CPU seconds: ~5 s start-up (imports, eval sets) + ~1 ms per teacher step and ~1.5 ms
    per student ensemble step (with evals; measured on the tiny example, 2 busy cores), scaled up
    for wide models. A guide for planning, not a promise."""
    try:
        teacher, students = _teacher_and_students(unit)
    except (TypeError, ValueError):
        return float("nan")
    t = 5.0 + teacher.steps * 1e-3 * max(1.0, teacher.model.width / 1000)
    for _, s in students:
        members = len(s.seeds) * len(s.strategies)
        t += s.steps * 1.5e-3 * max(1.0, members * s.model.width / 4000)
    return t


def run_unit(ctx):
    """Unit callable for the sweep runner (see the module docstring)."""
    import pandas as pd
    import torch

    from sims.distill import train_students, with_two_shot_checkpoint
    from sims.train import train_teacher

    threads = int(os.environ.get("PDISTILL_THREADS") or os.environ.get("SLURM_CPUS_PER_TASK") or 1)
    torch.set_num_threads(max(1, threads))
    teacher_cfg, students = _teacher_and_students(ctx.unit)
    run = train_teacher(teacher_cfg, ctx.work_dir / "teacher", device=ctx.device, progress=False)
    frames = []
    point0 = students[0][0]
    hist = run.history
    if len(hist):
        h = hist[["step", "accuracy", "loss"]].melt(id_vars="step", var_name="metric", value_name="value")
        frames.append(h.assign(point_id=point0, seed=int(teacher_cfg.seed), strategy="teacher", kind="curve"))
    for point_id, scfg in students:
        res = train_students(run, None, with_two_shot_checkpoint(scfg, run), device=ctx.device, progress=False)
        c = res.curves[["strategy", "seed", "step", "accuracy", "loss"]].melt(
            id_vars=["strategy", "seed", "step"], var_name="metric", value_name="value")
        frames.append(c.assign(point_id=point_id, kind="curve"))
        metrics = [m for m in ("t95", "t99", "samples95", "samples99", "final_accuracy") if m in res.summary.columns]
        s = res.summary[["strategy", "seed", *metrics]].melt(id_vars=["strategy", "seed"], var_name="metric", value_name="value")
        frames.append(s.assign(point_id=point_id, kind="summary", step=pd.NA))
    df = pd.concat(frames, ignore_index=True)
    return df[["point_id", "seed", "strategy", "kind", "step", "metric", "value"]]
