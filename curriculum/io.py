"""Atomic file writes shared by the whole toolkit (torch-free; pandas / matplotlib imported lazily).

Every writer goes through :func:`atomic_path`: write to a temporary file in the target's folder,
give it the ordinary umask-derived mode, optionally fsync, then ``os.replace`` it onto the target,
so that a reader sees either the old file or the complete new one, never a partial file. On any
exception the temporary file is removed and the target keeps its old content.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = [
    "umask_mode",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_write_parquet",
    "atomic_savefig",
    "ensure_writable_dir",
]


def umask_mode() -> int:
    """The mode an ordinary new file gets under the current umask (0o666 & ~umask, e.g. 0o644)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None, *, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success chmod it to :func:`umask_mode`, fsync
    it if asked, and ``os.replace`` it onto ``path``. On any exception the temporary file is
    unlinked and the exception re-raised. Creates the parent folder. ``suffix`` is the temporary
    file's suffix (default ``.tmp``; use e.g. ``.png`` where a writer infers the format from it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" if suffix is None else suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, umask_mode())  # mkstemp creates 0600; results and reports are ordinary files
        if fsync:
            _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path, fsync=fsync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8", fsync: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path, fsync=fsync) as tmp:
        with open(tmp, "w", encoding=encoding) as fh:
            fh.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, fsync: bool = False, **json_kwargs) -> Path:
    """Write ``json.dumps(obj, **json_kwargs) + "\\n"`` to ``path`` atomically. The JSON options
    (indent, sort_keys, default, allow_nan, ...) are the caller's: nothing is added here."""
    return atomic_write_text(path, json.dumps(obj, **json_kwargs) + "\n", fsync=fsync)


def atomic_write_parquet(path: str | os.PathLike, df, *, fsync: bool = False, **to_parquet_kwargs) -> Path:
    """Write the DataFrame ``df`` to Parquet at ``path`` atomically (``index=False`` unless given)."""
    to_parquet_kwargs.setdefault("index", False)
    with atomic_path(path, fsync=fsync) as tmp:
        df.to_parquet(tmp, **to_parquet_kwargs)
    return Path(path)


def atomic_savefig(fig, path: str | os.PathLike, *, close: bool = True, fsync: bool = False, **savefig_kwargs) -> Path:
    """``fig.savefig`` to ``path`` atomically (the temporary file keeps ``path``'s suffix, so the
    format is inferred as usual). ``close``: close the figure afterwards, also on failure."""
    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix or None, fsync=fsync) as tmp:
            fig.savefig(tmp, **savefig_kwargs)
    finally:
        if close and getattr(fig.canvas, "manager", None) is not None:  # a pyplot-managed figure
            import matplotlib.pyplot as plt  # noqa: PLC0415

            plt.close(fig)
    return path


def ensure_writable_dir(path: str | os.PathLike, name: str = "--out") -> Path:
    """Create folder ``path`` (and its parents) if needed and check that a file can be written in
    it — before any work starts. Raises ValueError naming ``name`` and the path: it is a file, it
    lies under a file, or the folder cannot be created or written."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ValueError(f"{name} must be a folder; {str(p)!r} is a file.")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ValueError(f"{name} {str(p)!r} cannot be created: a part of its path is a file.") from None
    except OSError as exc:
        raise ValueError(f"{name} {str(p)!r} cannot be created: {exc.strerror or exc}.") from None
    try:
        fd, probe = tempfile.mkstemp(dir=p, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"{name} {str(p)!r} is not writable: {exc.strerror or exc}.") from None
    return p
