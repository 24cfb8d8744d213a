"""Self-contained Transformer distillation experiments on sparse parity (research script, CPU).

Trains S teacher seeds as one ensemble (checkpoints kept in memory every D steps), then the four
student strategies x S seeds as one student ensemble: ce (labels), one_shot (final teacher),
progressive (checkpoint at step ceil(t * mult / D) * D + D, i.e. one interval ahead),
two_shot (first checkpoint with teacher accuracy >= 0.6 until that many student steps, then final).
Students of one seed share init and data stream across strategies (paired comparison).

    .venv/bin/python benchmarks/transformer_research.py --n 20 --k 2 --t-heads 16 --s-heads 4 --seeds 4

Prints a JSON line per run with per-seed t95 (first evaluated step with >= 95% test accuracy;
null = not reached). Kept independent of sims.train/sims.distill (written before they existed).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from parity_theory.parity import ParityTask  # noqa: E402
from sims.models.transformer import EnsembleTransformer  # noqa: E402

STRATS = ("ce", "one_shot", "progressive", "two_shot")


def sample(supports: torch.Tensor, B: int, n: int, g: torch.Generator):
    """x (S, B, n) in {-1,+1}, class (S, B) = (1 - chi_S(x)) / 2 with support per seed (S, k)."""
    S = supports.shape[0]
    x = torch.randint(0, 2, (S, B, n), generator=g).float() * 2 - 1
    chi = torch.gather(x, 2, supports.unsqueeze(1).expand(S, B, -1)).prod(-1)
    return x, ((1 - chi) / 2).long()


@torch.no_grad()
def accuracy(model, x, c, chunk=1024):
    correct = torch.zeros(model.ensemble_size)
    for i in range(0, x.shape[1], chunk):
        correct += (model(x[:, i:i + chunk]).argmax(-1) == c[:, i:i + chunk]).float().sum(1)
    return (correct / x.shape[1]).numpy()


def lr_at(step, lr, warmup):
    return lr * min(1.0, (step + 1) / warmup) if warmup else lr


def main(argv=None):
    ap = argparse.ArgumentParser()
    a = ap.add_argument
    a("--n", type=int, default=20); a("--k", type=int, default=2)
    a("--layers", type=int, default=1); a("--s-layers", type=int, default=None)
    a("--t-heads", type=int, default=16); a("--s-heads", type=int, default=4); a("--head-dim", type=int, default=8)
    a("--readout", default="cls"); a("--causal", default=None, choices=[None, "0", "1"])
    a("--init", default="pytorch")
    a("--lr-t", type=float, default=1e-3); a("--lr-s", type=float, default=1e-3); a("--warmup", type=int, default=0)
    a("--batch", type=int, default=32)
    a("--t-steps", type=int, default=2000); a("--ckpt-every", type=int, default=10); a("--t-extra", type=int, default=200)
    a("--s-steps", type=int, default=4000); a("--eval-every", type=int, default=50); a("--n-eval", type=int, default=2048)
    a("--mult", type=float, default=1.0); a("--two-shot-acc", type=float, default=0.6); a("--tau", type=float, default=1.0)
    a("--two-steps", type=int, default=None, help="student steps on the mid checkpoint (default: its teacher step)")
    a("--seeds", type=int, default=4); a("--seed0", type=int, default=0)
    a("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    causal = None if args.causal is None else args.causal == "1"
    S, n, B = args.seeds, args.n, args.batch
    seeds = list(range(args.seed0, args.seed0 + S))
    supports = torch.tensor([ParityTask.random(n, args.k, np.random.default_rng(s)).support for s in seeds])
    g_eval = torch.Generator().manual_seed(10_000 + args.seed0)
    xe, ce_ = sample(supports, args.n_eval, n, g_eval)
    common = dict(n=n, head_dim=args.head_dim, readout=args.readout, causal=causal, init=args.init)

    # ---------------- teachers
    t0 = time.time()
    teacher = EnsembleTransformer(n_layers=args.layers, n_heads=args.t_heads, ensemble_size=S,
                                  generators=[torch.Generator().manual_seed(s) for s in seeds], **common)
    opt = torch.optim.Adam(teacher.parameters(), lr=args.lr_t)
    g = torch.Generator().manual_seed(20_000 + args.seed0)
    names = [nm for nm, _ in teacher.named_parameters()]
    ckpts, ckpt_steps, ckpt_acc = [], [], []

    def save(step):
        ckpts.append({nm: p.detach().clone() for nm, p in teacher.named_parameters()})
        ckpt_steps.append(step)
        ckpt_acc.append(accuracy(teacher, xe, ce_))

    save(0)
    t99 = [None] * S
    stop = args.t_steps
    for step in range(1, args.t_steps + 1):
        for gr in opt.param_groups:
            gr["lr"] = lr_at(step - 1, args.lr_t, args.warmup)
        x, c = sample(supports, B, n, g)
        loss = F.cross_entropy(teacher(x).reshape(-1, 2), c.reshape(-1), reduction="sum") / B
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % args.ckpt_every == 0:
            save(step)
            for s in range(S):
                if t99[s] is None and ckpt_acc[-1][s] >= 0.99:
                    t99[s] = step
            if all(t is not None for t in t99) and stop == args.t_steps:
                stop = min(args.t_steps, step + args.t_extra)
        if step >= stop and step % args.ckpt_every == 0:
            break
    t_wall = time.time() - t0
    acc = np.array(ckpt_acc)  # (C, S)
    steps = np.array(ckpt_steps)
    t_t95 = [int(steps[np.argmax(acc[:, s] >= 0.95)]) if (acc[:, s] >= 0.95).any() else None for s in range(S)]
    final_acc = acc[-1].tolist()
    C = len(ckpts)
    stacked = {nm: torch.stack([ck[nm] for ck in ckpts]) for nm in names}  # (C, S, ...)
    # two-shot checkpoint per seed
    two_idx = [int(np.argmax(acc[:, s] >= args.two_shot_acc)) if (acc[:, s] >= args.two_shot_acc).any() else C - 1 for s in range(S)]

    # ---------------- students
    t1 = time.time()
    M = len(STRATS) * S
    s_layers = args.s_layers or args.layers
    student = EnsembleTransformer(n_layers=s_layers, n_heads=args.s_heads, ensemble_size=M,
                                  generators=[torch.Generator().manual_seed(1000 + s) for _ in STRATS for s in seeds], **common)
    sopt = torch.optim.Adam(student.parameters(), lr=args.lr_s)
    panel = EnsembleTransformer(n_layers=args.layers, n_heads=args.t_heads, ensemble_size=3 * S,
                                generators=list(range(3 * S)), **common)  # (one_shot, progressive, two_shot) x S
    panel.requires_grad_(False)
    pparams = dict(panel.named_parameters())
    seed_ix = torch.arange(S).repeat(3)
    cur = None
    gs = torch.Generator().manual_seed(30_000 + args.seed0)
    xe_s, ce_s = xe.repeat(len(STRATS), 1, 1), ce_.repeat(len(STRATS), 1)
    t95 = [None] * M
    curve = []
    for step in range(1, args.s_steps + 1):
        prog = min(C - 1, math.ceil((step - 1) * args.mult / args.ckpt_every) + 1)
        two = [two_idx[s] if step <= (args.two_steps or ckpt_steps[two_idx[s]]) else C - 1 for s in range(S)]
        want = tuple([C - 1] * S + [prog] * S + two)
        if want != cur:
            idx = torch.tensor(want)
            with torch.no_grad():
                for nm, p in pparams.items():
                    p.copy_(stacked[nm][idx, seed_ix])
            cur = want
        x, c = sample(supports, B, n, gs)
        with torch.no_grad():
            pt = F.softmax(panel(x.repeat(3, 1, 1)) / args.tau, -1)  # (3S, B, 2)
        target = torch.cat([F.one_hot(c, 2).float(), pt], 0)  # (4S, B, 2)
        logp = F.log_softmax(student(x.repeat(len(STRATS), 1, 1)), -1)
        loss = -(target * logp).sum() / B
        sopt.zero_grad(set_to_none=True)
        loss.backward()
        sopt.step()
        if step % args.eval_every == 0:
            a_s = accuracy(student, xe_s, ce_s)
            curve.append((step, a_s.round(4).tolist()))
            for m in range(M):
                if t95[m] is None and a_s[m] >= 0.95:
                    t95[m] = step
            if all(t is not None for t in t95):
                break
    s_wall = time.time() - t1
    res = dict(args=vars(args), teacher_t95=t_t95, teacher_t99=t99, teacher_final_acc=[round(v, 4) for v in final_acc],
               teacher_steps=int(steps[-1]), two_shot_ckpt=[ckpt_steps[i] for i in two_idx],
               two_shot_ckpt_acc=[round(float(acc[two_idx[s], s]), 3) for s in range(S)],
               t95={st: t95[i * S:(i + 1) * S] for i, st in enumerate(STRATS)},
               final_student_acc={st: curve[-1][1][i * S:(i + 1) * S] for i, st in enumerate(STRATS)} if curve else None,
               teacher_wall_s=round(t_wall, 1), student_wall_s=round(s_wall, 1), student_steps_run=step,
               teacher_acc_curve=[(int(st), [round(float(v), 3) for v in row]) for st, row in zip(steps, acc)])
    line = json.dumps(res)
    short = {k: v for k, v in res.items() if k not in ("teacher_acc_curve", "args")}
    print(json.dumps(short))
    if args.out:
        with open(args.out, "a") as f:
            f.write(line + "\n")
    return res


if __name__ == "__main__":
    main()
