"""Comparing bounds: ratio, speedup exponent, exact crossover, tables."""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Mapping

import numpy as np
import sympy as sp

from ._core import _DOMAINS, Bound
from ._core import SYMBOLS as _S
from .catalog import get, names

# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------
def ratio(a, b) -> sp.Expr:
    """a.expr / b.expr, simplified (symbolic)."""
    a, b = get(a), get(b)
    return sp.simplify(sp.powsimp(a.expr / b.expr, force=True))


def speedup_exponent(a, b, var: str = "d", **values) -> sp.Expr:
    """Degree in ``var`` of b / a: how many powers of ``var`` a saves over b (a is the faster one).

    speedup_exponent("paper_progressive", "paper_one_shot", "d") = Min(2c, k-1) - 2.
    """
    a, b = get(a), get(b)
    return sp.simplify(b.exponent_in(var, **values) - a.exponent_in(var, **values))


@dataclass(frozen=True)
class Crossover:
    """Result of :func:`crossover`: ``value`` is the smallest ``var`` with a <= b, or None."""

    a: str
    b: str
    var: str
    value: object
    searched: tuple
    message: str

    def __int__(self):
        if self.value is None:
            raise ValueError(self.message)
        return int(self.value)

    def __str__(self):
        return self.message


def _cmp_le(A: Bound, va: dict, Bd: Bound, vb: dict) -> bool:
    """a <= b at resolved values: compare at 60, then 600 digits (mpmath, never through exact powers
    or binomials, which can take minutes: see Bound._evalf); only on a tie to 580 digits fall back
    to the exact symbolic sign."""
    for digits, margin in ((60, 45), (600, 580)):
        na, nb = A._evalf(va, digits), Bd._evalf(vb, digits)
        diff = na - nb
        scale = max(abs(na), abs(nb), sp.Integer(1))
        if abs(diff) > scale * sp.Float(10, digits) ** -margin:
            return bool(diff < 0)
    xa = A.exact(va) if A.exact is not None else A.expr.xreplace({_S[x]: v for x, v in va.items()})
    xb = Bd.exact(vb) if Bd.exact is not None else Bd.expr.xreplace({_S[x]: v for x, v in vb.items()})
    exact = sp.simplify(xa - xb)
    if exact.is_nonpositive is not None:
        return bool(exact.is_nonpositive)
    return bool(diff <= 0)  # pragma: no cover - undecidable symbolically, equal to 45 digits


def crossover(a, b, var: str = "d", lo=None, hi=None, scan: int = 256, **fixed) -> Crossover:
    """Smallest value of ``var`` where a <= b (exact for integer ``var``), other symbols ``fixed``.

    Integer ``var``: exact comparisons at every probe; the first ``scan`` values from ``lo`` are
    checked one by one, then doubling steps up to ``hi`` (default 2^62) and bisection, which
    assumes a <= b does not flip back inside the bracket; the answer v is verified
    (a(v) <= b(v) and a(v-1) > b(v-1)). Values of ``var`` where either bound is invalid are skipped.
    Real ``var``: bisection to 1e-12 relative between ``lo`` and ``hi`` after a 400-point log scan.
    """
    A, Bd = get(a), get(b)
    if var not in _DOMAINS:
        raise ValueError(f"crossover: unknown symbol {var!r}; known: {', '.join(_DOMAINS)}.")
    dom = _DOMAINS[var]

    def vals_for(bound):
        return {x: v for x, v in fixed.items() if x in bound.symbols}

    unknown = [x for x in fixed if x not in _DOMAINS]
    if unknown:
        raise ValueError(f"crossover: unknown symbol(s) {', '.join(map(repr, unknown))}.")
    if var in fixed:
        raise ValueError(f"crossover: {var!r} is the variable searched over; do not fix it.")
    for x, v in fixed.items():
        _DOMAINS[x].check_scalar(v, "crossover")
    if isinstance(scan, bool) or not isinstance(scan, Integral) or scan < 1:
        raise ValueError(f"crossover: scan must be an int >= 1 (values of {var} checked one by one); got scan={scan!r}.")
    for name_, v in (("lo", lo), ("hi", hi)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v)):
            raise ValueError(f"crossover: {name_} must be a finite number (a value of {var}) or None; got {name_}={v!r}.")
    if lo is not None and hi is not None and lo > hi:
        raise ValueError(f"crossover: lo must be <= hi (the range of {var} searched); got lo={lo!r} > hi={hi!r}.")
    unused = [x for x in fixed if x not in A.symbols and x not in Bd.symbols]
    if unused:
        raise ValueError(f"crossover: neither {A.name} nor {Bd.name} uses symbol(s) {', '.join(map(repr, unused))}.")

    def le_at(v):
        try:
            va = A._resolve({**vals_for(A), **({var: v} if var in A.symbols else {})})
            vb = Bd._resolve({**vals_for(Bd), **({var: v} if var in Bd.symbols else {})})
        except ValueError as err:
            if "valid only when" in str(err) or "must be" in str(err):
                return None  # outside a validity condition: skipped
            raise
        return _cmp_le(A, va, Bd, vb)

    if dom.integer:
        lo_ = int(lo if lo is not None else max(dom.lo, 1))
        hi_ = int(hi if hi is not None else 2**62)
        searched = (lo_, hi_)
        if lo_ > hi_:
            raise ValueError(f"crossover: the range of {var} searched is empty: lo={lo_} > hi={hi_}.")
        last_false = None
        v = lo_
        n_valid = 0
        while v <= min(hi_, lo_ + scan - 1):
            r = le_at(v)
            if r is not None:
                n_valid += 1
            if r:
                tag = " (already at the smallest valid value searched)" if last_false is None else ""
                return Crossover(A.name, Bd.name, var, v, searched,
                                 f"{A.name} <= {Bd.name} first at {var} = {v}{tag}; fixed {fixed}.")
            if r is False:
                last_false = v
            v += 1
        step = max(scan, 1)
        found = None
        while v <= hi_:
            r = le_at(v)
            if r is not None:
                n_valid += 1
            if r:
                found = v
                break
            if r is False:
                last_false = v
            v = lo_ + 2 * (v - lo_) if v - lo_ >= step else v + step
        if found is None:
            what = "no valid point" if n_valid == 0 else f"{A.name} > {Bd.name} at every probe"
            return Crossover(A.name, Bd.name, var, None, searched,
                             f"no crossover: {what} for {var} in [{lo_}, {hi_}] (fixed {fixed}).")
        left = last_false if last_false is not None else lo_
        right = found
        while right - left > 1:
            mid = (left + right) // 2
            r = le_at(mid)
            if r:
                right = mid
            else:
                left = mid
        ok = le_at(right) and not le_at(right - 1)
        note = "" if ok else " (bisection bracket not monotone: treat as approximate)"
        return Crossover(A.name, Bd.name, var, right, searched,
                         f"{A.name} <= {Bd.name} first at {var} = {right}{note}; fixed {fixed}.")
    # real-valued var
    lo_ = float(lo if lo is not None else (dom.lo if not dom.lo_open else dom.lo + 1e-12) or 1e-12)
    hi_ = float(hi if hi is not None else (dom.hi if not math.isinf(dom.hi) else 1e12))
    if dom.hi_open and hi is None:
        hi_ = hi_ * (1 - 1e-12)
    lo_ = max(lo_, 1e-300)
    if lo_ > hi_:
        raise ValueError(f"crossover: the range of {var} searched is empty: lo={lo_:g} > hi={hi_:g}.")
    pts = np.geomspace(lo_, hi_, 400)
    prev = None
    for p in pts:
        r = le_at(float(p))
        if r:
            if prev is None:
                return Crossover(A.name, Bd.name, var, float(p), (lo_, hi_),
                                 f"{A.name} <= {Bd.name} already at {var} = {p:.6g}; fixed {fixed}.")
            left, right = prev, float(p)
            while right - left > 1e-12 * right:
                mid = 0.5 * (left + right)
                if le_at(mid):
                    right = mid
                else:
                    left = mid
            return Crossover(A.name, Bd.name, var, right, (lo_, hi_),
                             f"{A.name} <= {Bd.name} first at {var} ~= {right:.12g} (bisection); fixed {fixed}.")
        if r is False:
            prev = float(p)
    return Crossover(A.name, Bd.name, var, None, (lo_, hi_),
                     f"no crossover: {A.name} > {Bd.name} on the 400-point scan of {var} in [{lo_:g}, {hi_:g}].")


# --------------------------------------------------------------------------------------------
# Tables and the command line
# --------------------------------------------------------------------------------------------
def _row(b: Bound, point: Mapping) -> dict:
    given = {x: v for x, v in point.items() if x in b.symbols and v is not None}
    missing = [x for x in b.required if x not in given]
    row = {"name": b.name, "quantity": b.quantity, "direction": b.direction, "value": math.nan, "log10": math.nan,
           "missing": ", ".join(missing), "note": "", "status": b.status,
           "expression": str(b.expr), "citation": b.citation}
    if missing:
        row["note"] = "needs " + ", ".join(missing)
        return row
    try:
        row["value"] = b.evaluate(**given)
        if math.isinf(row["value"]):  # beyond float range: the magnitude comes from evaluate_log10
            row["log10"] = b.evaluate_log10(**given)
        else:
            row["log10"] = math.log10(row["value"]) if row["value"] > 0 else -math.inf
    except ValueError as err:
        row["note"] = "invalid: " + str(err).split(f"bound {b.name!r} ", 1)[-1]
    return row


def table(names_=None, grid: Mapping | None = None):
    """pandas DataFrame, one row per (bound, grid point): name, quantity, direction, the grid
    symbols, value (NaN when symbols are missing or a condition fails; see ``missing``/``note``;
    inf beyond float range), log10 (of the value, finite also beyond float range), status,
    expression, citation. ``grid`` maps symbols to a scalar or a list (cartesian product).
    """
    import pandas as pd

    bs = [get(x) for x in (names_ if names_ is not None else names())]
    grid = dict(grid or {})
    unknown = [x for x in grid if x not in _DOMAINS]
    if unknown:
        raise ValueError(f"table: unknown symbol(s) {', '.join(map(repr, unknown))}; known: {', '.join(_DOMAINS)}.")
    keys = list(grid)
    lists = [list(v) if isinstance(v, (list, tuple, np.ndarray, range)) else [v] for v in grid.values()]
    rows = []
    for combo in itertools.product(*lists):
        point = dict(zip(keys, combo))
        for b in bs:
            r = _row(b, point)
            rows.append({**{kk: r[kk] for kk in ("name", "quantity", "direction")}, **point,
                         **{kk: r[kk] for kk in ("value", "log10", "missing", "note", "status", "expression", "citation")}})
    return pd.DataFrame(rows)
