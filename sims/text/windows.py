"""Fixed-length token windows of an encoded corpus, and their on-disk cache (docs/text.md).

Every document is encoded (piece by piece, as :meth:`TextCorpus.segments` streams it) and closed
with [EOS]. A window of ``length`` T is [BOS] followed by T - 1 tokens:

* ``pack=True`` (default): the documents' tokens (each followed by [EOS]) form one stream cut
  into consecutive pieces of T - 1; a window may hold the end of one document and the start of
  the next (RoBERTa's full-sentence packing). The last incomplete piece is dropped.
* ``pack=False``: each document is cut on its own; its last window is right-padded with [PAD]
  (a last piece holding only the [EOS] is dropped).

The dropped tokens are counted (:attr:`TextWindows.stats`). A corpus that yields no window is a
ValueError. :func:`cached_windows` stores ``windows.npy`` (int32, loaded memory-mapped without
pickle) next to a manifest of kind "text-windows" keyed by the corpus fingerprint, the
tokenizer's digest, T and ``pack``; it is written block by block (memory holds one document's tokens, not the corpus).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curriculum.artifacts import write_manifest, read_manifest
from curriculum.io import atomic_path, ensure_writable_dir
from parity_theory.parity import check_int
from sims.pcfg.tokens import TokenLayout

from .tokenizer import TextTokenizer, cache_state, check_corpus

__all__ = ["TextWindows", "encode_windows", "cached_windows", "WINDOWS_FILE"]

WINDOWS_FILE = "windows.npy"


@dataclass(frozen=True)
class TextWindows:
    """``tokens`` int32 (N, T): [BOS] + T - 1 tokens per row; ``layout`` its token ids;
    ``stats``: documents, tokens (ordinary tokens encoded), dropped_tokens, windows."""

    tokens: np.ndarray
    layout: TokenLayout
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def length(self) -> int:
        return int(self.tokens.shape[1])


def _token_pieces(corpus, tokenizer: TextTokenizer, batch_lines: int):
    """Yield (int32 ids, closes_document): the corpus's tokens in order, encoded ``batch_lines``
    pieces at a time, with [EOS] appended to the piece that ends a document."""
    eos = tokenizer.layout.eos
    pieces, docs = [], []

    def flush(last_closes: bool):
        encoded = tokenizer.encode_batch(pieces)
        start = 0
        for i in range(1, len(docs) + 1):
            if i == len(docs) or docs[i] != docs[start]:
                ids = np.concatenate([e.astype(np.int32) for e in encoded[start:i]])
                closes = i < len(docs) or last_closes
                yield (np.append(ids, np.int32(eos)) if closes else ids), closes
                start = i
        del pieces[:], docs[:]

    for doc, piece in corpus.segments():
        if len(pieces) >= batch_lines:  # a document going on past the batch continues in the next one
            yield from flush(last_closes=doc != docs[-1])
        pieces.append(piece)
        docs.append(doc)
    if pieces:
        yield from flush(last_closes=True)


def _window_blocks(corpus, tokenizer: TextTokenizer, length: int, pack: bool, batch_lines: int, stats: dict):
    """Yield int32 (k, length - 1) blocks of window bodies (module docstring); memory holds one
    block of encoded pieces. Fills ``stats`` (documents, tokens, dropped_tokens, characters)."""
    lay = tokenizer.layout
    body = length - 1
    carry = np.zeros(0, dtype=np.int32)
    stats.update(documents=0, tokens=0, dropped_tokens=0)
    for ids, closes in _token_pieces(corpus, tokenizer, batch_lines):
        stats["documents"] += int(closes)
        stats["tokens"] += len(ids) - int(closes)
        ids = np.concatenate([carry, ids])
        k = len(ids) // body
        carry = ids[k * body:]
        if k:
            yield ids[:k * body].reshape(k, body)
        if closes and not pack and len(carry):
            if len(carry) == 1:  # the [EOS] alone
                stats["dropped_tokens"] += 1
            else:
                padded = np.full(body, lay.pad, dtype=np.int32)
                padded[:len(carry)] = carry
                yield padded[None, :]
            carry = carry[:0]
    stats["dropped_tokens"] += len(carry)
    stats["characters"] = corpus.stats.characters


def _check_tokenizer(tokenizer) -> None:
    if not isinstance(tokenizer, TextTokenizer):
        raise TypeError(f"tokenizer must be a TextTokenizer (train_tokenizer / cached_tokenizer); "
                        f"got {type(tokenizer).__name__}.")


def _check_count(corpus, stats: dict, windows: int, length: int) -> None:
    if windows == 0:
        raise ValueError(f"corpus {corpus.name!r} yields {stats['tokens']} tokens in {stats['documents']} document(s): "
                         f"fewer than one window of length={length} ({length - 1} tokens after [BOS]); use a shorter "
                         f"length or a larger corpus.")
    stats["windows"] = windows


def _with_bos(block: np.ndarray, bos: int) -> np.ndarray:
    return np.concatenate([np.full((len(block), 1), bos, dtype=np.int32), block], axis=1)


def encode_windows(corpus, tokenizer: TextTokenizer, length: int, *, pack: bool = True,
                   batch_lines: int = 4096) -> TextWindows:
    """Encode ``corpus`` with ``tokenizer`` and cut it into windows of ``length`` (module
    docstring), in memory; :func:`cached_windows` streams them to disk instead."""
    check_corpus(corpus)
    _check_tokenizer(tokenizer)
    length = check_int(length, "length", lo=2)
    batch_lines = check_int(batch_lines, "batch_lines")
    stats: dict = {}
    blocks = list(_window_blocks(corpus, tokenizer, length, pack, batch_lines, stats))
    body = np.concatenate(blocks) if blocks else np.zeros((0, length - 1), dtype=np.int32)
    _check_count(corpus, stats, len(body), length)
    return TextWindows(_with_bos(body, tokenizer.layout.bos), tokenizer.layout, stats)


def _stream_to_npy(path: Path, corpus, tokenizer: TextTokenizer, length: int, pack: bool, batch_lines: int) -> dict:
    """Write the windows to ``path`` (.npy, int32 (N, length)) block by block: memory holds one
    document's tokens, never the corpus. Atomic; returns the stats."""
    stats: dict = {}
    raw_fd, raw_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".raw")
    try:
        n = 0
        with os.fdopen(raw_fd, "wb") as raw:
            for block in _window_blocks(corpus, tokenizer, length, pack, batch_lines, stats):
                raw.write(np.ascontiguousarray(_with_bos(block, tokenizer.layout.bos), dtype="<i4").tobytes())
                n += len(block)
        _check_count(corpus, stats, n, length)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as out, open(raw_name, "rb") as raw:
                np.lib.format.write_array_header_1_0(out, {"descr": "<i4", "fortran_order": False, "shape": (n, length)})
                shutil.copyfileobj(raw, out, 2**22)
    finally:
        os.unlink(raw_name)
    return stats


def cached_windows(corpus, tokenizer: TextTokenizer, folder: str | Path, length: int, *,
                   pack: bool = True, batch_lines: int = 4096) -> TextWindows:
    """:func:`encode_windows`, stored in ``folder`` and loaded from there while the corpus
    fingerprint, the tokenizer, ``length`` and ``pack`` are unchanged (otherwise re-encoded)."""
    folder = Path(folder)
    check_corpus(corpus)
    _check_tokenizer(tokenizer)
    length = check_int(length, "length", lo=2)
    batch_lines = check_int(batch_lines, "batch_lines")
    config = {"corpus": corpus.fingerprint(), "tokenizer": tokenizer.digest(), "length": length, "pack": bool(pack)}
    if cache_state(folder, "text-windows", config):
        manifest = read_manifest(folder, kind="text-windows", config=config)
        meta = manifest["files"][WINDOWS_FILE]
        tokens = np.load(folder / WINDOWS_FILE, mmap_mode="r", allow_pickle=False)
        if tokens.shape != (meta["rows"], length) or tokens.dtype != np.int32:
            raise ValueError(f"{str(folder / WINDOWS_FILE)!r} holds {tokens.dtype} {tokens.shape}; the manifest says "
                             f"int32 ({meta['rows']}, {length}); delete the folder to rebuild it.")
        stats = {k: meta[k] for k in ("documents", "tokens", "dropped_tokens", "windows", "characters")}
        return TextWindows(tokens, tokenizer.layout, stats)
    ensure_writable_dir(folder, "windows cache folder")
    stats = _stream_to_npy(folder / WINDOWS_FILE, corpus, tokenizer, length, bool(pack), batch_lines)
    write_manifest(folder, "text-windows", config, {WINDOWS_FILE: {"rows": stats["windows"], **stats}})
    return TextWindows(np.load(folder / WINDOWS_FILE, mmap_mode="r", allow_pickle=False), tokenizer.layout, stats)
