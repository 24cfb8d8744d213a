"""Sweeps: a grid of configs x seeds -> units -> an executor (local process pool or Slurm via
submitit) -> one long-format Parquet table per unit, resumable and idempotent.

    spec = load_spec("examples/sweeps/tiny.toml")
    print(plan_text(spec))
    run_sweep(spec, "runs/tiny")                 # or executor="slurm"
    df, missing = collect(SweepFolder("runs/tiny"))

The command line is ``pdistill sweep plan|run|status|collect|plot`` (:func:`cli_main`).
"""
from __future__ import annotations

from .cli import cli_main
from .runner import collect, plan_text, run_sweep, status_text
from .spec import ExecutorSpec, SweepSpec, SweepSpecError, Unit, load_spec, parse_spec, plan_units
from .store import SweepFolder, UnitStatus
from .worker import RESULT_COLUMNS, UnitContext, execute_unit

__all__ = [
    "cli_main",
    "collect",
    "plan_text",
    "run_sweep",
    "status_text",
    "ExecutorSpec",
    "SweepSpec",
    "SweepSpecError",
    "Unit",
    "load_spec",
    "parse_spec",
    "plan_units",
    "SweepFolder",
    "UnitStatus",
    "RESULT_COLUMNS",
    "UnitContext",
    "execute_unit",
]
