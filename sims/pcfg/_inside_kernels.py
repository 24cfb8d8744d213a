"""Inside and outside passes over a binarized PCFG: Numba kernels (scaled) and numpy twins (log space).

Normal form (built by :func:`sims.pcfg.inside.normal_form`), K symbols, V terminals:

* lexical weights ``lex`` (K, V): P(X -> a);
* binary rules (``b_lhs``, ``b_left``, ``b_right``, ``b_p``): X -> Y Z;
* unary rules (``u_lhs``, ``u_child``, ``u_p``): X -> Y, listed so that Y's rules come first
  (every Y is complete before it is used; the list reversed is the top-down order).

Evidence is a leaf weight matrix ``leaf`` (L, V) >= 0: a one-hot row for an observed token, a
row of ones for a masked one (any terminal), a likelihood row for a noisy one. The inside value

    beta[i, j, X] = sum over trees of X over positions i..j-1 of prod(rule p) * prod_p leaf[p, w_p]

is multilinear in the rows of ``leaf``; Z = beta[0, L, start] and the outside values give
dZ / dleaf[p, a] = sum_X alpha[p, p+1, X] lex[X, a] = Z(evidence elsewhere, w_p = a).

``prefix_candidates_scaled`` computes prefix probabilities (sims.pcfg.prefix); its numpy twin
is ``sims.pcfg.prefix.prefix_candidates_numpy``.

The Numba kernels keep every chart cell as mantissa * exp(log-scale) with the mantissa's
largest entry 1 (one exp per (span, split), not per rule); the numpy twins work in plain log
space with ``logaddexp``. Both return logs, −inf for zero.
"""
from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["inside_scaled", "outside_scaled", "leaf_log_grad", "prefix_candidates_scaled", "inside_log_numpy",
           "outside_log_numpy", "leaf_log_grad_numpy"]


@nb.njit(cache=True)
def _normalize(acc, mant, lsc, i, j, offset):  # pragma: no cover - compiled
    mx = 0.0
    for x in range(acc.shape[0]):
        if acc[x] > mx:
            mx = acc[x]
    if mx > 0.0 and offset > -np.inf:
        for x in range(acc.shape[0]):
            mant[i, j, x] = acc[x] / mx
        lsc[i, j] = offset + np.log(mx)
    else:
        for x in range(acc.shape[0]):
            mant[i, j, x] = 0.0
        lsc[i, j] = -np.inf


@nb.njit(cache=True)
def _add_rule_products(acc, out_idx, a, a_idx, b, b_idx, p, w):  # pragma: no cover - compiled
    """acc[out_idx[r]] += p[r] * a[a_idx[r]] * b[b_idx[r]] * w for every binary rule r (skipping zeros)."""
    for r in range(p.shape[0]):
        v = a[a_idx[r]] * b[b_idx[r]]
        if v != 0.0:
            acc[out_idx[r]] += p[r] * v * w


@nb.njit(cache=True)
def inside_scaled(leaf, lex, b_lhs, b_left, b_right, b_p, u_lhs, u_child, u_p):  # pragma: no cover - compiled
    """Inside chart: (mant (L+1, L+1, K), lsc (L+1, L+1)); log beta[i, j, X] = log(mant[i, j, X]) + lsc[i, j]."""
    L = leaf.shape[0]
    K = lex.shape[0]
    V = lex.shape[1]
    mant = np.zeros((L + 1, L + 1, K))
    lsc = np.full((L + 1, L + 1), -np.inf)
    acc = np.zeros(K)
    for length in range(1, L + 1):
        for i in range(0, L - length + 1):
            j = i + length
            acc[:] = 0.0
            offset = 0.0
            if length == 1:
                for x in range(K):
                    s = 0.0
                    for a in range(V):
                        s += lex[x, a] * leaf[i, a]
                    acc[x] = s
            else:
                offset = -np.inf
                for k in range(i + 1, j):
                    o = lsc[i, k] + lsc[k, j]
                    if o > offset:
                        offset = o
                if offset > -np.inf:
                    for k in range(i + 1, j):
                        o = lsc[i, k] + lsc[k, j]
                        if o == -np.inf:
                            continue
                        w = np.exp(o - offset)
                        if w == 0.0:
                            continue
                        _add_rule_products(acc, b_lhs, mant[i, k], b_left, mant[k, j], b_right, b_p, w)
            for r in range(u_lhs.shape[0]):
                acc[u_lhs[r]] += u_p[r] * acc[u_child[r]]
            _normalize(acc, mant, lsc, i, j, offset)
    return mant, lsc


@nb.njit(cache=True)
def outside_scaled(mant, lsc, start, b_lhs, b_left, b_right, b_p, u_lhs, u_child, u_p):  # pragma: no cover
    """Outside chart (amant, alsc) for the inside chart (mant, lsc): alpha[i, j, X] = dZ / dbeta[i, j, X]."""
    L = mant.shape[0] - 1
    K = mant.shape[2]
    amant = np.zeros((L + 1, L + 1, K))
    alsc = np.full((L + 1, L + 1), -np.inf)
    acc = np.zeros(K)
    for length in range(L, 0, -1):
        for i in range(0, L - length + 1):
            j = i + length
            acc[:] = 0.0
            offset = 0.0
            if length == L:
                acc[start] = 1.0
            else:
                offset = -np.inf
                for j2 in range(j + 1, L + 1):  # parent (i, j2), this span is its left child
                    o = alsc[i, j2] + lsc[j, j2]
                    if o > offset:
                        offset = o
                for h in range(0, i):  # parent (h, j), this span is its right child
                    o = alsc[h, j] + lsc[h, i]
                    if o > offset:
                        offset = o
                if offset > -np.inf:
                    for j2 in range(j + 1, L + 1):
                        o = alsc[i, j2] + lsc[j, j2]
                        if o == -np.inf:
                            continue
                        w = np.exp(o - offset)
                        if w == 0.0:
                            continue
                        _add_rule_products(acc, b_left, amant[i, j2], b_lhs, mant[j, j2], b_right, b_p, w)
                    for h in range(0, i):
                        o = alsc[h, j] + lsc[h, i]
                        if o == -np.inf:
                            continue
                        w = np.exp(o - offset)
                        if w == 0.0:
                            continue
                        _add_rule_products(acc, b_right, amant[h, j], b_lhs, mant[h, i], b_left, b_p, w)
            for r in range(u_lhs.shape[0] - 1, -1, -1):
                acc[u_child[r]] += u_p[r] * acc[u_lhs[r]]
            _normalize(acc, amant, alsc, i, j, offset)
    return amant, alsc


@nb.njit(cache=True)
def leaf_log_grad(amant, alsc, lex):  # pragma: no cover - compiled
    """(L, V): log dZ/dleaf[p, a] = log sum_X alpha[p, p+1, X] lex[X, a]."""
    L = amant.shape[0] - 1
    K, V = lex.shape
    out = np.full((L, V), -np.inf)
    for p in range(L):
        if alsc[p, p + 1] == -np.inf:
            continue
        for a in range(V):
            s = 0.0
            for x in range(K):
                s += amant[p, p + 1, x] * lex[x, a]
            if s > 0.0:
                out[p, a] = alsc[p, p + 1] + np.log(s)
    return out


# ----------------------------------------------------------------------------------------------
# numpy twins (plain log space)
# ----------------------------------------------------------------------------------------------
def _log(x):
    with np.errstate(divide="ignore"):
        return np.log(x)


def _scatter_logsumexp(values: np.ndarray, index: np.ndarray, size: int) -> np.ndarray:
    """out[s] = log sum_{r: index[r] = s} exp(values[r]) (−inf for empty)."""
    out = np.full(size, -np.inf)
    for s in np.unique(index):
        out[s] = np.logaddexp.reduce(values[index == s])
    return out


def _unary_up(logb: np.ndarray, u_lhs, u_child, u_p) -> None:
    for x, y, p in zip(u_lhs, u_child, u_p):
        logb[x] = np.logaddexp(logb[x], np.log(p) + logb[y])


def inside_log_numpy(leaf, lex, b_lhs, b_left, b_right, b_p, u_lhs, u_child, u_p) -> np.ndarray:
    """Numpy twin of :func:`inside_scaled`: log beta (L+1, L+1, K)."""
    L, K = leaf.shape[0], lex.shape[0]
    logb = np.full((L + 1, L + 1, K), -np.inf)
    logp = np.log(b_p)
    for length in range(1, L + 1):
        for i in range(L - length + 1):
            j = i + length
            if length == 1:
                cell = _log(lex @ leaf[i])
            else:
                ks = np.arange(i + 1, j)
                terms = logb[i, ks][:, b_left] + logb[ks, j][:, b_right] + logp  # (splits, rules)
                cell = _scatter_logsumexp(np.logaddexp.reduce(terms, axis=0), b_lhs, K)
            _unary_up(cell, u_lhs, u_child, u_p)
            logb[i, j] = cell
    return logb


def outside_log_numpy(logb, start, b_lhs, b_left, b_right, b_p, u_lhs, u_child, u_p) -> np.ndarray:
    """Numpy twin of :func:`outside_scaled` (push form: parents send to children): log alpha (L+1, L+1, K)."""
    L, K = logb.shape[0] - 1, logb.shape[2]
    loga = np.full((L + 1, L + 1, K), -np.inf)
    loga[0, L, start] = 0.0
    logp = np.log(b_p)
    for length in range(L, 0, -1):
        for i in range(L - length + 1):
            j = i + length
            cell = loga[i, j]
            for x, y, p in zip(u_lhs[::-1], u_child[::-1], u_p[::-1]):  # top-down unary
                cell[y] = np.logaddexp(cell[y], np.log(p) + cell[x])
            if length == 1:
                continue
            for k in range(i + 1, j):  # send to the children (i, k) and (k, j)
                left = cell[b_lhs] + logp + logb[k, j, b_right]
                right = cell[b_lhs] + logp + logb[i, k, b_left]
                loga[i, k] = np.logaddexp(loga[i, k], _scatter_logsumexp(left, b_left, K))
                loga[k, j] = np.logaddexp(loga[k, j], _scatter_logsumexp(right, b_right, K))
    return loga


def leaf_log_grad_numpy(loga, lex) -> np.ndarray:
    """Numpy twin of :func:`leaf_log_grad`."""
    L = loga.shape[0] - 1
    diag = np.stack([loga[p, p + 1] for p in range(L)]) if L else np.zeros((0, lex.shape[0]))
    with np.errstate(divide="ignore"):
        return np.logaddexp.reduce(diag[:, :, None] + np.log(lex)[None], axis=1)


@nb.njit(cache=True)
def prefix_candidates_scaled(mant, lsc, Q, QE, start, b_lhs, b_left, b_right, b_p):  # pragma: no cover
    """cand (L+1, V): cand[j, a] = log pp[0, j, start] with the token at j-1 set to a (row 0: −inf).

    pp[j-1, j, X | a] = QE[X, a];  pp[i, j, X | a] = sum_D Q[X, D] G[D] with
    G[D] = sum_{D -> Y Z} p sum_{k=i+1}^{j-1} beta[i, k, Y] pp[k, j, Z | a]   (see sims.pcfg.prefix).
    ``mant``, ``lsc``: the scaled inside chart of the same leaves (spans ending before j-1 are used).
    """
    L = mant.shape[0] - 1
    K = Q.shape[0]
    V = QE.shape[1]
    cand = np.full((L + 1, V), -np.inf)
    pm = np.zeros((L, K))
    psc = np.full(L, -np.inf)
    g = np.zeros(K)
    acc = np.zeros(K)
    for j in range(1, L + 1):
        for a in range(V):
            mx = 0.0
            for x in range(K):
                pm[j - 1, x] = QE[x, a]
                if QE[x, a] > mx:
                    mx = QE[x, a]
            if mx > 0.0:
                for x in range(K):
                    pm[j - 1, x] /= mx
                psc[j - 1] = np.log(mx)
            else:
                psc[j - 1] = -np.inf
            for i in range(j - 2, -1, -1):
                offset = -np.inf
                for k in range(i + 1, j):
                    o = lsc[i, k] + psc[k]
                    if o > offset:
                        offset = o
                psc[i] = -np.inf
                if offset == -np.inf:
                    for x in range(K):
                        pm[i, x] = 0.0
                    continue
                g[:] = 0.0
                for k in range(i + 1, j):
                    o = lsc[i, k] + psc[k]
                    if o == -np.inf:
                        continue
                    w = np.exp(o - offset)
                    if w == 0.0:
                        continue
                    _add_rule_products(g, b_lhs, mant[i, k], b_left, pm[k], b_right, b_p, w)
                mx = 0.0
                for x in range(K):
                    s = 0.0
                    for d in range(K):
                        s += Q[x, d] * g[d]
                    acc[x] = s
                    if s > mx:
                        mx = s
                if mx > 0.0:
                    for x in range(K):
                        pm[i, x] = acc[x] / mx
                    psc[i] = offset + np.log(mx)
                else:
                    for x in range(K):
                        pm[i, x] = 0.0
            v0 = pm[0, start]
            if v0 > 0.0 and psc[0] > -np.inf:
                cand[j, a] = psc[0] + np.log(v0)
    return cand
