"""Every CLI failure is one line on stderr and exit code 2, found before the work starts."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from curriculum.io import ensure_writable_dir
from pdistill import cli


def test_ensure_writable_dir_names_the_problem(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(ValueError, match="--out must be a folder; .*afile' is a file"):
        ensure_writable_dir(f)
    with pytest.raises(ValueError, match="--cache-dir .* a part of its path is a file"):
        ensure_writable_dir(f / "sub" / "dir", "--cache-dir")
    assert ensure_writable_dir(tmp_path / "new" / "deep").is_dir()


@pytest.mark.parametrize("argv", [
    ["reproduce", "--only", "bounds", "--out", "{file}"],
    ["reproduce", "--only", "bounds", "--out", "{file}/under"],
    ["reproduce", "--only", "bounds", "--out", "{tmp}/ok", "--cache-dir", "{file}"],
])
def test_unwritable_outputs_fail_fast_in_one_line(tmp_path, argv):
    f = tmp_path / "afile"
    f.write_text("x")
    argv = [a.format(file=f, tmp=tmp_path) for a in argv]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "pdistill", *argv], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert "file" in lines[0]
    assert time.perf_counter() - t0 < 60  # no compute happened (generous: interpreter start on a busy machine)


def test_probe_refuses_a_file_as_out_before_loading(tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("x")
    assert cli.main(["probe", str(tmp_path / "no-such-run"), "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err


def _raiser(exc):
    def run(argv):
        raise exc
    return run


@pytest.mark.parametrize("exc, code, text", [
    (OSError(28, "No space left on device", "/x/y"), 2, "No space left on device"),
    (MemoryError(), 2, "out of memory"),
    (ValueError("Thing.n must be an int >= 1; got 0."), 2, "Thing.n must be an int >= 1; got 0."),
    (RuntimeError("boom"), 2, "RuntimeError: boom"),
    (BrokenPipeError(), 141, None),
])
def test_the_dispatcher_turns_every_failure_into_one_line(monkeypatch, capsys, exc, code, text):
    import types

    mod = types.ModuleType("_fake_cmd")
    mod.run = _raiser(exc)
    monkeypatch.setitem(sys.modules, "_fake_cmd", mod)
    monkeypatch.setitem(cli.SUBCOMMANDS, "fake", ("_fake_cmd:run", "a test command"))
    if isinstance(exc, BrokenPipeError):
        monkeypatch.setattr(cli, "_quiet_broken_pipe", lambda: 141)
    assert cli.main(["fake"]) == code
    err = capsys.readouterr().err
    if text is None:
        assert err == ""
    else:
        assert err.count("\n") == 1 and text in err and err.startswith("pdistill fake: error:")
    if not isinstance(exc, BrokenPipeError):  # a closed pipe is quiet even with --debug
        with pytest.raises(type(exc)):
            cli.main(["--debug", "fake"])


def test_check_fits_refuses_with_the_estimate():
    from curriculum.resources import check_fits

    assert check_fits(1e6, "a thing", total=10**9) == 1e6
    with pytest.raises(ValueError, match=r"a thing needs about 93.1 GiB of memory; this machine has 16.0 GiB"):
        check_fits(1e11, "a thing", total=16 * 2**30)


def test_probe_refuses_an_impossible_sample_count_before_probing(tmp_path, capsys):
    from sims.config import TeacherConfig
    from sims.train import train_teacher

    run = train_teacher(TeacherConfig(steps=20, ckpt_every=10, eval_every=10, eval_size=64), tmp_path / "t",
                        device="cpu", progress=False)
    t0 = time.perf_counter()
    assert cli.main(["probe", str(run.out_dir), "--out", str(tmp_path / "p"), "--samples", str(10**14)]) == 2
    err = capsys.readouterr().err
    assert "of memory" in err and err.count("\n") == 1
    assert time.perf_counter() - t0 < 30
