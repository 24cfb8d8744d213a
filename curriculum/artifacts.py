"""Artifact folders: one manifest format, and the probe table's one on-disk format and loader.

Every artifact folder the toolkit writes carries ``manifest.json``::

    {"format": "implicit-curriculum/1", "kind": "probe", "config": {...}, "config_hash": "<sha256>",
     "source_hash": "<sha256 of the toolkit's sources>", "created": "<UTC ISO time>",
     "files": {"correlations.parquet": {"rows": 1234, "bytes": 56789}}}

``kind`` says what the folder holds (teacher, students, probe, transition, sweep ...), ``config``
what produced it and ``files`` what must be there; :func:`read_manifest` checks all three, so a
truncated table, a folder of another kind or a foreign config is a clear error, never a silent
mix. Files are written atomically (:mod:`curriculum.io`), the manifest last.

The probe table (``sims.probe.probe_run``'s tidy DataFrame, docs/probe.md) is stored as
``correlations.parquet`` with its ``attrs`` (n, k, support, samples, ...) in the manifest's config;
``pdistill probe`` and the paper checks' cache both use :func:`write_probe_table` /
:func:`load_probe_table`.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from .io import atomic_write_json, atomic_write_parquet
from .provenance import source_hash

__all__ = ["FORMAT", "MANIFEST", "ArtifactError", "config_hash", "write_manifest", "read_manifest",
           "write_probe_table", "load_probe_table", "PROBE_FILE"]

FORMAT = "implicit-curriculum/1"
MANIFEST = "manifest.json"
PROBE_FILE = "correlations.parquet"


class ArtifactError(ValueError):
    """An artifact folder that is missing, damaged, of another kind, or made by another config."""


def _canonical(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return obj.item()
    return obj


def config_hash(config: dict) -> str:
    """sha256 hex of the canonical JSON of ``config`` (keys sorted; tuples as lists)."""
    blob = json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"), allow_nan=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_manifest(folder: str | Path, kind: str, config: dict, files: dict[str, dict],
                   claim_hash: str | None = None) -> dict:
    """Write ``folder/manifest.json`` atomically (after the files it lists) and return it.
    ``claim_hash``: the hash of the run configuration that owns the folder, when it differs from
    ``config``'s (curriculum.folders: a probe's config gains the table's attrs at the end)."""
    folder = Path(folder)
    for name in files:
        if not (folder / name).is_file():
            raise ArtifactError(f"write_manifest: {str(folder / name)!r} is listed but does not exist.")
    manifest = {"format": FORMAT, "kind": str(kind), "config": _canonical(config), "config_hash": config_hash(config),
                "source_hash": source_hash(), "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "files": {name: dict(meta, bytes=(folder / name).stat().st_size) for name, meta in files.items()}}
    if claim_hash is not None:
        manifest["claim_hash"] = str(claim_hash)
    atomic_write_json(folder / MANIFEST, manifest, indent=2, sort_keys=True, allow_nan=True)
    return manifest


def read_manifest(folder: str | Path, kind: str | None = None, config: dict | None = None) -> dict:
    """The folder's manifest, checked: valid JSON object of this format, of ``kind`` (when given),
    made by ``config`` (when given: same config hash), every listed file present with its size."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not folder.is_dir():
        raise ArtifactError(f"{str(folder)!r} is not a folder.")
    if not path.is_file():
        raise ArtifactError(f"{str(folder)!r} has no {MANIFEST}: not an artifact folder of this toolkit (or unfinished).")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{str(path)!r} is damaged: not valid JSON ({exc}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ArtifactError(f"{str(path)!r} is not a manifest of format {FORMAT!r}; got {got!r}.")
    if kind is not None and manifest.get("kind") != kind:
        raise ArtifactError(f"{str(folder)!r} holds a {manifest.get('kind')!r} artifact, not a {kind!r} one.")
    if config is not None and manifest.get("config_hash") != config_hash(config):
        raise ArtifactError(f"{str(folder)!r} was made by another configuration (config hash "
                            f"{str(manifest.get('config_hash'))[:12]} != {config_hash(config)[:12]}).")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"{str(path)!r} is damaged: 'files' must be an object; got {type(files).__name__}.")
    for name, meta in files.items():
        f = folder / name
        if not f.is_file():
            raise ArtifactError(f"{str(f)!r} is missing (listed in the manifest).")
        if isinstance(meta, dict) and "bytes" in meta and f.stat().st_size != meta["bytes"]:
            raise ArtifactError(f"{str(f)!r} is damaged: {f.stat().st_size} bytes, the manifest says {meta['bytes']}.")
    return manifest


def write_probe_table(folder: str | Path, table: pd.DataFrame, config: dict | None = None,
                      claim_hash: str | None = None) -> Path:
    """Store a probe table: correlations.parquet (attrs dropped) + manifest (kind "probe"; config =
    ``config`` plus the table's attrs under "attrs"; ``claim_hash`` as in :func:`write_manifest`).
    Returns the folder."""
    folder = Path(folder)
    plain = table.copy()
    plain.attrs = {}
    atomic_write_parquet(folder / PROBE_FILE, plain, index=False)
    cfg = dict(config or {})
    cfg["attrs"] = _canonical(dict(table.attrs))
    write_manifest(folder, "probe", cfg, {PROBE_FILE: {"rows": int(len(plain))}}, claim_hash=claim_hash)
    return folder


def load_probe_table(folder: str | Path, config: dict | None = None) -> pd.DataFrame:
    """The probe table of ``folder`` (attrs restored), checked against its manifest (and ``config``
    when given: the same config, attrs excluded)."""
    manifest = read_manifest(folder, kind="probe")
    stored = dict(manifest["config"])
    attrs = stored.pop("attrs", {})
    if config is not None and config_hash(stored) != config_hash(config):
        raise ArtifactError(f"{str(folder)!r} holds the probe of another configuration.")
    try:
        table = pd.read_parquet(Path(folder) / PROBE_FILE)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ArtifactError(f"{str(Path(folder) / PROBE_FILE)!r} is damaged ({type(exc).__name__}: {exc}).") from None
    rows = manifest["files"][PROBE_FILE].get("rows")
    if rows is not None and len(table) != rows:
        raise ArtifactError(f"{str(Path(folder) / PROBE_FILE)!r} has {len(table)} rows; the manifest says {rows}.")
    table.attrs.update(attrs)
    return table
