"""Symbols with domains and assumptions, the Bound object and the degree of growth (exponent_in)."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from numbers import Integral, Real
from typing import Callable, Mapping

import numpy as np
import sympy as sp

STATUSES = {
    "proved-here": "derivation in the bound's doc; a test in tests/test_bounds.py simulates it",
    "literature": "as stated in the cited paper (transcribed from the project brief; not re-derived here)",
    "recalled": "form recalled, exact statement UNVERIFIED against the source; treat as a hypothesis",
}
QUANTITIES = ("samples", "queries", "steps", "time", "width")
DIRECTIONS = ("upper", "lower", "tight")


# --------------------------------------------------------------------------------------------
# Symbols and their domains
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Domain:
    """Domain of one symbol: integer or real, bounds (open or closed), meaning."""

    name: str
    symbol: sp.Symbol
    integer: bool
    lo: float
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    allow_inf: bool = False
    meaning: str = ""

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a real number"
        if math.isinf(self.hi):
            rng = f">= {self.lo:g}" if not self.lo_open else f"> {self.lo:g}"
            if self.allow_inf:
                rng += " (oo allowed)"
        else:
            left = "(" if self.lo_open else "["
            right = ")" if self.hi_open else "]"
            rng = f"in {left}{self.lo:g}, {self.hi:g}{right}"
        return f"{kind} {rng}"

    def check_scalar(self, value, owner: str):
        """Return ``value`` as a sympy number, or raise TypeError/ValueError naming the symbol."""
        where = f"{owner}: symbol {self.name!r} ({self.meaning})"
        if isinstance(value, sp.Basic):
            if value in (sp.oo, sp.zoo, -sp.oo, sp.nan):
                num = math.inf if value == sp.oo else math.nan
            elif value.is_Integer:
                num = int(value)
            elif value.is_number:
                num = float(value)
            else:
                raise TypeError(f"{where} must be a number; got {value!r}.")
        elif isinstance(value, bool) or not isinstance(value, (Real, np.integer, np.floating)):
            raise TypeError(f"{where} must be {self.describe()}; got {value!r} ({type(value).__name__}).")
        elif isinstance(value, Integral):
            num = int(value)  # exact: float(10**400) would overflow; int vs float comparisons are exact
        else:
            num = float(value)
        if isinstance(num, float) and math.isnan(num):
            raise ValueError(f"{where} must be {self.describe()}; got NaN.")
        if isinstance(num, float) and math.isinf(num):
            if not (self.allow_inf and num > 0):
                raise ValueError(f"{where} must be {self.describe()}; got {self.name}={value!r}.")
            return sp.oo
        if self.integer and num != math.floor(num):
            raise ValueError(f"{where} must be {self.describe()}; got {self.name}={value!r}.")
        below = num <= self.lo if self.lo_open else num < self.lo
        above = num >= self.hi if self.hi_open else num > self.hi
        if below or above:
            raise ValueError(f"{where} must be {self.describe()}; got {self.name}={value!r}.")
        if self.integer:  # exact for big ints (no round trip through float)
            if isinstance(value, (Integral, sp.Integer)):
                return sp.Integer(int(value))
            return sp.Integer(int(num))
        if isinstance(value, sp.Basic):
            return value
        if isinstance(value, Integral):
            return sp.Integer(int(value))
        # floats are read as the decimal they print as: 0.01 -> 1/100 (exact evaluation)
        return sp.Rational(repr(float(num)))

    def check_array(self, arr: np.ndarray, owner: str) -> None:
        where = f"{owner}: symbol {self.name!r} ({self.meaning})"
        bad = np.isnan(arr)
        finite = np.where(np.isinf(arr), 0.0, arr)
        if self.allow_inf:
            bad |= np.isneginf(arr)
        else:
            bad |= np.isinf(arr)
        if self.integer:
            bad |= finite != np.floor(finite)
        bad |= (arr <= self.lo) if self.lo_open else (arr < self.lo)  # +inf passes (c = oo), -inf not
        if not math.isinf(self.hi):
            bad |= (arr >= self.hi) if self.hi_open else (arr > self.hi)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
            raise ValueError(
                f"{where} must be {self.describe()}; {int(bad.sum())} entries are not, "
                f"e.g. {self.name}={arr[idx]!r} at index {idx}."
            )


def _mk(name, integer, lo, hi=math.inf, lo_open=False, hi_open=False, allow_inf=False, meaning=""):
    assumptions = {"integer": True} if integer else {"real": True}
    if lo > 0 or (lo == 0 and lo_open):
        assumptions["positive"] = True
    elif lo == 0:
        assumptions["nonnegative"] = True
    sym = sp.Symbol(name, **assumptions)
    return _Domain(name, sym, integer, lo, hi, lo_open, hi_open, allow_inf, meaning)


_DOMAINS: dict[str, _Domain] = {
    dm.name: dm
    for dm in [
        _mk("d", True, 1, meaning="input dimension (n in the paper)"),
        _mk("k", True, 1, meaning="parity degree |S|"),
        _mk("eps", False, 0, 1, True, True, meaning="target loss / error"),
        _mk("delta", False, 0, 1, True, True, meaning="failure probability"),
        _mk("rho", False, 0, 1, True, False, meaning="correlation of the supervising signal with each in-support monomial"),
        _mk("j", True, 1, meaning="degree of the supervising signal's monomials"),
        _mk("c", False, 0, lo_open=True, allow_inf=True, meaning="residual correlation of the final teacher ~ d^(-c)"),
        _mk("tau", False, 0, 1, True, False, meaning="SQ tolerance"),
        _mk("leap", True, 1, meaning="leap complexity of the target"),
        _mk("s", True, 1, meaning="coordinates per neuron at sparse initialisation"),
        _mk("m", True, 1, meaning="width (number of hidden neurons)"),
        _mk("B", False, 0, lo_open=True, meaning="sup |y|: outputs in [0, B] or [-B, B]"),
        _mk("a_log", False, 0, meaning="exponent of the polylog factor log(d)^a_log hidden by O-tilde (default 0)"),
    ]
    + [
        _mk(f"C_{tag}", False, 0, lo_open=True, meaning=f"hidden constant of {what} (default 1)")
        for tag, what in [
            ("prog", "paper_progressive"),
            ("one", "paper_one_shot"),
            ("sq", "sq_lower"),
            ("kou", "kou2024"),
            ("barak", "barak2022 (in the exponent)"),
            ("leap", "leap"),
            ("edel", "edelman2023_samples"),
        ]
    ]
}
SYMBOLS: dict[str, sp.Symbol] = {name: dm.symbol for name, dm in _DOMAINS.items()}
_S = SYMBOLS  # short alias used below
d, k, eps, delta, rho, j, c, tau, leap, s, m, B, a_log = (
    _S[x] for x in ("d", "k", "eps", "delta", "rho", "j", "c", "tau", "leap", "s", "m", "B", "a_log")
)

_LATEX_NAMES = {SYMBOLS["eps"]: r"\varepsilon", SYMBOLS["leap"]: r"\mathrm{Leap}", SYMBOLS["a_log"]: r"a_{\log}",
                **{sym: rf"C_{{\mathrm{{{name[2:]}}}}}" for name, sym in SYMBOLS.items() if name.startswith("C_")}}

class _lbinom(sp.Function):
    """log C(n, r) kept unevaluated: ``binomial(10**9, 5*10**8)`` would build a 10^8-digit integer
    (minutes), while its logarithm is a difference of log-gammas: mpmath ``loggamma`` in
    :meth:`Bound._evalf` (``evaluate``), scipy ``betaln`` in ``evaluate_grid``."""

    nargs = 2

    def _eval_is_real(self):
        return True

    def _eval_is_extended_real(self):
        return True


def _mp_lbinom(n, r):
    """log C(n, r) = loggamma(n+1) - loggamma(r+1) - loggamma(n-r+1) at mpmath's working precision."""
    import mpmath

    return mpmath.loggamma(n + 1) - mpmath.loggamma(r + 1) - mpmath.loggamma(n - r + 1)


#: below this r = min(k, n - k), log C(n, r) is summed term by term; above, Stirling's series
_LBINOM_SUM_BELOW = 64


def _np_lbinom(n, r):
    """log C(n, r) elementwise on float arrays (integers 0 <= r <= n), accurate to ~1e-15 relative.

    With r -> min(r, n - r): for r <= 64 the sum of log((n - i) / (i + 1)), i < r; above,
    Stirling's series for the three log-gammas with the large terms combined before rounding,
        r log(n/r) - (n - r) log1p(-r/n) + log(n / (r (n - r))) / 2 - log(2 pi) / 2
        + e(n) - e(r) - e(n - r),   e(x) = 1/(12x) - 1/(360x^3) + 1/(1260x^5) - 1/(1680x^7),
    whose terms are all of one sign (no cancellation). gammaln(n+1) - gammaln(r+1) - gammaln(n-r+1)
    cancels to 0.0 at n = 1e30; scipy's betaln was 1e-10 off at n = 1.2e6, r = 1.
    """
    n, r = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(r, dtype=np.float64))
    r = np.minimum(r, n - r)
    out = np.zeros(n.shape)
    for i in range(_LBINOM_SUM_BELOW):
        live = i < r
        if not live.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            out += np.where(live, np.log((n - i) / (i + 1.0)), 0.0)
    big = r > _LBINOM_SUM_BELOW
    if big.any():
        nb, rb = n[big], r[big]
        mb = nb - rb

        def e(x):
            x2 = x * x
            return (1 / 12 - (1 / 360 - (1 / 1260 - 1 / (1680 * x2)) / x2) / x2) / x

        out[big] = (rb * np.log(nb / rb) - mb * np.log1p(-rb / nb) + 0.5 * np.log(nb / (rb * mb))
                    - 0.5 * math.log(2 * math.pi) + e(nb) - e(rb) - e(mb))
    return out


def _log_binomial_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` with log(binomial(n, r)) -> lbinom(n, r) and binomial(n, r) -> exp(lbinom(n, r)),
    exponentials merged (a ratio of two huge binomials becomes exp(difference), not inf / inf)."""
    e = sp.expand_log(expr, force=True)
    e = e.replace(lambda z: isinstance(z, sp.log) and isinstance(z.args[0], sp.binomial),
                  lambda z: _lbinom(*z.args[0].args))
    e = e.replace(lambda z: isinstance(z, sp.binomial), lambda z: sp.exp(_lbinom(*z.args)))
    return sp.powsimp(e, combine="exp")


def _to_mpmath(v):
    """A resolved sympy number as an mpmath number at the working precision (integers exact when it suffices)."""
    import mpmath

    if v == sp.oo:
        return mpmath.inf
    if isinstance(v, sp.Integer):
        return mpmath.mpf(int(v))
    if isinstance(v, sp.Rational):
        return mpmath.mpf(int(v.p)) / int(v.q)
    return sp.Float(v, mpmath.mp.dps)._to_mpmath(mpmath.mp.prec)


# --------------------------------------------------------------------------------------------
# The Bound object
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bound:
    """A cited bound: ``quantity (direction) expr`` under ``conditions``.

    ``symbols``: names of all free symbols of ``expr``; ``defaults`` maps the optional ones
    (hidden constants and documented defaults) to a number or a sympy expression in the others.
    ``monotone`` maps a symbol to +1 / -1 where the statement says the bound grows / shrinks
    with it (checked by property tests). ``doc`` holds the statement and, for ``proved-here``,
    the derivation.
    """

    name: str
    expr: sp.Expr
    quantity: str
    direction: str
    status: str
    citation: str
    doc: str
    conditions: tuple = ()
    defaults: Mapping = field(default_factory=dict)
    monotone: Mapping = field(default_factory=dict)
    algorithm: str = ""
    short_citation: str = ""
    exact: Callable | None = None  # exact evaluation override: (dict name -> sympy number) -> sympy number
    grid: Callable | None = None  # numeric override for evaluate_grid: (dict name -> ndarray) -> ndarray

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"Bound.status must be one of {sorted(STATUSES)}; got {self.status!r}.")
        if self.quantity not in QUANTITIES:
            raise ValueError(f"Bound.quantity must be one of {QUANTITIES}; got {self.quantity!r}.")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"Bound.direction must be one of {DIRECTIONS}; got {self.direction!r}.")

    # ---- symbols ------------------------------------------------------------------------
    @functools.cached_property
    def symbols(self) -> tuple[str, ...]:
        """All symbol names of ``expr`` (required first, then optional), sorted."""
        names_ = set(self._core)
        aux = set()
        for dflt in self.defaults.values():
            aux |= {str(x) for x in sp.sympify(dflt).free_symbols}
        req = sorted(x for x in names_ if x not in self.defaults)
        return tuple(req) + tuple(sorted((names_ | aux) - set(req)))

    @functools.cached_property
    def _core(self) -> set:
        names_ = {str(x) for x in self.expr.free_symbols}
        for rel, _ in self.conditions:
            names_ |= {str(x) for x in rel.free_symbols}
        return names_

    @functools.cached_property
    def required(self) -> tuple[str, ...]:
        """Symbols that must be given (the others have defaults or only feed a default)."""
        return tuple(x for x in self.symbols if x in self._core and x not in self.defaults)

    def __repr__(self) -> str:
        return f"Bound({self.name}: {self.quantity} {self.direction} {self.expr}; {self.status}; {self.citation})"

    def latex(self, statement: bool = False) -> str:
        """LaTeX of ``expr``; with ``statement=True`` the relation, e.g. ``N \\le ...``."""
        body = sp.latex(self.expr, symbol_names=_LATEX_NAMES)
        if not statement:
            return body
        lhs = {"samples": "N", "queries": "q", "steps": "T", "time": "T", "width": "m"}[self.quantity]
        rel = {"upper": r"\le", "lower": r"\ge", "tight": r"\asymp"}[self.direction]
        return f"{lhs} {rel} {body}"

    # ---- value checking ---------------------------------------------------------------------
    def _resolve(self, values: Mapping, strict: bool = True) -> dict[str, sp.Basic]:
        owner = f"bound {self.name!r}"
        unknown = [x for x in values if x not in _DOMAINS]
        if unknown:
            raise ValueError(
                f"{owner}: unknown symbol(s) {', '.join(map(repr, unknown))}; known symbols are "
                f"{', '.join(_DOMAINS)}."
            )
        extra = [x for x in values if x not in self.symbols]
        if extra and strict:
            raise ValueError(
                f"{owner} does not use symbol(s) {', '.join(map(repr, extra))}; it takes "
                f"{', '.join(self.required)} (optional: {', '.join(self.defaults) or 'none'})."
            )
        missing = [x for x in self.required if x not in values]
        if missing:
            raise ValueError(
                f"{owner} needs symbol(s) {', '.join(map(repr, missing))} (it takes {', '.join(self.required)})."
            )
        out = {x: _DOMAINS[x].check_scalar(values[x], owner) for x in self.symbols if x in values}
        for x in self.symbols:  # defaults, possibly in terms of other symbols (leap = k)
            if x not in out and x in self.defaults:
                dflt = sp.sympify(self.defaults[x])
                need = sorted(str(y) for y in dflt.free_symbols if str(y) not in out)
                if need:
                    raise ValueError(
                        f"{owner} needs symbol {x!r} or {', '.join(map(repr, need))} (default {x} = {dflt})."
                    )
                out[x] = dflt.xreplace({_S[y]: v for y, v in out.items()}) if dflt.free_symbols else dflt
        for rel, text in self.conditions:
            truth = rel.xreplace({_S[y]: v for y, v in out.items()})
            if not isinstance(truth, (bool, sp.logic.boolalg.BooleanAtom)):
                truth = rel.subs({_S[y]: v for y, v in out.items()})
            truth = sp.simplify(truth) if not isinstance(truth, (bool, sp.logic.boolalg.BooleanAtom)) else truth
            if truth is not sp.true and truth is not True:
                shown = ", ".join(f"{str(y)}={out[str(y)]}" for y in sorted(rel.free_symbols, key=str))
                raise ValueError(f"{owner} is valid only when {rel} ({text}); got {shown}.")
        return out

    def evaluate_exact(self, strict: bool = True, **values) -> sp.Basic:
        """The bound's value as an exact sympy number (floats are read as decimals: 0.01 -> 1/100).

        Exact arithmetic can be slow for powers with long rational exponents (sympy looks for perfect
        roots) and for binomials of large arguments (C(10^9, 5 10^8) has 3 10^8 digits: minutes);
        ``evaluate`` and ``evaluate_log10`` compute numerically instead and never go through this.
        """
        vals = self._resolve(values, strict)
        if self.exact is not None:
            return self.exact(vals)
        return self.expr.xreplace({_S[x]: v for x, v in vals.items()})

    def evaluate(self, strict: bool = True, **values) -> float:
        """The bound's value as a float (inf if beyond float range: :meth:`evaluate_log10` then).

        Raises ValueError naming any missing, unknown, unused (``strict``) or out-of-domain symbol
        and any violated validity condition.
        """
        vals = self._resolve(values, strict)
        if self.exact is not None:
            val = self.exact(vals)
            if isinstance(val, Integral):
                return float(val)
            num = sp.N(val, 30)
        else:
            num = self._evalf(vals, 30)
        try:
            return float(num)
        except (TypeError, OverflowError):  # pragma: no cover - e.g. complex from a bad expression
            raise ValueError(f"bound {self.name!r} did not evaluate to a real number: {num}") from None

    def evaluate_log10(self, strict: bool = True, **values) -> float:
        """log10 of the bound's value, a float even where the value is beyond float range
        (``evaluate`` gives inf there: C(10^5, 5 10^4) ~ 10^30100). Same checks as :meth:`evaluate`."""
        import mpmath

        vals = self._resolve(values, strict)
        num = sp.N(self.exact(vals), 30) if self.exact is not None else self._evalf(vals, 30)
        if num == sp.oo:
            return math.inf
        if not num.is_real or num < 0:
            raise ValueError(f"bound {self.name!r} did not evaluate to a nonnegative real number: {num}")
        with mpmath.workdps(30):
            return float(mpmath.log10(sp.Float(num, 30)._to_mpmath(mpmath.mp.prec)))

    def _evalf(self, vals: Mapping, prec: int) -> sp.Basic:
        """The value at resolved ``vals`` as a sympy Float with ``prec`` digits.

        Numerically (mpmath), never through the exact value: an exact power with a rational
        exponent (d**(2c) at d = 384, c = 2.123456789) makes sympy search for perfect roots of huge
        integers, which can take minutes. Used by :meth:`evaluate` and :func:`crossover`.
        """
        if self.exact is not None:
            return sp.N(self.exact(vals), prec)
        import mpmath

        args = [vals[x] for x in self._numeric_args]
        # integers exact; loggamma(n + 1) ~ n log n cancels in log C(d, s) - log C(d-k, s-k), so work
        # with 2 bits per bit of the largest integer beyond the requested precision
        mag = max([abs(int(v)).bit_length() for v in args if isinstance(v, sp.Integer)] + [64])
        bits = mpmath.libmp.dps_to_prec(prec)
        with mpmath.workprec(bits + 2 * mag + 64):
            val = self._mp_numeric(*[_to_mpmath(v) for v in args])
            if isinstance(val, mpmath.mpc):
                if val.imag != 0:
                    raise ValueError(f"bound {self.name!r} did not evaluate to a real number: {val}")
                val = val.real
            val = mpmath.mpf(val)
        return sp.Float._new(val._mpf_, bits) if mpmath.isfinite(val) else (sp.oo if val > 0 else sp.nan)

    @functools.cached_property
    def _mp_numeric(self):
        """``_log_form`` as an mpmath function of ``_numeric_args`` (no exact powers: see _evalf)."""
        return sp.lambdify([_S[x] for x in self._numeric_args], self._log_form,
                           modules=[{"_lbinom": _mp_lbinom}, "mpmath"])

    @functools.cached_property
    def _log_form(self) -> sp.Expr:
        """``expr`` with binomials through log-gamma (see _log_binomial_form): never hangs on C(10^9, 5 10^8)."""
        return _log_binomial_form(self.expr)

    # ---- vectorised evaluation --------------------------------------------------------------
    @functools.cached_property
    def _numeric_args(self) -> tuple[str, ...]:
        return tuple(x for x in self.symbols if x in self._core)

    @functools.cached_property
    def _numeric(self):
        args = [_S[x] for x in self._numeric_args]
        f = sp.lambdify(args, self._log_form, modules=[{"_lbinom": _np_lbinom}, "numpy"])
        log_f = sp.lambdify(args, sp.expand_log(sp.log(self._log_form), force=True),
                            modules=[{"_lbinom": _np_lbinom}, "numpy"])
        conds = [(sp.lambdify(args, rel, modules="numpy"), rel, text) for rel, text in self.conditions]
        return f, log_f, conds

    def evaluate_grid(self, strict: bool = True, **arrays) -> np.ndarray:
        """Vectorised float evaluation over numpy arrays of one shape (scalars broadcast).

        Same checks as :meth:`evaluate`, elementwise; returns a float64 array of that shape (inf
        beyond float range). Binomials go through :func:`_np_lbinom`; where an intermediate leaves
        float range the value is recomputed as exp(log(value)) with products turned into sums.
        """
        owner = f"bound {self.name!r}"
        unknown = [x for x in arrays if x not in _DOMAINS]
        if unknown:
            raise ValueError(f"{owner}: unknown symbol(s) {', '.join(map(repr, unknown))}; known: {', '.join(_DOMAINS)}.")
        extra = [x for x in arrays if x not in self.symbols]
        if extra and strict:
            raise ValueError(f"{owner} does not use symbol(s) {', '.join(map(repr, extra))}; it takes {', '.join(self.required)}.")
        missing = [x for x in self.required if x not in arrays]
        if missing:
            raise ValueError(f"{owner} needs symbol(s) {', '.join(map(repr, missing))}.")
        given = {}
        for x, v in arrays.items():
            if x not in self.symbols:
                continue
            arr = np.asarray(v)
            try:  # ints beyond int64 arrive as dtype object
                if arr.dtype.kind not in "iufO":
                    raise TypeError
                given[x] = arr.astype(np.float64)
            except (TypeError, ValueError, OverflowError):
                example = f" (e.g. {arr.flat[0]!r})" if arr.size else ""
                raise TypeError(f"{owner}: symbol {x!r} must be a real numeric array or scalar; "
                                f"got dtype {arr.dtype}{example}.") from None
        shapes = {np.shape(v) for v in given.values() if np.ndim(v) > 0}
        if len(shapes) > 1:
            raise ValueError(f"{owner}: evaluate_grid needs arrays of one shape (or scalars); got shapes {sorted(shapes)}.")
        shape = shapes.pop() if shapes else ()
        for x, v in given.items():
            _DOMAINS[x].check_array(v, owner)
        vals = {x: np.broadcast_to(v, shape) for x, v in given.items()}
        for x in self.symbols:
            if x not in vals and x in self.defaults:
                dflt = sp.sympify(self.defaults[x])
                need = sorted(str(y) for y in dflt.free_symbols if str(y) not in vals)
                if need:
                    raise ValueError(f"{owner} needs symbol {x!r} or {', '.join(map(repr, need))} (default {x} = {dflt}).")
                if dflt.free_symbols:
                    fn = sp.lambdify([_S[str(y)] for y in dflt.free_symbols], dflt, "numpy")
                    val = fn(*[vals[str(y)] for y in dflt.free_symbols])
                else:
                    val = float(dflt) if dflt != sp.oo else np.inf
                vals[x] = np.broadcast_to(np.asarray(val, dtype=np.float64), shape)
        f, log_f, conds = self._numeric
        args = [vals[x] for x in self._numeric_args]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for fn, rel, text in conds:
                ok = np.broadcast_to(np.asarray(fn(*args), dtype=bool), shape)
                if not ok.all():
                    idx = tuple(int(i) for i in np.argwhere(~ok)[0]) if ok.ndim else ()
                    shown = ", ".join(f"{y}={vals[str(y)][idx]!r}" for y in sorted(map(str, rel.free_symbols)))
                    raise ValueError(f"{owner} is valid only when {rel} ({text}); {int((~ok).sum())} points are not, e.g. {shown} at index {idx}.")
            if self.grid is not None:
                out = self.grid(vals)
            else:
                out = np.broadcast_to(np.asarray(f(*args), dtype=np.float64), shape)
                # an intermediate beyond float range (C(d, k) = 1e309 times tau^2 = 1e-200) gives
                # inf, NaN or 0 for a finite value: there, exp of the logarithm (products -> sums)
                redo = ~np.isfinite(out) | (out == 0)
                if redo.any():
                    alt = np.broadcast_to(np.exp(np.asarray(log_f(*args), dtype=np.float64)), shape)
                    out = np.where(redo & ~np.isnan(alt), alt, out)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy()

    # ---- asymptotics ------------------------------------------------------------------------
    def exponent_in(self, var: str = "d", **values) -> sp.Expr:
        """Polynomial degree of the bound in ``var`` as ``var -> oo``, symbolic in the others.

        ``lim log(bound) / log(var)``: powers add up over products, take the Max over sums,
        ``binomial(var, r)`` has degree r, logarithms have degree 0 (log factors do not change
        the degree). ``values`` (numbers or sympy expressions) are substituted first.
        Assumes no cancellation between the leading terms of a sum (all terms here are positive).
        """
        for x in (var, *values):
            if x not in _DOMAINS:
                raise ValueError(f"exponent_in: unknown symbol {x!r}; known: {', '.join(_DOMAINS)}.")
        for x, v in values.items():
            if isinstance(v, (str, bool)) or not isinstance(v, (Real, np.integer, np.floating, sp.Basic)):
                raise TypeError(f"exponent_in: {x} must be a number or a sympy expression; got {v!r} ({type(v).__name__}).")
        e = self.expr.subs({_S[x]: sp.sympify(v) for x, v in values.items()})
        return sp.simplify(_degree(e, _S[var]))


def _degree(e: sp.Expr, x: sp.Symbol) -> sp.Expr:
    """Degree of growth of ``e`` in ``x`` (see Bound.exponent_in)."""
    if not e.has(x):
        return sp.Integer(0)
    if e == x:
        return sp.Integer(1)
    if e.is_Add:
        return sp.Max(*[_degree(t, x) for t in e.args])
    if e.is_Mul:
        return sp.Add(*[_degree(t, x) for t in e.args])
    if e.is_Pow:
        base, ex = e.args
        if ex.has(x):
            raise ValueError(f"exponent_in: {e} grows faster than any power of {x}.")
        return ex * _degree(base, x)
    if isinstance(e, sp.log):
        _degree(e.args[0], x)  # raises for super-polynomial arguments
        return sp.Integer(0)
    if isinstance(e, sp.binomial):
        n_, r_ = e.args
        if r_.has(x):
            raise ValueError(f"exponent_in: {e} has {x} in its lower index; not a polynomial degree.")
        return r_ * _degree(n_, x)
    if isinstance(e, (sp.Max, sp.Min)):
        return type(e)(*[_degree(t, x) for t in e.args])
    if isinstance(e, (sp.ceiling, sp.floor)):
        return _degree(e.args[0], x)
    raise ValueError(f"exponent_in: cannot take the degree of {e} in {x}.")
