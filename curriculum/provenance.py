"""Provenance of results: one hash of the toolkit's own source files, for cache keys.

A cached result (a teacher run, student results, a probe table) is reused only when the config
hash AND this source hash match, so any edit of any source file of the toolkit — not a hand-kept
list of "engine files" — misses the cache.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path
from typing import Iterable

__all__ = ["PACKAGES", "package_roots", "source_hash"]

PACKAGES = ("parity_theory", "curriculum", "sims", "paper_checks", "pdistill")
_SUFFIXES = (".py", ".toml", ".json", ".txt", ".cfg")  # code and the data files shipped beside it


def package_roots(packages: Iterable[str] = PACKAGES) -> list[Path]:
    """The directories of the installed packages (those that are importable)."""
    roots = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            roots.extend(Path(p).resolve() for p in spec.submodule_search_locations)
    return roots


def _digest(roots: tuple[Path, ...]) -> str:
    h = hashlib.sha256()
    for root in roots:
        files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in _SUFFIXES
                       and "__pycache__" not in p.parts)
        for p in files:
            rel = f"{root.name}/{p.relative_to(root).as_posix()}"
            data = p.read_bytes()
            h.update(f"{rel}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def _installed_hash() -> str:
    return _digest(tuple(package_roots()))


def source_hash(roots: Iterable[str | Path] | None = None) -> str:
    """sha256 (hex) over every source file (.py and shipped data) under ``roots``, path-qualified.

    roots=None: the toolkit's installed packages (computed once per process, so one run keeps one
    cache folder throughout even if files are edited while it runs).
    """
    if roots is None:
        return _installed_hash()
    return _digest(tuple(Path(r).resolve() for r in roots))
