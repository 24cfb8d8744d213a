"""n-gram dependence probes on predictors whose M_robust / M_close can be worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from sims.pcfg import Grammar, TokenLayout
from sims.pcfg.ngram import bayes_predictor, ngram_dependence

LAY = TokenLayout(3)


def _batch(seed=0, B=6, T=20):
    x = np.random.default_rng(seed).integers(0, 3, size=(B, T))
    x[:, 0] = LAY.bos
    x[0, 15:] = LAY.pad
    return x


def unigram(batch):
    """Ignores the context: the same distribution at every position."""
    return np.broadcast_to(np.array([0.2, 0.3, 0.5, 0, 0, 0, 0]), batch.shape + (7,))


def copy_from(offset):
    """Predicts a point mass on the token at p + offset if it is a terminal, else uniform over the terminals."""
    def predict(batch):
        out = np.full(batch.shape + (3,), 1.0 / 3)
        T = batch.shape[1]
        src = np.full_like(batch, LAY.pad)
        lo, hi = max(0, -offset), min(T, T - offset)
        src[:, lo:hi] = batch[:, lo + offset:hi + offset]
        b, t = np.nonzero(src < 3)
        out[b, t] = 0.0
        out[b, t, src[b, t]] = 1.0
        return out
    return predict


L1_POINT_VS_UNIFORM = 2 / 3 + 2 * (1 / 3)  # ||e_a - (1/3, 1/3, 1/3)||_1 = 4/3


def test_context_free_predictor_has_zero_dependence():
    res = ngram_dependence(unigram, _batch(), LAY)
    assert len(res.seq) > 50
    for v in res.values.values():
        assert np.array_equal(v, np.zeros_like(v))
    s = res.summary()
    assert set(zip(s.span, s.kind)) == {(3, "robust"), (3, "close"), (5, "robust"), (5, "close")}
    assert (s["median"] == 0).all() and (s["count"] == len(res.seq)).all()


@pytest.mark.parametrize("offset, expect", [
    (-1, {(3, "robust"): L1_POINT_VS_UNIFORM, (3, "close"): 0.0, (5, "robust"): L1_POINT_VS_UNIFORM, (5, "close"): 0.0}),
    (2, {(3, "robust"): 0.0, (3, "close"): L1_POINT_VS_UNIFORM, (5, "robust"): L1_POINT_VS_UNIFORM, (5, "close"): 0.0}),
    (3, {(3, "robust"): 0.0, (3, "close"): L1_POINT_VS_UNIFORM, (5, "robust"): 0.0, (5, "close"): L1_POINT_VS_UNIFORM}),
])
def test_a_predictor_reading_one_neighbour(offset, expect):
    """Reading the token at p + offset: masking the window hides it iff |offset| <= r; keeping
    only the window hides it iff |offset| > r."""
    x = _batch(1)
    res = ngram_dependence(copy_from(offset), x, LAY)
    for key, val in expect.items():
        v = res.values[key]
        # positions whose source token is PAD/BOS (beyond the string) read uniform in every variant
        src_ok = np.array([0 <= p + offset < x.shape[1] and x[s, p + offset] < 3 for s, p in zip(res.seq, res.pos)])
        assert src_ok.sum() > 30
        assert np.allclose(v[src_ok], val, atol=1e-12), key
        assert np.allclose(v[~src_ok], 0.0)


@pytest.mark.parametrize("window", [False, True])
def test_exact_bayes_predictor_on_a_grammar_of_pairs(window):
    """Strings are pairs "a b" or "c d". Given the rest, a masked token is fixed by its partner
    (the pairing follows from the known length); with the partner masked it is a fair coin over
    the two pair types. So M_robust = ||point - (1/2, 1/2)||_1 = 1 and M_close = 0 at n = 3 and 5.
    The same holds in windows (first 8 terminals; the pairing is fixed from the left)."""
    g = Grammar.parse("S -> P S [0.7]\nS -> P\nP -> a b\nP -> c d\n", terminals="abcd")
    s = g.sample(60, np.random.default_rng(0), labels=False)
    x = g.layout.batch(s.tokens, length=9 if window else None)
    res = ngram_dependence(bayes_predictor(g, window=window), x, g.layout)
    assert len(res.seq) > 30
    for n in (3, 5):
        assert np.allclose(res.values[(n, "robust")], 1.0, atol=1e-12)
        assert np.allclose(res.values[(n, "close")], 0.0, atol=1e-12)


def test_positions_subsampling_and_chunking_do_not_change_values():
    x = _batch(2)
    seen = []

    def recording(batch):
        seen.append(len(batch))
        return copy_from(-1)(batch)

    full = ngram_dependence(recording, x, LAY, batch_size=12)
    assert max(seen) <= 12 and sum(seen) == 5 * len(full.seq)  # base + 2 spans x 2 kinds per position
    sub = ngram_dependence(copy_from(-1), x, LAY, positions_per_sequence=3, rng=np.random.default_rng(0))
    assert np.bincount(sub.seq).max() <= 3
    lookup = {(s, p): i for i, (s, p) in enumerate(zip(full.seq, full.pos))}
    for key in full.values:
        idx = [lookup[(s, p)] for s, p in zip(sub.seq, sub.pos)]
        assert np.array_equal(sub.values[key], full.values[key][idx])
    # valid positions keep the whole largest window inside the terminals
    assert full.pos.min() >= 3 and all(x[s, p + 2] < 3 and x[s, p - 2] < 3 for s, p in zip(full.seq, full.pos))


def test_ngram_dependence_errors():
    x = _batch()
    with pytest.raises(ValueError, match="odd"):
        ngram_dependence(unigram, x, LAY, spans=(4,))
    with pytest.raises(ValueError, match="kinds"):
        ngram_dependence(unigram, x, LAY, kinds=("far",))
    with pytest.raises(ValueError, match="\\(B, T, C\\)"):
        ngram_dependence(lambda b: np.zeros(b.shape), x, LAY)
    with pytest.raises(ValueError, match="no position"):
        ngram_dependence(unigram, x[:, :4], LAY)
    with pytest.raises(TypeError, match="rng"):
        ngram_dependence(unigram, x, LAY, positions_per_sequence=2)
