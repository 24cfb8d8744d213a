"""paper_checks/check_text.py: the configs of each scale (builtin corpus, students narrower than the
teacher), the text claims of the shared quick reproduce run, and (slow) the paper-scale configs for
a few CPU steps. The verdict rules are check_pcfg's (tested in test_check_pcfg.py)."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

pytest.importorskip("tokenizers")

from paper_checks._claims import Context  # noqa: E402
from paper_checks.check_text import text_configs  # noqa: E402
from sims.tasks import TextTaskConfig  # noqa: E402


def _ctx(tmp_path, quick: bool, scale: str = "cpu") -> Context:
    return Context(argparse.Namespace(quick=quick, scale=scale, device="cpu", no_progress=True, out=str(tmp_path / "o"),
                                      cache_dir=str(tmp_path / "c"), seeds=None, threads=1, transformer=True))


@pytest.mark.parametrize("quick, scale", [(True, "cpu"), (False, "cpu"), (False, "paper")])
def test_configs_use_the_builtin_corpus_and_narrower_students(tmp_path, quick, scale):
    c = text_configs(_ctx(tmp_path, quick, scale))
    t, s = c["teacher"], c["student"]
    assert isinstance(t.task, TextTaskConfig) and t.task.corpus == "builtin"
    assert t.task.cache_dir == str(tmp_path / "c" / "text")
    assert t.model.arch == s.model.arch == "bert" and s.model.n_heads < t.model.n_heads
    assert t.steps % t.ckpt_every == 0 and t.steps // t.ckpt_every >= 4   # a checkpoint grid to choose from
    assert set(s.strategies) == {"ce", "one_shot", "progressive", "two_shot"} and len(s.seeds) >= 3


def test_text_claims_in_the_quick_report(claims_by_name, quick_report, check_accuracy_details):
    for name in ("text_phases", "text_ngram", "text_two_shot"):
        c = claims_by_name[name]
        assert c["verdict"] in ("holds", "does not hold", "inconclusive") and c["measured"]
    for name in ("text_phases.png", "text_students.png", "text_two_shot_sweep.png"):
        assert (quick_report["out"] / name).is_file(), name
    d = claims_by_name["text_two_shot"]["details"]
    assert {"mid", "flat_ckpt", "slow_ckpt", "d", "e", "d_half", "e_half"} <= set(d)
    s = text_configs(_ctx(quick_report["out"].parent, True))["student"]
    check_accuracy_details(claims_by_name["text_two_shot"], student_steps=s.steps, eval_every=s.eval_every)


@pytest.mark.slow
def test_paper_scale_text_configs_run_a_few_steps_on_cpu(tmp_path, run_sequence_paper_shapes):
    """--scale paper: V = 8192, windows of 128, 4 layers, 32 (teacher) vs 8 (student) heads of dim 8 —
    the same shapes trained for 2 steps on a batch of 2 on CPU, then students of every strategy."""
    torch.set_num_threads(1)
    c = text_configs(_ctx(tmp_path, False, "paper"))
    _run_paper_shapes(c, tmp_path, run_sequence_paper_shapes)


def _user_corpus(folder, documents: int = 120, words: int = 200, seed: int = 0):
    """A JSONL corpus of ``documents`` records (field "body") of ``words`` words drawn from a small lexicon."""
    import json

    rng = np.random.default_rng(seed)
    lexicon = ["the", "king", "queen", "of", "a", "sword", "and", "crown", "speaks", "to", "his", "her", "lord",
               "night", "day", "falls", "rises", "in", "castle", "field", "with", "love", "war", "is", "not"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.jsonl"
    with open(path, "w") as f:
        for _ in range(documents):
            f.write(json.dumps({"id": 1, "body": " ".join(rng.choice(lexicon, size=words))}) + "\n")
    return path


def test_configs_take_the_user_corpus_and_field(tmp_path):
    path = _user_corpus(tmp_path / "corpus", documents=3, words=5)
    for scale in ("cpu", "paper"):
        ctx = _ctx(tmp_path, False, scale)
        ctx.args.corpus, ctx.args.text_field = [str(path)], "body"
        task = text_configs(ctx)["teacher"].task
        assert (task.corpus, task.text_field) == (str(path), "body")
    ctx = _ctx(tmp_path, False)
    ctx.args.corpus, ctx.args.text_field = None, "body"
    with pytest.raises(ValueError, match="--text-field"):
        text_configs(ctx)


@pytest.mark.parametrize("case", ["missing", "empty", "field_without_corpus", "text_left_out"])
def test_reproduce_refuses_a_bad_corpus_in_one_line_before_any_work(tmp_path, capsys, case):
    from paper_checks.reproduce import main_cli

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("  \n\n")
    args = {"missing": ["--corpus", str(tmp_path / "nowhere.jsonl")],
            "empty": ["--corpus", str(tmp_path / "empty")],
            "field_without_corpus": ["--text-field", "body"],
            "text_left_out": ["--corpus", str(tmp_path / "empty"), "--only", "bounds"]}[case]
    out = tmp_path / "o"
    rc = main_cli(["--no-progress", "--out", str(out), "--cache-dir", str(tmp_path / "c"), *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("pdistill reproduce: ")
    assert {"missing": "nowhere.jsonl", "empty": "no text", "field_without_corpus": "--text-field",
            "text_left_out": "--only"}[case] in err
    assert not (out / "claims.json").exists()
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("checkpoint-*"))


@pytest.mark.slow
def test_paper_scale_text_configs_run_a_few_steps_on_a_user_corpus(tmp_path, run_sequence_paper_shapes):
    """``--scale paper --corpus PATH --text-field body``: the paper-scale shapes (V = 8192 asked for,
    windows of 128, 4 layers, 32 vs 8 heads of dim 8) on a small JSONL corpus split by documents,
    checked by ``check_corpus``, trained for 2 steps on a batch of 2 on CPU, then students of every strategy."""
    from paper_checks.check_text import check_corpus
    from sims.tasks import as_task

    torch.set_num_threads(1)
    ctx = _ctx(tmp_path, False, "paper")
    ctx.args.corpus, ctx.args.text_field = [str(_user_corpus(tmp_path / "corpus"))], "body"
    check_corpus(ctx)  # reads, tokenizes and encodes into the cache
    c = text_configs(ctx)
    task = as_task(c["teacher"].task)
    assert task.tokenizer.from_cache and len(task.eval.tokens) >= 1 and len(task.train.tokens) > len(task.eval.tokens)
    _run_paper_shapes(c, tmp_path, run_sequence_paper_shapes)


def _run_paper_shapes(c: dict, tmp_path, runner) -> None:
    """The --scale paper text configs ``c``: V = 8192, T = 128, then the shared paper-shape run."""
    t = c["teacher"]
    assert (t.model.n_layers, t.model.n_heads, t.model.head_dim, t.task.window, t.task.vocab_size) == (4, 32, 8, 128, 8192)
    runner(c, tmp_path, seq_len=128)
