"""BERT-style masking: rates of selection and of MASK / random / unchanged inputs (binomial tolerances)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from sims.pcfg import TokenLayout
from sims.pcfg.masking import MaskingConfig, mask_tokens
from sims.pcfg.tokens import IGNORE

DELTA = 1e-6  # false-alarm rate of the whole statistical test below (union bound over its checks)
LAY = TokenLayout(3)


def _in_binomial_interval(count: int, n: int, p: float, n_checks: int) -> bool:
    a = DELTA / (2 * n_checks)
    return binom.ppf(a, n, p) <= count <= binom.isf(a, n, p)


def _batch(rng, B=400, T=130):
    """Terminal tokens after a BOS, each row right-padded with PAD from a random length on."""
    x = rng.integers(0, 3, size=(B, T))
    x[:, 0] = LAY.bos
    lengths = rng.integers(T // 2, T + 1, size=B)
    x[np.arange(T)[None, :] >= lengths[:, None]] = LAY.pad
    return x


def test_masking_statistics_match_the_80_10_10_rule():
    rng = np.random.default_rng(0)
    x = _batch(rng)
    cfg = MaskingConfig()  # 0.3 selected; of those 0.8 MASK, 0.1 random terminal, 0.1 unchanged
    mb = mask_tokens(x, LAY, np.random.default_rng(1), cfg)
    eligible = x < LAY.n_terminals
    n_el, sel = int(eligible.sum()), mb.selected
    n_sel = int(sel.sum())
    n_checks = 6
    assert _in_binomial_interval(n_sel, n_el, 0.3, n_checks)
    n_mask = int((mb.inputs[sel] == LAY.mask).sum())
    assert _in_binomial_interval(n_mask, n_sel, 0.8, n_checks)
    changed_to_other_terminal = int(((mb.inputs != x) & (mb.inputs < 3) & sel).sum())
    assert _in_binomial_interval(changed_to_other_terminal, n_sel, 0.1 * 2 / 3, n_checks)  # random != original
    same = int((mb.inputs[sel] == x[sel]).sum())
    assert _in_binomial_interval(same, n_sel, 0.1 + 0.1 / 3, n_checks)  # kept, or random == original
    # selection is position-independent: first and second half of the eligible positions
    half = x.shape[1] // 2
    for part in (slice(0, half), slice(half, None)):
        assert _in_binomial_interval(int(sel[:, part].sum()), int(eligible[:, part].sum()), 0.3, n_checks)


def test_masking_structure():
    x = _batch(np.random.default_rng(2), B=50)
    mb = mask_tokens(x, LAY, np.random.default_rng(3))
    eligible = x < 3
    assert not (mb.selected & ~eligible).any()  # BOS and PAD never selected
    assert np.array_equal(mb.inputs[~mb.selected], x[~mb.selected])  # unselected inputs untouched
    assert np.array_equal(mb.targets[mb.selected], x[mb.selected]) and (mb.targets[~mb.selected] == IGNORE).all()
    assert set(np.unique(mb.inputs[mb.selected])) <= {0, 1, 2, LAY.mask}
    again = mask_tokens(x, LAY, np.random.default_rng(3))  # reproducible from the seed
    assert np.array_equal(again.inputs, mb.inputs) and np.array_equal(again.selected, mb.selected)
    assert mb.inputs.dtype == np.int64 and mb.targets.dtype == np.int64


def test_masking_extreme_configs():
    x = _batch(np.random.default_rng(4), B=20)
    all_masked = mask_tokens(x, LAY, np.random.default_rng(0), MaskingConfig(rate=1.0, mask_frac=1.0, random_frac=0.0))
    assert np.array_equal(all_masked.inputs == LAY.mask, x < 3)
    none = mask_tokens(x, LAY, np.random.default_rng(0), MaskingConfig(rate=0.0))
    assert not none.selected.any() and np.array_equal(none.inputs, x)


def test_masking_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="MaskingConfig.rate"):
        MaskingConfig(rate=1.5)
    with pytest.raises(ValueError, match="mask_frac \\+ random_frac"):
        MaskingConfig(mask_frac=0.8, random_frac=0.3)
    with pytest.raises(ValueError, match="2-D integer"):
        mask_tokens(np.zeros(5, dtype=int), LAY, rng)
    with pytest.raises(ValueError, match="got 6 at \\[0, 1\\]"):
        mask_tokens(np.array([[3, 6]]), LAY, rng)  # MASK in the input
    with pytest.raises(TypeError, match="Generator"):
        mask_tokens(np.array([[3, 0]]), LAY, 0)


def test_bayes_mlm_posterior_is_calibrated_on_sampled_cfg3b_strings():
    """For the exact posterior q_p of the original token given the corrupted input,
    E[q_p(w_p)] = E[sum_a q_p(a)^2] (w_p ~ q_p given the input). Per string, d = sum over its
    selected positions of q_p(w_p) - ||q_p||^2 has mean 0; strings are independent, so the
    mean of d over m strings is within z * sd / sqrt(m) (CLT; z for a two-sided 1e-6)."""
    from statistics import NormalDist

    from sims.pcfg import Grammar, bayes_mlm_distribution

    g = Grammar.builtin("cfg3b").with_start("16")
    rng = np.random.default_rng(11)
    cfg = MaskingConfig()
    d, n_sel = [], 0
    for w in g.sample(300, rng, labels=False).tokens:
        mb = mask_tokens(g.layout.batch([w], bos=False), g.layout, rng, cfg)
        sel = mb.selected[0]
        q = bayes_mlm_distribution(g, mb.inputs[0], cfg)[sel]
        d.append(float((q[np.arange(sel.sum()), w[sel]] - (q ** 2).sum(axis=1)).sum()))
        n_sel += int(sel.sum())
    d = np.array(d)
    z = NormalDist().inv_cdf(1 - 1e-6 / 2)
    assert n_sel > 3000 and d.std() > 0
    assert abs(d.mean()) <= z * d.std(ddof=1) / np.sqrt(len(d))


def test_bayes_mlm_reference_known_answers():
    """Tokens i.i.d. a (0.3) / b (0.7) given the length: with every position masked the posterior
    is the prior, so the loss is the mean of -log 0.3 / -log 0.7 over the targets; a grammar with
    one string is predicted perfectly however it is corrupted."""
    from sims.pcfg import Grammar, bayes_mlm_reference

    iid = Grammar.parse("S -> X S [0.6]\nS -> X\nX -> a [0.3]\nX -> b\n")
    s = iid.sample(50, np.random.default_rng(0), labels=False)
    x = iid.layout.batch(s.tokens)
    cfg = MaskingConfig(rate=1.0, mask_frac=1.0, random_frac=0.0)
    mb = mask_tokens(x, iid.layout, np.random.default_rng(1), cfg)
    ref = bayes_mlm_reference(iid, mb, cfg)
    tgt = mb.targets[mb.selected]
    assert ref.count == int(s.lengths.sum()) == len(tgt)
    assert np.isclose(ref.loss, np.where(tgt == 0, -np.log(0.3), -np.log(0.7)).mean(), rtol=0, atol=1e-12)
    assert np.isclose(ref.accuracy, (tgt == 1).mean())  # argmax is always b
    one = Grammar.parse("S -> a b a\n")
    mb = mask_tokens(one.layout.batch([np.array([0, 1, 0])] * 40), one.layout, np.random.default_rng(2))
    ref = bayes_mlm_reference(one, mb)
    assert ref.loss == 0.0 and ref.accuracy == 1.0 and ref.count == int(mb.selected.sum()) > 0
    with pytest.raises(TypeError, match="MaskedBatch"):
        bayes_mlm_reference(one, mb.inputs)
