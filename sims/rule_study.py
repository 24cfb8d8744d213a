"""Which checkpoint feeds the 2-shot student: rules vs controls, and predicted vs measured cost.

``rule_study(runs, student_config)`` probes each teacher run, picks a checkpoint with every rule
of :func:`sims.probe.choose_checkpoint` ("accuracy" >= 0.6, "peak" of the low-degree in-support
correlation, "steepest" loss drop) plus controls — a checkpoint BEFORE the transition (nearest
t_lo / 2), the EDGE (t_lo, the last at chance) and one AFTER it (half-way from t95 to the final
step) — and trains the same 2-shot student on each (sims.distill.TwoShot with an explicit
checkpoint; stage 1 lasts as many student steps as the checkpoint's step, the engine's default),
next to CE and one-shot.
Returns a long table: teacher, strategy, checkpoint, teacher accuracy there, student seed, t95.

``cost_study(runs, ...)`` puts side by side, per teacher: the support-recovery bound fed with the
chosen checkpoint's rho_j, the samples a correlation-thresholding learner needs on that
checkpoint's outputs, and the 2-shot student's samples to 95%.

Command line (the numbers in docs/probe.md):
    python -m sims.rule_study --out /tmp/curriculum [--seeds 5] [--student-seeds 3] [--quick]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from curriculum.io import atomic_write_text
from curriculum.transition import Transition

from .probe import RULES, choose_checkpoint, curriculum_summary, predicted_vs_measured, probe_run

__all__ = ["two_shot_from_rule", "control_checkpoints", "rule_study", "cost_study", "main"]


def two_shot_from_rule(run, rule: str = "steepest", *, name: str | None = None, steps: int | None = None,
                       table: pd.DataFrame | None = None, **probe_kwargs):
    """A sims.distill.TwoShot strategy supervised first by the checkpoint ``rule`` chooses.

    Example: ``train_students(run, ["ce", two_shot_from_rule(run, "peak")], cfg)``.
    """
    from .distill import TwoShot

    step = choose_checkpoint(run, rule, table=table, **probe_kwargs)
    return TwoShot(name=name or f"two_shot_{rule}", checkpoint=int(step), steps=steps)


def control_checkpoints(run, table: pd.DataFrame | None = None) -> dict[str, int]:
    """Control checkpoints "before", "edge" and "after" of the teacher's transition, named by
    ``curriculum.Transition.checkpoints`` (the toolkit's one rule) from the run's history
    (or the probe table's accuracy and loss)."""
    hist = table.groupby("step").first().reset_index() if table is not None else run.history
    tr = Transition.from_history(hist)
    if not tr.complete:
        raise ValueError("control_checkpoints: the teacher's loss never completes its transition; no transition to bracket.")
    named = tr.checkpoints(run.steps)
    return {k: named[k] for k in ("before", "edge", "after")}


def rule_study(runs, student_config, *, rules=RULES, controls: bool = True, baselines=("ce", "one_shot"),
               probe_samples: int = 30_000, probe_seed: int = 0, device: str = "cpu") -> pd.DataFrame:
    """Student t95 for 2-shot students fed by each rule's checkpoint (and controls), per teacher."""
    from .distill import TwoShot, train_students

    rows = []
    for ti, run in enumerate(runs):
        table = probe_run(run, samples=probe_samples, seed=probe_seed, device=device, off_support_per_degree=50)
        acc = run.accuracies()
        specs = [two_shot_from_rule(run, r, table=table) for r in rules]
        if controls:
            specs += [TwoShot(name=f"two_shot_{k}", checkpoint=v) for k, v in control_checkpoints(run).items()]
        chosen = {s.name: s.checkpoint for s in specs}
        res = train_students(run, list(baselines) + specs, student_config, device=device, progress=False)
        for _, r in res.summary.iterrows():
            c = chosen.get(r["strategy"])
            rows.append(dict(teacher=ti, teacher_dir=str(getattr(run, "out_dir", ti)), strategy=r["strategy"],
                             checkpoint=c, teacher_accuracy=acc.get(c) if c is not None else None,
                             seed=int(r["seed"]), t95=float(r["t95"]), samples95=float(r["samples95"])))
    return pd.DataFrame(rows)


def cost_study(runs, student_table: pd.DataFrame | None = None, *, rule: str = "accuracy", delta: float = 0.1,
               trials: int = 10, probe_samples: int = 100_000, seed: int = 0, device: str = "cpu",
               grid=None) -> pd.DataFrame:
    """Predicted (bound) vs measured (thresholding learner) vs 2-shot student samples, per teacher."""
    rows = []
    for ti, run in enumerate(runs):
        table = probe_run(run, samples=probe_samples, seed=seed, device=device)
        step = choose_checkpoint(run, rule, table=table)
        student = None
        if student_table is not None:
            s = student_table[(student_table["teacher"] == ti) & (student_table["strategy"] == f"two_shot_{rule}")]
            if len(s):
                student = float(s["samples95"].median())
        res = predicted_vs_measured(run, step, table, delta=delta, trials=trials, seed=seed + 1, grid=grid,
                                    student_samples=student, device=device)
        res.pop("detail")
        rows.append(dict(teacher=ti, rule=rule, **res))
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", type=int, default=5, help="teacher seeds (tiny config, ckpt every 50)")
    ap.add_argument("--student-seeds", type=int, default=3)
    ap.add_argument("--student-steps", type=int, default=5000)
    ap.add_argument("--quick", action="store_true", help="2 teachers, 2 student seeds, small probes")
    ap.add_argument("--skip-cost", action="store_true")
    args = ap.parse_args(argv)
    import torch

    from .config import StudentConfig, TeacherConfig
    from .train import train_teachers

    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    n_t = 2 if args.quick else args.seeds
    t0 = time.perf_counter()
    runs = train_teachers(TeacherConfig(ckpt_every=50, eval_every=50), seeds=list(range(n_t)),
                          out_root=out / "teachers", device="cpu", progress=False)
    scfg = StudentConfig(seeds=tuple(range(2 if args.quick else args.student_seeds)), steps=args.student_steps,
                         early_stop=True)
    tab = rule_study(runs, scfg, probe_samples=10_000 if args.quick else 30_000)
    atomic_write_text(out / "rule_study.csv", tab.to_csv(index=False))
    med = tab.groupby("strategy")["t95"].median()
    reached = tab.groupby("strategy")["t95"].apply(lambda s: f"{int(np.isfinite(s).sum())}/{len(s)}")
    print(pd.DataFrame({"median_t95": med, "reached": reached}).to_string())
    print(tab.groupby("strategy")[["checkpoint", "teacher_accuracy"]].median().to_string())
    if not args.skip_cost:
        cost = cost_study(runs, tab, trials=4 if args.quick else 10, probe_samples=20_000 if args.quick else 100_000,
                          grid=[2 ** i for i in range(7, 17)])
        atomic_write_text(out / "cost_study.csv", cost.to_csv(index=False))
        print(cost.to_string())
    summ = {str(i): curriculum_summary(probe_run(r, samples=30_000, seed=0, off_support_per_degree=50))
            for i, r in enumerate(runs)}
    atomic_write_text(out / "curriculum.json", json.dumps(summ, indent=1))
    print(f"wall {time.perf_counter() - t0:.0f}s; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
