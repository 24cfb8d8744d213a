"""Grammar text format, builtins, the leveled generator, and sampling (frequencies, lengths, tree labels)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom

from sims.pcfg import BUILTINS, Grammar, TokenLayout
from sims.pcfg.sampling import sample_python
from sims.pcfg.inside import enumerate_strings, length_distribution
from sims.pcfg.strategies import grammars

DELTA = 1e-6  # false-alarm rate of every statistical test in this file (union bound over its checks)


def binom_interval(n: int, p: float, n_checks: int) -> tuple[int, int]:
    """Two-sided interval holding Binomial(n, p) with probability >= 1 - DELTA / n_checks."""
    a = DELTA / (2 * n_checks)
    return int(binom.ppf(a, n, p)), int(binom.isf(a, n, p))


# --------------------------------------------------------------------------- parsing
def test_parse_probabilities_labels_and_equal_shares():
    g = Grammar.parse("""
        # a comment
        S -> A b [0.5]   # trailing comment
        S -> b
        S -> A A
        A -> a
    """)
    assert g.start == "S" and g.nonterminals == ("S", "A") and g.terminals == ("a", "b")
    probs = {(r.lhs, r.rhs): r.prob for r in g.rules}
    assert probs[("S", ("A", "b"))] == 0.5
    assert probs[("S", ("b",))] == pytest.approx(0.25) and probs[("S", ("A", "A"))] == pytest.approx(0.25)
    assert probs[("A", ("a",))] == 1.0
    assert Grammar.parse(g.to_text()) == g


@pytest.mark.parametrize("text, match", [
    ("", "no rules"),
    ("# only a comment\n\n", "no rules"),
    ("S -> a\nS b\n", "line 2.*expected one rule"),
    ("S -> a -> b\n", "line 1.*expected one rule"),
    ("S -> a [0]\n", "line 1.*in \\(0, 1\\]"),
    ("S -> a [1.5]\n", "line 1.*in \\(0, 1\\]"),
    ("S -> a [-0.2]\nS -> b\n", "line 1.*in \\(0, 1\\]"),
    ("S -> a [x]\n", "line 1.*must be a number"),
    ("S -> a [0.5]\nS -> b [0.4]\n", "lines 1, 2.*sum to 1; got 0.9"),
    ("S -> a [0.7]\nS -> b [0.3]\nS -> c\n", "lines 1, 2, 3.*leaving nothing"),
    ("S A -> a\n", "line 1.*exactly one symbol"),
    ("S ->\n", "line 1.*right side is empty"),
    ("S -> a\nS -> a\n", "line 2.*duplicate rule.*line 1"),
    ("S -> a\nS -> B\nB -> B c\n", "line 3.*'B' derives no terminal string"),
    ("S -> A\nA -> S\nS -> a [0.5]\nA -> a\n", "line 2.*unary rules form a cycle \\(S -> A -> S\\)"),
    ("S -> A [0.5]\nS -> a\nA -> B\nB -> A [0.5]\nB -> b\n", "line [34].*unary rules form a cycle"),
    ("S -> S S [0.6]\nS -> a\n", "expected string length is infinite"),
    ("S -> a#b\n", None),
])
def test_parse_errors_name_the_line(text, match):
    if match is None:  # '#' starts a comment: 'S -> a' is valid
        assert Grammar.parse(text).terminals == ("a",)
        return
    with pytest.raises(ValueError, match=match):
        Grammar.parse(text)


def test_parse_rejects_non_text_and_bad_terminal_order():
    with pytest.raises(TypeError, match="str"):
        Grammar.parse(b"S -> a")
    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        Grammar.parse("S -> a b", terminals=["a"])
    with pytest.raises(ValueError, match="start must be a non-terminal"):
        Grammar.parse("S -> a", start="T")


def test_terminal_ids_numeric_order_and_explicit_order():
    assert Grammar.parse("S -> 10 9 2").terminals == ("2", "9", "10")
    assert Grammar.parse("S -> x y", terminals=["y", "x"]).terminals == ("y", "x")


# --------------------------------------------------------------------------- builtins
@pytest.mark.parametrize("name, n_rules", [("cfg3b", 31), ("cfg3f", 54)])
def test_builtins_match_the_cfg3_rules(name, n_rules):
    g = Grammar.builtin(name)
    assert g.terminals == ("1", "2", "3") and g.start == "22"
    assert len(g.rules) == n_rules
    assert g.depth == 6  # 22 -> {19..21} -> {16..18} -> {13..15} -> {10..12} -> {7..9} -> terminals
    levels = [{"22"}, {"19", "20", "21"}, {"16", "17", "18"}, {"13", "14", "15"}, {"10", "11", "12"},
              {"7", "8", "9"}, {"1", "2", "3"}]
    for r in g.rules:
        lvl = next(i for i, s in enumerate(levels) if r.lhs in s)
        assert set(r.rhs) <= levels[lvl + 1] and 2 <= len(r.rhs) <= 3
        n_alt = sum(1 for q in g.rules if q.lhs == r.lhs)
        assert r.prob == pytest.approx(1.0 / n_alt)  # the official convention: equally likely
    assert g.layout == TokenLayout(3) and (g.layout.bos, g.layout.mask, g.layout.vocab_size) == (3, 6, 7)


def test_cfg3b_spot_rules():
    g = Grammar.builtin("cfg3b")
    rhs = {r.lhs: set() for r in g.rules}
    for r in g.rules:
        rhs[r.lhs].add(r.rhs)
    assert rhs["22"] == {("21", "20"), ("20", "19")}
    assert rhs["12"] == {("8", "9", "7"), ("9", "7", "8")}
    assert rhs["9"] == {("3", "2", "1")}
    assert rhs["7"] == {("3", "1"), ("1", "2", "3")}
    with pytest.raises(ValueError, match="unknown builtin"):
        Grammar.builtin("cfg3z")
    assert set(BUILTINS) == {"cfg3b", "cfg3f"}


def test_with_start_gives_shorter_strings_and_keeps_terminal_ids():
    g = Grammar.builtin("cfg3b")
    h = g.with_start("16")
    assert h.start == "16" and h.terminals == g.terminals and h.depth == 4
    assert all(r.lhs in {"16", "15", "14", "13", "12", "11", "10", "9", "8", "7"} for r in h.rules)
    lengths = h.sample(200, np.random.default_rng(0), labels=False).lengths
    assert lengths.min() >= 2 ** 4 and lengths.max() <= 3 ** 4  # RHS lengths 2..3 over 4 levels
    with pytest.raises(ValueError, match="must be a non-terminal"):
        g.with_start("1")


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_random_leveled_structure(levels, spl, n_terminals, seed):
    g = Grammar.random_leveled(np.random.default_rng(seed), levels=levels, symbols_per_level=spl,
                               n_terminals=n_terminals, rules_per_symbol=(1, 2), rhs_lengths=(2, 3))
    assert g.depth == levels + 1 and len(g.terminals) == n_terminals
    assert len(g.nonterminals) == 1 + levels * spl
    lengths = g.sample(50, np.random.default_rng(seed), labels=False).lengths
    assert lengths.min() >= 2 ** (levels + 1) and lengths.max() <= 3 ** (levels + 1)
    again = Grammar.random_leveled(np.random.default_rng(seed), levels=levels, symbols_per_level=spl,
                                   n_terminals=n_terminals, rules_per_symbol=(1, 2), rhs_lengths=(2, 3))
    assert again == g


def test_random_leveled_start_level():
    kw = dict(levels=3, symbols_per_level=2, n_terminals=2, rules_per_symbol=2, rhs_lengths=(2, 3))
    full = Grammar.random_leveled(np.random.default_rng(5), **kw)
    low = Grammar.random_leveled(np.random.default_rng(5), start_level=2, **kw)
    assert low.depth == 2 and low == full.with_start(low.start)
    assert low.start == "5"  # terminals 1-2, then levels from the bottom: 3-4, 5-6 (level 2), 7-8, start 9
    with pytest.raises(ValueError, match="start_level"):
        Grammar.random_leveled(np.random.default_rng(5), start_level=4, **kw)


def test_random_leveled_errors():
    with pytest.raises(ValueError, match="rules_per_symbol"):
        Grammar.random_leveled(np.random.default_rng(0), symbols_per_level=1, n_terminals=1,
                               rules_per_symbol=5, rhs_lengths=2)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        Grammar.random_leveled(0)
    with pytest.raises(ValueError, match="rhs_lengths"):
        Grammar.random_leveled(np.random.default_rng(0), rhs_lengths=(3, 2))


# --------------------------------------------------------------------------- sampling
@given(grammars(), st.integers(0, 2**32 - 1), st.booleans())
@settings(max_examples=60, deadline=None)
def test_numba_sampler_equals_python_twin(g, seed, labels):
    a = g.sample(30, np.random.default_rng(seed), labels=labels, max_length=10_000)
    b = sample_python(g, 30, np.random.default_rng(seed), labels=labels, max_length=10_000)
    assert np.array_equal(a.flat, b.flat) and np.array_equal(a.offsets, b.offsets)
    if labels:
        assert np.array_equal(a.flat_ancestors, b.flat_ancestors)
        assert np.array_equal(a.flat_span_ends, b.flat_span_ends)


def test_sampler_twins_agree_on_cfg3f_and_consume_the_generator_alike():
    g = Grammar.builtin("cfg3f")
    ra, rb = np.random.default_rng(7), np.random.default_rng(7)
    a, b = g.sample(40, ra), sample_python(g, 40, rb)
    assert np.array_equal(a.flat, b.flat) and np.array_equal(a.flat_ancestors, b.flat_ancestors)
    assert np.array_equal(a.flat_span_ends, b.flat_span_ends)
    assert ra.random() == rb.random()  # the same number of draws


def test_string_frequencies_match_exact_probabilities():
    """Each string's count ~ Binomial(m, P(w)) (P from enumeration); union bound over all strings."""
    g = Grammar.parse("S -> A B [0.6]\nS -> B\nA -> a [0.3]\nA -> b a\nB -> b\nB -> a A [0.25]\n")
    exact = enumerate_strings(g, 10)
    assert math.isclose(sum(exact.values()), 1.0, rel_tol=1e-12)  # finite language
    m = 200_000
    s = g.sample(m, np.random.default_rng(1), labels=False)
    counts: dict[tuple, int] = {}
    for t in s.tokens:
        counts[tuple(t.tolist())] = counts.get(tuple(t.tolist()), 0) + 1
    assert set(counts) <= set(exact)
    for w, p in exact.items():
        lo, hi = binom_interval(m, p, len(exact))
        assert lo <= counts.get(w, 0) <= hi, (w, counts.get(w, 0), m * p)


def test_cfg3b_root_rule_frequency_and_length_distribution():
    g = Grammar.builtin("cfg3b")
    m = 20_000
    s = g.sample(m, np.random.default_rng(2))
    first_child = np.array([a[0, 1] for a in s.ancestors])  # depth-1 ancestor of the first token
    n21 = int((first_child == g.nonterminal_id("21")).sum())  # 22 -> 21 20 has probability 1/2
    lo, hi = binom_interval(m, 0.5, 2)
    assert lo <= n21 <= hi and set(first_child.tolist()) <= {g.nonterminal_id("21"), g.nonterminal_id("20")}
    # mean length: CLT with the exact variance from the exact length distribution
    dist = length_distribution(g, 3 ** 6)
    n = np.arange(len(dist))
    mean, var = float(dist @ n), float(dist @ n ** 2) - float(dist @ n) ** 2
    assert math.isclose(dist.sum(), 1.0, rel_tol=1e-9) and math.isclose(mean, g.expected_length, rel_tol=1e-9)
    z = 5.45  # two-sided normal quantile for 5e-8 per check
    assert abs(s.lengths.mean() - mean) <= z * math.sqrt(var / m)


def test_length_frequencies_of_a_recursive_grammar():
    g = Grammar.parse("S -> a S [0.4]\nS -> b\nS -> S c [0.2]\n")
    dist = length_distribution(g, 12)
    m = 100_000
    lengths = g.sample(m, np.random.default_rng(3), labels=False).lengths
    for n in range(1, 13):
        lo, hi = binom_interval(m, float(dist[n]), 12)
        assert lo <= int((lengths == n).sum()) <= hi, n


def test_tree_labels_are_consistent_with_the_strings():
    """Level 0 is the start symbol; consecutive ancestors are parent/child in some rule; the
    segments cut by the span ends at each depth are strings their ancestor derives (inside > 0)."""
    g = Grammar.builtin("cfg3b")
    s = g.sample(5, np.random.default_rng(4))
    children = {}
    for r in g.rules:
        children.setdefault(g.nonterminal_id(r.lhs), set()).update(r.rhs)
    n_checked = 0
    for toks, anc, ends in zip(s.tokens, s.ancestors, s.span_ends):
        assert (anc[:, 0] == 0).all() and (anc >= 0).all()  # leveled: every token has all 6 ancestors
        assert ends[-1].all() and ends[:, 0].sum() == 1
        for t in range(len(toks)):
            for d in range(5):
                assert g.nonterminals[anc[t, d + 1]] in children[anc[t, d]]
            assert g.terminals[toks[t]] in children[anc[t, 5]]
        for d in range(6):
            start = 0
            for t in np.flatnonzero(ends[:, d]):
                seg = slice(start, t + 1)
                assert (anc[seg, d] == anc[t, d]).all()
                sub = g.with_start(g.nonterminals[anc[t, d]])
                assert np.isfinite(sub.log_prob(toks[seg].astype(np.int64)))
                n_checked += 1
                start = t + 1
            assert start == len(toks)
    assert n_checked > 100


def test_recursive_grammar_labels_and_max_length():
    g = Grammar.parse("S -> a S [0.5]\nS -> b\n")
    s = g.sample(200, np.random.default_rng(5))
    for toks, anc in zip(s.tokens, s.ancestors):
        assert len(toks) == (anc >= 0).sum(axis=1).max()  # a^k b: the b sits below k + 1 S nodes
        assert (anc[:, 0] == 0).all()
    assert s.flat_ancestors.shape[1] == s.lengths.max()
    with pytest.raises(ValueError, match="max_length=3"):
        g.sample(1000, np.random.default_rng(5), max_length=3)


def test_sample_arguments_and_unlabelled_access():
    g = Grammar.builtin("cfg3b")
    s = g.sample(3, np.random.default_rng(0), labels=False)
    assert len(s) == 3 and [len(t) for t in s.tokens] == s.lengths.tolist()
    with pytest.raises(ValueError, match="labels=True"):
        s.ancestors
    with pytest.raises(TypeError, match="Generator"):
        g.sample(3, 0)
    with pytest.raises(ValueError, match="m must be an int >= 0"):
        g.sample(-1, np.random.default_rng(0))
    assert len(g.sample(0, np.random.default_rng(0))) == 0


def test_layout_batch():
    lay = TokenLayout(3)
    out = lay.batch([np.array([0, 1]), np.array([2])], eos=True)
    assert out.tolist() == [[3, 0, 1, 4], [3, 2, 4, 5]]
    assert lay.batch([np.array([0, 1, 2])], length=2).tolist() == [[3, 0]]
    with pytest.raises(ValueError, match="terminal ids in \\[0, 3\\)"):
        lay.batch([np.array([0, 3])])


def _rules_used(g, sample):
    """Rebuild every expansion A -> rhs from the tree labels alone: within the span of a depth-d
    node, a token at depth d + 1 is a terminal child, any other token starts or continues the
    child node anc[., d + 1], which ends where span_ends[., d + 1] is set."""
    used = []
    for toks, anc, ends in zip(sample.tokens, sample.ancestors, sample.span_ends):
        toks, anc, ends = toks.tolist(), anc.tolist(), ends.tolist()
        depth = [sum(a >= 0 for a in row) for row in anc]
        D = len(anc[0])
        for d in range(D):
            rhs, lhs = [], None
            open_child = False
            for t in range(len(toks)):
                if depth[t] <= d:
                    continue  # not under a depth-d node
                lhs = anc[t][d]
                if depth[t] == d + 1:
                    rhs.append(g.terminals[toks[t]])
                elif not open_child:
                    rhs.append(g.nonterminals[anc[t][d + 1]])
                    open_child = True
                if depth[t] > d + 1 and ends[t][d + 1]:
                    open_child = False
                if ends[t][d]:
                    used.append((g.nonterminals[lhs], tuple(rhs)))
                    rhs = []
    return used


def test_rule_frequencies_rebuilt_from_tree_labels_match_the_grammar():
    """cfg3b: given n_A expansions of A, the count of each rule of A is Binomial(n_A, 1/alternatives)
    (a leveled grammar: A's own choices do not change how often A occurs)."""
    g = Grammar.builtin("cfg3b")
    used = _rules_used(g, g.sample(400, np.random.default_rng(6)))
    rules = {(r.lhs, r.rhs): r.prob for r in g.rules}
    assert set(used) <= set(rules)  # every rebuilt expansion is a rule of its symbol
    counts: dict = {}
    for u in used:
        counts[u] = counts.get(u, 0) + 1
    n_lhs: dict = {}
    for (lhs, _), c in counts.items():
        n_lhs[lhs] = n_lhs.get(lhs, 0) + c
    assert n_lhs["22"] == 400
    for (lhs, rhs), p in rules.items():
        if p < 1.0:
            lo, hi = binom_interval(n_lhs[lhs], p, len(rules))
            assert lo <= counts.get((lhs, rhs), 0) <= hi, (lhs, rhs, counts.get((lhs, rhs), 0), n_lhs[lhs])


def test_tree_labels_of_a_grammar_with_unary_rules_and_recursion_rebuild_its_rules():
    g = Grammar.parse("S -> A B [0.5]\nS -> B\nS -> a S b [0.2]\nA -> a [0.6]\nA -> a A\n"
                      "B -> b\nB -> A b\nB -> A [0.1]\n")
    used = _rules_used(g, g.sample(300, np.random.default_rng(7)))
    rules = {(r.lhs, r.rhs) for r in g.rules}
    assert set(used) <= rules and len(set(used)) == len(rules)  # all 8 rules seen, nothing else
