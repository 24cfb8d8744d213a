"""Speed of the probe: one width-1000 MLP checkpoint at N = 1e5 (forward pass included).

Target: well under a second on CPU. Measures, for n in {40, 100} (k = 4 / 6):
  forward     : p(x) for N samples (batched, inference mode);
  kernel      : parity_theory.fourier kernels (support_spectrum-equivalent + correlations) for
                the 2^k - 1 in-support + 100 off-support subsets per degree;
  probe_1     : probe_run of ONE checkpoint (sampling + forward + correlations + table);
  probe_10/ck : probe_run of 10 checkpoints, per checkpoint (the chi matrix is built once).
Prints the minimum over ``--repeats`` runs (the CPU is shared: minima are the least noisy);
``--cpu-time --threads 1`` reports process CPU time, which contention on a shared machine
barely inflates (≈ the wall time of an idle single core).

    python benchmarks/bench_probe.py [--threads 2] [--repeats 3] [--samples 100000] [--cpu-time]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from parity_theory.parity import ParityTask
from sims.config import ModelConfig
from sims.models import build_model
from sims.probe import _Forward, _Prober, _plan_table, _subset_plan, probe_run


class _RandomRun:
    """A 'run' of width-W MLP checkpoints at PyTorch default init (speed does not depend on training)."""

    def __init__(self, task, width, n_ckpt):
        self.task = task
        self.steps = list(range(n_ckpt))
        self.models = [build_model("mlp", task.n, ModelConfig(width=width), 1, [s]).eval() for s in self.steps]

    def load_model(self, step, device="cpu"):
        return self.models[step]


_CLOCK = time.perf_counter


def _best(fn, repeats):
    ts = []
    for _ in range(repeats):
        t = _CLOCK()
        fn()
        ts.append(_CLOCK() - t)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--width", type=int, default=1000)
    ap.add_argument("--cpu-time", action="store_true",
                    help="report process CPU time instead of wall time (robust on a shared machine; use --threads 1)")
    args = ap.parse_args(argv)
    global _CLOCK
    _CLOCK = time.process_time if args.cpu_time else time.perf_counter
    torch.set_num_threads(args.threads)
    N = args.samples
    out = []
    for n, k in ((40, 4), (100, 6)):
        task = ParityTask.random(n, k, np.random.default_rng(0))
        run = _RandomRun(task, args.width, 10)
        rng = np.random.default_rng(1)
        x, _ = task.sample(N, rng)
        fwd = _Forward(run, x, "cpu", 8192)
        t_fwd = _best(lambda: fwd(0), args.repeats)
        in_rows, off = _subset_plan(task, 100, rng, tuple(range(1, k + 1)))
        mask = _plan_table(task, in_rows, off)[3]
        p = fwd(0)
        f = p - p.mean()
        kern = _Prober(x, mask, "kernel")
        kern(f)  # JIT warm-up
        t_kern = _best(lambda: kern(f), args.repeats)
        mm = _Prober(x, mask, "matmul")
        t_mm_build = _best(lambda: _Prober(x, mask, "matmul"), args.repeats)
        t_mm = _best(lambda: mm(f), args.repeats)
        probe_run(run, samples=N, steps=[0], device="cpu")  # warm-up
        t_p1 = _best(lambda: probe_run(run, samples=N, steps=[0], device="cpu"), args.repeats)
        t_p10 = _best(lambda: probe_run(run, samples=N, device="cpu"), max(1, args.repeats - 1)) / 10
        row = dict(n=n, k=k, width=args.width, N=N, subsets=int(mask.shape[0]), threads=args.threads,
                   clock="cpu" if args.cpu_time else "wall",
                   forward_s=round(t_fwd, 4), kernel_corr_s=round(t_kern, 4), matmul_build_s=round(t_mm_build, 4),
                   matmul_corr_s=round(t_mm, 4), probe_one_ckpt_s=round(t_p1, 4), probe_per_ckpt_of_10_s=round(t_p10, 4))
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


if __name__ == "__main__":
    main()
