"""Points per second of Bound.evaluate_grid (lambdify + numpy) vs a loop of exact Bound.evaluate.

    .venv/bin/python benchmarks/bench_bounds.py [--n 1000000]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from parity_theory import bounds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**6, help="points per evaluate_grid call")
    ap.add_argument("--loop", type=int, default=200, help="points for the plain evaluate loop")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    arrays = {"d": rng.integers(10, 10**4, args.n), "j": rng.integers(1, 4, args.n),
              "rho": rng.uniform(0.01, 1, args.n), "delta": rng.uniform(1e-6, 0.5, args.n)}
    print("| bound | evaluate loop (points/s) | evaluate_grid (points/s) | ratio |")
    print("|---|---:|---:|---:|")
    for name in ("support_recovery", "gaussian_elimination"):
        b = bounds.get(name)
        use = {x: v for x, v in arrays.items() if x in b.symbols}
        b.evaluate_grid(**{x: v[:10] for x, v in use.items()})  # lambdify once
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            b.evaluate_grid(**use)
            best = min(best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(args.loop):
            b.evaluate(**{x: (int(v[i]) if v.dtype.kind == "i" else float(v[i])) for x, v in use.items()})
        loop_rate = args.loop / (time.perf_counter() - t0)
        grid_rate = args.n / best
        print(f"| {name} | {loop_rate:,.0f} | {grid_rate:,.0f} | {grid_rate / loop_rate:,.0f}x |")


if __name__ == "__main__":
    main()
