"""Degree-1 search: when does the in-support degree-1 correlation of a teacher stand out?

A self-contained, runnable record of how the degree-1 finding in docs/probe.md was obtained.
It trains E seeds of a 1-hidden-layer ReLU MLP teacher as one batched ensemble (PyTorch default
init, fresh samples every step, each seed with its own random support), and every
``probe_every`` steps measures on N fresh samples

    corr_i = |mean((p(x) - mean p) * x_i)|    for every coordinate i  (degree 1, exact set),
    corr_T = |mean((p(x) - mean p) * chi_T)|   for all in-support pairs and 100 random off pairs,

with p the probability of the class chi_S = -1. Subtracting the mean of p is a control variate
(E[chi_T] = 0 for T != {}), which lowers the sampling floor from ~0.5/sqrt(N) to ~std(p)/sqrt(N).

A seed "spikes at degree 1" at a checkpoint when the in-support degree-1 mean exceeds both the
largest off-support degree-1 coordinate and 3/sqrt(N). Usage (1 thread; the CPU is shared):

    python benchmarks/degree1_search.py --n 100 --k 3 --width 1000 --opt sgd --lr 0.1 \
        --batch 8 --wd 1e-2 --steps 20000 --seeds 3 --probe-every 250

Prints one line per seed with the best checkpoint and a verdict; ``--csv`` saves every probe row.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import torch


def _init_uniform(shape, fan_in, gen):
    bound = 1.0 / math.sqrt(fan_in)
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


class EnsembleMLP(torch.nn.Module):
    """E independent 1-hidden-layer ReLU MLPs: x (E, B, n) -> logits (E, B, 2)."""

    def __init__(self, n, width, seeds):
        super().__init__()
        w1, b1, w2, b2 = [], [], [], []
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            w1.append(_init_uniform((width, n), n, g))
            b1.append(_init_uniform((width,), n, g))
            w2.append(_init_uniform((2, width), width, g))
            b2.append(_init_uniform((2,), width, g))
        self.w1 = torch.nn.Parameter(torch.stack(w1))
        self.b1 = torch.nn.Parameter(torch.stack(b1))
        self.w2 = torch.nn.Parameter(torch.stack(w2))
        self.b2 = torch.nn.Parameter(torch.stack(b2))

    def forward(self, x):
        h = torch.relu(torch.baddbmm(self.b1[:, None, :], x, self.w1.transpose(1, 2)))
        return torch.baddbmm(self.b2[:, None, :], h, self.w2.transpose(1, 2))


def _pm1(gen, shape):
    return torch.randint(0, 2, shape, generator=gen).float().mul_(2).sub_(1)


def run(args) -> list[dict]:
    torch.set_num_threads(args.threads)
    E, n, k = args.seeds, args.n, args.k
    seeds = [args.seed0 + i for i in range(E)]
    rng = np.random.default_rng(args.seed0)
    supports = torch.tensor(np.stack([rng.choice(n, size=k, replace=False) for _ in range(E)]))
    model = EnsembleMLP(n, args.width, seeds)
    if args.opt == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=args.wd)
    elif args.opt == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.wd)
    elif args.opt == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    else:
        raise ValueError(f"--opt must be sgd, adam or adamw; got {args.opt!r}")
    gen = torch.Generator().manual_seed(10_000 + args.seed0)
    probe_gen = torch.Generator().manual_seed(20_000 + args.seed0)
    xp = _pm1(probe_gen, (args.N, n))  # the same probe samples for every checkpoint
    xe = _pm1(probe_gen, (4096, n))
    idx = torch.arange(E)[:, None]
    ye = (xe[None, :, :].expand(E, -1, -1).gather(2, supports[:, None, :].expand(-1, 4096, -1)).prod(2) < 0).long()
    # degree-2 subsets: all in-support pairs, 100 random off-support pairs per seed
    pair_rng = np.random.default_rng(30_000 + args.seed0)
    in_pairs, off_pairs = [], []
    for e in range(E):
        S = supports[e].tolist()
        in_pairs.append([(S[a], S[b]) for a in range(k) for b in range(a + 1, k)])
        rest = [i for i in range(n) if i not in S]
        off_pairs.append([tuple(pair_rng.choice(rest, 2, replace=False)) for _ in range(100)])
    rows = []
    t0 = time.perf_counter()
    acc95 = [None] * E
    for step in range(args.steps + 1):
        if step % args.probe_every == 0:
            with torch.no_grad():
                acc = (model(xe[None].expand(E, -1, -1)).argmax(-1) == ye).float().mean(1)
                p = torch.cat([torch.softmax(model(xp[None, i:i + 20000].expand(E, -1, -1)), -1)[..., 1]
                               for i in range(0, args.N, 20000)], dim=1)  # (E, N)
                pc = p - p.mean(1, keepdim=True)
                c1 = (pc @ xp).abs() / args.N  # (E, n)
            for e in range(E):
                S = supports[e].tolist()
                mask = torch.zeros(n, dtype=torch.bool)
                mask[S] = True
                ins, off = c1[e, mask], c1[e, ~mask]
                pe = pc[e]
                c2in = [float((pe * xp[:, a] * xp[:, b]).mean().abs()) for a, b in in_pairs[e]]
                c2off = [float((pe * xp[:, a] * xp[:, b]).mean().abs()) for a, b in off_pairs[e]]
                floor = float(pc[e].std()) / math.sqrt(args.N)
                a = float(acc[e])
                if acc95[e] is None and a >= 0.95:
                    acc95[e] = step
                rows.append(dict(seed=seeds[e], step=step, acc=a, d1_in_mean=float(ins.mean()),
                                 d1_in_max=float(ins.max()), d1_off_mean=float(off.mean()),
                                 d1_off_max=float(off.max()), d1_off_q95=float(off.quantile(0.95)),
                                 d2_in_mean=float(np.mean(c2in)) if c2in else float("nan"),
                                 d2_off_mean=float(np.mean(c2off)), d2_off_max=float(np.max(c2off)),
                                 se_floor=floor))
            if args.verbose:
                r = rows[-E:]
                print(f"step {step:6d} " + " | ".join(
                    f"acc {x['acc']:.2f} d1 {x['d1_in_mean']:.3f}/{x['d1_off_mean']:.3f}/{x['d1_off_max']:.3f}"
                    for x in r), flush=True)
            if all(a is not None for a in acc95) and step >= max(acc95) + args.after_95:
                break
        if step == args.steps:
            break
        x = _pm1(gen, (E, args.batch, n))
        y = (x.gather(2, supports[:, None, :].expand(-1, args.batch, -1)).prod(2) < 0).long()
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 2), y.reshape(-1), reduction="sum") / args.batch
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    wall = time.perf_counter() - t0
    return rows, wall, acc95, seeds


def summarise(rows, args, acc95, seeds):
    """Per seed: the checkpoint with the largest in-support degree-1 mean, and the verdict."""
    z = 3.0 / math.sqrt(args.N)
    out = []
    for s, a95 in zip(seeds, acc95):
        r = [x for x in rows if x["seed"] == s]
        best = max(r, key=lambda x: x["d1_in_mean"] - x["d1_off_max"])
        spike = best["d1_in_mean"] > max(best["d1_off_max"], z)
        final = r[-1]
        out.append(dict(seed=s, t95=a95, best_step=best["step"], best_acc=round(best["acc"], 3),
                        d1_in_mean=round(best["d1_in_mean"], 4), d1_in_max=round(best["d1_in_max"], 4),
                        d1_off_mean=round(best["d1_off_mean"], 4), d1_off_max=round(best["d1_off_max"], 4),
                        ratio_to_off_mean=round(best["d1_in_mean"] / max(best["d1_off_mean"], 1e-12), 1),
                        d2_in_mean=round(best["d2_in_mean"], 4), d2_off_max=round(best["d2_off_max"], 4),
                        final_d1_in_mean=round(final["d1_in_mean"], 4),
                        final_d1_off_max=round(final["d1_off_max"], 4), spike=bool(spike)))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--opt", default="sgd")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--wd", type=float, default=1e-2)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--probe-every", type=int, default=250)
    ap.add_argument("--after-95", type=int, default=1000, help="stop this many steps after every seed hit 95%%")
    ap.add_argument("--N", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--csv", default=None)
    args = ap.parse_args(argv)
    rows, wall, acc95, seeds = run(args)
    cfg = {k: v for k, v in vars(args).items() if k not in ("verbose", "csv")}
    print(json.dumps(dict(config=cfg, wall_s=round(wall, 1))))
    for r in summarise(rows, args, acc95, seeds):
        print(json.dumps(r))
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
