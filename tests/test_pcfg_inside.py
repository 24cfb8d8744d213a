"""Exact inference: inside/outside kernels vs their numpy twins and vs brute-force enumeration;
masked-token and next-token distributions; the Bayes-optimal MLM posterior."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from sims.pcfg import Grammar
from sims.pcfg._inside_kernels import (inside_log_numpy, inside_scaled, leaf_log_grad, leaf_log_grad_numpy,
                                       outside_log_numpy, outside_scaled)
from sims.pcfg.inside import (enumerate_strings, evidence_log_grad, length_distribution, log_prob,
                              masked_distribution, normal_form)
from sims.pcfg.masking import MaskingConfig, bayes_mlm_distribution
from sims.pcfg.prefix import next_token_distribution, prefix_candidates_numpy, prefix_log_prob
from sims.pcfg.prefix import _candidates as prefix_candidates_numba
from sims.pcfg.strategies import grammars

MAXLEN = 6

# a grammar with everything the binarization handles: unary chains, a terminal inside a long
# right side, recursion, a single-terminal rule, unequal probabilities
MIXED = Grammar.parse("""
S -> A B [0.5]
S -> B
S -> a S b [0.2]
A -> a [0.6]
A -> a A
B -> b
B -> A b
B -> A [0.1]
""")


def _logs(mant, lsc):
    with np.errstate(divide="ignore"):
        return np.log(mant) + lsc[:, :, None]


def _same_logs(a, b, tol=1e-9):
    fin = np.isfinite(a)
    assert np.array_equal(fin, np.isfinite(b))
    assert np.allclose(a[fin], b[fin], rtol=0, atol=tol)


@given(grammars(), st.integers(0, 7), st.integers(0, 2**32 - 1), st.sampled_from(["onehot", "masked", "soft"]))
@settings(max_examples=60, deadline=None)
def test_numba_inside_outside_equal_numpy_twins(g, L, seed, kind):
    rng = np.random.default_rng(seed)
    V = len(g.terminals)
    if kind == "onehot":
        leaf = np.eye(V)[rng.integers(0, V, L)]
    elif kind == "masked":
        leaf = np.eye(V)[rng.integers(0, V, L)]
        leaf[rng.random(L) < 0.5] = 1.0
    else:
        leaf = rng.random((L, V)) * (rng.random((L, V)) < 0.8)
    leaf = np.ascontiguousarray(leaf, dtype=np.float64).reshape(L, V)
    nf = normal_form(g)
    mant, lsc = inside_scaled(leaf, nf.lex, *nf.binary, *nf.unary)
    logb = inside_log_numpy(leaf, nf.lex, *nf.binary, *nf.unary)
    _same_logs(_logs(mant, lsc), logb)
    amant, alsc = outside_scaled(mant, lsc, nf.start, *nf.binary, *nf.unary)
    loga = outside_log_numpy(logb, nf.start, *nf.binary, *nf.unary)
    if L:
        _same_logs(_logs(amant, alsc), loga)
        _same_logs(leaf_log_grad(amant, alsc, nf.lex), leaf_log_grad_numpy(loga, nf.lex))


@given(grammars())
@settings(max_examples=40, deadline=None)
def test_log_prob_equals_enumeration_and_masses_are_exact(g):
    exact = enumerate_strings(g, MAXLEN)
    for w, p in exact.items():
        assert math.isclose(math.exp(log_prob(g, np.array(w, dtype=np.int64))), p, rel_tol=1e-10)
    # every string of each length: sum of P(w) = P(|w| = n) (by convolution), and <= 1 in total
    V = len(g.terminals)
    dist = length_distribution(g, 4)
    total = 0.0
    for n in range(1, 5):
        words = np.array(list(itertools.product(range(V), repeat=n)), dtype=np.int64)
        probs = np.exp(log_prob(g, list(words)))
        assert math.isclose(probs.sum(), dist[n], rel_tol=1e-10, abs_tol=1e-300)
        for w, p in zip(words, probs):  # non-derivable strings get exactly 0
            assert (p > 0) == (tuple(w) in exact)
        # all positions masked: the inside value is the mass of the length
        z, _ = evidence_log_grad(g, np.ones((n, V)))
        assert math.isclose(math.exp(z), dist[n], rel_tol=1e-10, abs_tol=1e-300)
        total += probs.sum()
    assert total <= 1.0 + 1e-12


def test_log_prob_of_non_derivable_and_empty_strings():
    g = Grammar.builtin("cfg3b")
    assert log_prob(g, np.array([0, 0, 0, 0, 0, 0], dtype=np.int64)) == -np.inf
    assert log_prob(g, np.zeros(0, dtype=np.int64)) == -np.inf
    with pytest.raises(ValueError, match="terminal ids in \\[0, 3\\).*got 7 at position 1"):
        log_prob(g, np.array([0, 7]))


def test_log_prob_of_cfg3b_samples_is_finite_and_matches_the_string_count_bound():
    g = Grammar.builtin("cfg3b")
    s = g.sample(20, np.random.default_rng(0))
    lp = g.log_prob(s.tokens)
    assert np.all(np.isfinite(lp)) and np.all(lp < 0)
    # a cfg3b tree has at most 1 + 3 + ... + 3^5 = 364 binary choices, each of probability >= 1/2
    assert np.all(lp >= 364 * math.log(0.5))


def test_masked_distribution_equals_ratios_of_enumerated_probabilities():
    exact = enumerate_strings(MIXED, 7)
    n_checked = 0
    for w in [w for w in exact if len(w) >= 3][:40]:
        md = masked_distribution(MIXED, np.array(w, dtype=np.int64))
        for p in range(len(w)):
            ref = np.array([exact.get(w[:p] + (a,) + w[p + 1:], 0.0) for a in range(2)])
            assert np.allclose(md[p], ref / ref.sum(), rtol=0, atol=1e-12)
            n_checked += 1
    assert n_checked >= 100


@given(grammars(), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_masked_distribution_with_several_masks_equals_enumeration(g, seed):
    exact = enumerate_strings(g, 5)
    rng = np.random.default_rng(seed)
    words = [w for w in exact if len(w) >= 2]
    if not words:
        return
    w = np.array(words[rng.integers(len(words))], dtype=np.int64)
    masked = rng.random(len(w)) < 0.5
    x = np.where(masked, g.layout.mask, w)
    md = masked_distribution(g, x)
    V = len(g.terminals)
    same_len = {u: p for u, p in exact.items() if len(u) == len(w)}
    for p in range(len(w)):
        # P(w_p = a | observed q != p): sum over all strings agreeing on the observed positions
        obs = [q for q in range(len(w)) if not masked[q] and q != p]
        ref = np.zeros(V)
        for u, pu in same_len.items():
            if all(u[q] == w[q] for q in obs):
                ref[u[p]] += pu
        assert np.allclose(md[p], ref / ref.sum(), rtol=0, atol=1e-12)


def test_masked_distribution_nan_where_the_context_is_impossible():
    g = Grammar.parse("S -> a b\n")
    md = masked_distribution(g, np.array([1, 1], dtype=np.int64))  # "b b": no a can fix either position
    assert np.isnan(md[1]).all() and np.allclose(md[0], [1.0, 0.0])


@given(grammars(), st.integers(0, 6), st.integers(0, 2**32 - 1), st.booleans())
@settings(max_examples=60, deadline=None)
def test_numba_prefix_kernel_equals_numpy_twin(g, L, seed, with_masks):
    rng = np.random.default_rng(seed)
    V = len(g.terminals)
    leaf = np.eye(V)[rng.integers(0, V, L)].reshape(L, V)
    if with_masks:
        leaf[rng.random(L) < 0.4] = 1.0
    cand, _ = prefix_candidates_numba(g, leaf)
    ext = np.vstack([leaf, np.ones((1, V))])
    _same_logs(cand, prefix_candidates_numpy(g, ext))


@given(grammars(recursive=False), st.integers(0, 2**32 - 1))
@settings(max_examples=30, deadline=None)
def test_next_token_distribution_equals_enumeration_on_finite_languages(g, seed):
    exact = enumerate_strings(g, 40)  # recursive=False: the whole language (lengths <= 3^3)
    assert math.isclose(sum(exact.values()), 1.0, rel_tol=1e-9)
    words = list(exact)
    w = words[np.random.default_rng(seed).integers(len(words))]
    nt = next_token_distribution(g, np.array(w, dtype=np.int64))
    V = len(g.terminals)
    assert np.allclose(nt.sum(axis=1), 1.0)
    lpp = prefix_log_prob(g, np.array(w, dtype=np.int64))
    for t in range(len(w) + 1):
        pre = w[:t]
        pp = sum(p for u, p in exact.items() if u[:t] == pre)
        assert math.isclose(math.exp(lpp[t]), pp, rel_tol=1e-9)
        ref = [sum(p for u, p in exact.items() if u[:t + 1] == pre + (a,)) / pp for a in range(V)]
        ref.append(exact.get(pre, 0.0) / pp)
        assert np.allclose(nt[t], ref, rtol=0, atol=1e-10)


def test_next_token_distribution_of_a_recursive_grammar_is_bracketed_by_truncation():
    """Enumerating strings up to length n misses at most P(|w| > n) of any prefix's mass."""
    exact = enumerate_strings(MIXED, 9)
    tail = 1.0 - length_distribution(MIXED, 9).sum()
    assert 0 < tail < 0.05
    w = (0, 0, 1, 1)
    lpp = prefix_log_prob(MIXED, np.array(w, dtype=np.int64))
    for t in range(len(w) + 1):
        pp_trunc = sum(p for u, p in exact.items() if u[:t] == w[:t])
        assert pp_trunc - 1e-12 <= math.exp(lpp[t]) <= pp_trunc + tail + 1e-12
    nt = next_token_distribution(MIXED, np.array(w, dtype=np.int64))
    assert np.allclose(nt.sum(axis=1), 1.0)
    # the end probability is exact (a finite string), so P(end | w) = P(w) / pp(w)
    assert math.isclose(nt[4, 2], exact[w] / math.exp(lpp[4]), rel_tol=1e-10)


def test_next_token_distribution_on_cfg3b_predicts_deterministic_continuations():
    g = Grammar.builtin("cfg3b")
    w = g.sample(1, np.random.default_rng(3)).tokens[0][:30].astype(np.int64)
    nt = next_token_distribution(g, w)
    assert np.allclose(nt.sum(axis=1), 1.0)
    assert np.all(nt[np.arange(30), w] > 0)  # the observed continuation is always possible
    # 9 -> 3 2 1 is the only rule producing "3 2 1"-like fixed tails; at least some steps are certain
    assert (nt[:30].max(axis=1) > 1 - 1e-12).sum() >= 5


def test_bayes_mlm_distribution_equals_brute_force_posterior():
    """posterior_p(a) ∝ sum_w P(w) [w_p = a] P(o_p | a, selected) prod_{q != p} P(o_q | w_q)."""
    g = MIXED
    cfg = MaskingConfig(rate=0.3, mask_frac=0.8, random_frac=0.1)
    V, M = 2, g.layout.mask
    exact = {w: p for w, p in enumerate_strings(g, 4).items() if len(w) == 4}

    def channel(o, a, selected):
        sel = cfg.mask_frac * (o == M) + (o != M) * (cfg.random_frac / V + cfg.keep_frac * (o == a))
        return sel if selected else (1 - cfg.rate) * (o == a) + cfg.rate * sel

    n_checked = 0
    for o in [(M, 0, 1, 1), (0, M, M, 1), (1, 0, 1, 1), (0, 0, 0, 0)]:
        post = bayes_mlm_distribution(g, np.array(o, dtype=np.int64), cfg)
        for p in range(4):
            ref = np.zeros(V)
            for w, pw in exact.items():
                lik = channel(o[p], w[p], True) * np.prod([channel(o[q], w[q], False) for q in range(4) if q != p])
                ref[w[p]] += pw * lik
            assert np.allclose(post[p], ref / ref.sum(), rtol=0, atol=1e-12)
            n_checked += 1
    assert n_checked == 16


def test_evidence_log_grad_rejects_bad_leaf():
    with pytest.raises(ValueError, match="\\(L, V=2\\)"):
        evidence_log_grad(MIXED, np.ones((3, 3)))
    with pytest.raises(ValueError, match=">= 0"):
        evidence_log_grad(MIXED, -np.ones((3, 2)))


# --------------------------------------------------------------------------- windows (prefixes)
@given(grammars(recursive=False), st.integers(0, 2**32 - 1), st.booleans())
@settings(max_examples=40, deadline=None)
def test_window_inference_equals_enumerated_prefix_sums(g, seed, with_masks):
    """Window = the first L tokens of a string: log_prob(window=True) = log of the enumerated
    prefix mass, and masked_distribution(window=True) = ratios of enumerated prefix masses."""
    exact = enumerate_strings(g, 40)  # the whole (finite) language
    rng = np.random.default_rng(seed)
    words = list(exact)
    w = words[rng.integers(len(words))]
    L = int(rng.integers(1, len(w) + 1))
    win = np.array(w[:L], dtype=np.int64)
    masked = (rng.random(L) < 0.4) if with_masks else np.zeros(L, dtype=bool)
    x = np.where(masked, g.layout.mask, win)
    obs = ~masked
    mass = sum(p for u, p in exact.items() if len(u) >= L and all(u[q] == win[q] for q in np.flatnonzero(obs)))
    assert math.isclose(math.exp(log_prob(g, x, window=True)), mass, rel_tol=1e-9)
    if not with_masks:  # two independent algorithms for the prefix probability
        assert math.isclose(log_prob(g, x, window=True), prefix_log_prob(g, x)[-1], rel_tol=1e-9, abs_tol=1e-12)
    md = masked_distribution(g, x, window=True)
    V = len(g.terminals)
    for p in range(L):
        keep = [q for q in np.flatnonzero(obs) if q != p]
        ref = np.zeros(V)
        for u, pu in exact.items():
            if len(u) >= L and all(u[q] == win[q] for q in keep):
                ref[u[p]] += pu
        assert np.allclose(md[p], ref / ref.sum(), rtol=0, atol=1e-10)


def test_window_inference_on_a_recursive_grammar_equals_prefix_probabilities():
    s = MIXED.sample(200, np.random.default_rng(0), labels=False)
    w = next(t for t in s.tokens if len(t) >= 7)[:6].astype(np.int64)  # a possible window
    lpp = prefix_log_prob(MIXED, w)
    for t in range(1, len(w) + 1):
        assert math.isclose(log_prob(MIXED, w[:t], window=True), lpp[t], rel_tol=1e-10)
    md = masked_distribution(MIXED, w, window=True)
    for p in range(len(w)):
        ref = np.array([math.exp(prefix_log_prob(MIXED, np.where(np.arange(len(w)) == p, a, w))[-1]) for a in range(2)])
        assert np.allclose(md[p], ref / ref.sum(), rtol=0, atol=1e-12)


def test_window_inference_rejects_left_recursion():
    g = Grammar.parse("S -> S a [0.3]\nS -> b\n")
    assert math.isfinite(log_prob(g, np.array([1, 0, 0])))  # whole strings are fine
    with pytest.raises(ValueError, match="left recursion"):
        log_prob(g, np.array([1, 0]), window=True)


@pytest.mark.parametrize("start", ["22", "16"])
def test_chain_rule_ties_next_token_prefix_and_inside_on_whole_cfg3b_strings(start):
    """sum_t log P(w_t | w_<t) + log P(end | w) = log P(w) (inside), and the partial sums are the
    prefix probabilities of the prefix grammar (window=True): three algorithms, one identity."""
    g = Grammar.builtin("cfg3b").with_start(start)
    for w in g.sample(2, np.random.default_rng(8), labels=False).tokens:
        w = w.astype(np.int64)
        nt = next_token_distribution(g, w)
        steps = np.log(nt[np.arange(len(w)), w])
        assert math.isclose(steps.sum() + math.log(nt[len(w), -1]), log_prob(g, w), rel_tol=1e-9)
        for t in (1, 7, len(w) // 2, len(w)):
            assert math.isclose(steps[:t].sum(), log_prob(g, w[:t], window=True), rel_tol=1e-9, abs_tol=1e-12)


def test_first_token_frequencies_of_cfg3b_match_the_exact_next_token_distribution():
    g = Grammar.builtin("cfg3b")
    p0 = next_token_distribution(g, np.zeros(0, dtype=np.int64))[0]
    assert p0[-1] == 0.0 and math.isclose(p0.sum(), 1.0)
    m = 20_000
    first = np.array([t[0] for t in g.sample(m, np.random.default_rng(9), labels=False).tokens])
    for a in range(3):
        lo, hi = binom.ppf(1e-6 / 6, m, p0[a]), binom.isf(1e-6 / 6, m, p0[a])  # false-alarm 1e-6 over 3 checks
        assert lo <= (first == a).sum() <= hi, (a, (first == a).sum(), m * p0[a])


@pytest.mark.slow
@given(grammars(max_nonterminals=5, max_terminals=3, max_rules=4), st.integers(0, 12), st.integers(0, 2**32 - 1))
@settings(max_examples=400, deadline=None)
def test_kernels_equal_twins_on_larger_grammars_slow(g, L, seed):
    """The twin checks above on larger grammars and longer inputs (inside, outside, prefix)."""
    rng = np.random.default_rng(seed)
    V = len(g.terminals)
    leaf = np.eye(V)[rng.integers(0, V, L)].reshape(L, V)
    leaf[rng.random(L) < 0.3] = 1.0
    nf = normal_form(g)
    mant, lsc = inside_scaled(leaf, nf.lex, *nf.binary, *nf.unary)
    logb = inside_log_numpy(leaf, nf.lex, *nf.binary, *nf.unary)
    _same_logs(_logs(mant, lsc), logb, tol=1e-8)
    if L:
        amant, alsc = outside_scaled(mant, lsc, nf.start, *nf.binary, *nf.unary)
        _same_logs(leaf_log_grad(amant, alsc, nf.lex),
                   leaf_log_grad_numpy(outside_log_numpy(logb, nf.start, *nf.binary, *nf.unary), nf.lex), tol=1e-8)
    cand, _ = prefix_candidates_numba(g, leaf)
    _same_logs(cand, prefix_candidates_numpy(g, np.vstack([leaf, np.ones((1, V))])), tol=1e-8)
