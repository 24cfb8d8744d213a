"""`pdistill teacher` / `pdistill student` through teacher_main / student_main on a very small config."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from curriculum.transition import Transition
from pdistill.cli import SUBCOMMANDS
from sims.cli_train import student_main, teacher_main
from sims.train import TeacherRun


def test_teacher_and_student_cli(tmp_path, capsys):
    tdir, sdir = tmp_path / "t", tmp_path / "s"
    rc = teacher_main(["--n", "12", "--k", "3", "--width", "64", "--steps", "300", "--ckpt-every", "100",
                       "--eval-size", "512", "--seed", "0", "--out", str(tdir), "--device", "cpu", "--quiet"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "teacher seed 0" in out and "4 checkpoints" in out
    run = TeacherRun.load(tdir)
    assert run.steps == [0, 100, 200, 300] and run.config.model.width == 64 and run.config.task.k == 3
    hist = pd.read_parquet(tdir / "history.parquet")
    assert {"step", "loss", "accuracy"} <= set(hist.columns)
    rc = student_main(["--teacher", str(tdir), "--width", "8", "--strategies", "ce,one_shot,progressive,two_shot",
                       "--seeds", "2", "--steps", "100", "--eval-size", "256", "--out", str(sdir),
                       "--device", "cpu", "--quiet"])
    assert rc == 0
    first, line = capsys.readouterr().out.strip().splitlines()
    # no --two-shot-checkpoint: the steepest drop of the teacher's loss (curriculum.Transition, the default rule)
    mid = Transition.from_history(run.history).mid_checkpoint(run.steps)
    assert f"two_shot uses teacher checkpoint {mid} " in first
    assert line.startswith("median t95:") and "progressive=" in line
    res = pd.read_parquet(sdir / "results.parquet")
    assert list(res.columns)[:4] == ["strategy", "seed", "t95", "t99"]
    assert len(res) == 8 and sorted(res.strategy.unique()) == ["ce", "one_shot", "progressive", "two_shot"]
    assert res.t95.dtype == np.float64  # inf when not reached
    assert (sdir / "curves.parquet").is_file()
    rec = json.loads((sdir / "config.json").read_text())
    assert rec["config"]["tau"] == 1.0 and rec["config"]["two_shot_checkpoint"] == mid and rec["complete"] is True
    # the same command again finds its results; a different config retrains
    before = (sdir / "results.parquet").stat().st_mtime_ns
    argv = ["--teacher", str(tdir), "--width", "8", "--strategies", "ce,one_shot,progressive,two_shot", "--seeds", "2",
            "--steps", "100", "--eval-size", "256", "--out", str(sdir), "--device", "cpu", "--quiet",
            "--two-shot-checkpoint", str(mid)]
    assert student_main(argv) == 0
    assert "already holds these results" in capsys.readouterr().out
    assert (sdir / "results.parquet").stat().st_mtime_ns == before
    # --steps 120: a different config is refused before any work (the folder holds the other run's
    # results), and succeeds in a folder of its own
    changed = [v if v != "100" else "120" for v in argv]
    assert student_main(changed) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(sdir) in err and "student run of a different configuration" in err
    assert (sdir / "results.parquet").stat().st_mtime_ns == before
    other = [v if v != str(sdir) else str(sdir) + "-120" for v in changed]
    assert student_main(other) == 0
    assert pd.read_parquet(Path(str(sdir) + "-120") / "curves.parquet").step.max() == 120


def test_cli_config_file_flags_override_and_errors(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("[teacher]\nsteps = 100\nckpt_every = 50\neval_size = 256\n[teacher.task]\nn = 10\nk = 2\n"
                    "[teacher.model]\nwidth = 16\n")
    assert teacher_main(["--config", str(toml), "--steps", "150", "--out", str(tmp_path / "t"), "--quiet", "--device", "cpu"]) == 0
    run = TeacherRun.load(tmp_path / "t")
    assert run.config.steps == 150 and run.config.task.n == 10 and run.config.model.width == 16
    capsys.readouterr()
    assert teacher_main(["--width", "-3", "--out", str(tmp_path / "bad")]) == 2
    assert "ModelConfig.width must be a positive int; got -3" in capsys.readouterr().err
    assert teacher_main(["--n", "5", "--k", "7", "--out", str(tmp_path / "bad")]) == 2
    assert "TaskConfig.k must be an int in [1, n]" in capsys.readouterr().err
    assert student_main(["--teacher", str(tmp_path / "missing"), "--out", str(tmp_path / "s")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert teacher_main(["--seeds", "0", "--out", str(tmp_path / "bad")]) == 2
    assert "--seeds must be a positive count" in capsys.readouterr().err
    assert teacher_main(["--support", "1,x", "--out", str(tmp_path / "bad")]) == 2
    assert "--support must be comma-separated" in capsys.readouterr().err
    assert SUBCOMMANDS["teacher"][0] == "sims.cli_train:teacher_main"
