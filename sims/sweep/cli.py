"""``pdistill sweep plan|run|status|collect|plot`` (see docs/sweeps.md)."""
from __future__ import annotations

import argparse
import os
import signal
import sys

from .spec import MAX_GRID_POINTS, SweepSpecError, load_spec


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdistill sweep", description="Plan, run, inspect, collect and plot sweeps (local or Slurm).")
    sub = p.add_subparsers(dest="cmd", required=True)
    large = (f"plan/run grids of more than {MAX_GRID_POINTS:,} points (refused otherwise; the size and "
             "cost estimate are printed either way)")
    a = sub.add_parser("plan", help="print the units and runs, their count and estimated cost; runs nothing")
    a.add_argument("file", help="sweep file (TOML)")
    a.add_argument("--allow-large", action="store_true", help=large)
    a = sub.add_parser("run", help="run every unit not done yet (resumable; skips finished units)")
    a.add_argument("file", help="sweep file (TOML)")
    a.add_argument("--out", help="sweep folder (default: 'out' in the sweep file)")
    a.add_argument("--executor", choices=["local", "slurm"], help="override executor.kind of the sweep file")
    a.add_argument("--dry-run", action="store_true", help="print the plan (and the sbatch script for slurm); submit nothing")
    a.add_argument("--no-wait", action="store_true", help="slurm: return after submitting")
    a.add_argument("--device", default="auto", help="device for the units: auto | cpu | cuda[:N] (default auto)")
    a.add_argument("--no-progress", action="store_true", help="no progress bar")
    a.add_argument("--allow-large", action="store_true", help=large)
    a = sub.add_parser("status", help="done / running / queued / failed / killed / damaged / pending per unit; tracebacks of failed units")
    a.add_argument("dir", help="sweep folder")
    a.add_argument("--no-tracebacks", action="store_true")
    a = sub.add_parser("collect", help="merge the finished units into one Parquet table")
    a.add_argument("dir", help="sweep folder")
    a.add_argument("--out", help="output file (default DIR/results.parquet)")
    a = sub.add_parser("plot", help="standard figures (PNG) from the collected results")
    a.add_argument("dir", help="sweep folder")
    a.add_argument("--out", help="figure folder (default DIR/figures)")
    a.add_argument("--metric", default="t95", help="summary metric to plot against each axis (default t95)")
    return p


def cli_main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done, 1 some unit not done, 2 bad input (one line on stderr), 128 + N stopped
    by signal N (SIGTERM: running units marked killed). A closed stdout (``| head``) is quiet."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return _dispatch(args)
    except BrokenPipeError:  # the reader went away (`| head -1`): stop quietly, as a C tool would
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit must not raise again
        except (OSError, ValueError):
            pass
        return 128 + signal.SIGPIPE


def _check_out(path, what: str) -> None:
    """Fail before any work when ``path`` cannot become a ``what`` ('file' or 'folder') we can write."""
    from pathlib import Path

    path = Path(path)
    if path.exists() and path.is_dir() != (what == "folder"):
        raise SweepSpecError(f"--out {str(path)!r} is {'a folder' if path.is_dir() else 'a file'}; expected a {what}.")
    up = path if what == "folder" and path.exists() else path.parent
    while not up.exists():
        up = up.parent
    if not up.is_dir():
        raise SweepSpecError(f"--out {str(path)!r} cannot be created: {str(up)!r} is a file, not a folder.")
    if not os.access(up, os.W_OK | os.X_OK):
        raise SweepSpecError(f"--out {str(path)!r} cannot be written: folder {str(up)!r} is not writable.")


def _dispatch(args) -> int:
    from .runner import SweepInterrupted, collect, plan_text, run_sweep, status_text
    from .store import SweepFolder

    try:
        if args.cmd == "plan":
            from .runner import _check_runnable, check_grid_size
            from .spec import plan_units

            spec = load_spec(args.file)
            check_grid_size(spec, args.allow_large)
            units = plan_units(spec, max_points=None)
            _check_runnable(spec, units)  # the same checks as `run`, so plan shows config errors too
            print(plan_text(spec, units, allow_large=args.allow_large))
            return 0
        if args.cmd == "run":
            spec = load_spec(args.file)
            try:
                res = run_sweep(spec, args.out, executor=args.executor, dry_run=args.dry_run,
                                progress=not args.no_progress, wait=not args.no_wait, device=args.device,
                                allow_large=args.allow_large)
            except SweepInterrupted as stop:
                print(f"pdistill sweep run: {stop}" + (f" ({', '.join(stop.killed)})" if stop.killed else "")
                      + "; rerun the same command to resume.", file=sys.stderr)
                return 128 + stop.signum
            if args.dry_run or args.no_wait:
                return 0
            return 0 if all(v == "done" for v in res["outcome"].values()) else 1
        folder = SweepFolder(args.dir)
        if args.cmd == "status":
            text, counts = status_text(folder, tracebacks=not args.no_tracebacks)
            print(text)
            return 0
        if args.cmd == "collect":
            folder.read_sweep()  # a missing or corrupt sweep.json first
            _check_out(args.out or folder.root / "results.parquet", "file")
            df, missing = collect(folder, args.out)
            target = args.out or folder.root / "results.parquet"
            print(f"{len(df)} rows from {len(folder.units()) - len(missing)} units -> {target}")
            if missing:
                print(f"warning: {len(missing)} unit(s) not done and left out: {', '.join(missing)}", file=sys.stderr)
            return 0
        if args.cmd == "plot":
            import pandas as pd

            from .plot import plot_sweep

            folder.read_sweep()
            _check_out(args.out or folder.root / "figures", "folder")
            path = folder.root / "results.parquet"
            df = pd.read_parquet(path) if path.is_file() else collect(folder)[0]
            for p in plot_sweep(df, args.out or folder.root / "figures", folder.read_sweep()["axes"], metric=args.metric):
                print(p)
            return 0
    except BrokenPipeError:
        raise
    except (SweepSpecError, ValueError, TypeError, OSError) as exc:
        msg = f"{exc.strerror}: {exc.filename}" if isinstance(exc, OSError) and exc.strerror and exc.filename else str(exc)
        print(f"pdistill sweep {args.cmd}: error: {msg}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(cli_main())
