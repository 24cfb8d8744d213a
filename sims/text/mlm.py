"""Masked-language-model batches from text windows, and the unigram baseline (docs/text.md).

Masking is the PCFG setting's rule (:func:`sims.pcfg.masking.mask_tokens`, docs/paper.md §5):
each ordinary token is selected with probability 0.3; a selected input becomes [MASK] (80%), a
uniformly drawn ordinary token (10%) or stays (10%); [BOS], [EOS] and [PAD] are never selected.

Batches are a function of ``(seed, step)`` alone, so a run resumed at step s sees exactly the
batches an uninterrupted run sees: the i-th row drawn overall (i = step · B + j) is row
``perm_e[i mod N]`` of the permutation ``perm_e`` of epoch e = i // N (generator
``default_rng([seed, 0, e])``), and the masking of step s uses ``default_rng([seed, 1, s])``.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from parity_theory.parity import check_int
from sims.pcfg.masking import MaskedBatch, MaskingConfig, mask_tokens
from sims.pcfg.tokens import TokenLayout

__all__ = ["mlm_batch", "mlm_batches", "unigram_distribution", "unigram_baseline"]


def _check_windows(windows, layout: TokenLayout) -> np.ndarray:
    if not isinstance(layout, TokenLayout):
        raise TypeError(f"layout must be a TokenLayout (tokenizer.layout); got {type(layout).__name__}.")
    x = np.asarray(getattr(windows, "tokens", windows))
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer) or x.shape[0] == 0:
        raise ValueError(f"windows must be a non-empty 2-D integer array (N, T) of token ids; got dtype {x.dtype}, "
                         f"shape {x.shape}.")
    return x


def _rows(n: int, seed: int, step: int, batch_size: int) -> np.ndarray:
    i = step * batch_size + np.arange(batch_size, dtype=np.int64)
    epoch = i // n
    out = np.empty(batch_size, dtype=np.int64)
    for e in np.unique(epoch):
        sel = epoch == e
        perm = np.random.default_rng([seed, 0, int(e)]).permutation(n)
        out[sel] = perm[i[sel] % n]
    return out


def mlm_batch(windows, layout: TokenLayout, batch_size: int, *, seed: int, step: int,
              masking: MaskingConfig = MaskingConfig()) -> MaskedBatch:
    """The masked batch of ``step`` (module docstring): inputs, targets (IGNORE = -100 where not
    selected) and selected, each (batch_size, T)."""
    x = _check_windows(windows, layout)
    batch_size = check_int(batch_size, "batch_size")
    seed = check_int(seed, "seed", lo=0)
    step = check_int(step, "step", lo=0)
    rows = _rows(len(x), seed, step, batch_size)
    return mask_tokens(np.asarray(x[rows]), layout,
                       np.random.default_rng([seed, 1, step]), masking)


def mlm_batches(windows, layout: TokenLayout, batch_size: int, *, seed: int, start_step: int = 0,
                steps: int | None = None, masking: MaskingConfig = MaskingConfig()) -> Iterator[MaskedBatch]:
    """Batches of steps ``start_step``, ``start_step + 1``, ... (``steps`` of them; endless if None)."""
    _check_windows(windows, layout)
    start_step = check_int(start_step, "start_step", lo=0)
    stop = None if steps is None else start_step + check_int(steps, "steps", lo=0)
    step = start_step
    while stop is None or step < stop:
        yield mlm_batch(windows, layout, batch_size, seed=seed, step=step, masking=masking)
        step += 1


def unigram_distribution(windows, layout: TokenLayout, *, alpha: float = 0.0) -> np.ndarray:
    """float64 (V,): frequencies of the ordinary tokens (ids < V) in ``windows``, add-``alpha``
    smoothed: p_a = (c_a + alpha) / (sum_b c_b + alpha V)."""
    x = _check_windows(windows, layout)
    if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha >= 0):
        raise ValueError(f"alpha must be a number >= 0; got alpha={alpha!r}.")
    V = layout.n_terminals
    counts = np.zeros(V, dtype=np.float64)
    for start in range(0, len(x), 65536):  # chunks: windows may be a memory map
        chunk = np.asarray(x[start:start + 65536]).ravel()
        counts += np.bincount(chunk[chunk < V], minlength=V)[:V]
    total = counts.sum() + alpha * V
    if total == 0:
        raise ValueError("windows hold no ordinary token.")
    return (counts + alpha) / total


def unigram_baseline(train_windows, layout: TokenLayout, eval_windows=None, *, alpha: float = 1.0) -> float:
    """The masked-token loss (nats) of the context-free predictor that always outputs the train
    unigram distribution p (add-``alpha`` smoothed): the cross-entropy −Σ_a q_a log p_a with q the
    token frequencies of ``eval_windows`` (``train_windows`` when None). Masking selects positions
    independently of their tokens, so this is also its expected loss at the selected positions."""
    p = unigram_distribution(train_windows, layout, alpha=alpha)
    q = unigram_distribution(train_windows if eval_windows is None else eval_windows, layout)
    support = q > 0
    if np.any(p[support] == 0):
        raise ValueError("an eval token never occurs in train_windows and alpha=0: the baseline loss is infinite; "
                         "use alpha > 0.")
    return float(-(q[support] * np.log(p[support])).sum())
