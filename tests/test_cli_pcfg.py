"""`pdistill teacher --task pcfg` / `pdistill student` end to end on a tiny PCFG, bad input (one line,
exit 2), and the paper's PCFG progressive schedule expressed through Progressive."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pdistill.cli import main as pdistill
from sims.distill import Progressive
from sims.train import TeacherRun


TINY = ["--task", "pcfg", "--grammar", "cfg3b", "--start", "16", "--window", "16", "--n-layers", "1", "--n-heads", "2",
        "--head-dim", "4", "--steps", "30", "--ckpt-every", "10", "--eval-every", "10", "--eval-size", "128",
        "--batch", "8", "--device", "cpu", "--quiet", "--threads", "1"]


def test_teacher_and_student_cli_on_pcfg(tmp_path, capsys):
    tdir, sdir = tmp_path / "t", tmp_path / "s"
    assert pdistill(["teacher", *TINY, "--seed", "0", "--out", str(tdir)]) == 0
    assert "teacher seed 0: held-out loss" in capsys.readouterr().out
    run = TeacherRun.load(tdir)
    assert run.steps == [0, 10, 20, 30] and run.config.task.kind == "pcfg" and run.config.task.start == "16"
    assert run.config.model.arch == "bert" and run.config.optim.name == "adamw"
    hist = pd.read_parquet(tdir / "history.parquet")
    assert {"step", "loss", "accuracy"} <= set(hist.columns) and len(hist) == 4
    rc = pdistill(["student", "--teacher", str(tdir), "--strategies", "ce,one_shot,progressive,two_shot", "--seeds", "2",
                   "--steps", "20", "--eval-every", "10", "--eval-size", "128", "--batch", "8", "--n-layers", "1",
                   "--n-heads", "1", "--head-dim", "4", "--out", str(sdir), "--device", "cpu", "--quiet", "--threads", "1"])
    assert rc == 0
    first, line = capsys.readouterr().out.strip().splitlines()
    assert "two_shot uses teacher checkpoint" in first and line.startswith("median final loss: ce=")
    res = pd.read_parquet(sdir / "results.parquet")
    assert {"strategy", "seed", "final_loss", "final_accuracy"} <= set(res.columns) and len(res) == 8
    assert np.isfinite(res.final_loss).all() and (res.final_loss > 0).all()
    curves = pd.read_parquet(sdir / "curves.parquet")
    assert curves[curves.strategy == "ce"].teacher_step.isna().all()
    assert curves[curves.strategy == "one_shot"].teacher_step.dropna().eq(30).all()
    rec = json.loads((sdir / "config.json").read_text())
    assert rec["config"]["model"]["arch"] == "bert" and rec["config"]["model"]["n_heads"] == 1
    assert rec["config"]["optim"]["name"] == "adamw" and rec["config"]["optim"]["beta2"] == 0.95
    # optimizer flags go on top of the PCFG optimizer (AdamW, beta2 0.95), as for the teacher
    rc = pdistill(["student", "--teacher", str(tdir), "--strategies", "ce", "--seeds", "1", "--steps", "2",
                   "--eval-every", "2", "--eval-size", "32", "--batch", "4", "--n-layers", "1", "--n-heads", "1",
                   "--head-dim", "4", "--lr", "5e-3", "--schedule", "constant", "--out", str(tmp_path / "s2"),
                   "--device", "cpu", "--quiet", "--threads", "1"])
    assert rc == 0
    optim = json.loads((tmp_path / "s2" / "config.json").read_text())["config"]["optim"]
    assert (optim["name"], optim["beta2"], optim["lr"], optim["schedule"]) == ("adamw", 0.95, 0.005, "constant")


STUDENT = ["--strategies", "ce,progressive", "--seeds", "2", "--steps", "20", "--eval-every", "10", "--eval-size", "64",
           "--batch", "8", "--n-layers", "1", "--n-heads", "1", "--head-dim", "4", "--device", "cpu", "--quiet",
           "--threads", "1"]


def test_student_cli_nt_probe(tmp_path, capsys):
    """--nt-every 10 over 20 student steps probes steps 0, 10, 20: nt.parquet per strategy x seed x
    step x level (cfg3b from 16: levels 1-3), a one-line summary; results equal those without it;
    a second call with the same flags reuses the folder."""
    tdir = tmp_path / "t"
    assert pdistill(["teacher", *TINY, "--seed", "0", "--out", str(tdir)]) == 0
    assert pdistill(["student", "--teacher", str(tdir), *STUDENT, "--out", str(tmp_path / "plain")]) == 0
    capsys.readouterr()
    argv = ["student", "--teacher", str(tdir), *STUDENT, "--out", str(tmp_path / "s"), "--nt-every", "10", "--nt-train", "16"]
    assert pdistill(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith("non-terminal probe (ancestor) at student step 20 (mean over levels [1, 2, 3]") and "ce=" in out[-1]
    nt = pd.read_parquet(tmp_path / "s" / "nt.parquet")
    assert sorted(nt.step.unique()) == [0, 10, 20] and set(nt.strategy) == {"ce", "progressive"} and len(nt) == 3 * 4 * 3 * 2
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "s" / "results.parquet"),
                                  pd.read_parquet(tmp_path / "plain" / "results.parquet"), check_exact=True)
    assert pdistill(argv) == 0
    assert "already holds these results" in capsys.readouterr().out


def test_student_nt_flags_need_a_pcfg_teacher(tmp_path, capsys):
    tdir = tmp_path / "parity"
    assert pdistill(["teacher", "--n", "8", "--k", "2", "--width", "16", "--steps", "4", "--ckpt-every", "2",
                     "--eval-every", "2", "--eval-size", "64", "--out", str(tdir), "--device", "cpu", "--quiet",
                     "--threads", "1"]) == 0
    capsys.readouterr()
    for extra, text in ((["--nt-every", "5"], "--nt-every needs a PCFG teacher"), (["--nt-train", "8"], "--nt-train needs --nt-every"),
                        (["--nt-every", "0"], "--nt-every must be a positive int")):
        rc = pdistill(["student", "--teacher", str(tdir), "--steps", "4", "--out", str(tmp_path / "s"), "--device", "cpu",
                       "--quiet", "--threads", "1", *extra])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and len(err.splitlines()) == 1 and text in err, err
        assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("argv, text", [
    (["teacher", "--task", "pcfg", "--n", "10"], "--n set(s) a parity task"),
    (["teacher", "--window", "8"], "--window need(s) --task pcfg"),
    (["teacher", "--task", "pcfg", "--grammar", "no-such-grammar"], "no such file"),
    (["teacher", "--task", "pcfg", "--start", "99"], "symbol must be a non-terminal"),
    (["teacher", "--task", "pcfg", "--objective", "next_token", "--start", "16", "--span-level", "9"], "span_level must be"),
    (["teacher", "--task", "pcfg", "--arch", "mlp"], "arch 'mlp' reads inputs of kind"),
])
def test_bad_pcfg_input_is_one_line_and_exit_2(tmp_path, capsys, argv, text):
    rc = pdistill([*argv, "--steps", "2", "--out", str(tmp_path / "o"), "--device", "cpu", "--quiet", "--threads", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and text in err, err


@pytest.mark.parametrize("R, speed, c", [(200, 1, 200), (200, 2, 200), (100, 1, 50), (300, 2, 100)])
def test_every_refresh_is_the_papers_pcfg_schedule(R, speed, c):
    """Paper's rule: student step t -> checkpoint speed * (1 + floor(t / R)) * R, capped at the final."""
    grid = list(range(0, 4000 + 1, c))
    sched = Progressive.every_refresh(R, speed, ckpt_every=c).bind(grid)
    for t in range(0, 5000, 7):
        assert sched.teacher_step(t) == min(speed * (1 + t // R) * R, grid[-1]), t
    with pytest.raises(ValueError, match="ckpt_every must divide"):
        Progressive.every_refresh(200, 1, ckpt_every=300)
