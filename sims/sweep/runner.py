"""Plan, run (resumable), inspect and collect a sweep.

``run_sweep`` is idempotent: units that are done are skipped (their id is the hash of the teacher
config, student configs, seeds and unit callable), units owned by a live worker or queued Slurm job
are waited for but not resubmitted, failed and killed units are rerun (a killed unit resumes from
the teacher checkpoints in its work folder). Each unit writes its results once, atomically, so a
row can never be duplicated by reruns.
"""
from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

from .executors import make_executor, sbatch_preview, wait_folder
from .spec import MAX_GRID_POINTS, SweepSpec, SweepSpecError, Unit, first_unit, grid_size, plan_units, resolve_callable
from .store import SweepFolder, atomic_write_parquet

__all__ = ["plan_text", "run_sweep", "status_text", "collect", "estimate_unit_seconds", "size_text",
           "check_grid_size", "SweepInterrupted"]

_RUNNABLE = {"pending", "failed", "killed", "damaged"}
#: at most this many unit lines in a plan (the counts and the cost cover all units)
PLAN_LINES = 200


class SweepInterrupted(BaseException):
    """``run_sweep`` was stopped by SIGTERM / SIGINT; its running units were stopped and marked killed."""

    def __init__(self, signum: int, killed: list[str]):
        import signal as _signal

        self.signum = signum
        self.killed = killed
        super().__init__(f"stopped by {_signal.Signals(signum).name}; {len(killed)} running unit(s) marked killed")


def estimate_unit_seconds(unit: Unit) -> float | None:
    """The unit module's ``estimate_seconds(unit) -> float`` if it has one (a rough guide)."""
    import importlib

    try:
        mod = importlib.import_module(unit.unit.split(":")[0])
    except ImportError:
        return None
    fn = getattr(mod, "estimate_seconds", None)
    return float(fn(unit)) if callable(fn) else None


def _fmt_s(s: float | None) -> str:
    if s is None:
        return "unknown"
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def size_text(spec: SweepSpec) -> str:
    """The grid's size and a cost estimate, from the axis lengths and the first unit alone (nothing
    else is built, so this answers at once for any grid)."""
    size = grid_size(spec)
    dims = " x ".join(f"{n:,}" + (f" ({'+'.join(names)})" if len(names) > 1 else f" ({names[0]})")
                      for names, n in size["factors"]) or "1 (no axes)"
    unit, n_inner = first_unit(spec)
    est = estimate_unit_seconds(unit)
    if est is not None and est == est and len(unit.points) < n_inner:  # scale a partial unit up (rough)
        est *= n_inner / len(unit.points)
    cost = "unknown (the unit has no estimate_seconds)" if est is None or est != est else \
        f"~{_fmt_s(est * size['units'])} of compute (first unit's estimate x {size['units']:,} units)"
    return (f"grid {dims} = {size['points']:,} points in {size['units']:,} units, {size['runs']:,} runs "
            f"(x {len(spec.seeds)} seeds); estimated cost {cost}")


def check_grid_size(spec: SweepSpec, allow_large: bool = False) -> dict:
    """Refuse grids of more than MAX_GRID_POINTS points unless ``allow_large`` (the message shows the
    size and the cost estimate first); returns :func:`grid_size`."""
    size = grid_size(spec)
    if size["points"] > MAX_GRID_POINTS and not allow_large:
        raise SweepSpecError(f"sweep {spec.name!r}: {size_text(spec)}. That is more than {MAX_GRID_POINTS:,} grid points: "
                             "refused; pass --allow-large (allow_large=True) to plan or run it anyway.")
    return size


def plan_text(spec: SweepSpec, units: list[Unit] | None = None, allow_large: bool = False) -> str:
    """Human-readable plan: the size and cost first, then one line per unit (its axis values,
    students, seeds, estimated cost; at most PLAN_LINES lines). Grids over MAX_GRID_POINTS points
    are refused unless ``allow_large``."""
    check_grid_size(spec, allow_large)
    units = plan_units(spec, max_points=None) if units is None else units
    lines = [f"sweep {spec.name!r} ({spec.source or 'in memory'}), spec hash {spec.spec_hash}",
             f"axes: {', '.join(f'{n} ({len(v)} values)' for g in spec.axes for n, v in g) or '(none)'}"
             + (f"; zipped: {[[n for n, _ in g] for g in spec.axes if len(g) > 1]}" if any(len(g) > 1 for g in spec.axes) else ""),
             f"seeds: {list(spec.seeds)}; executor: {spec.executor.kind} (max_parallel={spec.executor.max_parallel})", ""]
    total = 0.0
    known = True
    n_runs = 0
    for i, u in enumerate(units):
        est = estimate_unit_seconds(u)
        if est is None:
            known = False
        else:
            total += est
        n_runs += len(u.points) * len(u.seeds)
        if i >= PLAN_LINES:
            continue
        inner = sorted({k for p in u.points for k in p["axes"]} - set(u.axes))
        inner_txt = f"; {len(u.points)} student configs over {inner}" if inner else f"; {len(u.points)} student config"
        axes_txt = ", ".join(f"{k}={v}" for k, v in u.axes.items()) or "(base config)"
        lines.append(f"  unit {i:3d} {u.unit_id}  {axes_txt}{inner_txt} x {len(u.seeds)} seeds  ~{_fmt_s(est)}")
    if len(units) > PLAN_LINES:
        lines.append(f"  ... and {len(units) - PLAN_LINES:,} more units")
    par = max(1, min(spec.executor.max_parallel, len(units)))
    if len(units) > MAX_GRID_POINTS:
        lines.insert(0, f"warning: {len(units):,} units (more than {MAX_GRID_POINTS:,}); {size_text(spec)}")
    lines += ["", f"{len(units)} units, {n_runs} runs (student configs x seeds; each unit trains its teacher once)",
              f"estimated cost: {_fmt_s(total if known else None)} of compute"
              + (f", ~{_fmt_s(total / par)} wall with {par} in parallel" if known else " (the unit has no estimate_seconds)")]
    return "\n".join(lines)


def _check_runnable(spec: SweepSpec, units: list[Unit]) -> None:
    if not units:
        raise SweepSpecError(f"sweep {spec.name!r} has no units to run.")
    resolve_callable(spec.unit)  # fails now, not in a worker
    import importlib

    validate = getattr(importlib.import_module(spec.unit.split(":")[0]), "validate", None)
    if callable(validate):  # the unit module checks its configs (e.g. the engine's dataclasses) up front
        for u in units:
            try:
                validate(u)
            except (TypeError, ValueError) as exc:
                axes = ", ".join(f"{k}={v}" for k, v in u.axes.items()) or "the base config"
                raise SweepSpecError(f"sweep {spec.name!r}: invalid config at {axes}: {exc}") from None
    if spec.executor.kind == "slurm":
        try:
            import submitit  # noqa: F401
        except ImportError as exc:
            raise SweepSpecError("executor 'slurm' needs submitit: pip install 'implicit-curriculum[cluster]'.") from exc


def run_sweep(spec: SweepSpec, out: str | Path | None = None, *, executor: str | None = None,
              dry_run: bool = False, progress: bool = True, wait: bool = True, device: str = "auto",
              log=print, allow_large: bool = False) -> dict[str, Any]:
    """Run every unit that is not done; returns {'folder', 'outcome': {unit_id: status}, 'submitted': [...]}.

    Everything that can be checked (grid size, spec, unit callable, output folder, folder identity,
    sweep.json against the sweep file, the folder's lock) is checked before any job starts.
    ``wait=False`` (Slurm) returns after submission. One runner per folder: ``DIR/.lock`` is held
    (flock) for the whole run. SIGTERM / SIGINT (in the main thread) stop the local workers, mark
    their units killed and raise :class:`SweepInterrupted`.
    """
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        # syntax only: CUDA itself is checked in the workers (a Slurm submitter may have no GPU)
        raise SweepSpecError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    if executor is not None:
        spec = spec.with_executor(kind=executor)
    out = out if out is not None else spec.out
    if out is None:
        raise SweepSpecError(f"sweep {spec.name!r}: no output folder; set 'out' in the sweep file or pass --out.")
    check_grid_size(spec, allow_large)
    units = plan_units(spec, max_points=None)
    _check_runnable(spec, units)
    folder = SweepFolder(out)
    if dry_run:
        log(plan_text(spec, units))
        n = len(units)
        if (folder.root / "sweep.json").is_file():
            n = sum(s.status in _RUNNABLE for s in folder.statuses(units))
            log(f"\n{folder.root} exists: {n} of {len(units)} units would run (the others are done or busy).")
        if spec.executor.kind == "slurm" and n:
            log(f"\nsbatch script for {n} unit(s) (nothing submitted):\n" + sbatch_preview(folder, spec.executor, spec.name, n))
        return {"folder": str(folder.root), "outcome": {}, "submitted": []}
    with folder.lock(), _stop_on_signals() as stopped:
        folder.prepare(spec, units)
        try:
            return _run_rounds(spec, folder, units, device, progress, wait, log, stopped)
        except _Stop as stop:
            killed = stopped.executor.abort(folder, f"the runner was stopped by {stop.name}") if stopped.executor else []
            raise SweepInterrupted(stop.signum, killed) from None


class _Stop(BaseException):
    """Raised in the main thread by the SIGTERM / SIGINT handler of :func:`_stop_on_signals`."""

    def __init__(self, signum: int):
        import signal as _signal

        self.signum = signum
        self.name = _signal.Signals(signum).name


class _Stopped:
    executor = None  # the executor to abort (one with an ``abort`` method), set by _run_rounds


@contextlib.contextmanager
def _stop_on_signals():
    """SIGTERM and SIGINT raise _Stop in the main thread while the block runs (handlers restored after)."""
    import signal
    import threading

    state = _Stopped()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum, frame):
        raise _Stop(signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield state
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _run_rounds(spec, folder, units, device, progress, wait, log, state) -> dict[str, Any]:
    ex = make_executor(spec.executor, device=device, name=spec.name)
    state.executor = ex if hasattr(ex, "abort") else None
    submitted: list[str] = []
    outcome: dict[str, str] = {}
    for round_ in range(spec.executor.retries + 1):
        statuses = {s.unit_id: s for s in folder.statuses(units)}
        todo = [u.unit_id for u in units if statuses[u.unit_id].status in _RUNNABLE]
        for uid in todo:
            if statuses[uid].status == "damaged":
                log(f"unit {uid}: {statuses[uid].detail}")
                folder.set_aside_damaged(uid)
        busy = [u.unit_id for u in units if statuses[u.unit_id].status in ("running", "queued")]
        n_done = sum(s.status == "done" for s in statuses.values())
        if round_ == 0:
            log(f"sweep {spec.name!r} in {folder.root}: {len(units)} units, {n_done} done, {len(busy)} running/queued "
                f"elsewhere (not resubmitted), {len(todo)} to run on {spec.executor.kind}.")
        elif todo:
            log(f"retry round {round_}: rerunning {len(todo)} failed/killed unit(s).")
        if not todo and not busy:
            break
        jobs = ex.submit(folder, todo) if todo else []
        submitted += [j.unit_id for j in jobs]
        if spec.executor.kind == "slurm" and jobs:
            log(f"submitted {len(jobs)} unit(s) as Slurm job(s) {sorted({j.job_id.split('_')[0] for j in jobs})}")
        if not wait:
            return {"folder": str(folder.root), "outcome": {}, "submitted": submitted}
        outcome.update(ex.wait(folder, jobs, progress) if jobs else {})
        if busy:
            outcome.update(wait_folder(folder, busy, progress))
        if all(outcome.get(u) == "done" for u in todo + busy):
            break
    final = {s.unit_id: s.status for s in folder.statuses(units)}
    counts = {k: sum(v == k for v in final.values()) for k in sorted(set(final.values()))}
    log(f"sweep {spec.name!r}: " + ", ".join(f"{v} {k}" for k, v in counts.items())
        + ("" if counts.get("done") == len(units) else f"; see `pdistill sweep status {folder.root}`"))
    return {"folder": str(folder.root), "outcome": final, "submitted": submitted}


def status_text(folder: SweepFolder, tracebacks: bool = True) -> tuple[str, dict[str, int]]:
    """A table of units (status, axis values, detail) + counts; failed units with their traceback."""
    units = folder.units()
    statuses = folder.statuses(units)
    lines = []
    for u, s in zip(units, statuses):
        axes = ", ".join(f"{k}={v}" for k, v in u.axes.items()) or "(base)"
        attempt = (s.manifest or {}).get("attempt")
        lines.append(f"{u.unit_id}  {s.status:<8} {axes}" + (f"  attempt {attempt}" if attempt else "") + (f"  {s.detail}" if s.detail else ""))
    counts = {k: sum(s.status == k for s in statuses) for k in ("done", "running", "queued", "failed", "killed", "pending")}
    n_damaged = sum(s.status == "damaged" for s in statuses)
    if n_damaged:
        counts["damaged"] = n_damaged
    lines.append("")
    lines.append(f"{len(units)} units: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    if tracebacks:
        for u, s in zip(units, statuses):
            if s.status == "failed" and s.manifest and s.manifest.get("traceback"):
                lines += ["", f"--- unit {u.unit_id} failed (attempt {s.manifest.get('attempt')}, "
                              f"host {s.manifest.get('owner', {}).get('host')}):", s.manifest["traceback"].rstrip()]
    return "\n".join(lines), counts


def collect(folder: SweepFolder, out: str | Path | None = None):
    """Concatenate every finished unit's results into one table; write it (atomically) to ``out``
    (default DIR/results.parquet). Returns (DataFrame, list of unit ids not done)."""
    import pandas as pd

    units = folder.units()
    frames, missing = [], []
    for u, s in zip(units, folder.statuses(units)):  # one squeue snapshot for all units
        if s.status == "done":
            frames.append(pd.read_parquet(folder.results_path(u.unit_id)))
        else:
            missing.append(u.unit_id)
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    target = Path(out) if out is not None else folder.root / "results.parquet"
    atomic_write_parquet(target, df)
    return df, missing
