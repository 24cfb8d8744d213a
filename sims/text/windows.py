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
tokenizer's digest, T and ``pack``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from curriculum.artifacts import write_manifest, read_manifest
from curriculum.io import atomic_path, ensure_writable_dir
from parity_theory.parity import check_int
from sims.pcfg.tokens import TokenLayout

from .tokenizer import TextTokenizer, cache_state

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


def _document_tokens(corpus, tokenizer: TextTokenizer, batch_lines: int):
    """Yield one int32 array per document: its ordinary tokens followed by [EOS]."""
    eos = np.array([tokenizer.layout.eos], dtype=np.int32)
    current, parts = None, []
    pieces, docs = [], []

    def flush():
        nonlocal current, parts
        out = []
        for d, ids in zip(docs, tokenizer.encode_batch(pieces)):
            if d != current and current is not None:
                out.append(np.concatenate(parts + [eos]))
                parts = []
            current = d
            parts.append(ids.astype(np.int32))
        pieces.clear()
        docs.clear()
        return out

    for doc, piece in corpus.segments():
        pieces.append(piece)
        docs.append(doc)
        if len(pieces) >= batch_lines:
            yield from flush()
    yield from flush()
    if parts:
        yield np.concatenate(parts + [eos])


def encode_windows(corpus, tokenizer: TextTokenizer, length: int, *, pack: bool = True,
                   batch_lines: int = 4096) -> TextWindows:
    """Encode ``corpus`` with ``tokenizer`` and cut it into windows of ``length`` (module docstring)."""
    if not isinstance(tokenizer, TextTokenizer):
        raise TypeError(f"tokenizer must be a TextTokenizer; got {type(tokenizer).__name__}.")
    length = check_int(length, "length", lo=2)
    batch_lines = check_int(batch_lines, "batch_lines")
    lay = tokenizer.layout
    body = length - 1
    n_docs, n_tokens, dropped = 0, 0, 0
    rows: list[np.ndarray] = []
    carry = np.zeros(0, dtype=np.int32)
    for ids in _document_tokens(corpus, tokenizer, batch_lines):
        n_docs += 1
        n_tokens += len(ids) - 1
        if pack:
            ids = np.concatenate([carry, ids])
            k = len(ids) // body
            rows.append(ids[:k * body].reshape(k, body))
            carry = ids[k * body:]
        else:
            k = -(-len(ids) // body)
            if len(ids) - (k - 1) * body == 1 and k > 1:  # last piece is the [EOS] alone
                k -= 1
                dropped += 1
                ids = ids[:k * body]
            padded = np.full(k * body, lay.pad, dtype=np.int32)
            padded[:len(ids)] = ids
            rows.append(padded.reshape(k, body))
    dropped += len(carry)
    body_rows = np.concatenate(rows) if rows else np.zeros((0, body), dtype=np.int32)
    if len(body_rows) == 0:
        raise ValueError(f"corpus {corpus.name!r} yields {n_tokens} tokens in {n_docs} document(s): fewer than "
                         f"one window of length={length} ({body} tokens after [BOS]); use a shorter length or a "
                         f"larger corpus.")
    tokens = np.concatenate([np.full((len(body_rows), 1), lay.bos, dtype=np.int32), body_rows], axis=1)
    stats = {"documents": n_docs, "tokens": n_tokens, "dropped_tokens": int(dropped), "windows": int(len(tokens)),
             "characters": corpus.stats.characters}
    return TextWindows(tokens, lay, stats)


def cached_windows(corpus, tokenizer: TextTokenizer, folder: str | Path, length: int, *,
                   pack: bool = True) -> TextWindows:
    """:func:`encode_windows`, stored in ``folder`` and loaded from there while the corpus
    fingerprint, the tokenizer, ``length`` and ``pack`` are unchanged (otherwise re-encoded)."""
    folder = Path(folder)
    length = check_int(length, "length", lo=2)
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
    win = encode_windows(corpus, tokenizer, length, pack=pack)
    with atomic_path(folder / WINDOWS_FILE) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, win.tokens, allow_pickle=False)
    write_manifest(folder, "text-windows", config, {WINDOWS_FILE: {"rows": len(win), **win.stats}})
    return win
