"""Exact next-token distributions of a PCFG: prefix probabilities (Jelinek & Lafferty, 1991).

The prefix probability of w_0..w_{t-1} is the total probability of all strings that start with
it, pp(w_<t) = sum_u P(w_<t u). On the binarized grammar (:func:`sims.pcfg.inside.normal_form`),
with the left-corner matrix P_L[X, Y] = sum_Z P(X -> Y Z) + P(X -> Y) and Q = (I - P_L)^-1,

    pp[j-1, j, X] = (Q E leaf[j-1])[X]                                    (one token)
    pp[i, j, X]   = sum_D Q[X, D] sum_{D -> Y Z} p sum_{k=i+1}^{j-1} beta[i, k, Y] pp[k, j, Z]

where pp[i, j, X] = P(X derives a string starting with w_i..w_{j-1}), beta the inside chart and
E the lexical matrix. This needs every symbol to derive some finite string with total probability
1 (a consistent grammar; ``Grammar`` guarantees it: spectral radius < 1). Then

    P(w_t = a | w_<t) = pp(w_<t a) / pp(w_<t),      P(end | w_<t) = P(w_<t) / pp(w_<t).

Cost: O(L^3 R V + L^2 V K^2) in a Numba kernel (scaled cells, as the inside pass) with a
log-space numpy twin (:func:`prefix_candidates_numpy`); masked tokens (MASK) in the prefix
are summed over.
"""
from __future__ import annotations

import numpy as np

from ._inside_kernels import inside_log_numpy, prefix_candidates_scaled
from .inside import _inside, leaf_weights, normal_form

__all__ = ["next_token_distribution", "prefix_log_prob", "prefix_candidates_numpy"]


def _logsumexp(x: np.ndarray, axis) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(divide="ignore"):
            return np.squeeze(np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m, axis=axis)


def _log(x):
    with np.errstate(divide="ignore"):
        return np.log(x)


def _left_corner_log_q(nf) -> np.ndarray:
    K = nf.n_symbols
    PL = np.zeros((K, K))
    np.add.at(PL, (nf.b_lhs, nf.b_left), nf.b_p)
    np.add.at(PL, (nf.u_lhs, nf.u_child), nf.u_p)
    Q = np.linalg.inv(np.eye(K) - PL)
    return _log(np.clip(Q, 0.0, None))


def _prefix_columns(grammar, leaf: np.ndarray):
    """Yield (j, col, logb) for j = 1..L: col (j, V, K) = log pp[i, j, X] with the token at j-1 set
    to each a; logb the log inside chart (plain numpy throughout: the twin of the Numba kernel)."""
    nf = normal_form(grammar)
    logb = inside_log_numpy(np.ascontiguousarray(leaf, dtype=np.float64), nf.lex, *nf.binary, *nf.unary)
    logq = _left_corner_log_q(nf)
    log_e = _log(nf.lex)  # (K, V)
    logp = np.log(nf.b_p)
    K, V = nf.n_symbols, leaf.shape[1]
    # one token: pp[j-1, j, X | a] = log sum_D Q[X, D] E[D, a]
    single = _logsumexp(logq[None, :, :] + log_e.T[:, None, :], axis=2)  # (V, K)
    L = leaf.shape[0]
    for j in range(1, L + 1):
        col = np.full((j, V, K), -np.inf)
        col[j - 1] = single
        for i in range(j - 2, -1, -1):
            ks = np.arange(i + 1, j)
            # (splits, V, rules): beta[i, k, Y_r] + pp[k, j, Z_r | a] + log p_r
            terms = logb[i, ks][:, None, nf.b_left] + col[ks][:, :, nf.b_right] + logp
            per_rule = _logsumexp(terms, axis=0)  # (V, R)
            g = np.full((V, K), -np.inf)
            for d in np.unique(nf.b_lhs):
                g[:, d] = _logsumexp(per_rule[:, nf.b_lhs == d], axis=1)
            col[i] = _logsumexp(logq[None, :, :] + g[:, None, :], axis=2)
        yield j, col, logb


def prefix_candidates_numpy(grammar, leaf: np.ndarray) -> np.ndarray:
    """Numpy twin of :func:`sims.pcfg._inside_kernels.prefix_candidates_scaled`: (L+1, V) with
    entry [j, a] = log pp(w_<j-1, a) for j = 1..L (row 0: −inf)."""
    cand = np.full((len(leaf) + 1, leaf.shape[1]), -np.inf)
    for j, col, _ in _prefix_columns(grammar, leaf):
        cand[j] = col[0][:, 0]
    return cand


def _candidates(grammar, leaf):
    """(cand (L+2, V), log_exact (L+1,)): cand[j, a] = log pp(w_<j-1, a) for j = 1..L+1, from one
    pass over the input extended by a free token; log_exact[t] = log P(w_<t) (inside)."""
    nf = normal_form(grammar)
    ext = np.ascontiguousarray(np.vstack([leaf, np.ones((1, leaf.shape[1]))]))
    _, mant, lsc = _inside(grammar, ext)
    Q = np.exp(_left_corner_log_q(nf))
    QE = np.ascontiguousarray(Q @ nf.lex)
    cand = prefix_candidates_scaled(mant, lsc, Q, QE, nf.start, *nf.binary)
    with np.errstate(divide="ignore"):
        log_exact = np.log(mant[0, :, nf.start]) + lsc[0, :]
    log_exact[0] = -np.inf
    return cand, log_exact


def prefix_log_prob(grammar, tokens) -> np.ndarray:
    """(L+1,) float64: entry t = log pp(w_0..w_{t-1}), the probability that a string starts with
    the first t tokens (entry 0 is 0.0). MASK tokens are summed over."""
    leaf = leaf_weights(grammar, tokens)
    cand, _ = _candidates(grammar, leaf)
    out = np.zeros(len(leaf) + 1)
    for t in range(1, len(leaf) + 1):
        out[t] = _logsumexp(cand[t] + _log(leaf[t - 1]), axis=0)
    return out


def next_token_distribution(grammar, tokens) -> np.ndarray:
    """(L+1, V+1) float64: row t = (P(w_t = a | w_<t) for a in 0..V-1, P(end | w_<t)).

    Row L is the distribution after the whole input; rows whose prefix has probability 0 are
    NaN. Rows sum to 1. MASK tokens in ``tokens`` are summed over (a prefix with gaps).
    """
    leaf = leaf_weights(grammar, tokens)
    L, V = leaf.shape
    cand, log_exact = _candidates(grammar, leaf)
    out = np.full((L + 1, V + 1), np.nan)
    for t in range(L + 1):
        log_pp = 0.0 if t == 0 else _logsumexp(cand[t] + _log(leaf[t - 1]), axis=0)
        if not np.isfinite(log_pp):
            continue
        out[t, :V] = np.exp(cand[t + 1] - log_pp)
        out[t, V] = 0.0 if t == 0 else np.exp(log_exact[t] - log_pp)
    return out
