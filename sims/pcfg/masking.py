"""BERT-style masking for the masked-language-model objective (docs/paper.md §5), in numpy.

Every terminal position is selected independently with probability ``rate`` (0.3 in the paper);
a selected position's input becomes MASK with probability ``mask_frac`` (0.8), a uniformly drawn
terminal with probability ``random_frac`` (0.1; it may equal the original, as in BERT) and stays
unchanged otherwise (0.1). The loss is taken at selected positions only. BOS, EOS and PAD are
never selected.

:func:`bayes_mlm_distribution` is the Bayes-optimal prediction for this corruption on whole
strings: the posterior of the original token at a selected position given the corrupted input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from parity_theory.parity import check_generator

from .tokens import IGNORE, TokenLayout

__all__ = ["MaskedBatch", "MaskingConfig", "mask_tokens", "bayes_mlm_distribution", "MLMReference",
           "bayes_mlm_reference"]


@dataclass(frozen=True)
class MaskingConfig:
    """Selection rate and the split of selected positions into MASK / random / unchanged."""

    rate: float = 0.3
    mask_frac: float = 0.8
    random_frac: float = 0.1

    def __post_init__(self):
        for name in ("rate", "mask_frac", "random_frac"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and 0.0 <= v <= 1.0):
                raise ValueError(f"MaskingConfig.{name} must be a probability in [0, 1]; got {name}={v!r}.")
        if self.mask_frac + self.random_frac > 1.0 + 1e-12:
            raise ValueError(f"MaskingConfig.mask_frac + random_frac must be <= 1; got "
                             f"{self.mask_frac} + {self.random_frac}.")

    @property
    def keep_frac(self) -> float:
        return max(0.0, 1.0 - self.mask_frac - self.random_frac)


@dataclass(frozen=True)
class MaskedBatch:
    """``inputs`` int64 (B, T): the corrupted tokens; ``targets`` int64 (B, T): the original token
    at selected positions, IGNORE (-100) elsewhere; ``selected`` bool (B, T)."""

    inputs: np.ndarray
    targets: np.ndarray
    selected: np.ndarray


def mask_tokens(batch, layout: TokenLayout, rng: np.random.Generator,
                config: MaskingConfig = MaskingConfig()) -> MaskedBatch:
    """Corrupt a (B, T) batch of token ids (terminals, BOS, EOS, PAD) as described in the module docstring.

    Draws, in order: one uniform per position (selection), one per position (MASK / random /
    keep), one terminal id per position (the random replacement); so the result is a function of
    the generator's state and the batch shape.
    """
    rng = check_generator(rng)
    if not isinstance(layout, TokenLayout):
        raise TypeError(f"layout must be a TokenLayout (grammar.layout); got {type(layout).__name__}.")
    if not isinstance(config, MaskingConfig):
        raise TypeError(f"config must be a MaskingConfig; got {type(config).__name__}.")
    x = np.asarray(batch)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        raise ValueError(f"batch must be a 2-D integer array (B, T) of token ids; got dtype {x.dtype}, shape {x.shape}.")
    specials = (layout.bos, layout.eos, layout.pad)
    ok = (x >= 0) & (x < layout.n_terminals) | np.isin(x, specials)
    if not ok.all():
        b, t = (int(i) for i in np.argwhere(~ok)[0])
        raise ValueError(f"batch must hold terminal ids in [0, {layout.n_terminals}) or BOS/EOS/PAD {specials}; "
                         f"got {int(x[b, t])} at [{b}, {t}].")
    eligible = x < layout.n_terminals
    selected = (rng.random(x.shape) < config.rate) & eligible
    how = rng.random(x.shape)
    replacement = rng.integers(0, layout.n_terminals, size=x.shape)
    to_mask = selected & (how < config.mask_frac)
    to_random = selected & (how >= config.mask_frac) & (how < config.mask_frac + config.random_frac)
    inputs = x.astype(np.int64, copy=True)
    inputs[to_mask] = layout.mask
    inputs[to_random] = replacement[to_random]
    targets = np.where(selected, x, IGNORE).astype(np.int64)
    return MaskedBatch(inputs, targets, selected)


def bayes_mlm_distribution(grammar, inputs, config: MaskingConfig = MaskingConfig(), *,
                           window: bool = False) -> np.ndarray:
    """(L, V): P(w_p = a | corrupted terminals ``inputs``, p selected), whole strings of length L
    (``window=True``: the first L terminals of a longer or equal string).

    ``inputs``: 1-D ids (terminals or MASK) of one corrupted string, without BOS/PAD. The
    corruption acts independently per position, so the posterior factorizes through leaf weights:
    other positions q carry P(o_q | a) = (1 - rate) [o_q = a] + rate (mask_frac [o_q = MASK] +
    random_frac / V + keep_frac [o_q = a]); position p carries P(o_p | a, selected). Then
    posterior_p(a) ∝ P(o_p | a, selected) · Z(others, w_p = a), from one inside–outside pass.
    Rows are NaN where the input is impossible.
    """
    from .inside import _normalize_rows, check_string, evidence_log_grad  # noqa: PLC0415

    V = len(grammar.terminals)
    o, is_mask = check_string(grammar, inputs, "inputs")
    eye = np.zeros((len(o), V))
    eye[np.flatnonzero(~is_mask), o[~is_mask]] = 1.0
    # likelihood of the observation given the original a, for a selected position
    sel = np.where(is_mask[:, None], config.mask_frac, config.random_frac / V + config.keep_frac * eye)
    leaf = (1.0 - config.rate) * eye + config.rate * sel
    _, G = evidence_log_grad(grammar, leaf, window=window)
    with np.errstate(divide="ignore"):
        return _normalize_rows(G + np.log(sel))


@dataclass(frozen=True)
class MLMReference:
    """The Bayes-optimal predictor's masked-token cross-entropy ``loss`` (nats, mean over the
    ``count`` selected positions) and ``accuracy`` (argmax = original token) on one batch."""

    loss: float
    accuracy: float
    count: int


def bayes_mlm_reference(grammar, batch: MaskedBatch, config: MaskingConfig = MaskingConfig(), *,
                        window: bool = False) -> MLMReference:
    """Score the exact posterior (:func:`bayes_mlm_distribution`) on a batch from :func:`mask_tokens`,
    the number a model's masked loss on the same batch is compared with.

    Each row's terminal and MASK inputs (BOS, EOS, PAD skipped) form one corrupted string
    (``window=True``: the start of a longer one); ``config`` must be the one that corrupted it.
    """
    if not isinstance(batch, MaskedBatch):
        raise TypeError(f"batch must be a MaskedBatch from mask_tokens; got {type(batch).__name__}.")
    lay = grammar.layout
    nll, hits = [], []
    for inputs, targets, selected in zip(batch.inputs, batch.targets, batch.selected):
        where = np.flatnonzero((inputs < lay.n_terminals) | (inputs == lay.mask))
        sel = selected[where]
        if not sel.any():
            continue
        post = bayes_mlm_distribution(grammar, inputs[where], config, window=window)[sel]
        tgt = targets[where][sel]
        nll.append(-np.log(post[np.arange(len(tgt)), tgt]))
        hits.append(post.argmax(axis=1) == tgt)
    if not nll:
        raise ValueError("bayes_mlm_reference: the batch has no selected positions.")
    nll_all, hits_all = np.concatenate(nll), np.concatenate(hits)
    return MLMReference(float(nll_all.mean()), float(hits_all.mean()), int(len(nll_all)))
