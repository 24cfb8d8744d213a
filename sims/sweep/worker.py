"""Run one unit inside a worker (a pool process or a Slurm job): claim, run, write results, release.

The unit callable (``unit = "module:function"`` in the sweep file) has the signature
``fn(ctx: UnitContext) -> pandas.DataFrame`` and returns long-format rows with the columns
``point_id, seed, strategy, kind ('curve' | 'summary'), step, metric, value``; the worker adds
``sweep, unit_id`` and one column per axis, checks the columns, and writes
``results.parquet`` atomically. It never raises for a failing unit: the traceback goes to the
manifest (``status = failed``) and the return value says what happened.
"""
from __future__ import annotations

import importlib.metadata
import platform
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .spec import Unit, resolve_callable
from .store import SweepFolder, atomic_write_parquet, owner_identity

__all__ = ["UnitContext", "execute_unit", "execute_units", "RESULT_COLUMNS"]

RESULT_COLUMNS = ["point_id", "seed", "strategy", "kind", "step", "metric", "value"]


@dataclass(frozen=True)
class UnitContext:
    """What a unit callable gets: the unit (teacher config, student points, seeds) and a work folder.

    ``work_dir`` survives a killed attempt, so a rerun resumes from the checkpoints left there.
    ``attempt`` counts from 1.
    """

    unit: Unit
    work_dir: Path
    attempt: int
    device: str = "auto"


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("implicit-curriculum", "torch", "numpy", "pandas", "pyarrow", "submitit"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _finish_frame(df, unit: Unit, sweep_name: str, axis_names: list[str]):
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"unit {unit.unit} must return a pandas DataFrame; got {type(df).__name__}.")
    missing = [c for c in RESULT_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"unit {unit.unit} returned a table without column(s) {missing}; needs {RESULT_COLUMNS}.")
    known_points = {p["point_id"]: p["axes"] for p in unit.points}
    bad = set(df["point_id"]) - set(known_points)
    if bad:
        raise ValueError(f"unit {unit.unit} returned rows for unknown point_id(s) {sorted(bad)[:3]}.")
    df = df.copy()
    df["step"] = df["step"].astype("Int64")
    df["seed"] = df["seed"].astype("int64")
    df["value"] = df["value"].astype("float64")
    df["strategy"] = df["strategy"].astype(str)
    df.insert(0, "unit_id", unit.unit_id)
    df.insert(0, "sweep", sweep_name)
    for name in axis_names:
        df[name] = [known_points[pid].get(name) for pid in df["point_id"]]
    return df.reset_index(drop=True)


def execute_unit(sweep_dir: str, unit_id: str, device: str = "auto") -> dict:
    """Run unit ``unit_id`` of the sweep in ``sweep_dir`` unless it is done or owned by a live worker.

    Returns ``{"unit_id", "status": done|failed|skipped, "detail"}``.
    """
    folder = SweepFolder(sweep_dir)
    sweep = folder.read_sweep()
    units = {u["unit_id"]: u for u in sweep["units"]}
    unit = Unit.from_json(units[unit_id])
    owner = owner_identity()
    if not folder.try_claim(unit_id, owner):
        return {"unit_id": unit_id, "status": "skipped", "detail": "owned by another live worker"}
    try:
        previous = folder.read_manifest(unit_id) or {}
        if previous.get("status") == "done" and folder.results_path(unit_id).is_file():
            return {"unit_id": unit_id, "status": "skipped", "detail": "already done"}
        attempt = int(previous.get("attempt", 0)) + 1
        manifest = {
            "unit_id": unit_id, "sweep": sweep["name"], "spec_hash": sweep["spec_hash"], "status": "running",
            "attempt": attempt, "owner": owner, "started": time.time(), "unit": unit.unit,
            "config": {"teacher": unit.teacher_config, "points": list(unit.points)}, "seeds": list(unit.seeds),
            "axes": unit.axes, "versions": _versions(), "history": previous.get("history", []),
        }
        if previous.get("status") in ("running", "failed"):
            manifest["history"].append({k: previous.get(k) for k in ("attempt", "status", "owner", "started", "error")})
        folder.write_manifest(unit_id, manifest)
        t0 = time.perf_counter()
        try:
            fn = resolve_callable(unit.unit)
            work = folder.work_dir(unit_id)
            work.mkdir(parents=True, exist_ok=True)
            df = fn(UnitContext(unit=unit, work_dir=work, attempt=attempt, device=device))
            df = _finish_frame(df, unit, sweep["name"], sweep["axes"])
            atomic_write_parquet(folder.results_path(unit_id), df)
        except BaseException as exc:  # noqa: BLE001 - recorded, not swallowed: status shows it
            manifest.update(status="failed", finished=time.time(), seconds=time.perf_counter() - t0,
                            error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
            folder.write_manifest(unit_id, manifest)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return {"unit_id": unit_id, "status": "failed", "detail": manifest["error"]}
        manifest.update(status="done", finished=time.time(), seconds=time.perf_counter() - t0, rows=int(len(df)))
        folder.write_manifest(unit_id, manifest)
        return {"unit_id": unit_id, "status": "done", "detail": f"{len(df)} rows"}
    finally:
        folder.release_claim(unit_id)


def execute_units(sweep_dir: str, unit_ids: list[str], device: str = "auto") -> list[dict]:
    """Several units one after the other in this process (a Slurm job with ``units_per_job`` > 1)."""
    return [execute_unit(sweep_dir, u, device) for u in unit_ids]
