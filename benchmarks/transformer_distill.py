"""Transformer teachers and few-head students on sparse parity with the toolkit's engine (CPU).

Uses sims.train.train_teacher and sims.distill.train_students (so checkpoints go to disk as
``checkpoint-<step>/``). Per teacher seed: one teacher, students ce / one_shot / progressive /
two_shot over the given student seeds. Prints one line per teacher with per-seed t95 and wall
times, and a final table; docs/transformer.md records the numbers.

    .venv/bin/python benchmarks/transformer_distill.py --teachers 0 1 2 --student-seeds 0 1 2 3
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sims.config import ModelConfig, OptimConfig, StudentConfig, TaskConfig, TeacherConfig  # noqa: E402
from sims.distill import train_students  # noqa: E402
from sims.train import train_teacher  # noqa: E402


def configs(n=14, k=2, t_heads=8, s_heads=2, readout="last", teacher_steps=500, student_steps=4000,
            mult=0.25, lr=1e-3, student_seeds=(0, 1, 2, 3), teacher_seed=0, eval_size=2048, two_shot_steps=None):
    """(TeacherConfig, StudentConfig) of the CPU Transformer setting (docs/transformer.md)."""
    model = ModelConfig(arch="transformer", n_layers=1, n_heads=t_heads, head_dim=8, readout=readout)
    teacher = TeacherConfig(task=TaskConfig(n=n, k=k, support_seed=teacher_seed), model=model,
                            optim=OptimConfig(name="adam", lr=lr), steps=teacher_steps, batch=32,
                            ckpt_every=10, eval_every=10, eval_size=eval_size, seed=teacher_seed)
    student = StudentConfig(model=model.replace(n_heads=s_heads), optim=OptimConfig(name="adam", lr=lr),
                            steps=student_steps, batch=32, eval_every=50, eval_size=eval_size,
                            seeds=tuple(student_seeds), progressive_multiplier=mult,
                            two_shot_steps=two_shot_steps, early_stop=True)
    return teacher, student


def run(teacher_seed, out_root, **kw):
    tcfg, scfg = configs(teacher_seed=teacher_seed, **kw)
    t0 = time.time()
    trun = train_teacher(tcfg, Path(out_root) / f"teacher-{teacher_seed}", device="cpu", progress=False)
    t1 = time.time()
    acc = trun.accuracies()  # 2-shot: the first checkpoint with teacher accuracy >= 0.6 (explicit step)
    scfg = scfg.replace(two_shot_checkpoint=min((s for s in trun.steps if acc[s] >= 0.6), default=trun.final_step))
    res = train_students(trun, config=scfg, device="cpu", progress=False)
    t2 = time.time()
    acc = trun.accuracies()
    t95 = next((s for s in trun.steps if acc[s] >= 0.95), None)
    return trun, res, t95, t1 - t0, t2 - t1


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--teachers", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--student-seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    ap.add_argument("--n", type=int, default=14)
    ap.add_argument("--t-heads", type=int, default=8)
    ap.add_argument("--s-heads", type=int, default=2)
    ap.add_argument("--readout", default="last")
    ap.add_argument("--teacher-steps", type=int, default=500)
    ap.add_argument("--student-steps", type=int, default=4000)
    ap.add_argument("--mult", type=float, default=0.25)
    ap.add_argument("--two-shot-steps", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    root = args.out or tempfile.mkdtemp(prefix="tr-distill-")
    kw = dict(n=args.n, t_heads=args.t_heads, s_heads=args.s_heads, readout=args.readout, teacher_steps=args.teacher_steps,
              student_steps=args.student_steps, mult=args.mult, student_seeds=args.student_seeds,
              two_shot_steps=args.two_shot_steps)
    print(f"config: {kw}", flush=True)
    for ts in args.teachers:
        trun, res, t95, tw, sw = run(ts, root, **kw)
        s = res.summary
        per = {st: [None if v == float("inf") else int(v) for v in g.sort_values("seed").t95] for st, g in s.groupby("strategy", sort=False)}
        print(f"teacher {ts} (support {trun.task.support}): t95 {t95}, two_shot ckpt {res.meta.get('checkpoints_used', [])[:3]}..., "
              f"teacher {tw:.0f}s, students {sw:.0f}s | t95 {per} | {res.one_line()}", flush=True)


if __name__ == "__main__":
    main()
