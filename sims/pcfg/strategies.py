"""Hypothesis strategies for small PCFGs (public, for property tests; needs ``hypothesis``).

:func:`grammars` draws valid grammars with unary rules, terminals inside longer right sides,
recursion and unequal probabilities: the cases the binarization and the inside algorithm must
handle. Small enough for :func:`sims.pcfg.inside.enumerate_strings` up to length ~6.
"""
from __future__ import annotations

from hypothesis import assume
from hypothesis import strategies as st

from .grammar import Grammar, Rule

__all__ = ["grammars"]


@st.composite
def grammars(draw, max_nonterminals: int = 3, max_terminals: int = 3, max_rules: int = 3, max_rhs: int = 3,
             recursive: bool = True) -> Grammar:
    """A valid :class:`Grammar`: non-terminals N0..N{n-1} (N0 the start), terminals t0..t{v-1}.

    Each non-terminal's first rule has only terminals (so every symbol is productive); unary
    rules Ni -> Nj only with j > i (no unary cycles); with ``recursive=False`` every right side
    uses only later non-terminals (a finite language). Supercritical draws are rejected.
    """
    n = draw(st.integers(1, max_nonterminals))
    v = draw(st.integers(1, max_terminals))
    nts = [f"N{i}" for i in range(n)]
    ts = [f"t{i}" for i in range(v)]
    rules: list[Rule] = []
    for i, a in enumerate(nts):
        later = nts[i + 1:]
        pool = ts + (nts if recursive else later)
        rhss = [tuple(draw(st.lists(st.sampled_from(ts), min_size=1, max_size=max_rhs)))]
        for _ in range(draw(st.integers(0, max_rules - 1))):
            if later and draw(st.booleans()):
                rhs = (draw(st.sampled_from(later)),)  # unary rule to a later symbol
            else:
                rhs = tuple(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=max(2, max_rhs))))
            if rhs not in rhss:
                rhss.append(rhs)
        weights = [draw(st.integers(1, 4)) for _ in rhss]
        total = sum(weights)
        rules += [Rule(a, rhs, w / total) for rhs, w in zip(rhss, weights)]
    try:
        g = Grammar(rules, terminals=ts)
    except ValueError:
        assume(False)
        raise AssertionError("unreachable") from None
    assume(g.spectral_radius < 0.7)
    return g
