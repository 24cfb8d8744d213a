"""Sweeps on a real Slurm cluster through submitit (marker `slurm`; .ci/slurm_up.sh starts one).

Timings to keep in mind (SLURM.md): KillWait=5 s on the CI cluster, so a cancelled submitit job
is gone from the queue ~5 s after scancel; the runner polls squeue itself every second.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from sims.sweep import SweepFolder, collect, load_spec, plan_units, run_sweep, status_text

pytestmark = pytest.mark.slurm

TOY = "sims.sweep.toy:checkpointed_unit"
QUIET = {"progress": False, "log": lambda *_: None}


def _spec(tmp_path: Path, toy: str, axes: str = '"toy.x" = [1.0, 2.0]', name: str = "toy", fname: str = "s.toml"):
    p = tmp_path / fname
    p.write_text(f'name = "{name}"\nseeds = [0, 1]\nunit = "{TOY}"\n[base]\ntoy = {{{toy}}}\nstudent = {{scale = 1.0}}\n'
                 f'[axes]\n{axes}\n[executor]\nkind = "slurm"\nmax_parallel = 2\ntime_min = 5\ncpus = 1\n')
    return load_spec(p)


def _wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _key_sorted(df: pd.DataFrame) -> pd.DataFrame:
    key = ["unit_id", "point_id", "seed", "strategy", "kind", "metric", "step"]
    return df.sort_values(key).reset_index(drop=True)


def test_slurm_sweep_matches_local_real_engine(tmp_path):
    """The same sweep file (one real teacher+students unit, one toy axis) gives the same table on both executors."""
    p = tmp_path / "real.toml"
    p.write_text('''name = "real"
seeds = [0, 1]
[base.teacher]
task = { n = 12, k = 2 }
model = { width = 32 }
steps = 100
ckpt_every = 25
eval_every = 25
eval_size = 512
[base.student]
model = { width = 8 }
steps = 100
eval_every = 25
eval_size = 512
strategies = ["ce", "progressive"]
[axes]
"teacher.model.width" = [32]
[executor]
kind = "slurm"
max_parallel = 2
time_min = 5
''')
    spec = load_spec(p)
    res_s = run_sweep(spec, tmp_path / "slurm", **QUIET)
    assert set(res_s["outcome"].values()) == {"done"}, status_text(SweepFolder(tmp_path / "slurm"))[0]
    m = SweepFolder(tmp_path / "slurm").read_manifest(next(iter(res_s["outcome"])))
    assert m["owner"]["slurm_job"]  # it really ran inside a Slurm job
    res_l = run_sweep(spec, tmp_path / "local", executor="local", **QUIET)
    assert set(res_l["outcome"].values()) == {"done"}
    a, _ = collect(SweepFolder(tmp_path / "slurm"))
    b, _ = collect(SweepFolder(tmp_path / "local"))
    assert len(a) > 0
    pd.testing.assert_frame_equal(_key_sorted(a), _key_sorted(b))


def test_scancel_mid_run_is_detected_and_rerun_without_loss(tmp_path):
    steps = 24  # 12 s of toy work: still running when SIGKILL comes KillWait (5 s) after scancel
    spec = _spec(tmp_path, f"x = 1.0, steps = {steps}, sleep = 0.5", axes='"toy.x" = [1.0]')
    out = tmp_path / "out"
    folder = SweepFolder(out)
    (unit,) = plan_units(spec)
    res = run_sweep(spec, out, wait=False, **QUIET)
    assert res["submitted"] == [unit.unit_id]
    work = folder.work_dir(unit.unit_id)

    def running():
        m = folder.read_manifest(unit.unit_id)
        n = len(list(work.glob("checkpoint-*"))) if work.exists() else 0
        return m if (m and m.get("status") == "running" and n >= 3) else None

    m = _wait_for(running, 90, "the Slurm job to run 3 toy steps")
    job = m["owner"]["slurm_job"]
    subprocess.run(["scancel", job], check=True, timeout=10)
    # detected: the job leaves the queue after KillWait (5 s) and the unit turns 'killed'
    _wait_for(lambda: folder.unit_status(unit.unit_id).status == "killed", 60, "status 'killed' after scancel")
    text, counts = status_text(folder)
    assert counts["killed"] == 1 and f"Slurm job {job} ended" in text
    assert not folder.results_path(unit.unit_id).exists()
    res = run_sweep(spec, out, **QUIET)
    assert res["submitted"] == [unit.unit_id] and res["outcome"] == {unit.unit_id: "done"}
    m2 = folder.read_manifest(unit.unit_id)
    assert m2["attempt"] == 2 and m2["owner"]["slurm_job"] != job
    df = pd.read_parquet(folder.results_path(unit.unit_id))
    resumed = df[df.metric == "resumed_from"]["value"].unique()
    assert len(resumed) == 1 and 3 <= resumed[0] < steps  # resumed from the last checkpoint
    key = ["point_id", "seed", "strategy", "kind", "step", "metric"]
    assert not df.duplicated(key).any()
    assert sorted(df[(df.kind == "curve") & (df.seed == 1) & (df.strategy == "ce")]["step"]) == list(range(steps + 1))


def test_failing_job_traceback_in_status(tmp_path):
    spec = _spec(tmp_path, "x = 1.0, steps = 3, sleep = 0.0, fail = false", axes='"toy.fail" = [true, false]')
    out = tmp_path / "out"
    res = run_sweep(spec, out, **QUIET)
    assert sorted(res["outcome"].values()) == ["done", "failed"]
    text, counts = status_text(SweepFolder(out))
    assert counts["failed"] == 1 and counts["done"] == 1
    assert "Traceback (most recent call last)" in text and "RuntimeError: toy unit asked to fail at step 2" in text


def test_submitting_twice_runs_nothing_twice(tmp_path):
    # units_per_job = 2: 3 units -> 2 array tasks, so the second submission also meets a unit that is
    # queued behind another one inside a running job
    spec = _spec(tmp_path, "x = 1.0, steps = 4, sleep = 0.5", axes='"toy.x" = [1.0, 2.0, 3.0]').with_executor(units_per_job=2)
    out = tmp_path / "out"
    first = run_sweep(spec, out, wait=False, **QUIET)
    assert len(first["submitted"]) == 3
    second = run_sweep(spec, out, wait=False, **QUIET)  # all queued or running: nothing resubmitted
    assert second["submitted"] == []
    third = run_sweep(spec, out, **QUIET)  # waits for the first submission's jobs
    assert third["submitted"] == [] and set(third["outcome"].values()) == {"done"}
    fourth = run_sweep(spec, out, **QUIET)
    assert fourth["submitted"] == []
    folder = SweepFolder(out)
    manifests = [folder.read_manifest(u) for u in first["submitted"]]
    assert [m["attempt"] for m in manifests] == [1, 1, 1]
    assert len({m["owner"]["slurm_job"] for m in manifests}) == 2
    df, missing = collect(folder)
    assert missing == [] and not df.duplicated(["unit_id", "point_id", "seed", "strategy", "kind", "step", "metric"]).any()
    assert len(df) == 3 * 2 * 2 * (4 + 1 + 2)
