"""The ``pdistill`` command: a thin dispatcher; each subcommand lives with the code it drives.

Each entry maps a subcommand to ``"module:function"``; the function takes ``argv`` (list of str)
and returns an exit code. Imports are lazy so that ``pdistill bounds`` never imports torch.
"""
from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "reproduce": ("paper_checks.reproduce:main_cli", "run every paper check and write a report (the main job)"),
    "bounds": ("parity_theory.bounds:cli_main", "print sample-complexity bounds (sympy) for given d, k, eps, ..."),
    "teacher": ("sims.cli_train:teacher_main", "train a teacher with checkpoints"),
    "student": ("sims.cli_train:student_main", "distil students from a teacher run with several strategies"),
    "probe": ("sims.probe:cli_main", "correlations of every checkpoint with monomials; figure"),
    "sweep": ("sims.sweep:cli_main", "plan / run / status / collect / plot sweeps (local or Slurm)"),
    "scaling": ("sims.two_stage:main", "samples vs d of the simulated 2-stage algorithm; exponents beside the bounds'"),
}


def _usage() -> str:
    lines = ["usage: pdistill <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {desc}" for name, (_, desc) in SUBCOMMANDS.items()]
    lines += ["", "pdistill <command> --help for the options of a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"pdistill: unknown command {name!r}.\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, func_name = SUBCOMMANDS[name][0].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
