"""Sizes and speeds of the text data layer on the built-in Shakespeare corpus: reading, tokenizer
training, window encoding (fresh and cached), MLM batches, the unigram baseline.

    .venv/bin/python benchmarks/bench_text.py [--vocab 8192] [--length 128] [--cache DIR]

Needs the text extra (tokenizers) and the shakespeare package. Prints markdown tables; numbers
depend on machine load (docs/text.md quotes one run).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from sims.text import (TokenizerSettings, cached_tokenizer, cached_windows, mlm_batch, shakespeare_corpus,
                       train_tokenizer, unigram_baseline)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--cache", default=None, help="cache folder (default: a temporary one)")
    args = ap.parse_args()
    root = Path(args.cache or tempfile.mkdtemp(prefix="bench_text."))

    print("| split | works | characters | words | lines | read s |\n|---|---:|---:|---:|---:|---:|")
    corpora = {s: shakespeare_corpus(s) for s in ("train", "eval")}
    for split, c in corpora.items():
        t, words = _timed(lambda: sum(len(d.split()) for d in c.documents()))
        print(f"| {split} | {len(c.files)} | {c.stats.characters:,} | {words:,} | {c.stats.lines:,} | {t:.2f} |")

    print("\n| tokenizer | V | train s | train tokens | chars/token |\n|---|---:|---:|---:|---:|")
    toks = {}
    for model in ("bpe", "wordpiece"):
        s = TokenizerSettings(model=model, vocab_size=args.vocab)
        t, tok = _timed(lambda: train_tokenizer(corpora["train"], s))
        toks[model] = tok
        n = sum(len(tok.encode(d)) for d in corpora["train"].documents())
        print(f"| {model} | {tok.layout.n_terminals} | {t:.2f} | {n:,} | {corpora['train'].stats.characters / n:.2f} |")

    s = TokenizerSettings(vocab_size=args.vocab)
    t_tok, tok = _timed(lambda: cached_tokenizer(corpora["train"], root / "tokenizer", s))
    t_tok2, _ = _timed(lambda: cached_tokenizer(corpora["train"], root / "tokenizer", s))
    print(f"\ncached_tokenizer (bpe): first call {t_tok:.2f} s (from cache: {tok.from_cache}), second {t_tok2:.3f} s")
    print(f"\n| windows (bpe, T={args.length}) | windows | tokens | dropped | encode s | tokens/s | cached load s |\n"
          f"|---|---:|---:|---:|---:|---:|---:|")
    wins = {}
    for split, c in corpora.items():
        folder = root / f"windows-{split}"
        t, w = _timed(lambda: cached_windows(c, tok, folder, args.length))
        t2, _ = _timed(lambda: cached_windows(c, tok, folder, args.length))
        wins[split] = w
        print(f"| {split} | {len(w):,} | {w.stats['tokens']:,} | {w.stats['dropped_tokens']} | {t:.2f} | "
              f"{w.stats['tokens'] / t:,.0f} | {t2:.3f} |")

    lay = tok.layout
    t, _ = _timed(lambda: [mlm_batch(wins["train"], lay, args.batch, seed=0, step=i) for i in range(200)])
    print(f"\nmlm_batch (B={args.batch}, T={args.length}): {t / 200 * 1e3:.2f} ms per batch")
    print(f"unigram baseline (nats): train {unigram_baseline(wins['train'], lay):.3f}, "
          f"eval {unigram_baseline(wins['train'], lay, wins['eval']):.3f}, uniform {np.log(lay.n_terminals):.3f}")


if __name__ == "__main__":
    main()
