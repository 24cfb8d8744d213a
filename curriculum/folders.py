"""Typed, locked output folders: one writer at a time, one kind and one configuration per folder.

Every command that writes a folder (teacher, student, probe, sweep) opens it through
:func:`output_folder` before any work starts:

1. the folder is created and checked writable (:func:`curriculum.io.ensure_writable_dir`);
2. an advisory lock ``DIR/.lock`` is taken (``flock``, exclusive, non-blocking) and held for the
   whole run; the holder's pid, host, start time and command line are written into it. A second
   writer fails at once with an error naming the holder's pid. The kernel drops the lock of a dead
   process, so a stale lock file is simply taken over;
3. the folder is *claimed*: its ``manifest.json`` (:mod:`curriculum.artifacts`) must name the same
   kind and the same configuration (``claim_hash``), else the run is refused with an error naming
   the folder and what it holds. A fresh folder gets a manifest with the kind and the configuration
   (``files`` empty until the command lists its outputs). Folders written before manifests existed
   are recognised by their files (a teacher's checkpoints, a student's results, a probe table, a
   sweep's sweep.json).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from .artifacts import MANIFEST, ArtifactError, config_hash, write_manifest
from .io import ensure_writable_dir

__all__ = ["LOCK_NAME", "FolderInUseError", "folder_lock", "infer_kind", "claim_folder", "output_folder", "read_lock_holder"]

LOCK_NAME = ".lock"


class FolderInUseError(ValueError):
    """Another live process holds the folder's lock."""


def _command_line() -> str:
    argv = list(sys.argv)
    if argv and argv[0].endswith(("pdistill", "__main__.py", "cli.py")):
        argv = ["pdistill", *argv[1:]]
    return " ".join(argv[:2]) if argv else "?"


def read_lock_holder(folder: str | os.PathLike) -> dict:
    """What the lock file of ``folder`` says about its (last) holder; {} when unreadable."""
    try:
        data = json.loads((Path(folder) / LOCK_NAME).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "output", command: str | None = None) -> Iterator[Path]:
    """Hold ``folder/.lock`` (flock, exclusive) while the block runs; yields the lock path.
    ``what`` names the folder in messages; ``command`` is how the holder is described to others
    (default: ``pdistill <subcommand>`` from ``sys.argv``).

    Raises :class:`FolderInUseError` at once when another process holds it (the message names its
    pid, host, start time and command); a lock left by a dead process is taken over."""
    root = Path(folder)
    path = root / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ValueError(f"{what} folder {str(root)!r} is not writable ({path}: {exc.strerror or exc}).") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_lock_holder(root)
            started = holder.get("started")
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "unknown time"
            raise FolderInUseError(
                f"{what} folder {str(root)!r} is in use: another `{holder.get('command', 'process')}` (pid {holder.get('pid', '?')} "
                f"on {holder.get('host', '?')}, since {since}) holds its lock {path}; wait for it to finish or stop it.") from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command or _command_line(),
              "argv": list(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock


def infer_kind(folder: str | os.PathLike) -> str | None:
    """The kind of artifact ``folder`` holds: its manifest's kind, else guessed from its files
    (teacher: checkpoint-<step>/ or a teacher config.json; student: a StudentResults config.json or
    results/curves tables; probe: correlations.parquet; sweep: sweep.json); None when empty/unknown."""
    root = Path(folder)
    if not root.is_dir():
        return None
    try:
        m = json.loads((root / MANIFEST).read_text())
        if isinstance(m, dict) and isinstance(m.get("kind"), str):
            return m["kind"]
    except (OSError, ValueError):
        pass
    if (root / "sweep.json").is_file():
        return "sweep"
    if (root / "correlations.parquet").is_file():
        return "probe"
    try:
        rec = json.loads((root / "config.json").read_text())
    except (OSError, ValueError):
        rec = None
    if isinstance(rec, dict) and rec.get("kind") == "StudentResults":
        return "student"
    if (root / "results.parquet").is_file() or (root / "curves.parquet").is_file():
        return "student"
    if isinstance(rec, dict) or any(p.name.startswith("checkpoint-") for p in root.iterdir()):
        return "teacher"
    return None


def claim_folder(folder: str | os.PathLike, kind: str, config: dict, name: str = "--out") -> dict | None:
    """Refuse ``folder`` when it holds another kind or a run of another configuration; write a
    manifest naming ``kind`` and ``config`` when it has none. Returns the existing manifest (None
    when the folder was fresh). Call it while holding :func:`folder_lock`."""
    root = Path(folder)
    want = config_hash(config)
    held = infer_kind(root)
    if held is not None and held != kind:
        raise ArtifactError(f"{name} {str(root)!r} holds a {held} run; a {kind} cannot write there "
                            "(use another folder).")
    mpath = root / MANIFEST
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text())
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"{str(mpath)!r} is damaged ({exc}); move the folder away or delete it.") from None
        if not isinstance(manifest, dict):
            raise ArtifactError(f"{str(mpath)!r} is damaged: it holds a JSON {type(manifest).__name__}, not an object.")
        have = manifest.get("claim_hash") or manifest.get("config_hash")
        if have != want:
            raise ArtifactError(f"{name} {str(root)!r} holds a {kind} run of a different configuration (config hash "
                                f"{str(have)[:12]} != {want[:12]}); use another folder or delete it.")
        return manifest
    try:  # a teacher folder written before manifests: its config.json records the config hash
        legacy = json.loads((root / "config.json").read_text()) if kind == "teacher" else None
    except (OSError, ValueError):
        legacy = None
    if isinstance(legacy, dict) and legacy.get("config_hash") not in (None, want):
        raise ArtifactError(f"{name} {str(root)!r} holds a {kind} run of a different configuration (config hash "
                            f"{str(legacy['config_hash'])[:12]} != {want[:12]}); use another folder or delete it.")
    write_manifest(root, kind, config, {}, claim_hash=want)
    return None


@contextlib.contextmanager
def output_folder(folder: str | os.PathLike, kind: str, config: dict, name: str = "--out") -> Iterator[Path]:
    """Create, check writable, lock (for the whole block) and claim ``folder`` for a ``kind`` run
    of ``config`` — all before any work; yields the folder's Path."""
    root = ensure_writable_dir(folder, name)
    with folder_lock(root, kind):
        claim_folder(root, kind, config, name)
        yield root
