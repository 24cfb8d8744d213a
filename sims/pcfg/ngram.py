"""n-gram dependence of a masked-token predictor: M_robust and M_close (docs/paper.md §5).

For a position p of a sequence x and a window W = [p - r, p + r] (an n-gram, n = 2r + 1), with
f(x)_p the predictor's output distribution at p:

    M_robust(p) = || f(x with p masked)_p - f(x with W masked)_p ||_1
    M_close(p)  = || f(x with p masked)_p - f(x with p and everything outside W masked)_p ||_1

M_robust is large when the prediction depends on the local n-gram; M_close is small when the
n-gram alone suffices. Only terminal positions are ever masked (BOS, EOS and PAD stay), and p
ranges over the terminal positions whose whole window holds terminals. The paper reports the
median over sequences and positions; :meth:`NgramDependence.summary` gives median and quartiles.

The probe is model-agnostic: ``predict`` maps an int64 (B, T) batch of token ids to (B, T, C)
probabilities (any C, e.g. the terminals or the whole vocabulary). :func:`bayes_predictor` wraps
the exact masked-token distribution of a grammar (:func:`sims.pcfg.inside.masked_distribution`)
in that interface.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from parity_theory.parity import check_generator, check_int

from .tokens import TokenLayout

__all__ = ["NgramDependence", "ngram_dependence", "bayes_predictor", "KINDS"]

KINDS = ("robust", "close")


@dataclass(frozen=True)
class NgramDependence:
    """Per-position values: ``values[(n, kind)]`` float64 (P,) for the probed (sequence, position)
    pairs ``seq`` int64 (P,) and ``pos`` int64 (P,), the same pairs for every n and kind."""

    seq: np.ndarray
    pos: np.ndarray
    values: dict = field(default_factory=dict)

    def summary(self):
        """pandas DataFrame, one row per (span, kind): span, kind, median, q25, q75, count."""
        import pandas as pd  # noqa: PLC0415

        rows = []
        for (n, kind), v in sorted(self.values.items()):
            q25, med, q75 = (np.quantile(v, [0.25, 0.5, 0.75]) if len(v) else (np.nan,) * 3)
            rows.append({"span": n, "kind": kind, "median": float(med), "q25": float(q25), "q75": float(q75),
                         "count": len(v)})
        return pd.DataFrame(rows, columns=["span", "kind", "median", "q25", "q75", "count"])


def _check_spans(spans) -> tuple[int, ...]:
    spans = tuple(spans)
    if not spans:
        raise ValueError("spans must name at least one n-gram size (e.g. (3, 5)); got ().")
    for n in spans:
        n = check_int(n, "span")
        if n % 2 == 0:
            raise ValueError(f"span sizes must be odd (a window [p - r, p + r] has 2r + 1 tokens); got {n}.")
    return tuple(int(n) for n in spans)


def ngram_dependence(predict: Callable[[np.ndarray], np.ndarray], tokens, layout: TokenLayout, *,
                     spans=(3, 5), kinds=KINDS, positions_per_sequence: int | None = None,
                     rng: np.random.Generator | None = None, batch_size: int = 512) -> NgramDependence:
    """M_robust and M_close (module docstring) of ``predict`` on the (B, T) batch ``tokens``.

    ``positions_per_sequence``: probe that many positions per sequence, drawn without replacement
    with ``rng`` among the valid ones for the largest span (all valid ones if None). Calls
    ``predict`` on chunks of at most ``batch_size`` rows (at least one position's variants);
    each probed position costs 1 + len(spans) * len(kinds) rows.
    """
    x = np.asarray(tokens)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"tokens must be a 2-D integer array (B, T); got dtype {x.dtype}, shape {x.shape}.")
    x = x.astype(np.int64)
    spans = _check_spans(spans)
    kinds = tuple(kinds)
    for k in kinds:
        if k not in KINDS:
            raise ValueError(f"kinds must be among {KINDS}; got {k!r}.")
    batch_size = check_int(batch_size, "batch_size")
    terminal = (x >= 0) & (x < layout.n_terminals)
    r_max = max(spans) // 2
    seq_list, pos_list = [], []
    for b in range(x.shape[0]):
        ok = [p for p in range(x.shape[1]) if p - r_max >= 0 and p + r_max < x.shape[1]
              and terminal[b, p - r_max:p + r_max + 1].all()]
        if positions_per_sequence is not None and len(ok) > positions_per_sequence:
            rng = check_generator(rng, "rng (needed with positions_per_sequence)")
            ok = sorted(rng.choice(ok, size=check_int(positions_per_sequence, "positions_per_sequence"),
                                   replace=False).tolist())
        seq_list += [b] * len(ok)
        pos_list += ok
    seq = np.array(seq_list, dtype=np.int64)
    pos = np.array(pos_list, dtype=np.int64)
    if len(seq) == 0:
        raise ValueError(f"no position of tokens {x.shape} has a whole {max(spans)}-gram window of terminals.")
    variants = [("base", 0)] + [(k, n) for n in spans for k in kinds]
    per_chunk = max(1, batch_size // len(variants))  # positions per predict call
    dist = [_masked_outputs(predict, x, terminal, seq[c:c + per_chunk], pos[c:c + per_chunk], variants, layout.mask)
            for c in range(0, len(seq), per_chunk)]
    dist = np.concatenate(dist)  # (P, variants, C)
    values = {(n, k): np.abs(dist[:, 0] - dist[:, v]).sum(axis=1)
              for v, (k, n) in enumerate(variants) if k != "base"}
    return NgramDependence(seq, pos, values)


def _masked_outputs(predict, x, terminal, seq, pos, variants, mask_id) -> np.ndarray:
    """(P, len(variants), C): the output at p of every masking variant of the rows ``seq`` (one predict call)."""
    T = x.shape[1]
    rows = np.repeat(x[seq][:, None, :], len(variants), axis=1)  # (P, variants, T)
    idx = np.arange(T)
    at_p = idx[None, :] == pos[:, None]
    for v, (kind, n) in enumerate(variants):
        window = np.abs(idx[None, :] - pos[:, None]) <= n // 2
        hide = at_p if kind == "base" else window if kind == "robust" else (~window | at_p)  # close: p + outside
        rows[:, v][hide & terminal[seq]] = mask_id
    flat = rows.reshape(-1, T)
    probs = np.asarray(predict(flat), dtype=np.float64)
    if probs.ndim != 3 or probs.shape[:2] != flat.shape:
        raise ValueError(f"predict must return (B, T, C) probabilities for a (B, T) batch; got shape "
                         f"{probs.shape} for {flat.shape}.")
    return probs[np.arange(len(flat)), np.repeat(pos, len(variants))].reshape(len(seq), len(variants), -1)


def bayes_predictor(grammar, *, window: bool = False) -> Callable[[np.ndarray], np.ndarray]:
    """``predict`` for :func:`ngram_dependence`: (B, T) ids -> (B, T, V) exact masked-token distributions.

    Each row's terminals and MASK tokens form one whole string (BOS, EOS and PAD are skipped),
    or with ``window=True`` the first terminals of a string that may continue;
    at every terminal or MASK position the output is P(w_p = a | the other observed terminals)
    (:func:`sims.pcfg.inside.masked_distribution`); other positions get zeros.
    """
    from .inside import masked_distribution  # noqa: PLC0415

    lay = grammar.layout
    V = lay.n_terminals

    def predict(batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        out = np.zeros(batch.shape + (V,))
        for b, row in enumerate(batch):
            where = np.flatnonzero((row < V) | (row == lay.mask))
            if len(where):
                out[b, where] = masked_distribution(grammar, row[where], window=window)
        return out

    return predict
