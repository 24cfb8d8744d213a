"""sims.text.corpus: streaming plain text and JSONL, documents, and every bad input of docs/text.md."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from sims.text.builtin import train_eval_corpora
from sims.text.corpus import TextCorpus, split_documents


def _write(path, data: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def test_plain_text_files_and_folders_stream_one_document_per_file(tmp_path):
    _write(tmp_path / "corpus" / "b.txt", "second file\nline two\n")
    _write(tmp_path / "corpus" / "sub" / "a.txt", "nested\n")
    _write(tmp_path / "corpus" / "ignored.md", "not a text file\n")
    c = TextCorpus(tmp_path / "corpus")
    assert [f.name for f in c.files] == ["b.txt", "sub/a.txt"]  # recursive, sorted, *.txt only
    assert list(c.documents()) == ["second file\nline two\n", "nested\n"]
    assert c.stats.documents == 2 and c.stats.files == 2 and c.stats.lines == 3


def test_segments_are_lines_and_concatenate_to_the_file(tmp_path):
    text = "".join(f"line {i} of a file\n" for i in range(1000))
    c = TextCorpus(_write(tmp_path / "big.txt", text))
    segs = list(c.segments())
    assert len(segs) == 1000 and {d for d, _ in segs} == {0}
    assert "".join(p for _, p in segs) == text


def test_paragraph_mode_splits_at_blank_lines(tmp_path):
    f = _write(tmp_path / "p.txt", "\n\nfirst para\nstill first\n\n  \n\nsecond\n\n")
    assert list(TextCorpus(f).documents()) == ["first para\nstill first\n\n  \n\nsecond\n"]
    assert list(TextCorpus(f, paragraphs=True).documents()) == ["first para\nstill first\n", "second\n"]


def test_jsonl_records_are_documents_with_a_chosen_field(tmp_path):
    lines = [json.dumps({"body": "alpha beta", "id": 1}), "", json.dumps({"body": "gamma\ndelta"}),
             json.dumps({"body": "   "})]
    f = _write(tmp_path / "d.jsonl", "\n".join(lines) + "\n")
    c = TextCorpus(f, text_field="body")
    assert list(c.documents()) == ["alpha beta", "gamma\ndelta"]
    assert c.stats.empty_documents == 1


def test_crlf_and_byte_order_mark_are_normalised(tmp_path):
    f = _write(tmp_path / "w.txt", b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert list(TextCorpus(f).documents()) == ["one\ntwo\n"]


def test_empty_files_are_skipped_and_counted_but_an_empty_corpus_is_an_error(tmp_path):
    _write(tmp_path / "c" / "a.txt", "text\n")
    _write(tmp_path / "c" / "empty.txt", "")
    _write(tmp_path / "c" / "blank.txt", "\n  \n")
    c = TextCorpus(tmp_path / "c")
    assert list(c.documents()) == ["text\n"]
    assert sorted(c.stats.empty_files) == ["blank.txt", "empty.txt"] and c.stats.empty_documents == 2
    only_empty = TextCorpus([tmp_path / "c" / "empty.txt", tmp_path / "c" / "blank.txt"])
    with pytest.raises(ValueError, match="holds no text"):
        list(only_empty.segments())


def test_non_utf8_bytes_name_the_file_line_and_byte_offset(tmp_path):
    f = _write(tmp_path / "latin1.txt", b"fine line\nna\xefve\n")
    with pytest.raises(ValueError, match=r"latin1\.txt.*line 2, byte offset 12: not UTF-8 \(byte 0xef\)"):
        list(TextCorpus(f).segments())
    c = TextCorpus(f, errors="replace")
    assert list(c.documents()) == ["fine line\nna\ufffdve\n"] and c.stats.replaced_lines == 1


def test_non_utf8_offset_counts_the_byte_order_mark(tmp_path):
    f = _write(tmp_path / "bom.txt", b"\xef\xbb\xbfab\xff\n")
    with pytest.raises(ValueError, match="line 1, byte offset 5"):
        list(TextCorpus(f).segments())


def test_a_line_over_the_limit_is_an_error_naming_the_line(tmp_path):
    f = _write(tmp_path / "huge.txt", "short\n" + "x" * 5000 + "\nshort\n")
    with pytest.raises(ValueError, match=r"huge\.txt.*line 2 is longer than max_line_bytes=1000"):
        list(TextCorpus(f, max_line_bytes=1000).segments())
    assert len(list(TextCorpus(f, max_line_bytes=5001).segments())) == 3  # the newline fits the limit too


@pytest.mark.parametrize("line, message", [
    ("[1, 2]", r"line 2 is a JSON list, expected an object with a 'text' field"),
    ('{"title": "x"}', r"line 2 has no field 'text' \(fields: 'title'\)"),
    ('{"text": 3}', r"line 2: field 'text' must be a string; got int"),
    ('{"text": "unterminated', r"line 2 is not valid JSON"),
])
def test_bad_jsonl_lines_are_errors_naming_file_and_line(tmp_path, line, message):
    f = _write(tmp_path / "bad.jsonl", '{"text": "good"}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl.*" + message):
        list(TextCorpus(f).segments())


def test_bad_sources_and_options_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        TextCorpus(tmp_path / "missing.txt")
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ValueError, match=r"holds no \*\.txt or \*\.jsonl file"):
        TextCorpus(tmp_path / "nothing")
    with pytest.raises(ValueError, match="at least one"):
        TextCorpus([])
    f = _write(tmp_path / "a.txt", "x\n")
    with pytest.raises(ValueError, match="errors must be 'strict' or 'replace'"):
        TextCorpus(f, errors="ignore")
    with pytest.raises(ValueError, match="max_line_bytes must be a positive int"):
        TextCorpus(f, max_line_bytes=0)


def test_gutenberg_markers_are_stripped_when_asked(tmp_path):
    text = ("The Project Gutenberg EBook of Something\nlicence words\n"
            "*** START OF THIS PROJECT GUTENBERG EBOOK SOMETHING ***\n"
            "The body.\nMore body.\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK SOMETHING ***\nmore licence\n")
    f = _write(tmp_path / "g.txt", text)
    assert list(TextCorpus(f, strip_gutenberg=True).documents()) == ["The body.\nMore body.\n"]
    assert list(TextCorpus(f).documents()) == [text]
    plain = _write(tmp_path / "plain.txt", "no markers here\n")
    assert list(TextCorpus(plain, strip_gutenberg=True).documents()) == ["no markers here\n"]


def test_fingerprint_changes_with_content_not_with_the_folder_name(tmp_path):
    a = _write(tmp_path / "one" / "x.txt", "same text\n")
    b = _write(tmp_path / "two" / "x.txt", "same text\n")
    assert TextCorpus(tmp_path / "one").fingerprint() == TextCorpus(tmp_path / "two").fingerprint()
    fp = TextCorpus(a).fingerprint()
    b.write_text("other text\n")
    assert TextCorpus(b).fingerprint() != fp
    assert TextCorpus(a, paragraphs=True).fingerprint() != fp


def _jsonl_corpus(path, n):
    _write(path, "".join(json.dumps({"text": f"record number {i}"}) + "\n" for i in range(n)))
    return TextCorpus(path)


def test_split_documents_puts_each_document_in_exactly_one_part(tmp_path):
    n = 400
    train, ev = split_documents(_jsonl_corpus(tmp_path / "r.jsonl", n), eval_fraction=0.25, seed=3)
    a, b = list(train.documents()), list(ev.documents())
    assert sorted(a + b) == sorted(f"record number {i}" for i in range(n))
    assert not set(a) & set(b)
    assert train.stats.documents == len(a) and ev.stats.documents == len(b)
    # each document lands in eval independently with probability 1/4: binomial, z = 5
    assert abs(len(b) - n / 4) <= 5 * (n * 0.25 * 0.75) ** 0.5
    assert [d for _, d in ev.segments()] == b and sorted({i for i, _ in ev.segments()}) == list(range(len(b)))
    # deterministic, seed-dependent, and part of the cache key
    assert list(split_documents(_jsonl_corpus(tmp_path / "r.jsonl", n), 0.25, 3)[1].documents()) == b
    assert list(split_documents(_jsonl_corpus(tmp_path / "r.jsonl", n), 0.25, 4)[1].documents()) != b
    assert train.fingerprint() != ev.fingerprint() != TextCorpus(tmp_path / "r.jsonl").fingerprint()


def test_split_documents_errors(tmp_path):
    one = TextCorpus(_write(tmp_path / "one.txt", "a single document\n"))
    train, ev = split_documents(one, 0.1, seed=0)
    empty_side = ev if list(train.documents()) else train
    with pytest.raises(ValueError, match=r"none of the 1 document\(s\) fell in the (train|eval) part"):
        list(empty_side.segments())
    for bad in (0, 1, -0.1, float("nan"), True):
        with pytest.raises(ValueError, match="eval_fraction must be a number in"):
            split_documents(one, bad)
    with pytest.raises(ValueError, match="already a part"):
        split_documents(train)


def test_train_eval_corpora_for_a_path(tmp_path):
    _jsonl_corpus(tmp_path / "d" / "r.jsonl", 50)
    train, ev = train_eval_corpora(str(tmp_path / "d"), eval_fraction=0.2, seed=1)
    assert train.part == (0.2, 1, "train") and ev.part == (0.2, 1, "eval")
    assert len(list(train.documents())) + len(list(ev.documents())) == 50


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300), st.data())
def test_the_byte_offset_of_a_non_utf8_byte_is_exact(tmp_path_factory, text, data):
    raw = text.encode("utf-8")
    cut = data.draw(st.integers(0, len(raw)))
    while 0 < cut < len(raw) and (raw[cut] & 0xC0) == 0x80:  # insert between characters
        cut -= 1
    f = tmp_path_factory.mktemp("bytes") / "x.txt"
    f.write_bytes(raw[:cut] + b"\xff" + raw[cut:])
    line = raw[:cut].count(b"\n") + 1
    with pytest.raises(ValueError, match=rf"line {line}, byte offset {cut}: not UTF-8 \(byte 0xff\)"):
        list(TextCorpus(f).segments())


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
                        max_size=30), min_size=1, max_size=30))
def test_a_file_streams_back_as_its_text_minus_outer_blank_lines(tmp_path_factory, lines):
    text = "\n".join(lines) + "\n"
    f = tmp_path_factory.mktemp("lines") / "x.txt"
    f.write_bytes(text.encode())
    kept = [ln + "\n" for ln in lines]
    while kept and not kept[0].strip():
        kept.pop(0)
    while kept and not kept[-1].strip():
        kept.pop()
    c = TextCorpus(f)
    if not kept:
        with pytest.raises(ValueError, match="holds no text"):
            list(c.segments())
    else:
        assert list(c.documents()) == ["".join(kept)]
