"""Sweeps on the local executor: spec parsing and bad input, plan/run/status/collect/plot,
resume without duplicates, a killed worker, a failing unit, and one real teacher+students unit."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sims.sweep import SweepFolder, SweepSpecError, cli_main, collect, load_spec, plan_units, run_sweep, status_text

TOY = "sims.sweep.toy:checkpointed_unit"


def write_toy(tmp_path: Path, name="toy", axes='"toy.x" = [1.0, 2.0]\n"student.scale" = [1.0, 3.0]', toy="x = 1.0, steps = 3, sleep = 0.0",
              extra="", fname="sweep.toml") -> Path:
    p = tmp_path / fname
    p.write_text(f'name = "{name}"\nseeds = [0, 1]\nunit = "{TOY}"\n{extra}\n[base]\ntoy = {{{toy}}}\nstudent = {{scale = 1.0}}\n'
                 f"[axes]\n{axes}\n[executor]\nkind = \"local\"\nmax_parallel = 2\n")
    return p


def toy_expected(x: float, scale: float, steps: int, seed: int, strategy: str) -> float:
    # written out independently of sims.sweep.toy: t95 = steps * x * scale + seed, halved for 'progressive'
    return (0.5 if strategy == "progressive" else 1.0) * (steps * x * scale + seed)


# ------------------------------------------------------------------------------------ spec
def test_grid_product_zip_and_units(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(f'''name = "g"
seeds = {{start = 0, stop = 3}}
unit = "{TOY}"
[base]
toy = {{x = 1.0, steps = 2, sleep = 0.0}}
student = {{scale = 1.0}}
[axes]
"toy.x" = {{start = 1.0, stop = 2.0, num = 3}}
"student.scale" = [1.0, 2.0]
[[zip]]
"toy.steps" = {{start = 2, stop = 6, step = 2}}
"toy.sleep" = [0.0, 0.001]
''')
    spec = load_spec(p)
    assert spec.seeds == (0, 1, 2)
    units = plan_units(spec)
    # teacher axes: 3 x values x 2 zipped pairs = 6 units; the student axis stays inside each unit
    assert len(units) == 6
    assert all(len(u.points) == 2 for u in units)
    assert {u.axes["toy.x"] for u in units} == {1.0, 1.5, 2.0}
    assert {(u.axes["toy.steps"], u.axes["toy.sleep"]) for u in units} == {(2, 0.0), (4, 0.001)}
    assert len({u.unit_id for u in units}) == 6
    # order of axes in the file does not change unit ids (ids are config hashes)
    q = tmp_path / "s2.toml"
    q.write_text(p.read_text().replace('"toy.x" = {start = 1.0, stop = 2.0, num = 3}\n"student.scale" = [1.0, 2.0]',
                                       '"student.scale" = [1.0, 2.0]\n"toy.x" = {start = 1.0, stop = 2.0, num = 3}'))
    assert {u.unit_id for u in plan_units(load_spec(q))} == {u.unit_id for u in units}


@pytest.mark.parametrize("axes, toy, extra, match", [
    ('"toy.y" = [1.0]', "x = 1.0, steps = 3, sleep = 0.0", "", "unknown axis 'toy.y'"),
    ('"toy.x" = []', "x = 1.0, steps = 3, sleep = 0.0", "", "axis 'toy.x' is empty"),
    ('"toy.x" = {start = 3, stop = 1}', "x = 1.0, steps = 3, sleep = 0.0", "", "axis 'toy.x' is empty"),
    ('"toy.steps" = ["a", "b"]', "x = 1.0, steps = 3, sleep = 0.0", "", "axis 'toy.steps' has value 'a' of type str"),
    ('"toy.x" = [1.0, "two"]', "x = 1.0, steps = 3, sleep = 0.0", "", "mixes value types"),
    ('"toy.x" = 3', "x = 1.0, steps = 3, sleep = 0.0", "", "must be a list or a range table"),
    ('"toy.x" = [1.0]', "x = 1.0, steps = 3, sleep = 0.0", "colour = 3", "unknown top-level key"),
    ('"toy.x" = [1.0]', "x = 1.0, steps = 3, sleep = 0.0", "[[zip]]\n\"toy.steps\" = [1, 2]\n\"toy.sleep\" = [0.0]", "equal lengths"),
])
def test_bad_spec_errors(tmp_path, axes, toy, extra, match):
    if extra.startswith("[[zip]]"):
        p = write_toy(tmp_path, axes=axes, toy=toy)
        p.write_text(p.read_text().replace("[executor]", extra + "\n[executor]"))
    else:
        p = write_toy(tmp_path, axes=axes, toy=toy, extra=extra)
    with pytest.raises(SweepSpecError, match=match):
        load_spec(p)


def test_toml_syntax_and_type_errors(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\nseeds = [0, 1\n')
    with pytest.raises(SweepSpecError, match="invalid TOML"):
        load_spec(p)
    p.write_text('name = "x"\nseeds = ["a"]\n')
    with pytest.raises(SweepSpecError, match="'seeds' must be a non-empty list"):
        load_spec(p)
    p.write_text('name = 3\n')
    with pytest.raises(SweepSpecError, match="'name' must be a non-empty string"):
        load_spec(p)
    p = write_toy(tmp_path, extra="")
    p.write_text(p.read_text().replace("max_parallel = 2", "max_parallel = 0"))
    with pytest.raises(SweepSpecError, match="executor.max_parallel must be an int >= 1"):
        load_spec(p)
    with pytest.raises(SweepSpecError, match="does not exist"):
        load_spec(tmp_path / "missing.toml")
    # the CLI turns these into exit code 2 and one line on stderr, before anything runs
    assert cli_main(["plan", str(tmp_path / "missing.toml")]) == 2


def test_bad_output_folder_and_foreign_sweep(tmp_path):
    spec = load_spec(write_toy(tmp_path))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(SweepSpecError, match="cannot be created"):
        run_sweep(spec, blocker / "sub", progress=False, log=lambda *_: None)
    nonempty = tmp_path / "nonempty"
    nonempty.mkdir()
    (nonempty / "something").write_text("x")
    with pytest.raises(SweepSpecError, match="not empty and is not a sweep folder"):
        run_sweep(spec, nonempty, progress=False, log=lambda *_: None)
    out = tmp_path / "out"
    run_sweep(spec, out, progress=False, log=lambda *_: None)
    other = load_spec(write_toy(tmp_path, name="other", fname="other.toml"))
    before = sorted(p.name for p in (out / "units").iterdir())
    with pytest.raises(SweepSpecError, match="made by a different sweep file"):
        run_sweep(other, out, progress=False, log=lambda *_: None)
    assert sorted(p.name for p in (out / "units").iterdir()) == before
    with pytest.raises(SweepSpecError, match="device must be"):
        run_sweep(spec, tmp_path / "out4", device="gpu", progress=False, log=lambda *_: None)
    assert cli_main(["run", str(write_toy(tmp_path)), "--out", str(tmp_path / "out4"), "--device", "cdua"]) == 2
    assert not (tmp_path / "out4").exists()
    bad_unit = dataclasses.replace(spec, unit="sims.sweep.toy:no_such_function")
    with pytest.raises(SweepSpecError, match="cannot be imported"):
        run_sweep(bad_unit, tmp_path / "out3", progress=False, log=lambda *_: None)
    assert not (tmp_path / "out3").exists()


# ------------------------------------------------------------------------------------ runs
def test_local_sweep_cli_end_to_end_and_resume(tmp_path, capsys):
    p = write_toy(tmp_path)
    out = tmp_path / "out"
    from pdistill.cli import main as pdistill

    assert pdistill(["sweep", "plan", str(p)]) == 0  # through the `pdistill` dispatcher
    text = capsys.readouterr().out
    assert "2 units, 8 runs" in text and not out.exists()  # plan runs nothing
    assert cli_main(["run", str(p), "--out", str(out), "--no-progress"]) == 0
    assert cli_main(["status", str(out)]) == 0
    assert "2 units: 2 done, 0 running, 0 queued, 0 failed, 0 killed, 0 pending" in capsys.readouterr().out
    assert cli_main(["collect", str(out)]) == 0
    df = pd.read_parquet(out / "results.parquet")
    steps = 3
    # 2 units x 2 student points x 2 seeds x 2 strategies x ((steps + 1) curve rows + 2 summary rows)
    assert len(df) == 2 * 2 * 2 * 2 * (steps + 1 + 2)
    key = ["unit_id", "point_id", "seed", "strategy", "kind", "step", "metric"]
    assert not df.duplicated(key).any()
    t95 = df[(df.kind == "summary") & (df.metric == "t95")]
    assert len(t95) == 16
    for _, row in t95.iterrows():
        assert row["value"] == toy_expected(row["toy.x"], row["student.scale"], steps, row["seed"], row["strategy"])
    manifests = {u: json.loads((out / "units" / u / "manifest.json").read_text()) for u in os.listdir(out / "units")}
    assert all(m["status"] == "done" and m["attempt"] == 1 and m["versions"]["python"] for m in manifests.values())
    mtimes = {u: (out / "units" / u / "results.parquet").stat().st_mtime_ns for u in manifests}
    # resume: nothing to run, nothing rewritten, no duplicated rows after collecting again
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert res["submitted"] == [] and set(res["outcome"].values()) == {"done"}
    assert {u: (out / "units" / u / "results.parquet").stat().st_mtime_ns for u in manifests} == mtimes
    df2, missing = collect(SweepFolder(out))
    assert missing == [] and len(df2) == len(df)
    assert cli_main(["plot", str(out)]) == 0
    figs = sorted(x.name for x in (out / "figures").iterdir())
    assert "t95_vs_toy_x.png" in figs and "t95_vs_student_scale.png" in figs and "curves.png" in figs
    assert all((out / "figures" / f).stat().st_size > 5000 for f in figs)


def test_failing_unit_traceback_then_rerun_after_fix(tmp_path, capsys):
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0]', toy="x = 1.0, steps = 3, sleep = 0.0, fail = false")
    p.write_text(p.read_text().replace("[axes]", '[[zip]]\n"toy.fail" = [true, false]\n"toy.steps" = [3, 4]\n[axes]'))
    out = tmp_path / "out"
    assert cli_main(["run", str(p), "--out", str(out), "--no-progress"]) == 1
    capsys.readouterr()
    assert cli_main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 failed" in text and "2 done" in text
    assert "Traceback (most recent call last)" in text
    assert "RuntimeError: toy unit asked to fail at step 2" in text
    # collect leaves the failed units out and names them
    df, missing = collect(SweepFolder(out))
    assert len(missing) == 2 and set(df["unit_id"]).isdisjoint(missing) and df["unit_id"].nunique() == 2
    assert not (out / "units" / missing[0] / "results.parquet").exists()
    # failed units are retried on the next run (attempt 2), done ones are not touched
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert len(res["submitted"]) == 2
    attempts = sorted(json.loads((out / "units" / u / "manifest.json").read_text())["attempt"] for u in os.listdir(out / "units"))
    assert attempts == [1, 1, 2, 2]


def _wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_killed_local_worker_is_detected_and_rerun_from_checkpoint(tmp_path):
    steps = 12
    p = write_toy(tmp_path, axes='"toy.x" = [1.0]', toy=f"x = 1.0, steps = {steps}, sleep = 0.25")
    spec = load_spec(p)
    out = tmp_path / "out"
    (unit,) = plan_units(spec)
    udir = out / "units" / unit.unit_id
    result = {}
    th = threading.Thread(target=lambda: result.update(run_sweep(spec, out, progress=False, log=lambda *_: None)))
    th.start()
    try:
        def running_with_ckpts():
            m = SweepFolder(out).read_manifest(unit.unit_id) if udir.exists() else None
            n = len(list((udir / "work").glob("checkpoint-*"))) if (udir / "work").exists() else 0
            return m if (m and m.get("status") == "running" and n >= 3) else None
        m = _wait_for(running_with_ckpts, 60, "the unit to be running with 3 checkpoints")
        os.kill(m["owner"]["pid"], signal.SIGKILL)
    finally:
        th.join(60)
    assert not th.is_alive()
    assert result["outcome"][unit.unit_id] == "killed"
    text, counts = status_text(SweepFolder(out))
    assert counts["killed"] == 1 and "is gone while running" in text
    assert not (udir / "results.parquet").exists()
    res = run_sweep(spec, out, progress=False, log=lambda *_: None)
    assert res["outcome"] == {unit.unit_id: "done"}
    m = SweepFolder(out).read_manifest(unit.unit_id)
    assert m["attempt"] == 2 and m["history"][0]["status"] == "running"
    df = pd.read_parquet(udir / "results.parquet")
    resumed = df[df.metric == "resumed_from"]["value"].unique()
    assert len(resumed) == 1 and 3 <= resumed[0] < steps  # resumed from its last checkpoint, not from 0
    curve = df[(df.kind == "curve") & (df.seed == 0) & (df.strategy == "ce")]
    assert sorted(curve["step"]) == list(range(steps + 1))  # nothing lost, nothing duplicated


def test_real_engine_unit_end_to_end(tmp_path):
    """One real unit: (12, 2)-parity teacher (width 64, 300 steps) + CE / progressive / 2-shot students x 2 seeds."""
    p = tmp_path / "real.toml"
    p.write_text('''name = "real"
seeds = [0, 1]
[base.teacher]
task = { n = 12, k = 2 }
model = { width = 64 }
steps = 300
ckpt_every = 50
eval_every = 50
eval_size = 1024
[base.student]
model = { width = 8 }
steps = 300
eval_every = 50
eval_size = 1024
strategies = ["ce", "progressive", "two_shot"]
[axes]
"teacher.model.width" = [64]
''')
    out = tmp_path / "out"
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert set(res["outcome"].values()) == {"done"}, status_text(SweepFolder(out))[0]
    df, _ = collect(SweepFolder(out))
    (uid,) = res["outcome"]
    assert sorted((out / "units" / uid / "work" / "teacher").glob("checkpoint-*"))  # the teacher's checkpoints
    summ = df[df.kind == "summary"]
    assert set(summ["strategy"]) == {"ce", "progressive", "two_shot"} and set(summ["seed"]) == {0, 1}
    assert set(summ["metric"]) >= {"t95", "t99", "samples95"}
    teacher = df[(df.strategy == "teacher") & (df.metric == "accuracy")].sort_values("step")
    assert teacher["step"].iloc[-1] == 300 and teacher["value"].iloc[-1] >= 0.95
    # t95 is the first evaluated step with accuracy >= 0.95, consistent with the curves in the same table
    for (s, seed), g in df[(df.kind == "curve") & (df.metric == "accuracy") & (df.strategy != "teacher")].groupby(["strategy", "seed"]):
        hit = g.sort_values("step")
        reached = hit[hit["value"] >= 0.95]["step"]
        t95 = summ[(summ.strategy == s) & (summ.seed == seed) & (summ.metric == "t95")]["value"].item()
        assert (t95 == reached.iloc[0]) if len(reached) else math.isinf(t95)


def _path_without_slurm() -> str:
    """PATH minus every folder holding a Slurm binary (sweeps are planned on laptops)."""
    import shutil

    keep = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not any(os.path.exists(os.path.join(d, b)) for b in ("srun", "sbatch", "squeue", "sinfo"))]
    path = os.pathsep.join(keep)
    assert shutil.which("srun", path=path) is None and shutil.which("sbatch", path=path) is None
    return path


def test_slurm_dry_run_prints_sbatch_and_submits_nothing(tmp_path, capsys, monkeypatch):
    """Runs with no Slurm binary on PATH: submitit's SlurmExecutor refused ('Could not detect srun')."""
    monkeypatch.setenv("PATH", _path_without_slurm())
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0, 3.0]')
    p.write_text(p.read_text().replace('kind = "local"', 'kind = "slurm"\npartition = "gpu"\ntime_min = 17\ncpus = 3\ngpus = 1\nmem_gb = 6'))
    out = tmp_path / "out"
    assert cli_main(["run", str(p), "--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "3 units" in text
    for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --time=17", "#SBATCH --cpus-per-task=3",
                 "#SBATCH --gpus-per-node=1", "#SBATCH --mem=6GB", f"{out.absolute()}/submitit/"):
        assert line in text, line
    assert not out.exists()


def test_engine_config_errors_before_any_job(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('''name = "e"
[base.teacher]
task = { n = 12, k = 2 }
[base.student]
model = { width = 8 }
[axes]
"teacher.task.k" = [2, 20]
''')
    with pytest.raises(SweepSpecError, match=r"invalid config at teacher.task.k=20: TaskConfig.k must be an int in \[1, n\]"):
        run_sweep(load_spec(p), tmp_path / "out", progress=False, log=lambda *_: None)
    assert not (tmp_path / "out").exists()
    # an axis that exists only in the engine's defaults (not in [base]), written as nested tables
    q = tmp_path / "nested.toml"
    q.write_text(p.read_text().replace('"teacher.task.k" = [2, 20]', "[axes.teacher.model]\nwidth = [16, 32]\n[axes.teacher]\nsteps = {start = 100, stop = 300, step = 100}"))
    units = plan_units(load_spec(q))
    assert sorted((u.teacher_config["teacher"]["model"]["width"], u.teacher_config["teacher"]["steps"]) for u in units) == \
        [(16, 100), (16, 200), (32, 100), (32, 200)]
    assert all(u.teacher_config["teacher"]["task"] == {"n": 12, "k": 2} for u in units)
    p.write_text(p.read_text().replace("[2, 20]", "[2]").replace("model = { width = 8 }", "model = { width = 8 }\nseeds = [0]"))
    with pytest.raises(SweepSpecError, match="student.seeds is set by the sweep's top-level 'seeds'"):
        run_sweep(load_spec(p), tmp_path / "out", progress=False, log=lambda *_: None)
    p.write_text(p.read_text().replace("[axes]", "[base.other]\nz = 1\n[axes]"))
    with pytest.raises(SweepSpecError, match="reads \\[base.teacher\\] and \\[base.student\\] only"):
        run_sweep(load_spec(p), tmp_path / "out", progress=False, log=lambda *_: None)


@settings(max_examples=25, deadline=None)
@given(lengths=st.lists(st.integers(1, 4), min_size=0, max_size=3), inner=st.integers(1, 3), zipped=st.integers(0, 3))
def test_grid_size_is_the_product_of_axis_lengths(tmp_path_factory, lengths, inner, zipped):
    """units = product of teacher-axis lengths x zip length; points per unit = student-axis length."""
    tmp = tmp_path_factory.mktemp("grid")
    keys = [f"a{i}" for i in range(len(lengths))]
    toy = ", ".join([f"{k} = 0" for k in keys] + ["x = 1.0", "steps = 1", "zz = 0"])
    axes = "\n".join(f'"toy.{k}" = {{start = 0, stop = {n}}}' for k, n in zip(keys, lengths))
    axes += f'\n"student.scale" = {{start = 1.0, stop = 2.0, num = {inner}}}'
    p = write_toy(tmp, axes=axes, toy=toy)
    if zipped:
        p.write_text(p.read_text().replace("[executor]", f'[[zip]]\n"toy.x" = {{start = 1.0, stop = 9.0, num = {zipped}}}\n"toy.zz" = {{start = 0, stop = {zipped}}}\n[executor]'))
    units = plan_units(load_spec(p))
    expected = math.prod(lengths) * (zipped or 1)
    assert len(units) == expected and len({u.unit_id for u in units}) == expected
    assert all(len(u.points) == inner for u in units)
    assert len({pt["point_id"] for u in units for pt in u.points}) == expected * inner


# ------------------------------------------------------------------------------------ hardening
import subprocess  # noqa: E402
import sys  # noqa: E402

PY = [sys.executable, "-m", "pdistill", "sweep"]


def _cli(args, timeout=60, **kw):
    return subprocess.run(PY + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)


def test_huge_grids_are_counted_not_expanded(tmp_path):
    """{start=1, stop=1e6} x {start=0, stop=1e3} made `sweep plan` hang; step = 1e-300 ended in
    MemoryError; a 1e5-unit plan printed its cost without a warning. Now: counted from the axis
    lengths, refused above MAX_GRID_POINTS with the size and the cost estimate, unless --allow-large."""
    from sims.sweep.spec import MAX_GRID_POINTS

    big = write_toy(tmp_path, toy="x = 1.0, steps = 3, sleep = 0.1, a = 0, b = 0",
                    axes='"toy.a" = {start = 1, stop = 1000000}\n"toy.b" = {start = 0, stop = 1000}')
    t0 = time.perf_counter()
    for cmd in (["plan", big], ["run", big, "--out", tmp_path / "out"]):
        r = _cli(cmd)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and "999,999 (toy.a) x 1,000 (toy.b) = 999,999,000 points" in r.stderr
        assert "estimated cost ~83333.3 h" in r.stderr and "--allow-large" in r.stderr  # 0.3 s x 999,999,000 units
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "out").exists()
    with pytest.raises(SweepSpecError, match="999,999,000 points"):
        plan_units(load_spec(big))  # the library refuses too (max_points=None lifts it)
    tiny = write_toy(tmp_path, fname="tiny.toml", axes='"toy.x" = {start = 0.0, stop = 1.0, step = 1e-300}')
    r = _cli(["plan", tiny])
    assert r.returncode == 2 and "range {start = 0.0, stop = 1.0, step = 1e-300} has 1.000e+300 values" in r.stderr
    for bad, match in [("{start = 0.0, stop = 1e-296, step = 1e-300}", "step must be at least 1e-12"),
                       ("{start = 0.0, stop = inf, step = 1.0}", "stop must be a finite number"),
                       ("{start = 0.0, stop = 1.0, num = 2000000}", "at most 1,000,000")]:
        with pytest.raises(SweepSpecError, match=match):
            load_spec(write_toy(tmp_path, fname="bad.toml", axes=f'"toy.x" = {bad}'))
    # just above the limit: refused by default, planned with --allow-large, the warning first
    n = MAX_GRID_POINTS + 100
    over = write_toy(tmp_path, fname="over.toml", toy="x = 1.0, steps = 3, a = 0",
                     axes=f'"toy.a" = {{start = 0, stop = {n}}}')
    assert _cli(["plan", over]).returncode == 2
    r = _cli(["plan", over, "--allow-large"], timeout=120)
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"warning: {n:,} units") and "estimated cost" in first
    assert f"... and {n - 200:,} more units" in r.stdout


def test_truncated_or_short_results_are_verified_and_rerun(tmp_path, capsys):
    import pyarrow.parquet as pq

    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0, 3.0]')
    out = tmp_path / "out"
    run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    units = plan_units(load_spec(p))
    cut, short, good = (u.unit_id for u in units)
    path = out / "units" / cut / "results.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    table = pq.read_table(out / "units" / short / "results.parquet")
    pq.write_table(table.slice(0, table.num_rows - 3), out / "units" / short / "results.parquet")  # valid, 3 rows short
    text, counts = status_text(SweepFolder(out))
    assert counts["done"] == 1 and counts["damaged"] == 2
    assert f"{cut}  damaged" in text and "results.parquet cannot be read back" in text
    assert f"{short}  damaged" in text and f"has {table.num_rows - 3} rows where its manifest records {table.num_rows}" in text
    df, missing = collect(SweepFolder(out))  # collect works and names them
    assert sorted(missing) == sorted([cut, short]) and set(df["unit_id"]) == {good}
    mtime = (out / "units" / good / "results.parquet").stat().st_mtime_ns
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert sorted(res["submitted"]) == sorted([cut, short]) and set(res["outcome"].values()) == {"done"}
    assert (out / "units" / good / "results.parquet").stat().st_mtime_ns == mtime
    for uid in (cut, short):
        m = json.loads((out / "units" / uid / "manifest.json").read_text())
        assert m["attempt"] == 2 and pq.read_table(out / "units" / uid / "results.parquet").num_rows == m["rows"]
        assert list((out / "units" / uid).glob("results.parquet.damaged-*"))  # the damaged file is kept aside
    df, missing = collect(SweepFolder(out))
    assert missing == [] and len(df) == 3 * table.num_rows


def test_corrupt_or_array_json_is_reported_as_such(tmp_path, capsys):
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0]')
    out = tmp_path / "out"
    run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    sweep_json = out / "sweep.json"
    good = sweep_json.read_text()
    for content, match in [('{"name": "toy", "units": [', "is corrupt: it is not valid JSON"),
                           ("[1, 2, 3]", "is corrupt: it holds a JSON list, not an object"),
                           ('{"name": "toy"}', "is corrupt: it lacks the key"),
                           ('{"name": "t", "spec_hash": "x", "axes": [], "units": [[1]]}', "'units' is not a list of objects")]:
        sweep_json.write_text(content)
        for cmd in (["status", out], ["collect", out], ["plot", out]):
            assert cli_main([str(c) for c in cmd]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and match in err and "no sweep.json" not in err, (cmd, err)
        with pytest.raises(SweepSpecError, match=match):
            run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    sweep_json.write_text(good)
    uid = plan_units(load_spec(p))[0].unit_id
    (out / "units" / uid / "manifest.json").write_text("[]")
    assert cli_main(["status", str(out)]) == 0
    assert f"{uid}  damaged  toy.x=1.0  manifest.json holds a JSON list, not an object" in capsys.readouterr().out
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert res["submitted"] == [uid] and set(res["outcome"].values()) == {"done"}
    (out / "units" / uid / "claim").write_text("[1]")  # a damaged claim is broken, not an AttributeError
    (out / "units" / uid / "manifest.json").write_text("[]")
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert set(res["outcome"].values()) == {"done"}


def test_the_sweep_file_decides_what_runs_not_sweep_json(tmp_path):
    """A unit in sweep.json edited to 'builtins:print' ran; now sweep.json must record exactly the
    units the TOML plans, or nothing runs."""
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0]', toy="x = 1.0, steps = 3, sleep = 0.0, fail = true")
    out = tmp_path / "out"
    run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)  # both units fail (fail = true)
    data = json.loads((out / "sweep.json").read_text())
    data["units"][0]["unit"] = "builtins:print"
    (out / "sweep.json").write_text(json.dumps(data))
    before = {m: m.stat().st_mtime_ns for m in out.glob("units/*/manifest.json")}
    with pytest.raises(SweepSpecError, match=r"does not match the sweep file: unit \w+ records unit = 'builtins:print' "
                                             r"where the sweep file gives 'sims.sweep.toy:checkpointed_unit'"):
        run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert {m: m.stat().st_mtime_ns for m in out.glob("units/*/manifest.json")} == before  # nothing ran
    data["units"][0]["unit"] = TOY
    data["units"][1]["teacher_config"]["toy"]["steps"] = 99
    (out / "sweep.json").write_text(json.dumps(data))
    with pytest.raises(SweepSpecError, match="records teacher_config"):
        run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_runner(tmp_path, n_units=4):
    xs = ", ".join(f"{i}.0" for i in range(1, n_units + 1))
    p = write_toy(tmp_path, axes=f'"toy.x" = [{xs}]', toy="x = 1.0, steps = 48, sleep = 0.2")  # ~10 s a unit: still running when signalled on a busy machine
    out = tmp_path / "out"
    proc = subprocess.Popen(PY + ["run", str(p), "--out", str(out), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def two_running():
        ms = [json.loads(m.read_text()) for m in out.glob("units/*/manifest.json")]
        return len([m for m in ms if m.get("status") == "running"]) == 2 and \
            all(len(list(m.parent.glob("work/checkpoint-*"))) >= 1 for m in out.glob("units/*/manifest.json"))
    try:
        _wait_for(two_running, 60, "two units running")
    except AssertionError:
        proc.kill()
        raise
    return p, out, proc


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killed_runner_leaves_no_live_worker_and_its_lock_is_taken_over(tmp_path):
    """kill -9 of `sweep run`: pool workers kept running the units queued to them, and the
    forkserver and resource tracker stayed alive. Now every descendant is gone within seconds,
    no queued unit starts, and the next run takes the dead runner's lock over."""
    p, out, proc = _start_runner(tmp_path)
    family = _descendants(proc.pid)
    assert len(family) >= 3  # forkserver, resource tracker, 2 workers
    proc.kill()
    proc.wait(10)
    _wait_for(lambda: not any(_alive(x) for x in family), 10, "the runner's workers to die")
    time.sleep(1.0)
    assert len(list(out.glob("units/*/manifest.json"))) == 2  # the 2 queued units never started
    text, counts = status_text(SweepFolder(out))
    assert counts["killed"] == 2 and counts["pending"] == 2, text
    assert json.loads((out / ".lock").read_text())["pid"] == proc.pid  # the dead holder's stale lock
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert set(res["outcome"].values()) == {"done"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigterm_marks_running_units_killed_and_a_second_runner_gets_the_lock_message(tmp_path, capsys):
    p, out, proc = _start_runner(tmp_path)
    family = _descendants(proc.pid)
    # a second runner on the same folder: one clear line naming the holder, exit 2, nothing touched
    manifests = {m: m.read_bytes() for m in out.glob("units/*/manifest.json")}
    assert cli_main(["run", str(p), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"is in use: another `pdistill sweep run` (pid {proc.pid} on" in err
    assert {m: m.read_bytes() for m in out.glob("units/*/manifest.json")} == manifests
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "stopped by SIGTERM; 2 running unit(s) marked killed" in stderr and "Traceback" not in stderr
    _wait_for(lambda: not any(_alive(x) for x in family), 10, "the runner's workers to die")
    ms = [json.loads(m.read_text()) for m in out.glob("units/*/manifest.json")]
    assert len(ms) == 2 and all(m["status"] == "killed" and "SIGTERM" in m["error"] for m in ms)
    text, counts = status_text(SweepFolder(out))
    assert counts["killed"] == 2 and counts["pending"] == 2
    res = run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert set(res["outcome"].values()) == {"done"}
    df, _ = collect(SweepFolder(out))
    resumed = df[df.metric == "resumed_from"].groupby("unit_id")["value"].first()
    assert sorted(resumed > 0) == [False, False, True, True]  # the killed two resumed from a checkpoint


def test_plot_refuses_an_unknown_metric_and_leaves_matplotlib_alone(tmp_path, capsys):
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0]')
    out = tmp_path / "out"
    run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    assert cli_main(["plot", str(out), "--metric", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metric 'nosuch' is not a summary metric" in err and "t95" in err
    assert not (out / "figures").exists()
    code = ("import matplotlib; matplotlib.use('svg'); import sys\n"
            "from sims.sweep.cli import cli_main\n"
            f"assert cli_main(['plot', {str(out)!r}]) == 0\n"
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend()\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
    assert (out / "figures" / "t95_vs_toy_x.png").stat().st_size > 5000


def test_collect_and_plot_outputs_that_cannot_be_written_fail_first(tmp_path, capsys):
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0]')
    out = tmp_path / "out"
    run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    afile = tmp_path / "afile"
    afile.write_text("x")
    for cmd, match in [(["collect", out, "--out", afile / "sub.parquet"], "is a file, not a folder"),
                       (["collect", out, "--out", tmp_path], "is a folder; expected a file"),
                       (["plot", out, "--out", afile], "is a file; expected a folder"),
                       (["plot", out, "--out", afile / "figs"], "is a file, not a folder")]:
        assert cli_main([str(c) for c in cmd]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, (cmd, err)
    assert not (out / "results.parquet").exists()  # failed before collecting anything


def test_status_into_a_closed_pipe_is_quiet(tmp_path):
    p = write_toy(tmp_path, axes='"toy.x" = [1.0, 2.0]')
    out = tmp_path / "out"
    run_sweep(load_spec(p), out, progress=False, log=lambda *_: None)
    proc = subprocess.Popen(PY + ["status", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line (like `| head -1` on long output)
    _, err = proc.communicate(timeout=60)
    assert err == b"" and proc.returncode == 128 + signal.SIGPIPE


def test_spec_reads_toml_with_tomli_on_python_310(tmp_path):
    """requires-python >= 3.10, tomllib is 3.11+: spec.py falls back to tomli (a dependency there)."""
    p = write_toy(tmp_path)
    code = ("import sys, tomllib, types\n"
            "sys.modules['tomli'] = types.SimpleNamespace(loads=tomllib.loads, TOMLDecodeError=tomllib.TOMLDecodeError, tag='tomli')\n"
            "sys.modules['tomllib'] = None\n"  # `import tomllib` now fails, as on 3.10
            "sys.version_info = (3, 10, 0, 'final', 0)\n"
            "from sims.sweep import spec\n"
            "assert getattr(spec.tomllib, 'tag', None) == 'tomli'\n"
            f"assert spec.load_spec({str(p)!r}).name == 'toy'\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=120)
