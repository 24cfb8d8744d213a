"""A user's text corpus, streamed: plain-text files and folders, and JSONL with a text field (docs/text.md).

Sources are read line by line in binary and decoded per line, so memory is bounded by the
longest line (``max_line_bytes``), never by a file. A **document** is one plain-text file, or one
JSONL record (its text field); with ``paragraphs=True`` a plain-text file is split further at
blank lines. Documents without any non-whitespace text are skipped and counted
(:attr:`CorpusStats.empty_documents`); a corpus without any text is an error.

Bad input is a ``ValueError`` naming the file and line: a byte sequence that is not UTF-8
(``errors="strict"``, the default; the message gives the byte offset), a line longer than
``max_line_bytes``, a JSONL line that is not valid JSON, not an object, or lacks the text field
(or holds a non-string there). ``errors="replace"`` substitutes U+FFFD for each undecodable byte
sequence instead (Python's ``bytes.decode(errors="replace")``) and counts the affected lines.
Line endings ``\\r\\n`` become ``\\n``; a UTF-8 byte-order mark at the start of a file is dropped.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

__all__ = ["CorpusFile", "CorpusStats", "TextCorpus", "split_documents", "DEFAULT_MAX_LINE_BYTES"]

DEFAULT_MAX_LINE_BYTES = 16 * 2**20
_BOM = b"\xef\xbb\xbf"
_FORMATS = ("text", "jsonl")
_GUTENBERG_START = re.compile(r"^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG", re.IGNORECASE)
_GUTENBERG_END = re.compile(r"^\s*(\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG|End of (the )?Project Gutenberg)",
                            re.IGNORECASE)


@dataclass(frozen=True)
class CorpusFile:
    """One source file: ``path`` on disk, ``name`` (its path relative to the source it was found
    under, used in manifests and messages) and ``format`` ("text" or "jsonl")."""

    path: Path
    name: str
    format: str


@dataclass
class CorpusStats:
    """Counts of one pass over a corpus (filled by :meth:`TextCorpus.segments`)."""

    files: int = 0
    documents: int = 0
    empty_documents: int = 0
    lines: int = 0
    characters: int = 0
    replaced_lines: int = 0
    empty_files: list = field(default_factory=list)


def _format_of(path: Path) -> str:
    return "jsonl" if path.suffix.lower() == ".jsonl" else "text"


def _collect(sources) -> tuple[CorpusFile, ...]:
    if isinstance(sources, (str, Path)):
        sources = [sources]
    sources = list(sources)
    if not sources:
        raise ValueError("corpus sources must name at least one file or folder; got none.")
    files: list[CorpusFile] = []
    for src in sources:
        p = Path(src)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in (".txt", ".jsonl"))
            if not found:
                raise ValueError(f"corpus folder {str(p)!r} holds no *.txt or *.jsonl file (searched recursively).")
            files += [CorpusFile(q, q.relative_to(p).as_posix(), _format_of(q)) for q in found]
        elif p.is_file():
            files.append(CorpusFile(p, p.name, _format_of(p)))
        else:
            raise ValueError(f"corpus source {str(p)!r} does not exist (expected a text file, a .jsonl file or a folder).")
    return tuple(files)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(2**20), b""):
            h.update(block)
    return h.hexdigest()


class TextCorpus:
    """A streamed corpus of plain-text and JSONL files (module docstring).

    ``sources``: a path or a list of paths; a folder contributes every ``*.txt`` and ``*.jsonl``
    file below it (recursively, sorted by path); a file ending in ``.jsonl`` is JSONL, any other
    file plain text. ``text_field``: the JSONL field holding a record's text. ``paragraphs``:
    split plain-text files at blank lines. ``errors``: "strict" or "replace" (undecodable bytes).
    ``max_line_bytes``: the longest line accepted, its newline included.
    ``strip_gutenberg``: keep only the text between Project Gutenberg's "*** START OF ..." and
    "*** END OF ..." (or "End of the Project Gutenberg ...") lines, markers excluded, where they
    occur (plain-text files only). ``name``: shown in messages.
    """

    def __init__(self, sources, *, text_field: str = "text", paragraphs: bool = False, errors: str = "strict",
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, strip_gutenberg: bool = False, name: str | None = None):
        if errors not in ("strict", "replace"):
            raise ValueError(f"errors must be 'strict' or 'replace'; got errors={errors!r}.")
        if not isinstance(text_field, str) or not text_field:
            raise ValueError(f"text_field must be a non-empty string (the JSONL field holding the text); got {text_field!r}.")
        if isinstance(max_line_bytes, bool) or not isinstance(max_line_bytes, int) or max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be a positive int; got max_line_bytes={max_line_bytes!r}.")
        self.files = _collect(sources)
        self.text_field = text_field
        self.paragraphs = bool(paragraphs)
        self.errors = errors
        self.max_line_bytes = max_line_bytes
        self.strip_gutenberg = bool(strip_gutenberg)
        self.name = name or (self.files[0].name if len(self.files) == 1 else f"{len(self.files)} files")
        self.stats = CorpusStats()
        self.part: tuple | None = None  # (eval_fraction, seed, "train" | "eval"), set by split_documents

    def __repr__(self) -> str:
        return f"TextCorpus({self.name!r}, files={len(self.files)})"

    def settings(self) -> dict:
        """The reading options that change the text a pass yields (part of every cache key)."""
        out = {"text_field": self.text_field, "paragraphs": self.paragraphs, "errors": self.errors,
               "strip_gutenberg": self.strip_gutenberg}
        if self.part is not None:
            out["part"] = list(self.part)
        return out

    def fingerprint(self) -> dict:
        """{"files": [{name, format, bytes, sha256}, ...], "settings": ...}: what a cache built from
        this corpus depends on (content hashes, so a renamed folder with the same files still matches)."""
        return {"files": [{"name": f.name, "format": f.format, "bytes": f.path.stat().st_size,
                           "sha256": _file_sha256(f.path)} for f in self.files],
                "settings": self.settings()}

    # ---------------------------------------------------------------- reading
    def _lines(self, f: CorpusFile) -> Iterator[tuple[int, str]]:
        """(line number from 1, decoded line with "\\n" endings) of one file, checked."""
        limit = self.max_line_bytes
        offset = 0
        with open(f.path, "rb") as fh:
            lineno = 0
            while True:
                raw = fh.readline(limit + 1)
                if not raw:
                    return
                lineno += 1
                if len(raw) > limit:
                    raise ValueError(f"{str(f.path)!r}: line {lineno} is longer than max_line_bytes={limit} bytes; "
                                     f"break the file into lines or raise max_line_bytes.")
                start = offset
                offset += len(raw)
                if lineno == 1 and raw.startswith(_BOM):
                    raw = raw[len(_BOM):]
                    start += len(_BOM)
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    if self.errors == "strict":
                        raise ValueError(
                            f"{str(f.path)!r}: line {lineno}, byte offset {start + exc.start}: not UTF-8 "
                            f"(byte 0x{raw[exc.start]:02x}); convert the file to UTF-8 or pass errors='replace' "
                            f"to substitute U+FFFD.") from None
                    text = raw.decode("utf-8", errors="replace")
                    self.stats.replaced_lines += 1
                if text.endswith("\r\n"):
                    text = text[:-2] + "\n"
                yield lineno, text

    def _jsonl_documents(self, f: CorpusFile) -> Iterator[str]:
        for lineno, line in self._lines(f):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{str(f.path)!r}: line {lineno} is not valid JSON ({exc.msg} at column {exc.colno}).") from None
            if not isinstance(record, dict):
                raise ValueError(f"{str(f.path)!r}: line {lineno} is a JSON {type(record).__name__}, "
                                 f"expected an object with a {self.text_field!r} field.")
            if self.text_field not in record:
                keys = ", ".join(repr(k) for k in list(record)[:8])
                raise ValueError(f"{str(f.path)!r}: line {lineno} has no field {self.text_field!r} "
                                 f"(fields: {keys or 'none'}); set text_field to the field holding the text.")
            text = record[self.text_field]
            if not isinstance(text, str):
                raise ValueError(f"{str(f.path)!r}: line {lineno}: field {self.text_field!r} must be a string; "
                                 f"got {type(text).__name__}.")
            yield text

    def _text_lines(self, f: CorpusFile) -> Iterator[str]:
        if not self.strip_gutenberg:
            for _, line in self._lines(f):
                yield line
            return
        # two passes: find the markers, then yield the body (memory stays one line)
        first, end = 0, None
        for i, (_, line) in enumerate(self._lines(f)):
            if end is None and first == 0 and _GUTENBERG_START.match(line):
                first = i + 1
            elif end is None and _GUTENBERG_END.match(line):
                end = i
        for i, (_, line) in enumerate(self._lines(f)):
            if i >= first and (end is None or i < end):
                yield line

    def segments(self) -> Iterator[tuple[int, str]]:
        """Stream (document index, text piece): the pieces of one document are consecutive and
        concatenate to its text (lines of a plain-text file, the whole text of a JSONL record).
        Document indices count 0, 1, ... over the non-empty documents (of this part, for a corpus
        from :func:`split_documents`). Resets and fills :attr:`stats`; raises ValueError when the
        corpus (or the part) holds no text at all."""
        if self.part is None:
            yield from self._all_segments()
            return
        fraction, seed, side = self.part
        kept, last, keep, chars = -1, None, False, 0
        for doc, piece in self._all_segments():
            if doc != last:
                last = doc
                keep = (_unit(seed, doc) < fraction) == (side == "eval")
                kept += keep
            if keep:
                chars += len(piece)
                yield kept, piece
        total = self.stats.documents
        self.stats.documents, self.stats.characters = kept + 1, chars
        if kept < 0:
            raise ValueError(f"corpus {self.name!r} holds no document: none of the {total} document(s) fell in the "
                             f"{side} part (eval_fraction={fraction}, seed={seed}); use more documents (more files, "
                             f"JSONL records, or paragraphs=True) or another eval_fraction.")

    def _all_segments(self) -> Iterator[tuple[int, str]]:
        self.stats = st = CorpusStats(files=len(self.files))
        doc = 0
        for f in self.files:
            had_text = False
            if f.format == "jsonl":
                for text in self._jsonl_documents(f):
                    st.lines += 1
                    if text.strip():
                        yield doc, text
                        doc += 1
                        had_text = True
                        st.characters += len(text)
                    else:
                        st.empty_documents += 1
            else:
                pending: list[str] = []  # blank lines seen since the last text line of this document
                started = False
                for line in self._text_lines(f):
                    st.lines += 1
                    if not line.strip():
                        if self.paragraphs and started:
                            doc += 1
                            started = False
                            pending = []
                        elif started:
                            pending.append(line)
                        continue
                    if pending:
                        for p in pending:
                            yield doc, p
                            st.characters += len(p)
                        pending = []
                    started = True
                    had_text = True
                    st.characters += len(line)
                    yield doc, line
                if started:
                    doc += 1
                if not had_text:
                    st.empty_documents += 1
            if not had_text:
                st.empty_files.append(f.name)
        st.documents = doc
        if doc == 0:
            raise ValueError(f"corpus {self.name!r} holds no text: all {len(self.files)} file(s) are empty or "
                             f"whitespace only.")

    def documents(self) -> Iterator[str]:
        """Stream the documents' texts, one whole document at a time (see :meth:`segments`)."""
        current, parts = None, []
        for doc, piece in self.segments():
            if doc != current and parts:
                yield "".join(parts)
                parts = []
            current = doc
            parts.append(piece)
        if parts:
            yield "".join(parts)


def _unit(seed: int, doc: int) -> float:
    """A uniform number in [0, 1) fixed by (seed, document index): sha256 of "seed:doc"."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{doc}".encode()).digest()[:8], "big") / 2.0**64


def split_documents(corpus: TextCorpus, eval_fraction: float = 0.1, seed: int = 0) -> tuple[TextCorpus, TextCorpus]:
    """(train, eval): the same corpus split by whole documents. Document d (its index in the full
    corpus) goes to eval when u(seed, d) < ``eval_fraction``, u a hash-derived uniform number, so
    each document is in exactly one part, independently of the others (the eval share is
    ``eval_fraction`` in expectation). The part is in :meth:`TextCorpus.settings`, hence in every
    cache key."""
    if not isinstance(corpus, TextCorpus):
        raise TypeError(f"corpus must be a TextCorpus; got {type(corpus).__name__}.")
    if corpus.part is not None:
        raise ValueError(f"corpus {corpus.name!r} is already a part of a split; split the full corpus.")
    if isinstance(eval_fraction, bool) or not isinstance(eval_fraction, (int, float)) or not (
            math.isfinite(eval_fraction) and 0.0 < eval_fraction < 1.0):
        raise ValueError(f"eval_fraction must be a number in (0, 1); got eval_fraction={eval_fraction!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got seed={seed!r}.")
    parts = []
    for side in ("train", "eval"):
        c = copy.copy(corpus)
        c.part = (float(eval_fraction), int(seed), side)
        c.name = f"{corpus.name}[{side}]"
        c.stats = CorpusStats()
        parts.append(c)
    return parts[0], parts[1]
