"""Two executors behind one small, submitit-shaped interface.

``submit(sweep_dir, unit_ids) -> list[Job]`` (like submitit's ``map_array``) and
``wait(folder, jobs, progress)`` — every job runs :func:`sims.sweep.worker.execute_unit`, which
records everything in the sweep folder, so waiting only has to learn when each unit reached a
final state.

* ``local``: a ``concurrent.futures.ProcessPoolExecutor`` with ``max_parallel`` workers, forked
  from a forkserver that imported the unit module's ``PRELOAD`` (torch, the engine) once.
  Chosen over ``submitit.LocalExecutor`` because its workers are reused and share one import: a
  unit costs no new interpreter and no ``import torch`` (~5 s on this machine, more under load),
  and completion is a future rather than a polled file. A killed worker breaks the pool; the runner then marks the
  unit ``killed`` and a rerun picks it up.
* ``slurm``: ``submitit.AutoExecutor(cluster="slurm")``; all units of a round go out as one job
  array (``slurm_array_parallelism = max_parallel``). Waiting polls the sweep folder plus one
  ``squeue`` call per poll (not ``job.result()``): a job that vanished from the queue without
  finishing its unit (scancel, time limit, OOM) is ``killed`` at the next poll, instead of after
  submitit's sacct backoff and its 15 s grace period.
"""
from __future__ import annotations

import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .spec import ExecutorSpec
from .store import SweepFolder, _proc_start_time, slurm_job_states
from .worker import execute_unit, execute_units

__all__ = ["LocalExecutor", "SlurmExecutor", "make_executor", "sbatch_preview", "slurm_parameters"]

_FINAL = {"done", "failed", "killed"}


@dataclass
class Job:
    unit_id: str
    job_id: str
    handle: Any = None


#: how often a pool worker checks that its runner is still alive (seconds)
RUNNER_POLL_S = 0.2


def _runner_alive(pid: int, start: str | None) -> bool:
    if start is not None:
        return _proc_start_time(pid) == start  # pid + start time: a reused pid does not count
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _die_with_runner(pid: int, start: str | None) -> None:
    """A daemon thread that SIGKILLs this worker as soon as the runner process is gone.

    Pool workers are children of the forkserver, not of the runner, and they hold the forkserver's
    'alive' pipe and the task queue's write end themselves: after a ``kill -9`` of the runner they
    would run every unit already queued to them and then wait forever (and keep the forkserver and
    the resource tracker alive). A unit killed this way is reported ``killed`` (its owner is gone)."""
    import signal
    import threading

    def watch():
        while _runner_alive(pid, start):
            time.sleep(RUNNER_POLL_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="pdistill-runner-watch", daemon=True).start()


def _init_worker(threads: int, runner_pid: int, runner_start: str | None) -> None:
    _die_with_runner(runner_pid, runner_start)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))
    os.environ["PDISTILL_THREADS"] = str(threads)


def _bar(total: int, progress: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="unit", disable=not progress, file=sys.stderr, leave=True)


def _pool_context(folder: SweepFolder):
    """forkserver with the unit module's ``PRELOAD`` imported once in the server (workers fork from
    it: ``import torch`` is paid once, not once per worker); spawn where forkserver is missing."""
    import importlib
    import multiprocessing as mp

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    preload = ["sims.sweep.worker"]
    try:
        unit = folder.read_sweep()["identity"]["unit"]
        mod = importlib.import_module(unit.split(":")[0])
        preload += [unit.split(":")[0], *getattr(mod, "PRELOAD", [])]
    except Exception:  # noqa: BLE001 - preloading is only an optimisation
        pass
    from multiprocessing import forkserver

    server = forkserver._forkserver
    # The forkserver is one per process and keeps the preload it started with: restart it when a
    # later sweep (another unit module) needs more. Our previous pool is shut down by now.
    running = getattr(server, "_forkserver_pid", None) is not None
    if running and not set(preload) <= set(getattr(server, "_preload_modules", []) or []):
        try:
            server._stop()  # private (CPython's own tests use it); only an optimisation if missing
        except AttributeError:
            pass
    ctx.set_forkserver_preload(preload)  # takes effect when this process (re)starts its forkserver
    return ctx


class LocalExecutor:
    """Units in a process pool on this machine (``max_parallel`` worker processes)."""

    kind = "local"

    def __init__(self, spec: ExecutorSpec, device: str = "auto"):
        self.spec = spec
        self.device = device
        self._pool: ProcessPoolExecutor | None = None
        self._unit_ids: list[str] = []
        self._killed_pids: set[int] = set()

    def submit(self, folder: SweepFolder, unit_ids: list[str]) -> list[Job]:
        workers = max(1, min(self.spec.max_parallel, len(unit_ids)))
        self._pool = ProcessPoolExecutor(workers, mp_context=_pool_context(folder),
                                         initializer=_init_worker,
                                         initargs=(self.spec.cpus, os.getpid(), _proc_start_time(os.getpid())))
        self._unit_ids += list(unit_ids)
        return [Job(u, f"local-{i}", self._pool.submit(execute_unit, str(folder.root), u, self.device))
                for i, u in enumerate(unit_ids)]

    def _kill_workers(self) -> None:
        """SIGKILL every worker of the pool (queued units are then never started) and reap them."""
        if self._pool is None:
            return
        procs = list((getattr(self._pool, "_processes", None) or {}).values())  # CPython's pid -> Process map
        for p in procs:
            if p.is_alive():
                self._killed_pids.add(p.pid)
                p.kill()
        for p in procs:
            p.join(10)

    def abort(self, folder: SweepFolder, reason: str) -> list[str]:
        """Stop the workers now and mark the units they were running ``killed`` (with ``reason``);
        returns those unit ids. A rerun resumes them from their checkpoints."""
        import socket

        self._kill_workers()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        marked = []
        for uid in self._unit_ids:
            m = folder.read_manifest(uid)
            owner = (m or {}).get("owner") if isinstance((m or {}).get("owner"), dict) else {}
            if m and m.get("status") == "running" and owner.get("host") == socket.gethostname() \
                    and owner.get("pid") in self._killed_pids:
                m.update(status="killed", finished=time.time(), error=f"killed: {reason}")
                folder.write_manifest(uid, m)
                folder.release_claim(uid)
                marked.append(uid)
        return marked

    def wait(self, folder: SweepFolder, jobs: list[Job], progress: bool = True) -> dict[str, str]:
        """Block until every future finished; a broken pool (killed worker) ends the round."""
        outcome: dict[str, str] = {}
        pending = {j.handle: j for j in jobs}
        bar = _bar(len(jobs), progress, "units")
        try:
            while pending:
                done, _ = futures_wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    job = pending.pop(fut)
                    try:
                        outcome[job.unit_id] = fut.result()["status"]
                    except BrokenProcessPool:
                        outcome[job.unit_id] = "killed"
                    bar.update(1)
        except BaseException:  # a signal (see run_sweep): the workers must not finish the round alone
            self._kill_workers()
            raise
        finally:
            bar.close()
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
        # a unit whose worker died may still show 'running' in its manifest: status says 'killed'
        for uid, st in list(outcome.items()):
            if st == "killed":
                outcome[uid] = folder.unit_status(uid).status
        return outcome


def slurm_parameters(spec: ExecutorSpec, name: str) -> dict:
    """The submitit AutoExecutor parameters for ``spec`` (one place, used by run and --dry-run)."""
    params: dict[str, Any] = {
        "name": f"sweep-{name}",
        "timeout_min": spec.time_min,
        "cpus_per_task": spec.cpus,
        "slurm_array_parallelism": spec.max_parallel,
    }
    if spec.partition:
        params["slurm_partition"] = spec.partition
    if spec.gpus:
        params["gpus_per_node"] = spec.gpus
    if spec.mem_gb is not None:
        params["mem_gb"] = spec.mem_gb
    if spec.extra:
        params["slurm_additional_parameters"] = dict(spec.extra)
    return params


def _auto_executor(folder: Path, spec: ExecutorSpec, name: str):
    import submitit

    ex = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
    ex.update_parameters(**slurm_parameters(spec, name))
    return ex


def sbatch_preview(folder: SweepFolder, spec: ExecutorSpec, name: str, n_units: int) -> str:
    """The sbatch script submitit would submit for ``n_units`` units (nothing is submitted or created).

    Needs no Slurm on this machine (sweeps are planned on laptops): submitit's SlurmExecutor refuses
    to start without ``srun`` on PATH, so the preview uses it with that check answered, and the same
    parameter translation as ``AutoExecutor(cluster="slurm")`` (generic names -> sbatch names,
    ``slurm_`` prefix dropped)."""
    import tempfile

    from submitit.slurm.slurm import SlurmExecutor as _SubmititSlurm
    from submitit.slurm.slurm import _make_sbatch_string

    class _PreviewExecutor(_SubmititSlurm):
        @classmethod
        def affinity(cls) -> int:
            return 1  # only builds the script: nothing is submitted

    with tempfile.TemporaryDirectory() as tmp:  # submitit creates its folder: build it in a throwaway one
        ex = _PreviewExecutor(folder=tmp)
        generic = {k.removeprefix("slurm_"): v for k, v in slurm_parameters(spec, name).items()}
        ex._internal_update_parameters(**ex._convert_parameters(generic))
        params = dict(ex.parameters)
        n_jobs = -(-n_units // spec.units_per_job)
        if n_jobs > 1:
            params["map_count"] = n_jobs
        text = _make_sbatch_string(command=ex._submitit_command_str, folder=ex.folder, **params)
        return text.replace(str(ex.folder), str(folder.submitit_dir.absolute()))


class SlurmExecutor:
    """Units as one Slurm job array through submitit (jobs run this interpreter: ``sys.executable``)."""

    kind = "slurm"

    def __init__(self, spec: ExecutorSpec, device: str = "auto", poll_s: float = 1.0, name: str = "sweep"):
        self.spec = spec
        self.device = device
        self.poll_s = poll_s
        self.name = name

    def submit(self, folder: SweepFolder, unit_ids: list[str]) -> list[Job]:
        ex = _auto_executor(folder.submitit_dir, self.spec, self.name)
        t0 = time.time() - 1.0  # taken before sbatch: a started job's manifest is always newer
        k = self.spec.units_per_job
        chunks = [unit_ids[i:i + k] for i in range(0, len(unit_ids), k)]
        jobs = ex.map_array(execute_units, [str(folder.root)] * len(chunks), chunks, [self.device] * len(chunks))
        out = []
        for chunk, job in zip(chunks, jobs):
            for uid in chunk:
                folder.record_submission(uid, job.job_id, t0)
                out.append(Job(uid, job.job_id, job))
        return out

    def wait(self, folder: SweepFolder, jobs: list[Job], progress: bool = True, timeout_s: float | None = None) -> dict[str, str]:
        return wait_folder(folder, [j.unit_id for j in jobs], progress, self.poll_s, timeout_s)


def wait_folder(folder: SweepFolder, unit_ids: list[str], progress: bool = True, poll_s: float = 1.0,
                timeout_s: float | None = None) -> dict[str, str]:
    """Poll the sweep folder (+ squeue) until each unit is done, failed or killed."""
    outcome: dict[str, str] = {}
    bar = _bar(len(unit_ids), progress, "units")
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while len(outcome) < len(unit_ids):
            states = slurm_job_states()  # snapshot the queue BEFORE reading manifests (no false 'killed')
            for uid in unit_ids:
                if uid in outcome:
                    continue
                st = folder.unit_status(uid, states).status
                if st in _FINAL:
                    outcome[uid] = st
                    bar.update(1)
            if len(outcome) < len(unit_ids):
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"sweep units still unfinished after {timeout_s} s: "
                                       f"{sorted(set(unit_ids) - set(outcome))}")
                time.sleep(poll_s)
    finally:
        bar.close()
    return outcome


def make_executor(spec: ExecutorSpec, device: str = "auto", name: str = "sweep"):
    if spec.kind == "local":
        return LocalExecutor(spec, device)
    return SlurmExecutor(spec, device, name=name)
