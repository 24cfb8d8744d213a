"""Speed of the Fourier kernels vs per-subset numpy products (run on demand; not a test).

    .venv/bin/python benchmarks/bench_fourier.py [--m 100000] [--repeats 3] [--seed 0]

Cases, on n = 100 and m samples of x (int8) with f = a random teacher-like output in [0, 1]:

1. the paper's probe (k = 6): all 63 in-support T + 100 random off-support T per degree 1..5,
   (a) one numpy product per subset  vs  (b) ``fourier.correlations`` on all 563 subsets
   (and (c) ``support_spectrum`` for the 63 + ``correlations`` for the 500 off-support);
2. all 2^k in-support coefficients, k = 6 and k = 10: ``support_spectrum`` vs per-subset numpy;
3. a memory-bandwidth reference: one read of x (``x.sum()`` and a Numba pass over x).

Prints a table of best-of-``repeats`` wall times and ratios; results are also checked for
agreement (max |difference|). Timings depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from parity_theory import _kernels, fourier  # noqa: E402
from parity_theory.parity import ParityTask  # noqa: E402


def numpy_probe(f: np.ndarray, x: np.ndarray, subsets) -> np.ndarray:
    """Baseline (a): mean(f * prod(x[:, T], axis=1)) for each T, one numpy product per subset."""
    return np.array([np.mean(f * np.prod(x[:, list(T)], axis=1)) for T in subsets])


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--m", type=int, default=100_000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", default="1,all", help="comma-separated Numba thread counts ('all' = default)")
    args = ap.parse_args(argv)
    import numba

    for th in args.threads.split(","):
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS if th == "all" else int(th))
        run(args)
    return 0


def run(args) -> None:
    rng = np.random.default_rng(args.seed)
    n, m = args.n, args.m

    rows = []  # (case, method, seconds, reference seconds or None, max abs diff)

    # warm-up: compile every kernel once (cached on disk afterwards)
    xw, _ = ParityTask(8, (0, 1)).sample(64, rng)
    fourier.correlations(np.ones(64), xw, [(0,)])
    fourier.support_spectrum(np.ones(64), xw, [0, 1])

    for k in (6, 10):
        task = ParityTask.random(n, k, rng)
        x, y = task.sample(m, rng)
        # a teacher-like output in [0, 1]: a noisy, partly learnt parity with a degree-1 part
        S = list(task.support)
        f = np.clip(0.5 - 0.3 * y + 0.05 * x[:, S[0]] + 0.1 * rng.standard_normal(m), 0.0, 1.0)

        if k == 6:
            t_sum, _ = best_of(lambda: x.sum(), args.repeats)
            t_pass, _ = best_of(lambda: _kernels.count_not_pm1(x), args.repeats)
            rows.append(("bandwidth", "x.sum() (numpy, one read of x)", t_sum, None, None))
            rows.append(("bandwidth", "count_not_pm1(x) (Numba, one read)", t_pass, None, None))
            t_pack, _ = best_of(lambda: _kernels.pack_planes(x), args.repeats)
            rows.append(("bandwidth", "pack_planes(x) (bit packing)", t_pack, None, None))

            ins = fourier.in_support_subsets(task.support)
            off = [T for d in range(1, k) for T in fourier.random_off_support_subsets(n, task.support, d, 100, rng,
                                                                                   allow_fewer=True)]
            probe = ins + off
            mask = fourier.subsets_mask(probe, n)
            t_a, ref = best_of(lambda: numpy_probe(f, x, probe), args.repeats)
            t_b, est = best_of(lambda: fourier.correlations(f, x, mask), args.repeats)
            rows.append((f"probe k=6 ({len(probe)} subsets)", "(a) numpy product per subset", t_a, None, None))
            rows.append((f"probe k=6 ({len(probe)} subsets)", "(b) correlations", t_b, t_a,
                         float(np.abs(est.mean - ref).max())))

            def combo():
                sp = fourier.support_spectrum(f, x, task.support)
                return sp, fourier.correlations(f, x, off)
            t_c, (sp, eo) = best_of(combo, args.repeats)
            idx = [fourier.subset_index([task.support.index(i) for i in T]) for T in ins]
            diff = max(float(np.abs(sp.mean[idx] - ref[: len(ins)]).max()),
                       float(np.abs(eo.mean - ref[len(ins):]).max()))
            rows.append((f"probe k=6 ({len(probe)} subsets)", "(c) support_spectrum + correlations(off)", t_c, t_a, diff))

        allT = [fourier.index_subset(b) for b in range(1 << k)]
        allT = [tuple(task.support[i] for i in T) for T in allT]
        t_np, ref = best_of(lambda: numpy_probe(f, x, allT), max(1, args.repeats if k == 6 else 1))
        t_ss, sp = best_of(lambda: fourier.support_spectrum(f, x, task.support), args.repeats)
        t_co, co = best_of(lambda: fourier.correlations(f, x, allT), args.repeats)
        case = f"all 2^{k} in-support"
        rows.append((case, "numpy product per subset", t_np, None, None))
        rows.append((case, "support_spectrum", t_ss, t_np, float(np.abs(sp.mean - ref).max())))
        rows.append((case, "correlations", t_co, t_np, float(np.abs(co.mean - ref).max())))

    import numba

    print(f"# bench_fourier: n={n}, m={m}, best of {args.repeats}, seed={args.seed}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numba threads={numba.get_num_threads()}, numpy {np.__version__}, numba {numba.__version__}")
    print(f"| case | method | time (ms) | speed-up | max abs diff |")
    print("|---|---|---:|---:|---:|")
    for case, method, t, tref, diff in rows:
        sp = f"{tref / t:.1f}x" if tref else ""
        d = f"{diff:.1e}" if diff is not None else ""
        print(f"| {case} | {method} | {1e3 * t:.2f} | {sp} | {d} |")
    print()


if __name__ == "__main__":
    raise SystemExit(main())
