"""Wall time of a 16-unit sweep: sequential in one process vs the local executor vs Slurm.

    .venv/bin/python benchmarks/bench_sweep.py                 # both workloads, every executor available
    .venv/bin/python benchmarks/bench_sweep.py --workload empty --units 16

Workloads:
  empty  the toy unit with no work (steps = 1, sleep = 0): wall / units is the pure per-unit
         overhead (spec resolution, claim, manifests, Parquet write, process start-up / scheduling).
  real   the engine unit on a tiny (12, 2) task: teacher width 32, 200 steps; 2 students x 2 seeds,
         200 steps (about 1-2 s of compute per unit after start-up).
Sequential = ``execute_unit`` called in a loop in this process (no pool, torch imported once).
Slurm runs only when SLURM_CONF is set and sinfo answers (.ci/slurm_up.sh), once with one unit per
array task ("slurm") and once with units_per_job = units / parallel ("slurm/8"). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sims.sweep import SweepFolder, load_spec, plan_units, run_sweep  # noqa: E402
from sims.sweep.worker import execute_unit  # noqa: E402

EMPTY = '''name = "bench-empty"
seeds = [0]
unit = "sims.sweep.toy:checkpointed_unit"
[base]
toy = {{x = 1.0, steps = 1, sleep = 0.0}}
student = {{scale = 1.0}}
[axes]
"toy.x" = {{start = 1, stop = {stop}, num = {units}}}
[executor]
max_parallel = {par}
time_min = 10
'''

REAL = '''name = "bench-real"
seeds = [0, 1]
[base.teacher]
task = {{ n = 12, k = 2 }}
model = {{ width = 32 }}
steps = 200
ckpt_every = 50
eval_every = 50
eval_size = 512
[base.student]
model = {{ width = 8 }}
steps = 200
eval_every = 50
eval_size = 512
strategies = ["ce", "progressive"]
[axes]
"teacher.seed" = {{start = 0, stop = {units}}}
[executor]
max_parallel = {par}
time_min = 10
'''


def slurm_available() -> bool:
    if not os.environ.get("SLURM_CONF") or shutil.which("sinfo") is None:
        return False
    try:
        return subprocess.run(["sinfo", "-h"], capture_output=True, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def bench(workload: str, units: int, par: int, root: Path, executors: list[str]) -> list[tuple]:
    text = (EMPTY if workload == "empty" else REAL).format(units=units, stop=units, par=par)
    path = root / f"{workload}.toml"
    path.write_text(text)
    spec = load_spec(path)
    rows = []
    for ex in executors:
        out = root / f"{workload}-{ex}"
        t0 = time.perf_counter()
        if ex == "sequential":
            us = plan_units(spec)
            SweepFolder(out).prepare(spec, us)
            os.environ["PDISTILL_THREADS"] = "1"
            for u in us:
                assert execute_unit(str(out), u.unit_id)["status"] == "done"
        else:
            kind, _, per_job = ex.partition("/")
            sp = spec.with_executor(kind=kind, units_per_job=int(per_job or 1))
            res = run_sweep(sp, out, progress=False, log=lambda *_: None)
            assert set(res["outcome"].values()) == {"done"}, res
        wall = time.perf_counter() - t0
        compute = sum(SweepFolder(out).read_manifest(u.unit_id)["seconds"] for u in plan_units(spec))
        rows.append((workload, ex.replace("/", " x"), units, wall, wall / units, compute / units))
        print(f"  {workload:5s} {ex:10s} wall {wall:7.2f} s", file=sys.stderr, flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--units", type=int, default=16)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--workload", choices=["empty", "real", "both"], default="both")
    ap.add_argument("--executors", help="comma-separated subset of sequential,local,slurm,slurm/N (default: all available)")
    args = ap.parse_args(argv)
    chunk = max(1, args.units // args.parallel)
    executors = ["sequential", "local"] + (["slurm", f"slurm/{chunk}"] if slurm_available() else [])
    if args.executors:
        executors = [e.strip() for e in args.executors.split(",")]
        if "sequential" not in executors:
            executors.insert(0, "sequential")  # the baseline of the ratio column
    root = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    rows = []
    try:
        for w in (["empty", "real"] if args.workload == "both" else [args.workload]):
            rows += bench(w, args.units, args.parallel, root, executors)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n{args.units} units, max_parallel {args.parallel}, {os.cpu_count()} CPUs\n")
    print("| workload | executor | wall (s) | wall / unit (s) | unit compute, mean (s) | vs sequential |")
    print("|---|---|---|---|---|---|")
    base = {r[0]: r[3] for r in rows if r[1] == "sequential"}
    for w, ex, n, wall, per, comp in rows:
        print(f"| {w} | {ex} | {wall:.1f} | {per:.2f} | {comp:.2f} | {base[w] / wall:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
