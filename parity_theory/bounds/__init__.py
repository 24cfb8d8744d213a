"""Symbolic sample-complexity bounds for sparse parity (sympy): a cited, checkable calculator.

Every bound is a :class:`Bound`: a sympy expression in assumption-carrying symbols, the quantity it
bounds (samples, queries, steps, time, width), whether it is an upper, lower or tight (Theta)
bound, validity conditions checked at evaluation, a citation and an honest status:

* ``proved-here``  -- derivation in the bound's ``doc`` and a test that simulates it;
* ``literature``   -- as stated (to our knowledge) in the cited paper;
* ``recalled``     -- form recalled, exact statement unverified (the paper's own two theorems,
  Panigrahi et al. ICLR 2025 Sec. 3, are in this state: see docs/paper.md §4).

Asymptotic statements keep their form; the constants they hide are explicit symbols
(``C_prog``, ``C_one``, ``C_sq``, ``C_kou``, ``C_barak``, ``C_leap``, ``C_edel``) with default 1,
and the polylog factor hidden by O-tilde is ``log(d)**a_log`` with default ``a_log = 0``
(i.e. by default only the leading term is evaluated). Other defaults: ``c = oo`` (no residual
correlation: the plain one-shot form), ``leap = k`` (a k-parity has leap k), ``B = 1``
(outputs bounded by 1 in absolute value).

Usage::

    from parity_theory import bounds
    b = bounds.get("support_recovery")
    b.evaluate(d=100, j=1, rho=0.1, delta=0.01)        # 7922.8...
    bounds.get("paper_one_shot").exponent_in("d")      # Min(2*c, k - 1)
    bounds.crossover("paper_progressive", "paper_one_shot", var="d", k=6, eps=0.01).value  # 87

Command line: ``pdistill bounds --d 100 --k 6 --eps 0.01 [--delta ..] [--rho ..] [--latex]``.
"""
from __future__ import annotations

from ._core import DIRECTIONS, QUANTITIES, STATUSES, SYMBOLS, Bound
from .catalog import all, get, names  # noqa: A004 - `all` is the documented API name
from .cli import cli_main
from .compare import Crossover, crossover, ratio, speedup_exponent, table
from .gf2 import gf2_span_probability

__all__ = [
    "Bound",
    "Crossover",
    "SYMBOLS",
    "STATUSES",
    "QUANTITIES",
    "DIRECTIONS",
    "get",
    "all",
    "names",
    "ratio",
    "speedup_exponent",
    "crossover",
    "table",
    "gf2_span_probability",
    "cli_main",
]
