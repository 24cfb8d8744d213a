"""sims.text.mlm (masking statistics, resumable batches, unigram baseline) and the n-gram probe on text windows.

Statistical checks use binomial / CLT tolerances of z = 5 standard deviations (two-sided
false-alarm rate below 1e-6 per check) with fixed seeds.
"""
from __future__ import annotations

import numpy as np
import pytest

from sims.pcfg.masking import MaskingConfig
from sims.pcfg.ngram import ngram_dependence
from sims.pcfg.tokens import IGNORE, TokenLayout
from sims.text.mlm import mlm_batch, mlm_batches, unigram_baseline, unigram_distribution

Z = 5.0
LAY = TokenLayout(50)


def _windows(n=64, T=32, seed=0):
    """Zipf-like token windows in the text layout: [BOS] first, some [EOS] and a [PAD] tail."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, LAY.n_terminals + 1)
    x = rng.choice(LAY.n_terminals, size=(n, T), p=p / p.sum()).astype(np.int32)
    x[:, 0] = LAY.bos
    x[rng.random((n, T)) < 0.05] = LAY.eos
    x[::7, -3:] = LAY.pad
    return x


def _within(count, n, p):
    return abs(count / n - p) <= Z * np.sqrt(p * (1 - p) / n)


def test_masking_statistics_on_text_windows():
    x = _windows(n=96, T=64)
    sel = mask = keep = rand = eligible = 0
    for b in mlm_batches(x, LAY, 96, seed=3, steps=20):
        sel_rows = b.selected
        # the batch's original tokens: targets at selected positions, inputs elsewhere
        orig = np.where(sel_rows, b.targets, b.inputs)
        specials = np.isin(orig, [LAY.bos, LAY.eos, LAY.pad])
        assert not (sel_rows & specials).any()  # [BOS] [EOS] [PAD] never selected
        assert (b.targets[~sel_rows] == IGNORE).all()
        eligible += int((~specials).sum())
        sel += int(sel_rows.sum())
        mask += int((b.inputs[sel_rows] == LAY.mask).sum())
        keep += int((b.inputs[sel_rows] == b.targets[sel_rows]).sum())
        rand += int(((b.inputs[sel_rows] != LAY.mask) & (b.inputs[sel_rows] != b.targets[sel_rows])).sum())
    V = LAY.n_terminals
    assert _within(sel, eligible, 0.3)
    assert _within(mask, sel, 0.8)
    assert _within(keep, sel, 0.1 + 0.1 / V)  # a random replacement may draw the original token
    assert _within(rand, sel, 0.1 * (1 - 1 / V))


def test_masking_config_is_passed_through():
    x = _windows()
    b = mlm_batch(x, LAY, 64, seed=0, step=0, masking=MaskingConfig(rate=1.0, mask_frac=1.0, random_frac=0.0))
    orig = np.where(b.selected, b.targets, b.inputs)
    assert np.array_equal(b.selected, orig < LAY.n_terminals)
    assert (b.inputs[b.selected] == LAY.mask).all()


def test_batches_are_resumable_and_a_function_of_seed_and_step():
    x = _windows(n=40)
    run = list(mlm_batches(x, LAY, 16, seed=7, steps=9))
    resumed = list(mlm_batches(x, LAY, 16, seed=7, start_step=5, steps=4))
    for a, b in zip(run[5:], resumed):
        assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.targets, b.targets)
    other = mlm_batch(x, LAY, 16, seed=8, step=5)
    assert not np.array_equal(other.inputs, run[5].inputs)


def test_each_epoch_visits_every_window_once():
    n, B = 10, 4
    x = np.full((n, 6), 0, dtype=np.int32)
    x[:, 0] = LAY.bos
    x[:, 1] = np.arange(n)  # window id
    cfg = MaskingConfig(rate=0.0)
    ids = np.concatenate([b.inputs[:, 1] for b in mlm_batches(x, LAY, B, seed=1, steps=5, masking=cfg)])
    assert sorted(ids[:n]) == list(range(n)) and sorted(ids[n:]) == list(range(n))
    assert not np.array_equal(ids[:n], ids[n:])  # a new permutation per epoch (seeded; fixed outcome)


def test_bad_arguments_are_clear_errors():
    x = _windows()
    with pytest.raises(ValueError, match="windows must be a non-empty 2-D integer array"):
        mlm_batch(x[0], LAY, 4, seed=0, step=0)
    with pytest.raises(TypeError, match="layout must be a TokenLayout"):
        mlm_batch(x, 50, 4, seed=0, step=0)
    with pytest.raises(ValueError, match="step must be an int >= 0"):
        mlm_batch(x, LAY, 4, seed=0, step=-1)


def test_unigram_distribution_counts_ordinary_tokens_only():
    lay = TokenLayout(3)
    x = np.array([[lay.bos, 0, 0, 1, lay.eos], [lay.bos, 2, 0, lay.pad, lay.pad]])
    assert np.allclose(unigram_distribution(x, lay), [3 / 5, 1 / 5, 1 / 5])
    assert np.allclose(unigram_distribution(x, lay, alpha=1.0), [4 / 8, 2 / 8, 2 / 8])
    ev = np.array([[lay.bos, 1, 1, 2, lay.eos]])
    expected = -(2 / 3 * np.log(2 / 8) + 1 / 3 * np.log(2 / 8))
    assert unigram_baseline(x, lay, ev, alpha=1.0) == pytest.approx(expected)
    assert unigram_baseline(x, lay, alpha=0.0) == pytest.approx(-(0.6 * np.log(0.6) + 0.4 * np.log(0.2)))
    unseen = np.array([[lay.bos, 0, 0]])
    with pytest.raises(ValueError, match="never occurs in train_windows"):
        unigram_baseline(unseen, lay, x, alpha=0.0)


def test_context_free_predictor_masked_loss_matches_the_unigram_baseline():
    """Over one epoch, the mean -log p(target) of the unigram predictor at the selected positions
    estimates the baseline; selection is iid Bernoulli(0.3), so the CLT gives the tolerance."""
    x = _windows(n=128, T=64, seed=5)
    p = unigram_distribution(x, LAY, alpha=1.0)
    nll = []
    for b in mlm_batches(x, LAY, 32, seed=2, steps=4):  # 4 x 32 = one epoch
        nll.append(-np.log(p[b.targets[b.selected]]))
    nll = np.concatenate(nll)
    tokens = x[x < LAY.n_terminals]
    per_token = -np.log(p[tokens])
    sd = per_token.std() / np.sqrt(len(nll))
    assert abs(nll.mean() - unigram_baseline(x, LAY, alpha=1.0)) <= Z * sd


# ---------------------------------------------------------------- n-gram probe on text windows
def test_ngram_probe_of_a_context_free_predictor_is_zero():
    x = _windows(n=6, T=24)
    p = unigram_distribution(x, LAY, alpha=1.0)

    def predict(batch):
        return np.broadcast_to(p, batch.shape + p.shape).copy()

    dep = ngram_dependence(predict, x, LAY, spans=(3, 5))
    assert len(dep.seq) > 0
    for v in dep.values.values():
        assert np.all(v == 0.0)
    summary = dep.summary()
    assert set(summary["span"]) == {3, 5} and (summary["median"] == 0).all()


def test_ngram_probe_of_a_left_neighbour_predictor():
    """f(x)_p depends on x_{p-1} only: M_close = 0 for every window holding p - 1, and M_robust is
    the L1 distance between the rows for x_{p-1} and for [MASK]."""
    x = _windows(n=8, T=24, seed=9)
    rng = np.random.default_rng(0)
    table = rng.dirichlet(np.ones(LAY.n_terminals), size=LAY.vocab_size)  # row per left-neighbour id

    def predict(batch):
        out = np.zeros(batch.shape + (LAY.n_terminals,))
        out[:, 1:] = table[batch[:, :-1]]
        return out

    dep = ngram_dependence(predict, x, LAY, spans=(3, 5))
    expected = np.abs(table[x[dep.seq, dep.pos - 1]] - table[LAY.mask]).sum(axis=1)
    for n in (3, 5):
        assert np.allclose(dep.values[(n, "close")], 0.0)
        assert np.allclose(dep.values[(n, "robust")], expected)
    assert (expected > 0).all()
    # probed positions: whole windows of ordinary tokens only
    for s, q in zip(dep.seq, dep.pos):
        assert (x[s, q - 2:q + 3] < LAY.n_terminals).all()
