"""Speed of the PCFG toolkit (sampling, inside, masked and next-token distributions) and the
Bayes-optimal references it provides (masked-token loss, n-gram dependence of the exact predictor).

    NUMBA_NUM_THREADS=1 .venv/bin/python benchmarks/bench_pcfg.py [--quick] [--seed 0]

Prints a markdown table per part; numbers depend on machine load (docs/pcfg.md quotes one run).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from sims.pcfg import Grammar
from sims.pcfg.sampling import sample_python
from sims.pcfg.masking import MaskingConfig, bayes_mlm_distribution, bayes_mlm_reference, mask_tokens
from sims.pcfg.ngram import bayes_predictor, ngram_dependence


def _best(fn, repeat=3):
    best = float("inf")
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_sampling(quick: bool, seed: int) -> None:
    g = Grammar.builtin("cfg3b")
    g.sample(10, np.random.default_rng(seed))  # JIT
    m = 10_000 if quick else 100_000
    print(f"\n| sampler (cfg3b) | strings | seconds | strings/s |\n|---|---:|---:|---:|")
    for labels in (False, True):
        t, s = _best(lambda: g.sample(m, np.random.default_rng(seed), labels=labels), repeat=2)
        print(f"| Numba, labels={labels} | {m:,} | {t:.2f} | {m / t:,.0f} |")
    mp = 500 if quick else 2000
    t, _ = _best(lambda: sample_python(g, mp, np.random.default_rng(seed), labels=False), repeat=1)
    print(f"| Python twin, labels=False | {mp:,} | {t:.2f} | {mp / t:,.0f} |")
    print(f"mean length {s.lengths.mean():.1f} (exact {g.expected_length:.1f}), min {s.lengths.min()}, "
          f"max {s.lengths.max()}")


def bench_inference(quick: bool, seed: int) -> None:
    g = Grammar.builtin("cfg3b")
    rng = np.random.default_rng(seed)
    s = g.sample(8, rng)
    w = s.tokens[0].astype(np.int64)
    g.log_prob(w)  # JIT
    g.masked_distribution(w)
    print("\n| exact inference (cfg3b) | L | seconds per string |\n|---|---:|---:|")
    t, _ = _best(lambda: g.log_prob(w))
    print(f"| log_prob (inside), whole string | {len(w)} | {t:.3f} |")
    t, _ = _best(lambda: g.masked_distribution(w))
    print(f"| masked_distribution (inside + outside), whole string, nothing masked | {len(w)} | {t:.3f} |")
    x = mask_tokens(g.layout.batch([w], bos=False), g.layout, rng).inputs[0]
    t, _ = _best(lambda: bayes_mlm_distribution(g, x), repeat=1)
    print(f"| bayes_mlm_distribution, 30% corrupted | {len(w)} | {t:.3f} |")
    g.next_token_distribution(w[:4])  # JIT
    for L in (64, len(w)):
        t, _ = _best(lambda: g.next_token_distribution(w[:L]))
        print(f"| next_token_distribution (prefix probabilities) | {L} | {t:.3f} |")
    allmask = np.full(64, g.layout.mask)
    t, _ = _best(lambda: g.masked_distribution(allmask), repeat=1)
    print(f"| masked_distribution, every position masked (dense chart) | 64 | {t:.3f} |")


def bayes_references(quick: bool, seed: int) -> None:
    """Monte Carlo over strings and masks of the Bayes-optimal masked-token loss (nats) and accuracy."""
    print("\n| grammar | strings | Bayes MLM loss (nats) ± 2 s.e. | Bayes masked accuracy | predicted positions |"
          "\n|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(seed)
    cases = (("cfg3b from 16", Grammar.builtin("cfg3b").with_start("16"), None, 20 if quick else 200),
             ("cfg3b", Grammar.builtin("cfg3b"), None, 5 if quick else 40),
             ("cfg3b, windows of the first 64 terminals", Grammar.builtin("cfg3b"), 64, 20 if quick else 200))
    for name, g, window, m in cases:
        s = g.sample(m, rng, labels=False)
        per_string = []  # (loss, accuracy, count) of each string
        for w in s.tokens:
            w = w if window is None else w[:window]
            mb = mask_tokens(g.layout.batch([w]), g.layout, rng, MaskingConfig())
            if mb.selected.any():
                r = bayes_mlm_reference(g, mb, MaskingConfig(), window=window is not None)
                per_string.append((r.loss, r.accuracy, r.count))
        loss_s, acc_s, n_s = (np.array(v) for v in zip(*per_string))
        # positions of one string are dependent; strings are independent: s.e. from per-string means
        se = np.std(loss_s, ddof=1) / np.sqrt(len(loss_s))
        print(f"| {name} | {m} | {np.average(loss_s, weights=n_s):.4f} ± {2 * se:.4f} | "
              f"{np.average(acc_s, weights=n_s):.4f} | {n_s.sum()} |")
    # next-token: sum_t -log P(w_t | w_<t) - log P(end | w) = -log P(w), so the Bayes loss per
    # predicted token (L terminals + the end) is E[-log P(w)] / E[L + 1]
    print("\n| grammar | strings | Bayes next-token loss (nats per token, incl. end) |\n|---|---:|---:|")
    for name, g in (("cfg3b from 16", Grammar.builtin("cfg3b").with_start("16")), ("cfg3b", Grammar.builtin("cfg3b"))):
        s = g.sample(200 if quick else 2000, rng, labels=False)
        nll = -g.log_prob(s.tokens)
        print(f"| {name} | {len(s)} | {nll.sum() / (s.lengths + 1).sum():.4f} |")
    for name, g, window in (("cfg3b from 16, whole strings", Grammar.builtin("cfg3b").with_start("16"), None),
                            ("cfg3b, windows of the first 64 terminals", Grammar.builtin("cfg3b"), 64)):
        s = g.sample(8 if quick else 40, rng, labels=False)
        x = g.layout.batch(s.tokens, length=None if window is None else window + 1)
        t0 = time.perf_counter()
        res = ngram_dependence(bayes_predictor(g, window=window is not None), x, g.layout,
                               positions_per_sequence=5, rng=rng)
        print(f"\nn-gram dependence of the exact masked-token predictor, {name}, {len(s)} strings x 5 positions "
              f"({time.perf_counter() - t0:.1f} s):\n")
        print(res.summary().to_markdown(index=False, floatfmt=".4f") if _has_tabulate() else res.summary())


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["sampling", "inference", "bayes"], default=None)
    args = ap.parse_args(argv)
    if args.only in (None, "sampling"):
        bench_sampling(args.quick, args.seed)
    if args.only in (None, "inference"):
        bench_inference(args.quick, args.seed)
    if args.only in (None, "bayes"):
        bayes_references(args.quick, args.seed)


if __name__ == "__main__":
    main()
