"""sims.text tokenizer and windows: id layout, round trips, caches and their invalidation."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tokenizers")

from hypothesis import given, settings, strategies as st  # noqa: E402

from curriculum.artifacts import ArtifactError, write_manifest  # noqa: E402
from sims.text import (TextCorpus, TokenizerSettings, cached_tokenizer, cached_windows, encode_windows,  # noqa: E402
                       train_tokenizer)

WORDS = ("the king queen doth speak unto thee thou art noble lord my good sir hath not be or to what "
         "night day love death sweet gentle fair honest villain 'tis").split()


def _sentences(rng, n):
    out = []
    for _ in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(3, 12)))
        out.append(" ".join(words).capitalize() + rng.choice([".", "!", "?", ","]) + "\n")
    return out


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    for i in range(3):
        (root / f"doc{i}.txt").write_text("".join(_sentences(rng, 150)))
    return root


@pytest.fixture(scope="module")
def bpe(corpus_dir):
    return train_tokenizer(TextCorpus(corpus_dir), TokenizerSettings(vocab_size=400, min_frequency=2))


@pytest.fixture(scope="module")
def wordpiece(corpus_dir):
    return train_tokenizer(TextCorpus(corpus_dir), TokenizerSettings(model="wordpiece", vocab_size=200))


def test_special_tokens_follow_the_pcfg_layout(bpe, wordpiece):
    for tok in (bpe, wordpiece):
        lay = tok.layout
        V = lay.n_terminals
        assert tok.tokens([0]) == ["[UNK]"]
        assert tok.tokens([lay.bos, lay.eos, lay.pad, lay.mask]) == ["[BOS]", "[EOS]", "[PAD]", "[MASK]"]
        assert [lay.bos, lay.eos, lay.pad, lay.mask, lay.vocab_size] == [V, V + 1, V + 2, V + 3, V + 4]
        assert tok.tokenizer.get_vocab_size(with_added_tokens=True) == lay.vocab_size
    assert 257 < bpe.layout.n_terminals <= 400  # 256 bytes + [UNK] + merges, at most the requested size


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_byte_level_bpe_round_trips_any_text_exactly(bpe, text):
    ids = bpe.encode(text)
    assert ids.dtype == np.int64 and (ids < bpe.layout.n_terminals).all() and not (ids == bpe.unk).any()
    assert bpe.decode(ids) == text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(WORDS + [".", ",", "!", "?", "'", "do", "not", "n't"]), max_size=40),
       st.lists(st.sampled_from([" ", "\n", "  "]), min_size=40, max_size=40))
def test_wordpiece_round_trips_up_to_whitespace(wordpiece, words, seps):
    text = "".join(w + s for w, s in zip(words, seps))
    ids = wordpiece.encode(text)
    assert not (ids == wordpiece.unk).any()  # every character was seen in training
    assert "".join(wordpiece.decode(ids).split()) == "".join(text.split())


def test_wordpiece_maps_unseen_characters_to_unk(wordpiece):
    ids = wordpiece.encode("king \u4e2d lord")
    assert (ids == wordpiece.unk).sum() == 1


def test_training_is_deterministic(corpus_dir, bpe):
    again = train_tokenizer(TextCorpus(corpus_dir), TokenizerSettings(vocab_size=400, min_frequency=2))
    assert again.to_json() == bpe.to_json()


def test_settings_are_checked():
    with pytest.raises(ValueError, match="model must be one of"):
        TokenizerSettings(model="unigram")
    with pytest.raises(ValueError, match="vocab_size must be an int >= 300"):
        TokenizerSettings(vocab_size=100)
    with pytest.raises(ValueError, match="min_frequency must be an int >= 1"):
        TokenizerSettings(min_frequency=0)


def test_cached_tokenizer_reloads_and_notices_changed_corpus_or_settings(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    rng = np.random.default_rng(1)
    (src / "a.txt").write_text("".join(_sentences(rng, 200)))
    cache = tmp_path / "tok"
    s = TokenizerSettings(vocab_size=350)
    first = cached_tokenizer(TextCorpus(src), cache, s)
    assert not first.from_cache and (cache / "manifest.json").is_file()
    again = cached_tokenizer(TextCorpus(src), cache, s)
    assert again.from_cache and again.to_json() == first.to_json()
    manifest = json.loads((cache / "manifest.json").read_text())
    assert manifest["kind"] == "tokenizer"
    assert manifest["config"]["corpus"]["files"][0]["name"] == "a.txt"
    assert manifest["config"]["settings"]["vocab_size"] == 350
    # a changed setting retrains
    other = cached_tokenizer(TextCorpus(src), cache, TokenizerSettings(vocab_size=320))
    assert not other.from_cache and other.layout.n_terminals == 320
    # a changed corpus (same file name and size class) retrains
    (src / "a.txt").write_text("".join(_sentences(np.random.default_rng(2), 200)))
    changed = cached_tokenizer(TextCorpus(src), cache, TokenizerSettings(vocab_size=320))
    assert not changed.from_cache
    assert cached_tokenizer(TextCorpus(src), cache, TokenizerSettings(vocab_size=320)).from_cache
    # a damaged tokenizer file (size differs from the manifest) is rebuilt, not loaded
    (cache / "tokenizer.json").write_text("{}")
    assert not cached_tokenizer(TextCorpus(src), cache, TokenizerSettings(vocab_size=320)).from_cache


def test_cache_folder_of_another_kind_is_an_error_not_overwritten(tmp_path, corpus_dir):
    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    write_manifest(folder, "teacher", {"a": 1}, {"x.txt": {}})
    with pytest.raises(ArtifactError, match="holds a .teacher. artifact, not a .tokenizer. one"):
        cached_tokenizer(TextCorpus(corpus_dir), folder, TokenizerSettings(vocab_size=300))
    assert json.loads((folder / "manifest.json").read_text())["kind"] == "teacher"


# ---------------------------------------------------------------- windows
def test_packed_windows_hold_the_documents_in_order(tmp_path, bpe):
    docs = ["king lord thee\n", "night day\nlove\n", "sweet fair honest villain " * 20]
    for i, d in enumerate(docs):
        (tmp_path / f"{i}.txt").write_text(d)
    c = TextCorpus(sorted(tmp_path.glob("*.txt")))
    T = 8
    w = encode_windows(c, bpe, T)
    lay = bpe.layout
    assert w.tokens.dtype == np.int32 and w.tokens.shape[1] == T and (w.tokens[:, 0] == lay.bos).all()
    stream = w.tokens[:, 1:].ravel()
    expected = np.concatenate([np.append(bpe.encode(d), lay.eos) for d in docs])
    n = len(expected) // (T - 1)
    assert len(w) == n and np.array_equal(stream, expected[:n * (T - 1)])
    assert w.stats["dropped_tokens"] == len(expected) - n * (T - 1)
    assert w.stats["tokens"] == len(expected) - len(docs) and w.stats["documents"] == 3


def test_unpacked_windows_keep_documents_apart_and_pad(tmp_path, bpe):
    docs = ["king lord thee thou art\n", "night\n"]
    for i, d in enumerate(docs):
        (tmp_path / f"{i}.txt").write_text(d)
    T = 5
    w = encode_windows(TextCorpus(sorted(tmp_path.glob("*.txt"))), bpe, T, pack=False)
    lay = bpe.layout
    per_doc = [np.append(bpe.encode(d), lay.eos) for d in docs]
    rows = []
    for ids in per_doc:
        for s in range(0, len(ids), T - 1):
            piece = ids[s:s + T - 1]
            if piece.tolist() == [lay.eos]:
                continue
            rows.append([lay.bos] + piece.tolist() + [lay.pad] * (T - 1 - len(piece)))
    assert w.tokens.tolist() == rows


def test_a_corpus_smaller_than_one_window_is_an_error(tmp_path, bpe):
    (tmp_path / "tiny.txt").write_text("king\n")
    with pytest.raises(ValueError, match=r"yields \d+ tokens in 1 document\(s\): fewer than one window of length=64"):
        encode_windows(TextCorpus(tmp_path / "tiny.txt"), bpe, 64)
    with pytest.raises(ValueError, match="length must be an int >= 2"):
        encode_windows(TextCorpus(tmp_path / "tiny.txt"), bpe, 1)


def test_cached_windows_reload_and_notice_changes(tmp_path, corpus_dir, bpe, wordpiece):
    c = TextCorpus(corpus_dir)
    first = cached_windows(c, bpe, tmp_path / "w", 32)
    manifest = json.loads((tmp_path / "w" / "manifest.json").read_text())
    assert manifest["kind"] == "text-windows" and manifest["files"]["windows.npy"]["rows"] == len(first)
    mtime = (tmp_path / "w" / "windows.npy").stat().st_mtime_ns
    again = cached_windows(c, bpe, tmp_path / "w", 32)
    assert isinstance(again.tokens, np.memmap) and np.array_equal(again.tokens, first.tokens)
    assert again.stats == first.stats and (tmp_path / "w" / "windows.npy").stat().st_mtime_ns == mtime
    for changed in (dict(tok=bpe, length=16), dict(tok=wordpiece, length=32)):
        w = cached_windows(c, changed["tok"], tmp_path / "w", changed["length"])
        assert np.array_equal(w.tokens, encode_windows(c, changed["tok"], changed["length"]).tokens)


@pytest.mark.parametrize("pack", [True, False])
@pytest.mark.parametrize("batch_lines", [1, 3, 7])
def test_windows_do_not_depend_on_the_encoding_batch(tmp_path, corpus_dir, bpe, pack, batch_lines):
    """Encoding streams lines in batches; documents longer than a batch and batches ending at a
    document's end must give the windows of the line-by-line stream, in memory and on disk."""
    c = TextCorpus(corpus_dir)
    T = 24
    lay = bpe.layout
    docs = [np.append(np.concatenate(bpe.encode_batch((corpus_dir / f"doc{i}.txt").read_text().splitlines(keepends=True))),
                      lay.eos) for i in range(3)]
    small = encode_windows(c, bpe, T, pack=pack, batch_lines=batch_lines)
    whole = encode_windows(c, bpe, T, pack=pack, batch_lines=10**6)
    assert np.array_equal(small.tokens, whole.tokens) and small.stats == whole.stats
    assert whole.stats["documents"] == 3 and whole.stats["tokens"] == sum(len(d) - 1 for d in docs)
    if pack:
        stream = np.concatenate(docs)
        n = len(stream) // (T - 1)
        assert np.array_equal(whole.tokens[:, 1:].ravel(), stream[:n * (T - 1)])
    else:
        assert (whole.tokens == lay.eos).sum() + whole.stats["dropped_tokens"] == 3
    on_disk = cached_windows(c, bpe, tmp_path / "w", T, pack=pack, batch_lines=batch_lines)
    assert np.array_equal(on_disk.tokens, whole.tokens) and on_disk.stats == whole.stats


def test_corpus_errors_surface_through_training_and_encoding(tmp_path, bpe):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.txt").write_bytes(b"fine\n" * 5000 + b"caf\xe9\n")
    with pytest.raises(ValueError, match=r"a\.txt.*line 5001, byte offset 25003: not UTF-8"):
        train_tokenizer(TextCorpus(bad), TokenizerSettings(vocab_size=300))
    with pytest.raises(ValueError, match="line 5001, byte offset 25003"):
        encode_windows(TextCorpus(bad), bpe, 8)
    (bad / "a.txt").write_text(" \n\n")
    with pytest.raises(ValueError, match="holds no text"):
        cached_tokenizer(TextCorpus(bad), tmp_path / "tok", TokenizerSettings(vocab_size=300))
    assert not (tmp_path / "tok" / "manifest.json").exists()


def test_wrong_argument_types_are_clear_errors(tmp_path, corpus_dir, bpe):
    with pytest.raises(TypeError, match="corpus must be a TextCorpus"):
        train_tokenizer(str(corpus_dir))
    with pytest.raises(TypeError, match="corpus must be a TextCorpus"):
        cached_windows(corpus_dir, bpe, tmp_path / "w", 8)
    with pytest.raises(TypeError, match="tokenizer must be a TextTokenizer"):
        encode_windows(TextCorpus(corpus_dir), bpe.tokenizer, 8)
    with pytest.raises(ValueError, match=r"ids must be token ids in \[0, "):
        bpe.decode([bpe.layout.vocab_size])
