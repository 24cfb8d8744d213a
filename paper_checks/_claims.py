"""Shared pieces of the paper checks: the ClaimResult record, argument parsing, paired-ratio statistics.

Every check module exposes ``main(argv=None, ctx=None) -> list[ClaimResult]``. ``ctx`` (a
:class:`Context`) is optional: ``reproduce`` passes one so that teacher runs and student results
are shared between checks; a check run on its own builds its own from ``argv``.

Ratios are "how many times faster": ratio = t95(baseline) / t95(method), paired by seed; a run that
never reaches 95% counts as t95 = +inf (so baseline-not-reached gives +inf, method-not-reached gives
0, both-not-reached counts as a tie, ratio 1: no speed-up was observed within the budget; the checks
report how many such ties there are).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from curriculum.io import atomic_savefig, atomic_write_json, atomic_write_text

__all__ = [
    "VERDICTS",
    "ClaimResult",
    "Context",
    "add_common_args",
    "parse_args",
    "paired_ratios",
    "median_ci",
    "ratio_verdict",
    "fmt",
    "jsonable",
    "write_json_atomic",
    "write_text_atomic",
    "default_cache_dir",
]

VERDICTS = ("holds", "does not hold", "inconclusive")


def jsonable(value: Any) -> Any:
    """Recursively convert to strict-JSON values: inf -> "inf"/"-inf", nan -> None, numpy -> python."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return None
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int)):
        return value
    return str(value)


@dataclass(frozen=True)
class ClaimResult:
    """One claim of the paper measured on this machine.

    name: short id (e.g. "acceleration"); claim: the claim in words; claimed: the paper's number or
    text (docs/paper.md); measured: the measured number (float, may be inf) or text; ratio: measured
    speed-up or measured/claimed ratio (float or None); verdict in VERDICTS; seeds: the seeds used;
    wall_s: wall-clock seconds; details: JSON-able extra numbers; figures: PNG paths; notes: prose.
    """

    name: str
    claim: str
    claimed: Any
    measured: Any
    ratio: float | None
    verdict: str
    seeds: tuple[int, ...] = ()
    wall_s: float = 0.0
    details: dict = field(default_factory=dict)
    figures: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ClaimResult.name must be a non-empty str; got {self.name!r}.")
        if self.verdict not in VERDICTS:
            raise ValueError(f"ClaimResult.verdict must be one of {VERDICTS}; got {self.verdict!r}.")
        if self.ratio is not None and not isinstance(self.ratio, (int, float, np.floating, np.integer)):
            raise TypeError(f"ClaimResult.ratio must be a float or None; got {self.ratio!r} ({type(self.ratio).__name__}).")
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        object.__setattr__(self, "figures", tuple(str(f) for f in self.figures))
        if self.ratio is not None:
            object.__setattr__(self, "ratio", float(self.ratio))
        object.__setattr__(self, "wall_s", float(self.wall_s))

    def to_dict(self) -> dict:
        """Strict-JSON dict with keys name, claim, claimed, measured, ratio, verdict, seeds, wall_s, details, figures, notes."""
        return jsonable(
            {
                "name": self.name,
                "claim": self.claim,
                "claimed": self.claimed,
                "measured": self.measured,
                "ratio": self.ratio,
                "verdict": self.verdict,
                "seeds": list(self.seeds),
                "wall_s": self.wall_s,
                "details": self.details,
                "figures": list(self.figures),
                "notes": self.notes,
            }
        )

    def with_wall(self, wall_s: float) -> "ClaimResult":
        """A copy with wall_s replaced."""
        d = dict(self.__dict__)
        d["wall_s"] = wall_s
        return ClaimResult(**d)


# ----------------------------------------------------------------------------------------------
# statistics on paired t95 values: curriculum.compare (torch-free), re-exported for the checks
from curriculum.compare import median_ci, paired_ratios, ratio_verdict  # noqa: E402,F401


def fmt(x: Any, digits: int = 3) -> str:
    """Human formatting: inf -> '∞ (not reached)', floats to ``digits`` significant digits."""
    if x is None:
        return "–"
    if isinstance(x, (float, np.floating)):
        x = float(x)
        if math.isnan(x):
            return "n/a"
        if math.isinf(x):
            return "∞" if x > 0 else "-∞"
        if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
            return f"{x:.{digits - 1}e}"
        if abs(x) >= 100:
            return f"{x:.0f}"
        return f"{x:.{digits}g}"
    if isinstance(x, (list, tuple, np.ndarray)):
        return "[" + ", ".join(fmt(v, digits) for v in x) + "]"
    return str(x)


# ----------------------------------------------------------------------------------------------
# files


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (``curriculum.io.atomic_write_text``)."""
    return atomic_write_text(path, text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    """Strict JSON (no NaN/Infinity) written atomically."""
    return atomic_write_json(path, jsonable(obj), indent=2, allow_nan=False)


def save_figure_atomic(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure as PNG atomically and close it (also on failure)."""
    return atomic_savefig(fig, path, close=True, dpi=dpi, bbox_inches="tight", format="png")


# ----------------------------------------------------------------------------------------------
# arguments and the shared context


def default_cache_dir() -> Path:
    """$IMPLICIT_CURRICULUM_CACHE, else $XDG_CACHE_HOME/implicit-curriculum, else ~/.cache/implicit-curriculum."""
    env = os.environ.get("IMPLICIT_CURRICULUM_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "implicit-curriculum"


def _positive_int_arg(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {s!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {v}")
    return v


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--quick, --seeds, --device, --scale cpu|paper, --out, --cache-dir, --no-progress, --[no-]transformer, --threads,
    --corpus, --text-field, --two-stage-grid."""
    parser.add_argument("--quick", action="store_true", help="CI scale: everything small (well under a minute)")
    parser.add_argument("--seeds", type=_positive_int_arg, default=None,
                        help="number of student seeds (default: 4 at the CPU scale, 3 in --quick, 3 at --scale paper)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto: cuda when present)")
    parser.add_argument("--scale", choices=("cpu", "paper"), default="cpu",
                        help="cpu: the 2-core settings of docs/paper.md §3; paper: the paper's (100,6) settings (GPU)")
    parser.add_argument("--out", default="reproduce_out", help="output folder for REPORT.md, claims.json, figures")
    parser.add_argument("--cache-dir", default=None,
                        help="teacher-run cache (default $IMPLICIT_CURRICULUM_CACHE or ~/.cache/implicit-curriculum)")
    parser.add_argument("--no-progress", action="store_true",
                        help="hide the tqdm progress bars (they show only when stderr is a terminal anyway)")
    tf = parser.add_mutually_exclusive_group()
    tf.add_argument("--transformer", action="store_true", default=None,
                    help="run the Transformer acceleration check even in --quick mode (on by default otherwise)")
    tf.add_argument("--no-transformer", dest="transformer", action="store_false",
                    help="skip the Transformer acceleration check (about 3 of the default run's 4 minutes on 2 cores)")
    parser.add_argument("--threads", type=_positive_int_arg, default=None,
                        help="torch CPU threads (default: the machine's cores)")
    parser.add_argument("--text", action="store_true",
                        help="no effect, kept for old command lines: the natural-text claims always run")
    parser.add_argument("--corpus", nargs="+", default=None, metavar="PATH",
                        help="the natural-text claims on your own corpus (text files, folders, JSONL; split by whole "
                             "documents, docs/text.md) instead of the built-in Shakespeare corpus")
    parser.add_argument("--text-field", default=None,
                        help="with --corpus: the JSONL field holding the text (default 'text')")
    parser.add_argument("--two-stage-grid", choices=("default", "long"), default="default",
                        help="grid of the simulated 2-stage check: default k = 3 (about 15 s), long adds k = 4, 5 (minutes)")
    return parser


def parse_args(argv: Sequence[str] | None, prog: str, description: str) -> argparse.Namespace:
    """Parse the common arguments for a check run on its own."""
    parser = add_common_args(argparse.ArgumentParser(prog=prog, description=description))
    return parser.parse_args(list(argv) if argv is not None else [])


class Context:
    """What the checks of one reproduce call share: arguments, the on-disk teacher cache, student
    results already computed (keyed by a string the checks agree on), figures, timing.
    """

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.quick: bool = bool(args.quick)
        self.scale: str = args.scale
        self.device: str = args.device
        # progress bars only on a terminal: a log file would get a wall of bars
        self.progress: bool = not getattr(args, "no_progress", False) and sys.stderr.isatty()
        self.out = Path(args.out)
        self.cache_dir = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        self.memo: dict[str, Any] = {}
        self.started = time.perf_counter()
        self.threads = int(getattr(args, "threads", None) or os.cpu_count() or 1)
        self._threads_set = False

    def apply_threads(self) -> None:
        """torch.set_num_threads(ctx.threads), once, when a check first trains (lazy: no torch import before)."""
        if not self._threads_set:
            import torch

            torch.set_num_threads(self.threads)
            self._threads_set = True

    @classmethod
    def from_argv(cls, argv: Sequence[str] | None, prog: str = "paper_checks", description: str = "") -> "Context":
        return cls(parse_args(argv, prog, description))

    @property
    def n_seeds(self) -> int:
        if self.args.seeds is not None:
            return int(self.args.seeds)
        return 3 if (self.quick or self.scale == "paper") else 4

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.n_seeds))

    def figure_path(self, name: str) -> Path:
        return self.out / name

    def memoize(self, key: str, fn):
        """Return ctx.memo[key], computing it with fn() the first time."""
        if key not in self.memo:
            self.memo[key] = fn()
        return self.memo[key]
