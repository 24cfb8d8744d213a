"""Typed, locked, verified output folders (curriculum.folders) through the teacher / student / probe
CLIs and the Python API: data loss, two runs in one folder, foreign and damaged checkpoints,
pre-flight checks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from curriculum.folders import LOCK_NAME, FolderInUseError, folder_lock
from curriculum.io import umask_mode
from sims.cli_train import student_main, teacher_main
from sims.config import TeacherConfig
from sims.probe import cli_main as probe_main
from sims.train import CheckpointError, TeacherRun

REPO = Path(__file__).resolve().parents[1]
TA = "--n 12 --k 2 --width 32 --steps 200 --ckpt-every 50 --eval-every 50 --eval-size 512 --quiet --threads 1 --device cpu".split()
SA = "--width 4 --steps 100 --eval-every 50 --eval-size 128 --seeds 1 --quiet --threads 1 --device cpu --strategies ce".split()


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("folders") / "T0"
    assert teacher_main([*TA, "--out", str(out)]) == 0
    return out


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(LOCK_NAME))
    return dst


def _one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ----------------------------------------------------------------------------- kinds and configs
def test_student_into_a_teacher_folder_is_refused_and_the_teacher_survives(teacher_dir, tmp_path, capsys):
    t0 = _copy(teacher_dir, tmp_path / "T0")
    before = {p.name: p.read_bytes() for p in t0.iterdir() if p.is_file()}
    capsys.readouterr()
    t = time.perf_counter()
    assert student_main(["--teacher", str(t0), *SA, "--out", str(t0)]) == 2
    assert time.perf_counter() - t < 5  # refused before training
    err = _one_line(capsys.readouterr().err)
    assert str(t0) in err and "holds a teacher run" in err
    assert {p.name: p.read_bytes() for p in t0.iterdir() if p.is_file() and p.name != LOCK_NAME} == \
        {k: v for k, v in before.items() if k != LOCK_NAME}
    assert TeacherRun.load(t0).finished
    # the probe is refused there too, and a teacher of another config
    assert probe_main([str(t0), "--samples", "256", "--out", str(t0)]) == 2
    assert "holds a teacher run" in _one_line(capsys.readouterr().err)
    assert teacher_main([*TA, "--seed", "3", "--out", str(t0)]) == 2
    assert "teacher run of a different configuration" in _one_line(capsys.readouterr().err)


def test_teacher_into_a_student_folder_is_refused(teacher_dir, tmp_path, capsys):
    s = tmp_path / "S"
    assert student_main(["--teacher", str(teacher_dir), *SA, "--out", str(s)]) == 0
    before = (s / "results.parquet").read_bytes()
    capsys.readouterr()
    assert teacher_main([*TA, "--out", str(s)]) == 2
    err = _one_line(capsys.readouterr().err)
    assert str(s) in err and "holds a student run" in err
    assert (s / "results.parquet").read_bytes() == before and not list(s.glob("checkpoint-*"))


# ----------------------------------------------------------------------------- the lock
def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path, capsys):
    out = tmp_path / "T"
    out.mkdir()
    with folder_lock(out, "teacher"):
        t = time.perf_counter()
        assert teacher_main([*TA, "--out", str(out)]) == 2
        assert time.perf_counter() - t < 5
        err = _one_line(capsys.readouterr().err)
        assert "is in use" in err and f"pid {os.getpid()}" in err
        assert not list(out.glob("checkpoint-*"))
        with pytest.raises(FolderInUseError, match=f"pid {os.getpid()}"):
            with folder_lock(out):
                pass


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "T"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(proc.stdout)
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead, "host": "h", "started": 0.0, "command": "pdistill teacher"}))
    with folder_lock(out, "teacher"):
        assert json.loads((out / LOCK_NAME).read_text())["pid"] == os.getpid()


_RACER = textwrap.dedent("""
    import sys, time
    import sims.train
    from sims.cli_train import teacher_main
    _loop = sims.train.run_loop
    def counted(*a, **k):  # every training pass announces itself
        print("TRAINING", flush=True)
        return _loop(*a, **k)
    sims.train.run_loop = counted
    go = float(sys.argv[1])
    while time.time() < go:
        time.sleep(0.001)
    sys.exit(teacher_main(sys.argv[2:]))
""")


@pytest.mark.parametrize("seeds", [(1, 2), (1, 1)], ids=["different-config", "same-config"])
def test_two_processes_released_together_never_mix_one_folder(tmp_path, seeds):
    out = tmp_path / "T"
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    go = time.time() + 12.0  # both have imported torch and the toolkit by then
    procs = [subprocess.Popen([sys.executable, "-c", _RACER, repr(go), *TA, "--seed", str(s), "--out", str(out)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in seeds]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    rcs = sorted(r[0] for r in results)
    assert sum(r[1].count("TRAINING") for r in results) == 1, results  # the work is done once
    errs = [r[2] for r in results if r[0] != 0]
    if seeds[0] != seeds[1]:
        # one run trains; the other is refused (in use, or a different config once the first is done)
        assert rcs == [0, 2], results
        assert ("is in use" in errs[0] and "pid" in errs[0]) or "different configuration" in errs[0]
    else:
        # the same config: the second refuses while the first holds the lock, or opens the finished run
        assert rcs in ([0, 0], [0, 2]), results
        assert all("is in use" in e for e in errs)
    run = TeacherRun.load(out)  # every checkpoint verified against the one config.json
    assert run.finished and run.steps == [0, 50, 100, 150, 200]
    assert {run.meta(s)["seed"] for s in run.steps} == {run.config.seed}
    for s in run.steps:
        run.state_at(s)  # content hashes verified


# ----------------------------------------------------------------------------- checkpoint provenance / integrity
def test_a_foreign_checkpoint_is_refused_by_load_probe_and_resume(teacher_dir, tmp_path, capsys):
    t0 = _copy(teacher_dir, tmp_path / "T0")
    foreign = tmp_path / "F"
    assert teacher_main([*[v if v != "2" else "3" for v in TA], "--seed", "5", "--out", str(foreign)]) == 0
    shutil.rmtree(t0 / "checkpoint-100")
    shutil.copytree(foreign / "checkpoint-100", t0 / "checkpoint-100")
    with pytest.raises(CheckpointError, match=r"checkpoint-100/meta.json' belongs to another run"):
        TeacherRun.load(t0)
    capsys.readouterr()
    assert probe_main([str(t0), "--samples", "256", "--out", str(tmp_path / "P")]) == 2
    assert "belongs to another run" in _one_line(capsys.readouterr().err)
    assert student_main(["--teacher", str(t0), *SA, "--out", str(tmp_path / "S")]) == 2
    assert "belongs to another run" in _one_line(capsys.readouterr().err)
    assert teacher_main([*TA, "--out", str(t0)]) == 2
    assert "belongs to another run" in _one_line(capsys.readouterr().err)


def test_a_checkpoint_beyond_the_configured_steps_is_refused(teacher_dir, tmp_path, capsys):
    t0 = _copy(teacher_dir, tmp_path / "T0")
    shutil.copytree(t0 / "checkpoint-200", t0 / "checkpoint-250")
    with pytest.raises(CheckpointError, match=r"checkpoint-250' lies beyond the run's 200 steps"):
        TeacherRun.load(t0)
    capsys.readouterr()
    assert teacher_main([*TA, "--out", str(t0)]) == 2
    assert "beyond the run's 200 steps" in _one_line(capsys.readouterr().err)


def test_a_halved_checkpoint_is_detected_and_recomputed(teacher_dir, tmp_path, capsys):
    t0 = _copy(teacher_dir, tmp_path / "T0")
    f = t0 / "checkpoint-100" / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"checkpoint-100/model.safetensors' is damaged"):
        TeacherRun.load(t0).state_at(100)
    capsys.readouterr()
    assert teacher_main([*TA, "--out", str(t0)]) == 0
    assert "checkpoint-100.damaged" in capsys.readouterr().err
    assert (t0 / "checkpoint-100.damaged").is_dir()
    run, ref = TeacherRun.load(t0), TeacherRun.load(teacher_dir)
    assert run.steps == ref.steps
    for s in run.steps:  # recomputed from checkpoint 50: identical to the untouched run (CPU determinism)
        a, b = run.state_at(s), ref.state_at(s)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("which", ["meta", "config"])
def test_json_arrays_in_meta_or_config_are_clear_errors(teacher_dir, tmp_path, which):
    t0 = _copy(teacher_dir, tmp_path / "T0")
    path = t0 / "checkpoint-50" / "meta.json" if which == "meta" else t0 / "config.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(CheckpointError, match=f"{path.name}' is damaged: it holds a JSON list"):
        TeacherRun.load(t0)


def test_a_json_array_in_a_students_config_is_a_clear_error(teacher_dir, tmp_path):
    from sims.distill import StudentResults

    s = tmp_path / "S"
    assert student_main(["--teacher", str(teacher_dir), *SA, "--out", str(s)]) == 0
    (s / "config.json").write_text("[]")
    with pytest.raises(ValueError, match="config.json' is damaged: it holds a JSON list"):
        StudentResults.load(s)
    (s / "config.json").write_text("{garbage")
    with pytest.raises(ValueError, match="config.json' is not valid JSON"):
        StudentResults.load(s)


def test_checkpoint_records_hashes_and_files_have_the_umask_mode(teacher_dir):
    run = TeacherRun.load(teacher_dir)
    meta = run.meta(200)
    assert meta["config_hash"] == TeacherConfig.from_dict(meta["config"]).hash()
    for name in ("model.safetensors", "state.safetensors"):
        f = run.checkpoint_dir(200) / name
        assert len(meta["sha256"][name]) == 64
        assert (f.stat().st_mode & 0o777) == umask_mode()
        load_file(str(f))


# ----------------------------------------------------------------------------- pre-flight
def test_unwritable_outputs_fail_at_once(teacher_dir, tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for argv in ([*TA, "--out", str(afile)], [*TA, "--out", str(afile / "sub")]):
        t = time.perf_counter()
        assert teacher_main(argv) == 2
        assert time.perf_counter() - t < 1.0
        err = _one_line(capsys.readouterr().err)
        assert "--out" in err and str(afile) in err
    t = time.perf_counter()
    assert student_main(["--teacher", str(teacher_dir), *SA, "--out", str(afile)]) == 2
    assert time.perf_counter() - t < 2.0
    assert str(afile) in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("flag,value", [("--width", "1000000000"), ("--batch", "1000000000")])
def test_sizes_that_cannot_fit_are_refused_with_the_estimate(tmp_path, capsys, flag, value):
    argv = [v for v in TA]
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    t = time.perf_counter()
    assert teacher_main([*argv, "--out", str(tmp_path / "T")]) == 2
    assert time.perf_counter() - t < 5
    err = _one_line(capsys.readouterr().err)
    assert "needs about" in err and "of memory" in err


def test_seeds_and_support_values(teacher_dir, tmp_path, capsys):
    assert teacher_main([*TA, "--seeds", "100000000000000000000", "--out", str(tmp_path / "T")]) == 2
    assert "--seeds must be a positive count" in _one_line(capsys.readouterr().err)
    assert student_main(["--teacher", str(teacher_dir), *SA[:-4], "--seeds", "-1,2", "--out", str(tmp_path / "S")]) == 2
    assert "--seeds must be" in _one_line(capsys.readouterr().err)
    assert teacher_main([*TA, "--support", "-1,2", "--out", str(tmp_path / "T")]) == 2
    err = _one_line(capsys.readouterr().err)
    assert "expected one argument" not in err and "support" in err
