"""GF(2): the probability that N uniform vectors span GF(2)^d, and the exact smallest N for 1 - delta."""
from __future__ import annotations

import functools
from fractions import Fraction
from numbers import Integral

import numpy as np
import sympy as sp

__all__ = ["gf2_span_probability"]

# --------------------------------------------------------------------------------------------
# GF(2): probability that N uniform vectors span GF(2)^d, and the exact smallest N
# --------------------------------------------------------------------------------------------
#: largest denominator (in bits) that gf2_span_probability builds exactly (~4 s at this size)
MAX_EXACT_BITS = 2_000_000


def gf2_span_probability(N: int, d_: int) -> Fraction:
    """P[N uniform vectors of GF(2)^d span GF(2)^d] = prod_{i=0}^{d-1} (1 - 2^(i-N)) (0 if N < d), exact."""
    for name, v, lo in (("N", N, 0), ("d", d_, 1)):
        if isinstance(v, bool) or not isinstance(v, Integral) or v < lo:
            raise ValueError(f"gf2_span_probability: {name} must be an integer >= {lo}; got {name}={v!r}.")
    N, d_ = int(N), int(d_)
    if N < d_:
        return Fraction(0)
    bits = d_ * (2 * N - d_ + 1) // 2  # the denominator is 2^bits (the numerator is odd)
    if bits > MAX_EXACT_BITS:
        raise ValueError(
            f"gf2_span_probability: the exact fraction for N={N}, d={d_} has a {bits}-bit denominator; "
            f"exact evaluation is limited to {MAX_EXACT_BITS} bits (about N = d = 2000; its gcd is quadratic). "
            "For larger sizes use the float product math.prod(1 - 2.0 ** (i - N) for i in range(d))."
        )
    num = 1
    for mm in range(N - d_ + 1, N + 1):
        num *= (1 << mm) - 1
    return Fraction(num, 1 << (d_ * (2 * N - d_ + 1) // 2))


def _span_at_least(N: int, d_: int, target: Fraction) -> bool:
    """Exact test of P_span(N, d) >= target, 0 < target < 1; mpmath at 60 digits on the failure
    probabilities 1 - P and 1 - target (relative margin 1e-45), big-integer fallback on near-ties."""
    import mpmath

    if N < d_:
        return target <= 0
    a = N - d_ + 1
    with mpmath.workdps(60):
        # terms beyond a + 230 add < 2^-(a+230) to -log P >= 2^-a: relative 2^-230, below the margin.
        # Compare failure probabilities, not log P with log target: both are ~ -delta, and an absolute
        # margin on them sent every tiny delta (1e-300) to the O(d^2)-bit fallback below.
        logp = mpmath.fsum(mpmath.log1p(-mpmath.mpf(2) ** (-mm)) for mm in range(a, min(N, a + 230) + 1))
        fail = -mpmath.expm1(logp)
        allowed_q = 1 - target  # exact (a Fraction): 1 - mpf(target) would cancel to 0 at delta = 1e-300
        allowed = mpmath.mpf(allowed_q.numerator) / allowed_q.denominator
        gap = allowed - fail
        if abs(gap) > mpmath.mpf(10) ** -45 * max(fail, allowed):
            return bool(gap > 0)
    num = 1
    for mm in range(a, N + 1):
        num *= (1 << mm) - 1
    return num * target.denominator >= target.numerator << (d_ * (2 * N - d_ + 1) // 2)


def _ceil_log2_inv(delta_: Fraction) -> int:
    """Smallest integer t >= 0 with 2^t * delta >= 1, exact."""
    p, q = delta_.numerator, delta_.denominator
    t = max(0, (q // p).bit_length() - 1)
    while (p << t) < q:
        t += 1
    while t > 0 and (p << (t - 1)) >= q:
        t -= 1
    return t


def _ge_exact(vals):
    """Smallest N >= d with P_span(N, d) >= 1 - delta. Candidates: N0 = d - 1 + t or N0 + 1,
    t = ceil(log2(1/delta)) (see the bound's doc for why no other N can be the answer)."""
    d_ = int(vals["d"])
    dl = vals["delta"]
    dl = Fraction(int(dl.p), int(dl.q)) if isinstance(dl, sp.Rational) else Fraction(str(sp.N(dl, 40)))
    t = _ceil_log2_inv(dl)
    n0 = d_ - 1 + t
    return sp.Integer(n0 if _span_at_least(n0, d_, 1 - dl) else n0 + 1)


@functools.lru_cache(maxsize=1)
def _log_span_table(tmax: int = 1100, width: int = 64) -> np.ndarray:
    """T[t, n] = sum_{i<n} log1p(-2^-(t+i)) for t in [0, tmax), n in [0, width]."""
    t = np.arange(tmax)[:, None] + np.arange(width)[None, :]
    terms = np.log1p(-np.exp2(-t.astype(np.float64)))
    terms[0, 0] = -np.inf
    return np.concatenate([np.zeros((tmax, 1)), np.cumsum(terms, axis=1)], axis=1)


def _ge_grid(vals):
    dd, dl = vals["d"], vals["delta"]
    t = np.ceil(-np.log2(dl))
    t = np.where(np.exp2(t - 1) * dl >= 1, t - 1, t)
    t = np.where(np.exp2(t) * dl < 1, t + 1, t)
    table_ = _log_span_table()
    ti = np.clip(t, 0, table_.shape[0] - 1).astype(np.int64)
    ni = np.clip(dd, 0, table_.shape[1] - 1).astype(np.int64)
    logp = table_[ti, ni]
    n0 = dd - 1 + t
    return np.where(logp >= np.log1p(-dl), n0, n0 + 1)
