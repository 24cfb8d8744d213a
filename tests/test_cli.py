"""The `pdistill` dispatcher: every subcommand resolves to a callable, help works, unknown commands fail."""
import importlib
import subprocess
import sys

import pytest

from pdistill.cli import SUBCOMMANDS, main


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_resolves_to_a_callable(name):
    module_name, func_name = SUBCOMMANDS[name][0].split(":")
    assert callable(getattr(importlib.import_module(module_name), func_name))


def test_help_lists_every_subcommand(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_unknown_command_exits_2_and_names_it(capsys):
    assert main(["no-such-command"]) == 2
    assert "no-such-command" in capsys.readouterr().err


def test_bounds_subcommand_does_not_import_torch():
    code = ("import sys, io, contextlib; from pdistill.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()): rc = main(['bounds', '--d', '100', '--k', '6', '--eps', '0.01'])\n"
            "print(rc, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["0", "False"]
