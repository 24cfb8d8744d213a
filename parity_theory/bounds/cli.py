"""`pdistill bounds`: a text or LaTeX table of every bound at the given symbol values."""
from __future__ import annotations

import argparse
import math
import sys

from . import catalog as _catalog
from ._core import _DOMAINS, STATUSES
from .catalog import _BOUNDS, get
from .compare import _row

def _fmt(v: float, log10: float | None = None) -> str:
    """A value for the table; ``log10`` (from Bound.evaluate_log10) spells out values beyond float range."""
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return _fmt_log10(log10) if log10 is not None and math.isfinite(log10) else "inf"  # inf: truly infinite
    return f"{v:,.0f}" if 1e3 <= abs(v) < 1e9 else f"{v:.4g}"


def _fmt_log10(lg: float) -> str:
    """10**lg in scientific notation, for lg beyond float range: 30100.3 -> '1.995e+30100'."""
    ex = math.floor(lg)
    mant = 10 ** (lg - ex)
    if mant >= 9.9995:  # rounds up to 10.000
        mant, ex = mant / 10, ex + 1
    return f"{mant:.4g}e+{ex}"


_FOOTER = [
    "status: " + "; ".join(f"{kk} = {vv}" for kk, vv in STATUSES.items()) + ".",
    "defaults: hidden constants C_* = 1; a_log = 0 (the polylog factor log(d)**a_log of O-tilde is dropped);",
    "          c = oo (paper_one_shot without residual correlation); leap = k; B = 1 (outputs in [0,1] or [-1,1]).",
    "RECALLED bounds (paper_progressive, paper_one_shot, edelman2023_samples) are unverified statements.",
]


def _latex_table(bs, point) -> str:
    lines = [r"\begin{tabular}{llllll}", r"\hline",
             r"bound & quantity & direction & value & expression & status \\", r"\hline"]
    for b in bs:
        r = _row(b, point)
        val = _fmt_latex(r["value"], r.get("log10")) if not r["note"] else r["note"].replace("_", r"\_")
        lines.append(f"\\texttt{{{b.name.replace('_', chr(92) + '_')}}} & {b.quantity} & {b.direction} & {val} & "
                     f"${b.latex(statement=True)}$ & {b.status} \\\\")
    lines += [r"\hline", r"\end{tabular}", "",
              r"\par\noindent{\footnotesize Status: " + "; ".join(
                  f"\\textit{{{kk}}} = {vv.replace('_', chr(92) + '_')}" for kk, vv in STATUSES.items()) + ". Hidden constants $C_\\ast = 1$, "
              r"$a_{\log} = 0$, $c = \infty$, $\mathrm{Leap} = k$, $B = 1$ unless set.}"]
    return "\n".join(lines)


def _fmt_latex(v: float, log10: float | None = None) -> str:
    if math.isinf(v) and log10 is not None and math.isfinite(log10):
        mant, ex = _fmt_log10(log10).split("e+")
        return f"${float(mant):g}\\times 10^{{{int(ex)}}}$"
    if math.isnan(v) or math.isinf(v) or 1e-3 <= abs(v) < 1e9:
        return _fmt(v).replace(",", "{,}")
    mant, ex = f"{v:.4e}".split("e")
    return f"${float(mant):g}\\times 10^{{{int(ex)}}}$"


def cli_main(argv: list[str] | None = None) -> int:
    """``pdistill bounds``: print every bound (or ``--names``) at the given symbol values."""
    p = argparse.ArgumentParser(prog="pdistill bounds", description="Sample-complexity bounds for (d, k)-sparse parity (sympy).",
                                epilog="Statuses: " + "; ".join(f"{kk}: {vv}" for kk, vv in STATUSES.items()))
    for name_, dom in _DOMAINS.items():
        if name_.startswith("C_") or name_ == "a_log":
            continue
        typ = int if dom.integer else float
        p.add_argument(f"--{name_}", type=typ, default=None, help=f"{dom.meaning}; {dom.describe()}")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="hidden constant or exponent, e.g. --set C_prog=2 --set a_log=1")
    p.add_argument("--names", default=None, help=f"comma-separated subset of: {', '.join(_BOUNDS)}")
    p.add_argument("--latex", action="store_true", help="print a LaTeX tabular instead of text")
    args = p.parse_args(argv)
    point = {x: getattr(args, x) for x in _DOMAINS if hasattr(args, x) and getattr(args, x) is not None}
    for item in args.set:
        if "=" not in item:
            print(f"pdistill bounds: --set expects NAME=VALUE; got {item!r}", file=sys.stderr)
            return 2
        kk, vv = item.split("=", 1)
        if kk not in _DOMAINS:
            print(f"pdistill bounds: unknown symbol {kk!r} in --set; known: {', '.join(_DOMAINS)}", file=sys.stderr)
            return 2
        try:
            point[kk] = float(vv)
        except ValueError:
            print(f"pdistill bounds: --set {kk} expects a number; got {vv!r}", file=sys.stderr)
            return 2
    try:
        bs = [get(x.strip()) for x in args.names.split(",")] if args.names else _catalog.all()
    except ValueError as err:
        print(f"pdistill bounds: {err}", file=sys.stderr)
        return 2
    computed = [_row(b, point) for b in bs]
    invalid = [r for r in computed if r["note"].startswith("invalid")]
    if invalid and len(invalid) == len(computed):
        given = ", ".join(f"{x}={v:g}" for x, v in point.items())
        why = "; ".join(f"{r['name']}: {r['note'][len('invalid: '):]}" for r in invalid)
        print(f"pdistill bounds: no bound is valid at {given}: {why}", file=sys.stderr)
        return 2
    if args.latex:
        print(_latex_table(bs, point))
        return 0
    header = ["name", "quantity", "bound", "value", "expression", "status", "citation"]
    rows = []
    for b, r in zip(bs, computed):
        val = _fmt(r["value"], r.get("log10")) if not r["note"] else r["note"]
        rows.append([b.name, b.quantity, b.direction, val, r["expression"], b.status, b.short_citation or b.citation])
    widths = [max(len(h), *(len(rw[i]) for rw in rows)) for i, h in enumerate(header[:-1])]
    given = ", ".join(f"{x}={v:g}" for x, v in point.items())
    print(f"Sample-complexity bounds for sparse parity at {given or '(no values given)'}")
    print("  ".join(h.ljust(w) for h, w in zip(header[:-1], widths)) + "  " + header[-1])
    print("  ".join("-" * w for w in widths) + "  " + "-" * 8)
    for rw in rows:
        print("  ".join(x.ljust(w) for x, w in zip(rw[:-1], widths)) + "  " + rw[-1])
    print()
    print("Full citations and derivations: python -c \"from parity_theory import bounds; print(bounds.get('NAME').doc)\"")
    for line in _FOOTER:
        print(line)
    return 0


