"""`pdistill teacher --task text` / `pdistill student` / `pdistill probe` end to end on a tiny
corpus (the pairs corpus of conftest.py), and bad input (one line on stderr, exit 2)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tokenizers")

from pdistill.cli import main as pdistill  # noqa: E402
from sims.train import TeacherRun  # noqa: E402


TINY = ["--task", "text", "--vocab-size", "400", "--window", "16", "--eval-fraction", "0.2", "--n-layers", "1",
        "--n-heads", "2", "--head-dim", "4", "--steps", "30", "--ckpt-every", "10", "--eval-every", "10",
        "--eval-size", "64", "--batch", "8", "--device", "cpu", "--quiet", "--threads", "1"]


def test_teacher_student_probe_cli_on_text(pairs_corpus, tmp_path, capsys):
    tdir, sdir, pdir = tmp_path / "t", tmp_path / "s", tmp_path / "p"
    assert pdistill(["teacher", *TINY, "--corpus", str(pairs_corpus), "--out", str(tdir)]) == 0
    assert "teacher seed 0: held-out loss" in capsys.readouterr().out
    run = TeacherRun.load(tdir)
    assert run.steps == [0, 10, 20, 30] and run.config.task.kind == "text"
    assert run.config.task.corpus == str(pairs_corpus) and run.config.task.window == 16
    assert run.config.task.cache_dir == str((tdir / "text-cache").resolve())
    assert (run.config.task.cache_folder() / "tokenizer" / "tokenizer.json").is_file()
    assert run.config.model.arch == "bert" and run.config.optim.name == "adamw"
    hist = pd.read_parquet(tdir / "history.parquet")
    assert {"step", "loss", "accuracy"} <= set(hist.columns) and len(hist) == 4
    rc = pdistill(["student", "--teacher", str(tdir), "--strategies", "ce,one_shot,two_shot", "--seeds", "2",
                   "--steps", "20", "--eval-every", "10", "--eval-size", "64", "--batch", "8", "--n-layers", "1",
                   "--n-heads", "1", "--head-dim", "4", "--out", str(sdir), "--device", "cpu", "--quiet", "--threads", "1"])
    assert rc == 0
    assert "median final loss: ce=" in capsys.readouterr().out
    res = pd.read_parquet(sdir / "results.parquet")
    assert len(res) == 6 and np.isfinite(res.final_loss).all() and (res.final_loss > 0).all()
    rec = json.loads((sdir / "config.json").read_text())
    assert rec["config"]["model"]["arch"] == "bert" and rec["config"]["model"]["n_heads"] == 1
    assert pdistill(["probe", str(tdir), "--out", str(pdir), "--sequences", "8", "--positions", "4"]) == 0
    ng = pd.read_parquet(pdir / "ngram.parquet")
    assert sorted(ng.step.unique()) == [0, 10, 20, 30] and set(ng.kind) == {"robust", "close"}
    assert ((ng["median"] >= 0) & (ng["median"] <= 2)).all()   # an L1 distance of two distributions
    assert not (pdir / "nt.parquet").exists() and (pdir / "summary.json").is_file()


def test_text_cli_on_a_folder_of_text_files(tmp_path, capsys):
    """Plain-text files in a folder, one document each: 8 files, so the held-out part is non-empty."""
    folder = tmp_path / "books"
    folder.mkdir()
    rng = np.random.default_rng(1)
    words = ["thou", "art", "more", "lovely", "and", "temperate", "rough", "winds", "do", "shake"]
    for i in range(8):
        (folder / f"b{i}.txt").write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(30)) + "\n")
    rc = pdistill(["teacher", *TINY, "--steps", "10", "--eval-fraction", "0.3", "--corpus", str(folder),
                   "--out", str(tmp_path / "t")])
    assert rc == 0, capsys.readouterr().err


@pytest.mark.parametrize("argv, text", [
    (["teacher", "--task", "text"], "--task text needs --corpus"),
    (["teacher", "--task", "text", "--corpus", "NOPE"], "does not exist"),
    (["teacher", "--task", "text", "--corpus", "CORPUS", "--grammar", "cfg3b"], "--grammar do(es) not apply to --task text"),
    (["teacher", "--task", "text", "--corpus", "CORPUS", "--n", "10"], "--n do(es) not apply to --task text"),
    (["teacher", "--task", "pcfg", "--corpus", "CORPUS"], "--corpus need(s) --task text"),
    (["teacher", "--corpus", "CORPUS"], "--corpus need(s) --task pcfg or --task text"),
    (["teacher", "--task", "text", "--corpus", "CORPUS", "--window", "4096", "--vocab-size", "400"], "window"),
    (["teacher", "--task", "text", "--corpus", "EMPTY"], "holds no text"),
    (["teacher", "--task", "text", "--corpus", "CORPUS", "--eval-fraction", "1.5"], "eval_fraction"),
])
def test_bad_text_input_is_one_line_and_exit_2(pairs_corpus, tmp_path, capsys, argv, text):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    subs = {"CORPUS": str(pairs_corpus), "NOPE": str(tmp_path / "missing.txt"), "EMPTY": str(empty)}
    argv = [subs.get(v, v) for v in argv]
    rc = pdistill([*argv, "--steps", "2", "--out", str(tmp_path / "o"), "--device", "cpu", "--quiet", "--threads", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and text in err, err


def test_unreadable_corpus_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    """An OSError while reading the corpus (simulated: this test may run as root, who reads any
    file) is one line naming the file."""
    import sims.text.corpus as corpus_mod

    f = tmp_path / "locked.txt"
    f.write_text("some text\n")

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(corpus_mod, "_file_sha256", denied)
    rc = pdistill(["teacher", "--task", "text", "--corpus", str(f), "--steps", "2", "--out", str(tmp_path / "o"),
                   "--device", "cpu", "--quiet", "--threads", "1"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "locked.txt" in err and "Permission denied" in err, err
