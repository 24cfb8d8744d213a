"""The ``pdistill`` command: a thin dispatcher above every layer; each subcommand lives with the code it drives.

Each entry maps a subcommand to ``"module:function"``; the function takes ``argv`` (list of str)
and returns an exit code. Imports are lazy so that ``pdistill bounds`` never imports torch.

Failures are one line on stderr and exit code 2 — bad input, OS errors (unwritable folders, full
disks), out-of-memory — never a traceback; ``pdistill --debug <command> ...`` re-raises instead.
A closed pipe (``pdistill sweep status DIR | head -1``) ends quietly.
"""
from __future__ import annotations

import importlib
import os
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "reproduce": ("paper_checks.reproduce:main_cli", "run every paper check and write a report (the main job)"),
    "bounds": ("parity_theory.bounds:cli_main", "print sample-complexity bounds (sympy) for given d, k, eps, ..."),
    "teacher": ("sims.cli_train:teacher_main", "train a teacher with checkpoints"),
    "student": ("sims.cli_train:student_main", "distil students from a teacher run with several strategies"),
    "probe": ("sims.probe:cli_main", "correlations of every checkpoint with monomials; figure"),
    "sweep": ("sims.sweep:cli_main", "plan / run / status / collect / plot sweeps (local or Slurm)"),
}


def _usage() -> str:
    lines = ["usage: pdistill [--debug] <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {desc}" for name, (_, desc) in SUBCOMMANDS.items()]
    lines += ["", "pdistill <command> --help for the options of a command;",
              "--debug shows the traceback of a failure instead of one line."]
    return "\n".join(lines)


def _fail(name: str, message: str) -> int:
    print(f"pdistill {name}: error: {message}", file=sys.stderr)
    return 2


def _quiet_broken_pipe() -> int:
    """stdout's reader went away: send further output to /dev/null so the interpreter's final
    flush does not fail again, and end with the conventional status of SIGPIPE."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 141


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = False
    while argv and argv[0] == "--debug":
        debug, argv = True, argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"pdistill: unknown command {name!r}.\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name = SUBCOMMANDS[name][0].split(":")
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        return int(func(rest) or 0)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"pdistill {name}: interrupted.", file=sys.stderr)
        return 130
    except MemoryError:
        if debug:
            raise
        return _fail(name, "out of memory: the requested sizes do not fit on this machine; reduce them "
                           "(samples, width, batch, seeds).")
    except OSError as exc:
        if debug:
            raise
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        return _fail(name, f"{exc.strerror or exc}{':' + where if where else ''}")
    except (ValueError, TypeError) as exc:
        if debug:
            raise
        return _fail(name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    except Exception as exc:  # an internal error: still one line, with the way to see more
        if debug:
            raise
        return _fail(name, f"{type(exc).__name__}: {exc} (an internal error; `pdistill --debug {name} ...` "
                           "shows the traceback)")


if __name__ == "__main__":
    sys.exit(main())
