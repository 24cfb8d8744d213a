"""Model-steps per second: plain autograd + torch.optim, one model at a time, vs the ensemble trainer.

Setting: (n, k) = (40, 4), teacher width 1000 (checkpoints every 100 steps), students of
width 10 / 30 / 100, 8 seeds x 4 strategies (ce, one_shot, progressive, two_shot), Adam 3e-3,
batch 32, tau = 1. A model-step is one update of one student, including the teacher forward its
strategy needs on that batch.

  (a) plain: for each (strategy, seed): nn.Sequential student, its own torch.optim.Adam, the
      teacher checkpoint as nn.Sequential, autograd backward; one model at a time.
  (b) ensemble: sims.distill.train_students, all 32 students as one bmm ensemble, hand-written
      backward, one optimizer over the stacked parameters; (b') the same with autograd.

Run: .venv/bin/python benchmarks/bench_ensemble.py [--quick] [--threads 1] [--device cpu|cuda]
[--teacher-width 1000] [--widths 10,30,100] [--repeat 2]. Each variant is timed ``repeat`` times
and the best is kept; timings depend on machine load: compare the ratios measured in one run.

``--backward-ab``: instead, the hand-written MLP backward against autograd on the same ensembles,
run alternately (A B, B A, ...) ``--repeat`` times and compared by medians and paired wins — the
check that keeps or deletes ``EnsembleMLP.xent_backward``: 4 teachers of width 500 (labels),
then 32 students of width 10 / 100 from a width-100 teacher.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from sims.config import ModelConfig, StudentConfig, TaskConfig, TeacherConfig, derive_seed
from sims.data import ParityStream
from sims.devices import resolve_device
from sims.distill import make_strategy, train_students
from sims.train import TeacherRun, train_teacher

STRATS = ("ce", "one_shot", "progressive", "two_shot")


def as_sequential(run: TeacherRun, step: int, dev) -> nn.Sequential:
    st = run.state_at(step)
    w0, b0, w1, b1 = st["w0"][0], st["b0"][0, 0], st["w1"][0], st["b1"][0, 0]
    net = nn.Sequential(nn.Linear(*w0.shape), nn.ReLU(), nn.Linear(*w1.shape))
    with torch.no_grad():
        net[0].weight.copy_(w0.t()); net[0].bias.copy_(b0)
        net[2].weight.copy_(w1.t()); net[2].bias.copy_(b1)
    return net.to(dev).eval().requires_grad_(False)


def plain(run: TeacherRun, cfg: StudentConfig, steps: int, dev) -> float:
    """Seconds for len(STRATS) * len(seeds) models x ``steps`` updates, one model at a time."""
    grid = run.steps
    teachers = {s: as_sequential(run, s, dev) for s in grid}
    t0 = time.perf_counter()
    for name in STRATS:
        sched = make_strategy(name, cfg).bind(grid)
        for seed in cfg.seeds:
            torch.manual_seed(seed)
            net = nn.Sequential(nn.Linear(run.task.n, cfg.model.width), nn.ReLU(), nn.Linear(cfg.model.width, 2)).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=cfg.optim.lr)
            stream = ParityStream(run.task, derive_seed(seed, "student-data"))
            for t in range(steps):
                x, c = stream.sample(cfg.batch)
                x, c = x.to(dev), c.to(dev)
                ck = sched.teacher_step(t)
                z = net(x)
                if ck is None:
                    loss = nn.functional.cross_entropy(z, c)
                else:
                    with torch.no_grad():
                        pt = torch.softmax(teachers[ck](x) / cfg.tau, -1)
                    loss = -(pt * torch.log_softmax(z, -1)).sum(-1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def ensemble(run: TeacherRun, cfg: StudentConfig, dev, manual: bool) -> float:
    t0 = time.perf_counter()
    train_students(run, None, cfg, device=dev, progress=False, manual_backward=manual)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def backward_ab(repeat: int, dev) -> list[dict]:
    """Median model-steps/s of the hand-written backward (A) and autograd (B), run alternately."""
    import shutil
    import statistics

    from sims.train import train_teachers

    def timed(fn, units):
        t0 = time.perf_counter()
        fn()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return units / (time.perf_counter() - t0)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tcfg = TeacherConfig(task=TaskConfig(n=40, k=4), model=ModelConfig(width=500), steps=400, ckpt_every=400,
                             eval_every=400, eval_size=1024)
        cheap = train_teacher(tcfg.replace(model=ModelConfig(width=100), ckpt_every=100), Path(tmp) / "cheap", device=dev,
                              progress=False)

        def teachers(manual, i=[0]):
            i[0] += 1
            d = Path(tmp) / f"t{i[0]}"
            train_teachers(tcfg, [0, 1, 2, 3], d, device=dev, progress=False, manual_backward=manual)
            shutil.rmtree(d)

        cases = [("teachers 4 x width 500", lambda m: teachers(m), 4 * 400)]
        for w in (10, 100):
            scfg = StudentConfig(model=ModelConfig(width=w), steps=500, eval_every=500, eval_size=256, seeds=8,
                                 strategies=STRATS, two_shot_checkpoint=200)
            cases.append((f"students 32 x width {w}, teacher width 100",
                          lambda m, scfg=scfg: train_students(cheap, None, scfg, device=dev, progress=False, manual_backward=m),
                          32 * 500))
        for name, fn, units in cases:
            res = {True: [], False: []}
            for rep in range(repeat):
                for manual in ((True, False) if rep % 2 == 0 else (False, True)):
                    res[manual].append(timed(lambda: fn(manual), units))
            a, b = statistics.median(res[True]), statistics.median(res[False])
            wins = sum(x > y for x, y in zip(res[True], res[False]))
            rows.append({"case": name, "hand_written": a, "autograd": b, "wins": wins, "repeat": repeat})
            print(f"{name}: hand-written {a:.0f}, autograd {b:.0f} model-steps/s (median of {repeat}), "
                  f"ratio {a / b:.2f}; hand-written faster in {wins}/{repeat} paired runs", flush=True)
    return rows


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer steps and widths (a smoke run)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--widths", default=None, help="student widths, e.g. 10,30,100")
    ap.add_argument("--teacher-width", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=2, help="best of this many timings per variant (noisy machines)")
    ap.add_argument("--backward-ab", action="store_true", help="hand-written backward vs autograd, alternating runs")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    dev = resolve_device(a.device)
    if a.backward_ab:
        return backward_ab(max(a.repeat, 2), dev)
    widths = [int(w) for w in a.widths.split(",")] if a.widths else ([10] if a.quick else [10, 30, 100])
    steps_a, steps_b = (40, 100) if a.quick else (150, 500)
    tcfg = TeacherConfig(task=TaskConfig(n=40, k=4), model=ModelConfig(width=a.teacher_width), steps=400,
                         ckpt_every=100, eval_every=100, eval_size=1024)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        run = train_teacher(tcfg, Path(tmp) / "teacher", device=dev, progress=False)
        for w in widths:
            # two_shot on an explicit mid checkpoint: the short teacher need not reach 0.6
            cfg = StudentConfig(model=ModelConfig(width=w), steps=steps_b, eval_every=steps_b, eval_size=256,
                                seeds=a.seeds, strategies=STRATS, two_shot_checkpoint=200)
            n_models = len(STRATS) * a.seeds
            ta = min(plain(run, cfg, steps_a, dev) for _ in range(a.repeat))
            tb = min(ensemble(run, cfg, dev, manual=True) for _ in range(a.repeat))
            tc = min(ensemble(run, cfg, dev, manual=False) for _ in range(a.repeat))
            ra, rb, rc = n_models * steps_a / ta, n_models * steps_b / tb, n_models * steps_b / tc
            rows.append({"width": w, "plain": ra, "ensemble": rb, "ensemble_autograd": rc})
            print(f"student width {w:4d}, teacher {a.teacher_width}, {len(STRATS)}x{a.seeds} models, {dev}, "
                  f"{a.threads} thread(s): plain {ra:8.0f} model-steps/s | ensemble {rb:8.0f} ({rb / ra:4.1f}x) | "
                  f"ensemble+autograd {rc:8.0f} ({rc / ra:4.1f}x)", flush=True)
    return rows


if __name__ == "__main__":
    main()
