"""Exact inference on a PCFG: string probabilities and masked-token distributions (inside–outside).

* :func:`log_prob` — log P(w), the inside algorithm (−inf when w is not derivable);
* :func:`masked_distribution` — for every position p, P(w_p = a | the observed tokens other than p),
  with any set of positions masked (MASK token or ``masked=``): the Bayes-optimal prediction of
  a masked language model on whole strings (docs/paper.md §5);
* :func:`evidence_log_grad` — the general form: log Z(leaf) and log dZ/dleaf for leaf weights;
* :func:`enumerate_strings` — brute-force enumeration of derivations (small grammars; tests).

All three inference functions cost O(L^3 R) for L tokens and R binarized rules (one inside and
one outside pass, Numba). Conditionals are ratios of one outside pass, so all L positions come
at the cost of one string.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ._inside_kernels import inside_scaled, leaf_log_grad, outside_scaled

__all__ = ["NormalForm", "normal_form", "window_normal_form", "check_string", "leaf_weights", "log_prob", "evidence_log_grad",
           "masked_distribution", "enumerate_strings", "length_distribution"]


@dataclass(frozen=True)
class NormalForm:
    """The grammar binarized for the inside algorithm (see :mod:`sims.pcfg._inside_kernels`).

    Symbols 0..N-1 are the grammar's non-terminals (0 = start), N..N+V-1 one pre-terminal per
    terminal (T_a -> a with probability 1), then the intermediate symbols of right sides longer
    than 2 (X -> Y1 Y2 Y3 becomes X -> Y1 X', X' -> Y2 Y3 with probability 1).
    """

    n_symbols: int
    start: int
    lex: np.ndarray
    b_lhs: np.ndarray
    b_left: np.ndarray
    b_right: np.ndarray
    b_p: np.ndarray
    u_lhs: np.ndarray
    u_child: np.ndarray
    u_p: np.ndarray

    @property
    def binary(self):
        return self.b_lhs, self.b_left, self.b_right, self.b_p

    @property
    def unary(self):
        return self.u_lhs, self.u_child, self.u_p


def normal_form(grammar) -> NormalForm:
    """Binarize ``grammar`` (cached per grammar object)."""
    return _normal_form_cached(grammar)


@lru_cache(maxsize=32)
def _normal_form_cached(grammar) -> NormalForm:
    N, V = len(grammar.nonterminals), len(grammar.terminals)
    nt, tid = grammar.nonterminal_id, grammar.terminal_id
    K = N + V
    lex_rows: list[tuple[int, int, float]] = [(N + a, a, 1.0) for a in range(V)]
    binary: list[tuple[int, int, int, float]] = []
    unary: dict[int, list[tuple[int, float]]] = {}

    def code(s: str) -> int:
        return nt(s) if s in grammar._nt_id else N + tid(s)

    for r in grammar.rules:
        x = nt(r.lhs)
        if len(r.rhs) == 1:
            s = r.rhs[0]
            if s in grammar._nt_id:
                unary.setdefault(x, []).append((nt(s), r.prob))
            else:
                lex_rows.append((x, tid(s), r.prob))
            continue
        syms = [code(s) for s in r.rhs]
        lhs, p = x, r.prob
        while len(syms) > 2:
            binary.append((lhs, syms[0], K, p))
            lhs, p, syms = K, 1.0, syms[1:]
            K += 1
        binary.append((lhs, syms[0], syms[1], p))
    lex = np.zeros((K, V))
    for x, a, p in lex_rows:
        lex[x, a] += p
    u_rows = [(x, y, p) for x in grammar._unary_order for (y, p) in unary.get(x, [])]
    b = np.array(binary, dtype=np.float64).reshape(-1, 4)
    u = np.array(u_rows, dtype=np.float64).reshape(-1, 3)
    return NormalForm(K, 0, lex, b[:, 0].astype(np.int64), b[:, 1].astype(np.int64), b[:, 2].astype(np.int64),
                      b[:, 3].copy(), u[:, 0].astype(np.int64), u[:, 1].astype(np.int64), u[:, 2].copy())


def check_string(grammar, tokens, name: str = "tokens") -> tuple[np.ndarray, np.ndarray]:
    """Validate one string of terminal ids or MASK; returns (int array, bool MASK positions)."""
    V = len(grammar.terminals)
    t = np.asarray(tokens)
    if t.ndim != 1 or not (np.issubdtype(t.dtype, np.integer) or t.size == 0):
        raise ValueError(f"{name} must be a 1-D integer array of terminal ids; got dtype {t.dtype}, shape {t.shape}.")
    t = t.astype(np.int64, copy=False)
    is_mask = t == grammar.layout.mask
    bad = ~is_mask & ((t < 0) | (t >= V))
    if bad.any():
        p = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must hold terminal ids in [0, {V}) or MASK={grammar.layout.mask}; "
                         f"got {int(t[p])} at position {p}.")
    return t, is_mask


def leaf_weights(grammar, tokens, masked=None) -> np.ndarray:
    """(L, V) float64 evidence: one-hot rows for observed terminal ids, ones for masked positions.

    ``tokens``: 1-D ints, terminal ids in [0, V) or the layout's MASK id (masked);
    ``masked``: optional bool (L,), further positions to treat as masked.
    """
    V = len(grammar.terminals)
    t, is_mask = check_string(grammar, tokens)
    if masked is not None:
        masked = np.asarray(masked)
        if masked.shape != t.shape or masked.dtype != bool:
            raise ValueError(f"masked must be a bool array shaped like tokens {t.shape}; got {masked.dtype} {masked.shape}.")
        is_mask = is_mask | masked
    leaf = np.zeros((len(t), V))
    obs = np.flatnonzero(~is_mask)
    leaf[obs, t[obs]] = 1.0
    leaf[is_mask] = 1.0
    return leaf


def _check_leaf(grammar, leaf) -> np.ndarray:
    leaf = np.ascontiguousarray(leaf, dtype=np.float64)
    V = len(grammar.terminals)
    if leaf.ndim != 2 or leaf.shape[1] != V:
        raise ValueError(f"leaf must be a (L, V={V}) array of weights; got shape {leaf.shape}.")
    if not np.all(np.isfinite(leaf)) or (leaf < 0).any():
        raise ValueError("leaf weights must be finite and >= 0.")
    return leaf


def window_normal_form(grammar) -> NormalForm:
    """The prefix grammar of ``normal_form(grammar)``: its inside value on w_0..w_{L-1} is the
    prefix probability pp(w) = sum_u P(w u) (u any continuation, also empty).

    Symbols X (complete, as before) and X' = K + X ("X derives the rest of the window, then
    anything"). For every rule X -> Y Z (p): X' -> Y Z' (p) and X' -> Y' (p) (Z lies after the
    window; its total probability is 1 in a consistent grammar); X -> Y (p): X' -> Y' (p);
    X -> a (p): X' -> a (p). Start: the start symbol's primed copy. Primed symbols only ever
    span a suffix of the window. Needs an acyclic left-corner relation (no left recursion).
    """
    return _window_normal_form_cached(grammar)


@lru_cache(maxsize=32)
def _window_normal_form_cached(grammar) -> NormalForm:
    nf = normal_form(grammar)
    K = nf.n_symbols
    lex = np.vstack([nf.lex, nf.lex])
    b = [(x, y, z, p) for x, y, z, p in zip(nf.b_lhs, nf.b_left, nf.b_right, nf.b_p)]
    b += [(K + x, y, K + z, p) for x, y, z, p in zip(nf.b_lhs, nf.b_left, nf.b_right, nf.b_p)]
    unary: dict[tuple[int, int], float] = {}
    for x, y, p in zip(nf.u_lhs, nf.u_child, nf.u_p):
        unary[x, y] = unary.get((x, y), 0.0) + p
        unary[K + x, K + y] = unary.get((K + x, K + y), 0.0) + p
    for x, y, p in zip(nf.b_lhs, nf.b_left, nf.b_p):
        unary[K + x, K + y] = unary.get((K + x, K + y), 0.0) + p
    # topological order: children before parents
    children: dict[int, list[int]] = {}
    for (x, y) in unary:
        children.setdefault(x, []).append(y)
    order: list[int] = []
    state = [0] * (2 * K)

    def visit(x: int):
        stack = [(x, iter(children.get(x, ())))]
        state[x] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                order.append(node)
                stack.pop()
            elif state[nxt] == 1:
                raise ValueError(f"window (prefix) inference needs a grammar without left recursion; {grammar!r} "
                                 f"has a left-corner cycle through its symbol {nxt % K} (binarized id).")
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(children.get(nxt, ()))))

    for x in range(2 * K):
        if state[x] == 0:
            visit(x)
    rank = {x: i for i, x in enumerate(order)}
    u_rows = sorted(((x, y, p) for (x, y), p in unary.items()), key=lambda r: rank[r[0]])
    bb = np.array(b, dtype=np.float64).reshape(-1, 4)
    u = np.array(u_rows, dtype=np.float64).reshape(-1, 3)
    return NormalForm(2 * K, K + nf.start, lex, bb[:, 0].astype(np.int64), bb[:, 1].astype(np.int64),
                      bb[:, 2].astype(np.int64), bb[:, 3].copy(), u[:, 0].astype(np.int64),
                      u[:, 1].astype(np.int64), u[:, 2].copy())


def _inside(grammar, leaf, window: bool = False):
    nf = window_normal_form(grammar) if window else normal_form(grammar)
    mant, lsc = inside_scaled(leaf, nf.lex, *nf.binary, *nf.unary)
    return nf, mant, lsc


def _log_z(nf, mant, lsc, L) -> float:
    if L == 0:
        return -np.inf
    v = mant[0, L, nf.start]
    return float(lsc[0, L] + np.log(v)) if v > 0 else -np.inf


def log_prob(grammar, tokens, *, window: bool = False):
    """log P(w) = log beta[0, L, start] (−inf when w is not derivable, and for the empty string).

    ``tokens``: one 1-D int array (returns a float) or a list of them (returns float64 (m,)).
    MASK entries are summed over (the probability of the observed part at these positions).
    ``window=True``: w is the start of a string (a window of its first L terminals): returns the
    prefix probability log sum_u P(w u) instead (see :func:`window_normal_form`).
    """
    if isinstance(tokens, (list, tuple)) and (len(tokens) == 0 or np.ndim(tokens[0]) == 1):
        return np.array([log_prob(grammar, t, window=window) for t in tokens], dtype=np.float64)
    leaf = leaf_weights(grammar, tokens)
    nf, mant, lsc = _inside(grammar, leaf, window)
    return _log_z(nf, mant, lsc, len(leaf))


def evidence_log_grad(grammar, leaf, *, window: bool = False) -> tuple[float, np.ndarray]:
    """(log Z, G) with Z = sum over strings of length L of P(w) prod_p leaf[p, w_p] and
    G[p, a] = log dZ/dleaf[p, a] = log of Z with row p replaced by the indicator of a. Shapes: leaf (L, V), G (L, V).
    ``window=True``: the sum runs over strings that start with L tokens weighted by ``leaf``."""
    leaf = _check_leaf(grammar, leaf)
    nf, mant, lsc = _inside(grammar, leaf, window)
    L = len(leaf)
    if L == 0:
        return -np.inf, np.zeros((0, leaf.shape[1]))
    amant, alsc = outside_scaled(mant, lsc, nf.start, *nf.binary, *nf.unary)
    return _log_z(nf, mant, lsc, L), leaf_log_grad(amant, alsc, nf.lex)


def _normalize_rows(log_w: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        mx = log_w.max(axis=1, keepdims=True)
        w = np.exp(log_w - mx)
        return w / w.sum(axis=1, keepdims=True)  # NaN rows where every entry is -inf


def masked_distribution(grammar, tokens, masked=None, *, window: bool = False) -> np.ndarray:
    """(L, V) float64: row p = P(w_p = a | w_q for every observed q != p), strings of length L.

    Observed = not MASK and not in ``masked``. With nothing masked this is the distribution of
    one masked token given the rest, for every position at once. A row is NaN where the observed
    tokens other than p are impossible together (probability 0 for every a).
    ``window=True``: ``tokens`` are the first L terminals of a string of unknown length >= L (a
    model input cut to a window); the conditionals then sum over every continuation.
    """
    leaf = leaf_weights(grammar, tokens, masked)
    _, G = evidence_log_grad(grammar, leaf, window=window)
    return _normalize_rows(G)


# ----------------------------------------------------------------------------------------------
# exact references (small grammars)
# ----------------------------------------------------------------------------------------------
def enumerate_strings(grammar, max_length: int, *, max_derivations: int = 2_000_000) -> dict[tuple[int, ...], float]:
    """{terminal-id tuple: P(w)} for every string of length <= max_length, by expanding the
    leftmost non-terminal of every sentential form (no rule has an empty right side, so a form
    longer than max_length never shrinks back). Brute force: for tests on small grammars."""
    nt, tid = grammar._nt_id, grammar._t_id
    by_lhs: dict[str, list] = {}
    for r in grammar.rules:
        by_lhs.setdefault(r.lhs, []).append(r)
    out: dict[tuple[int, ...], float] = {}
    stack: list[tuple[tuple[str, ...], float]] = [((grammar.start,), 1.0)]
    count = 0
    while stack:
        form, p = stack.pop()
        count += 1
        if count > max_derivations:
            raise ValueError(f"enumerate_strings: more than max_derivations={max_derivations} sentential forms; "
                             f"use a smaller grammar or max_length.")
        idx = next((i for i, s in enumerate(form) if s in nt), None)
        if idx is None:
            key = tuple(tid[s] for s in form)
            out[key] = out.get(key, 0.0) + p
            continue
        for r in by_lhs[form[idx]]:
            new = form[:idx] + r.rhs + form[idx + 1:]
            if len(new) <= max_length:
                stack.append((new, p * r.prob))
    return out


def length_distribution(grammar, max_length: int) -> np.ndarray:
    """P(|w| = n) for n = 0..max_length, by convolving the children's length distributions
    (independent of the inside algorithm; unary rules resolved in the grammar's unary order)."""
    N = len(grammar.nonterminals)
    dist = np.zeros((N, max_length + 1))  # dist[A, n] = P(A derives a string of length n)
    by_lhs: dict[int, list] = {}
    for r in grammar.rules:
        by_lhs.setdefault(grammar.nonterminal_id(r.lhs), []).append(r)
    term = np.zeros(max_length + 1)
    if max_length >= 1:
        term[1] = 1.0
    # lengths grow with n: a string of length n uses children of length < n except through unary
    # rules, so fill n = 1, 2, ... and within one n follow the unary order
    for n in range(1, max_length + 1):
        for a in grammar._unary_order:
            total = 0.0
            for r in by_lhs[a]:
                parts = [term if s in grammar._t_id else dist[grammar.nonterminal_id(s)] for s in r.rhs]
                if len(parts) == 1:
                    total += r.prob * parts[0][n]
                    continue
                conv = parts[0][: n + 1].copy()
                for q in parts[1:]:
                    conv = np.convolve(conv, q[: n + 1])[: n + 1]
                total += r.prob * conv[n]
            dist[a, n] = total
    return dist[0]
