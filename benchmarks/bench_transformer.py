"""Speed of three ways to train E Transformers of one shape on CPU (model-steps per second).

(a) loop: E separate one-member models, each with its own Adam, one after the other;
(b) vmap: torch.func.functional_call + vmap over the stacked state of a one-member model;
(c) stacked: EnsembleTransformer(ensemble_size=E) (baddbmm over the member axis), one Adam.

    .venv/bin/python benchmarks/bench_transformer.py [--quick]

One thread (torch.set_num_threads(1)); timings on a shared machine are noisy, compare the ratios
printed on one line (measured in the same run).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sims.models.transformer import EnsembleTransformer  # noqa: E402


def _data(E, B, n, g):
    x = torch.randint(0, 2, (E, B, n), generator=g).float() * 2 - 1
    return x, ((1 - x[..., 0] * x[..., 1]) / 2).long()


def bench(n, heads, E, B=32, steps=30, readout="cls"):
    hp = dict(n=n, n_layers=1, n_heads=heads, head_dim=8, readout=readout)
    g = torch.Generator().manual_seed(0)
    batches = [_data(E, B, n, g) for _ in range(steps + 3)]
    out = {}

    # (a) loop over separate models
    models = [EnsembleTransformer(ensemble_size=1, generators=[e], **hp) for e in range(E)]
    opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]
    for i, (x, y) in enumerate(batches):
        if i == 3:
            t0 = time.perf_counter()
        for e, (m, o) in enumerate(zip(models, opts)):
            o.zero_grad(set_to_none=True)
            F.cross_entropy(m(x[e])[0], y[e]).backward()
            o.step()
    out["loop"] = E * steps / (time.perf_counter() - t0)

    # (b) vmap over stacked state of a one-member model
    base = EnsembleTransformer(ensemble_size=1, generators=[0], **hp)
    params, _ = stack_module_state([EnsembleTransformer(ensemble_size=1, generators=[e], **hp) for e in range(E)])
    params = {k: v.detach().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.Adam(params.values(), lr=1e-3)

    def loss_fn(p, x, y):
        return F.cross_entropy(functional_call(base, p, (x,))[0], y)

    gfn = vmap(grad_and_value(loss_fn))
    for i, (x, y) in enumerate(batches):
        if i == 3:
            t0 = time.perf_counter()
        grads, _ = gfn(params, x, y)
        for k, p in params.items():
            p.grad = grads[k]
        opt.step()
    out["vmap"] = E * steps / (time.perf_counter() - t0)

    # (c) stacked ensemble
    ens = EnsembleTransformer(ensemble_size=E, generators=list(range(E)), **hp)
    opt = torch.optim.Adam(ens.parameters(), lr=1e-3)
    for i, (x, y) in enumerate(batches):
        if i == 3:
            t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(ens(x).reshape(-1, 2), y.reshape(-1), reduction="sum").div(B).backward()
        opt.step()
    out["stacked"] = E * steps / (time.perf_counter() - t0)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    configs = [(20, 4, 8), (20, 16, 4)] if args.quick else [(20, 4, 4), (20, 4, 16), (20, 16, 4), (20, 16, 8)]
    print("n heads(d=8h) E | model-steps/s: loop vmap stacked | stacked/loop stacked/vmap")
    for n, h, E in configs:
        r = bench(n, h, E, steps=10 if args.quick else 30)
        print(f"{n} {h} {E} | {r['loop']:.0f} {r['vmap']:.0f} {r['stacked']:.0f} | "
              f"{r['stacked'] / r['loop']:.2f}x {r['stacked'] / r['vmap']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
