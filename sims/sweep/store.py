"""The sweep folder: layout, atomic writes, per-unit manifests, claims, and the status of each unit.

Layout::

    DIR/sweep.json                    spec identity + hash, the planned units (written once)
    DIR/sweep.toml                    a copy of the sweep file
    DIR/units/<unit_id>/manifest.json status, config, seeds, versions, host, pid / Slurm job, timing, traceback
    DIR/units/<unit_id>/results.parquet  long-format results (written atomically, once, at the end)
    DIR/units/<unit_id>/work/         the unit's scratch (teacher checkpoints; a rerun resumes from them)
    DIR/units/<unit_id>/submission.json  the Slurm job id and submission time of the last submission
    DIR/units/<unit_id>/claim         present while a worker owns the unit (O_EXCL; broken when its owner is dead)
    DIR/submitit/                     submitit's job folders (Slurm executor)
    DIR/.lock                         flock-ed by the `sweep run` working on the folder (holder's pid inside)

A unit's status: ``done`` (manifest done and results.parquet read back with the manifest's row
count), ``damaged`` (a done unit whose results do not read back or have another row count, or an
unreadable manifest: rerun), ``failed`` (raised; traceback kept),
``killed`` (its manifest says running, or submission.json says submitted, but the process or Slurm
job is gone; or the runner was stopped by a signal and marked it), ``running`` (live owner), ``queued`` (submitted to Slurm, not started), ``pending``.
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curriculum import io as _io
from curriculum.folders import LOCK_NAME, FolderInUseError, folder_lock  # DIR/.lock: held by the one `sweep run`
from .spec import SweepSpec, SweepSpecError, Unit

__all__ = [
    "SweepFolder",
    "UnitStatus",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_parquet",
    "owner_identity",
    "slurm_job_states",
]

_ALIVE_SLURM = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "SUSPENDED", "REQUEUED", "RESIZING", "REQUEUE_HOLD", "REQUEUE_FED", "SIGNALING", "STAGE_OUT"}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` atomically and fsynced (readers never see a partial file); see :mod:`curriculum.io`."""
    _io.atomic_write_bytes(path, data, fsync=True)


def atomic_write_parquet(path: Path, df) -> None:
    """A DataFrame as Parquet (no index), written like :func:`atomic_write_bytes`."""
    _io.atomic_write_parquet(path, df, fsync=True, index=False)


def atomic_write_json(path: Path, obj: Any) -> None:
    """The sweep's JSON (indent 2, sorted keys, ``default=str``), written like :func:`atomic_write_bytes`."""
    _io.atomic_write_json(path, obj, fsync=True, indent=2, sort_keys=True, default=str)


def read_json_object(path: Path) -> tuple[dict | None, str | None]:
    """(the JSON object in ``path``, None); (None, None) when the file is missing; (None, what is
    wrong) when it cannot be read, is not JSON, or holds something other than an object (an array)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON ({exc})"
    if not isinstance(data, dict):
        return None, f"holds a JSON {type(data).__name__}, not an object"
    return data, None


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``; None when missing or damaged (see :func:`read_json_object`)."""
    return read_json_object(path)[0]


_UNIT_KEYS = ("unit_id", "teacher_config", "points", "seeds", "unit", "axes")


def _proc_start_time(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): pid + this = a process
    identity. None when there is no such process, or only its zombie (dead, not yet reaped: in a
    container whose init does not reap, a killed worker stays a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] in ("Z", "X", "x") else fields[19]


def slurm_job_id_from_env() -> str | None:
    env = os.environ
    if env.get("SLURM_ARRAY_JOB_ID") and env.get("SLURM_ARRAY_TASK_ID"):
        return f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}"
    return env.get("SLURM_JOB_ID")


def owner_identity() -> dict:
    """Who is running this code: host, pid, process start time, Slurm job id (if any)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _proc_start_time(pid), "slurm_job": slurm_job_id_from_env()}


def slurm_job_states(timeout: float = 10.0) -> dict[str, str] | None:
    """{job id ('123' or '123_4'): state} of every job squeue knows; None when squeue cannot answer."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i|%T"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    states = {}
    for line in out.stdout.splitlines():
        if "|" in line:
            jid, state = line.strip().split("|", 1)
            states[jid] = state
    return states


def slurm_final_state(job_id: str, timeout: float = 5.0) -> str | None:
    """Final state from accounting (sacct), e.g. 'CANCELLED by 0', 'TIMEOUT', 'OUT_OF_MEMORY'; None if unknown."""
    try:
        out = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "JobID,State"],
                             capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.stdout.splitlines():
        parts = line.split("|")
        if len(parts) == 2 and parts[0] == job_id:
            return parts[1]
    return None


def owner_alive(owner: dict | None, slurm_states: dict | None = None) -> bool | None:
    """True / False when it can be decided, None when it cannot (another host, no Slurm job)."""
    if not owner:
        return False
    job = owner.get("slurm_job")
    if job:
        states = slurm_states if slurm_states is not None else slurm_job_states()
        if states is None:
            return None
        return states.get(job) in _ALIVE_SLURM or states.get(job.split("_")[0]) in _ALIVE_SLURM
    if owner.get("host") != socket.gethostname():
        return None
    pid = owner.get("pid")
    return isinstance(pid, int) and _proc_start_time(pid) is not None and _proc_start_time(pid) == owner.get("pid_start")


@dataclass
class UnitStatus:
    unit_id: str
    status: str  # done | failed | killed | running | queued | pending
    detail: str = ""
    manifest: dict | None = None


class SweepFolder:
    """One sweep's output folder (see the module docstring for the layout)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._verified: dict = {}

    # -- paths --------------------------------------------------------------------------------
    def unit_dir(self, unit_id: str) -> Path:
        return self.root / "units" / unit_id

    def manifest_path(self, unit_id: str) -> Path:
        return self.unit_dir(unit_id) / "manifest.json"

    def results_path(self, unit_id: str) -> Path:
        return self.unit_dir(unit_id) / "results.parquet"

    def work_dir(self, unit_id: str) -> Path:
        return self.unit_dir(unit_id) / "work"

    @property
    def submitit_dir(self) -> Path:
        return self.root / "submitit"

    # -- sweep identity -----------------------------------------------------------------------
    def read_sweep(self) -> dict:
        """sweep.json, checked: a missing file, a corrupt one and one of the wrong shape are three errors."""
        path = self.root / "sweep.json"
        data, problem = read_json_object(path)
        if data is None and problem is None:
            raise SweepSpecError(f"{self.root} is not a sweep folder (no sweep.json); run `pdistill sweep run FILE --out {self.root}` first.")
        if problem is not None:
            raise SweepSpecError(f"{path} is corrupt: it {problem}. Restore it, or start the sweep in a new folder.")
        why = None
        missing = [k for k in ("name", "spec_hash", "axes", "units") if k not in data]
        if missing:
            why = f"it lacks the key(s) {missing}"
        elif not isinstance(data["units"], list) or not all(isinstance(u, dict) for u in data["units"]):
            why = "'units' is not a list of objects"
        elif not isinstance(data["axes"], list):
            why = "'axes' is not a list"
        else:
            bad = [u.get("unit_id", i) for i, u in enumerate(data["units"]) if any(k not in u for k in _UNIT_KEYS)]
            if bad:
                why = f"unit(s) {bad[:3]} lack some of the keys {list(_UNIT_KEYS)}"
        if why:
            raise SweepSpecError(f"{path} is corrupt: {why}. Restore it, or start the sweep in a new folder.")
        return data

    def units(self) -> list[Unit]:
        return [Unit.from_json(u) for u in self.read_sweep()["units"]]

    @contextlib.contextmanager
    def lock(self):
        """Hold ``DIR/.lock`` (flock, exclusive) while the block runs: one ``sweep run`` per folder.

        A second runner fails at once with a message naming the holder (pid, host, start); the lock
        of a dead process is released by the kernel, so it is simply taken over."""
        self._ensure_dir()
        try:
            with folder_lock(self.root, "sweep", command="pdistill sweep run"):
                yield
        except FolderInUseError as exc:
            raise SweepSpecError(str(exc)) from None

    def _ensure_dir(self) -> None:
        root = self.root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SweepSpecError(f"output folder {str(root)!r} cannot be created: {exc.strerror or exc}.") from None
        if not root.is_dir():
            raise SweepSpecError(f"output folder {str(root)!r} exists and is not a folder.")

    def prepare(self, spec: SweepSpec, units: list[Unit]) -> None:
        """Create the folder (or check that it belongs to this sweep and that its sweep.json records
        exactly the units the sweep file plans); fail before any job starts."""
        root = self.root
        self._ensure_dir()
        probe = root / f".write-test-{os.getpid()}"
        try:
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            raise SweepSpecError(f"output folder {str(root)!r} is not writable: {exc.strerror or exc}.") from None
        existing = self.read_sweep() if (root / "sweep.json").exists() else None
        if existing is not None:
            if existing.get("spec_hash") != spec.spec_hash:
                raise SweepSpecError(
                    f"output folder {str(root)!r} holds sweep {existing.get('name')!r} made by a different sweep file "
                    f"({existing.get('source')}, spec hash {existing.get('spec_hash')}); this one "
                    f"({spec.source}, {spec.name!r}) has hash {spec.spec_hash}. Use another --out folder."
                )
            self._check_recorded_units(existing, units)
            return
        if any(p.name != LOCK_NAME for p in root.iterdir()):
            raise SweepSpecError(f"output folder {str(root)!r} is not empty and is not a sweep folder; use an empty or new folder.")
        atomic_write_json(root / "sweep.json", {
            "name": spec.name, "spec_hash": spec.spec_hash, "source": spec.source, "identity": spec.identity(),
            "axes": spec.axis_names, "units": [u.to_json() for u in units], "created": time.time(),
        })
        if spec.source and Path(spec.source).is_file():
            atomic_write_bytes(root / "sweep.toml", Path(spec.source).read_bytes())

    def _check_recorded_units(self, existing: dict, units: list[Unit]) -> None:
        """The sweep file is the single source of truth: sweep.json must record exactly its units
        (ids, configs, seeds and the callable), or nothing runs (it records; it does not command)."""
        recorded = {u.get("unit_id"): u for u in existing["units"]}
        planned = {u.unit_id: json.loads(json.dumps(u.to_json(), sort_keys=True, default=str)) for u in units}
        path = self.root / "sweep.json"
        extra, missing = sorted(set(recorded) - set(planned)), sorted(set(planned) - set(recorded))
        if extra or missing:
            raise SweepSpecError(f"{path} does not match the sweep file: unit(s) {(extra + missing)[:3]} are in only one of them; "
                                 "sweep.json was edited or damaged. Restore it or use a new folder.")
        for uid, want in planned.items():
            got = recorded[uid]
            diff = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
            if diff:
                shown = f"{diff[0]} = {got.get(diff[0])!r} where the sweep file gives {want.get(diff[0])!r}"
                raise SweepSpecError(f"{path} does not match the sweep file: unit {uid} records {shown}; "
                                     "sweep.json was edited or damaged (the sweep file decides what runs). Restore it or use a new folder.")

    # -- manifests and claims -----------------------------------------------------------------
    def read_manifest(self, unit_id: str) -> dict | None:
        """The unit's manifest; None when missing or damaged (:meth:`unit_status` says which)."""
        return read_json(self.manifest_path(unit_id))

    def verify_results(self, unit_id: str, manifest: dict) -> str | None:
        """None when the unit's results.parquet reads back whole with the row count its manifest
        records; otherwise what is wrong. Cached per (size, mtime) of the file."""
        path = self.results_path(unit_id)
        try:
            st = path.stat()
        except FileNotFoundError:
            return "results.parquet is missing"
        key = (unit_id, st.st_size, st.st_mtime_ns, manifest.get("rows"))
        if key in self._verified:
            return self._verified[key]
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).num_rows
        except Exception as exc:  # noqa: BLE001 - any reader error means the file is damaged
            problem = f"results.parquet cannot be read back ({type(exc).__name__}: {str(exc)[:120]})"
        else:
            want = manifest.get("rows")
            problem = None if isinstance(want, int) and rows == want else \
                f"results.parquet has {rows} rows where its manifest records {want!r}"
        self._verified[key] = problem
        return problem

    def set_aside_damaged(self, unit_id: str) -> None:
        """Move a damaged unit's results.parquet (and a corrupt manifest) aside, so the unit reruns;
        the damaged files stay in its folder as ``*.damaged-<time>`` for inspection."""
        tag = time.strftime("%Y%m%d-%H%M%S")
        for path in (self.results_path(unit_id), self.manifest_path(unit_id)):
            if path == self.manifest_path(unit_id) and read_json_object(path)[1] is None:
                continue  # a readable manifest is kept: the rerun counts its attempt on from it
            if path.exists():
                os.replace(path, path.with_name(f"{path.name}.damaged-{tag}"))

    def write_manifest(self, unit_id: str, manifest: dict) -> None:
        atomic_write_json(self.manifest_path(unit_id), manifest)

    def try_claim(self, unit_id: str, owner: dict) -> bool:
        """Take the unit (exclusive create of ``claim``); a claim whose owner is dead is broken once."""
        path = self.unit_dir(unit_id) / "claim"
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder, problem = read_json_object(path)
                if holder is not None and holder.get("pid") == owner["pid"] and holder.get("host") == owner["host"] \
                        and holder.get("pid_start") == owner["pid_start"]:
                    return True
                if holder is None and problem and "not valid JSON" in problem and time.time() - path.stat().st_mtime < 5:
                    time.sleep(0.2)  # being written right now (a JSON array or other object is damage: broken below)
                    continue
                requeued = holder is not None and holder.get("slurm_job") and holder.get("slurm_job") == owner.get("slurm_job")
                if holder is not None and not requeued and owner_alive(holder) is not False:
                    return False  # (a requeued Slurm job finds its own earlier claim: that one is dead)
                stale = path.with_name(f"claim.stale-{os.getpid()}")
                try:
                    os.replace(path, stale)
                    stale.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(owner, f)
            return True
        return False

    def release_claim(self, unit_id: str) -> None:
        try:
            (self.unit_dir(unit_id) / "claim").unlink()
        except FileNotFoundError:
            pass

    # -- status -------------------------------------------------------------------------------
    def submission_path(self, unit_id: str) -> Path:
        return self.unit_dir(unit_id) / "submission.json"

    def record_submission(self, unit_id: str, slurm_job: str, submitted_at: float) -> None:
        """Written by the submitter; ``submitted_at`` is taken *before* sbatch, so a started job is newer."""
        atomic_write_json(self.submission_path(unit_id), {"slurm_job": slurm_job, "submitted_at": submitted_at})

    def unit_status(self, unit_id: str, slurm_states: dict | None = None) -> UnitStatus:
        m, problem = read_json_object(self.manifest_path(unit_id))
        if problem is not None:
            return UnitStatus(unit_id, "damaged", f"manifest.json {problem}; will be rerun")
        sub = read_json(self.submission_path(unit_id))
        if m is not None and m.get("status") == "done":
            problem = self.verify_results(unit_id, m)
            if problem is not None:
                return UnitStatus(unit_id, "damaged", f"{problem}; will be rerun", m)
            owner = m.get("owner") if isinstance(m.get("owner"), dict) else {}
            seconds = m.get("seconds") if isinstance(m.get("seconds"), (int, float)) else 0.0
            return UnitStatus(unit_id, "done", f"{seconds:.1f}s on {owner.get('host')}", m)
        if sub is not None and (m is None or m.get("started", 0) < sub.get("submitted_at", 0)):
            job = sub.get("slurm_job")
            alive = owner_alive({"slurm_job": job}, slurm_states)
            if alive is False:
                return UnitStatus(unit_id, "killed", f"Slurm job {job} ended before the unit started "
                                  f"({slurm_final_state(job) or 'state unknown'}); will be rerun", m)
            return UnitStatus(unit_id, "queued", f"Slurm job {job}", m)
        if m is None:
            return UnitStatus(unit_id, "pending")
        st = m.get("status")
        if st == "failed":
            return UnitStatus(unit_id, "failed", m.get("error", ""), m)
        if st == "killed":
            return UnitStatus(unit_id, "killed", f"{m.get('error', 'stopped')}; will be rerun from its last checkpoint", m)
        if st == "running":
            owner = m.get("owner") if isinstance(m.get("owner"), dict) else {}
            alive = owner_alive(owner, slurm_states)
            if alive is False:
                job = owner.get("slurm_job")
                why = f"Slurm job {job} ended ({slurm_final_state(job) or 'state unknown'})" if job else \
                    f"worker pid {owner.get('pid')} on {owner.get('host')} is gone"
                return UnitStatus(unit_id, "killed", f"{why} while running; will be rerun from its last checkpoint", m)
            where = f"Slurm job {owner.get('slurm_job')}" if owner.get("slurm_job") else f"pid {owner.get('pid')} on {owner.get('host')}"
            return UnitStatus(unit_id, "running", f"{where} since {time.strftime('%H:%M:%S', time.localtime(m.get('started', 0)))}", m)
        return UnitStatus(unit_id, "pending", f"manifest status {st!r}", m)

    def statuses(self, units: list[Unit] | None = None) -> list[UnitStatus]:
        units = self.units() if units is None else units
        need_slurm = False
        for u in units:
            m = self.read_manifest(u.unit_id) or {}
            owner = m.get("owner") if isinstance(m.get("owner"), dict) else {}
            if self.submission_path(u.unit_id).is_file() or owner.get("slurm_job"):
                need_slurm = True
        states = slurm_job_states() if need_slurm else None
        return [self.unit_status(u.unit_id, states) for u in units]
