"""Student strategies (CE, one-shot, progressive, k-shot / 2-shot), the distillation loss, and
``train_students``: every strategy x seed trained as ONE ensemble.

Loss of a member on a batch (Panigrahi et al. 2025, §2):
    L = -(1/B) sum_b sum_c q_bc log p_S(c | x_b),
    q = alpha * onehot(label) + (1 - alpha) * p_T,   p_T = softmax(teacher logits / tau)
(tau = 0: p_T = onehot(argmax teacher logits)); the CE strategy uses q = onehot(label).

A strategy maps the student step t (0-based update index) to the teacher checkpoint step that
supervises it (None = labels):
    ce           None
    one_shot     final checkpoint
    progressive  grid[min(i(t) + lookahead, last)], i(t) = index of the largest checkpoint
                 <= floor(t / interval) * interval * multiplier; lookahead 1 (default) is one
                 checkpoint ahead of the student (docs/paper.md §3: safer), 0 the "current" rule;
                 with plateau_patience set, the index instead starts at ``lookahead`` and
                 advances by one whenever the student's held-out accuracy has not improved by
                 plateau_delta over the last plateau_patience evaluations.
    k_shot       pairs (c_1, s_1), ..., (c_k, s_k): c_1 for s_1 steps, then c_2 for s_2, ...,
                 then the final checkpoint.
    two_shot     k_shot with one pair (c, s): c = an explicit checkpoint step (pdistill student
                 takes the teacher's mid-transition checkpoint, curriculum.Transition, when
                 none is given); s = given, or c.

Per seed, all strategies share the student init and the data stream (paired comparison).

Member probes (``MemberProbe``, e.g. ``sims.pcfg_probe.StudentNTProbe``) read the live ensemble at
chosen student steps (in eval mode, the torch RNG state restored after): training is the same bit
for bit with or without them; their rows are ``StudentResults.probes[name]`` and ``<name>.parquet``.
"""
from __future__ import annotations

import bisect
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from curriculum.folders import output_folder
from curriculum.resources import check_fits
from curriculum.transition import first_step_reaching

from parity_theory.validation import check_float, check_int

from .config import StudentConfig, config_hash, derive_seed
from .devices import resolve_device
from .loop import LoopSpec, Targets, make_optimizer, run_loop
from .models import build_model
from .tasks import as_task, soft_targets
from .train import CheckpointError, TeacherRun, atomic_write_parquet, atomic_write_text, training_memory_bytes

__all__ = [
    "Strategy", "CE", "OneShot", "Progressive", "KShot", "TwoShot", "make_strategy",
    "StudentResults", "train_students", "distill_targets", "mid_transition_checkpoint",
    "with_two_shot_checkpoint", "MemberProbe",
]


# ----------------------------------------------------------------------------- strategies
class Schedule:
    """A strategy bound to a teacher's checkpoint grid: ``teacher_step(t)``; adaptive ones ``observe``."""

    adaptive = False

    def teacher_step(self, t: int) -> int | None:  # pragma: no cover - interface
        raise NotImplementedError

    def observe(self, step: int, accuracy: float) -> None:
        return None

    def steps_used(self, total: int) -> set[int]:
        """Every checkpoint step the schedule may name within ``total`` student steps."""
        raise NotImplementedError


class _Fixed(Schedule):
    def __init__(self, segments: list[tuple[int, int]], final: int | None):
        # segments: (checkpoint, n_steps) in order, then ``final`` forever
        self.bounds = list(np.cumsum([s for _, s in segments])) if segments else []
        self.ckpts = [c for c, _ in segments]
        self.final = final

    def teacher_step(self, t: int) -> int | None:
        i = bisect.bisect_right(self.bounds, t)
        return self.ckpts[i] if i < len(self.ckpts) else self.final

    def steps_used(self, total: int) -> set[int]:
        out = {c for c, b0 in zip(self.ckpts, [0] + self.bounds[:-1]) if b0 < total}
        if self.final is not None and (not self.bounds or self.bounds[-1] < total):
            out.add(self.final)
        return out


class _ProgressiveSchedule(Schedule):
    def __init__(self, grid: list[int], multiplier: float, interval: int, lookahead: int,
                 patience: int | None, delta: float):
        self.grid, self.mult, self.interval, self.look = grid, multiplier, interval, lookahead
        self.patience, self.delta = patience, delta
        self.adaptive = patience is not None
        self.ptr = min(lookahead, len(grid) - 1)
        self.accs: list[float] = []

    def teacher_step(self, t: int) -> int:
        if self.adaptive:
            return self.grid[self.ptr]
        tq = (t // self.interval) * self.interval
        i = bisect.bisect_right(self.grid, tq * self.mult + 1e-9) - 1
        return self.grid[min(max(i, 0) + self.look, len(self.grid) - 1)]

    def observe(self, step: int, accuracy: float) -> None:
        if not self.adaptive:
            return
        self.accs.append(float(accuracy))
        p = self.patience
        if len(self.accs) > p and max(self.accs[-p:]) < max(self.accs[:-p]) + self.delta:
            self.ptr = min(self.ptr + 1, len(self.grid) - 1)
            self.accs = self.accs[-1:]

    def steps_used(self, total: int) -> set[int]:
        if self.adaptive:
            return set(self.grid[self.ptr:])
        return {self.teacher_step(t) for t in range(0, total, self.interval)} | {self.teacher_step(total - 1)}


@dataclass(frozen=True)
class Strategy:
    """Base of the strategy specs; ``bind(grid)`` resolves it against a teacher run's checkpoint steps."""

    name: str = ""

    def bind(self, grid: Sequence[int]) -> Schedule:  # pragma: no cover
        raise NotImplementedError

    @property
    def uses_teacher(self) -> bool:
        return True


@dataclass(frozen=True)
class CE(Strategy):
    name: str = "ce"

    def bind(self, grid):
        return _Fixed([], None)

    @property
    def uses_teacher(self) -> bool:
        return False


@dataclass(frozen=True)
class OneShot(Strategy):
    name: str = "one_shot"

    def bind(self, grid):
        return _Fixed([], int(grid[-1]))


@dataclass(frozen=True)
class Progressive(Strategy):
    name: str = "progressive"
    multiplier: float = 1.0
    interval: int = 1
    lookahead: int = 1
    plateau_patience: int | None = None
    plateau_delta: float = 0.005

    def __post_init__(self):
        o = "Progressive"
        object.__setattr__(self, "multiplier", check_float(self.multiplier, "multiplier", lo=0.0, lo_open=True, owner=o))
        object.__setattr__(self, "interval", check_int(self.interval, "interval", owner=o))
        object.__setattr__(self, "lookahead", check_int(self.lookahead, "lookahead", lo=0, owner=o))
        object.__setattr__(self, "plateau_patience", check_int(self.plateau_patience, "plateau_patience", allow_none=True, owner=o))
        object.__setattr__(self, "plateau_delta", check_float(self.plateau_delta, "plateau_delta", lo=0.0, owner=o))

    @classmethod
    def every_refresh(cls, refresh: int, speed: int = 1, ckpt_every: int | None = None, name: str = "progressive") -> "Progressive":
        """The PCFG code's schedule (Panigrahi et al., §5): every R = ``refresh`` student steps the
        checkpoint at step speed * (1 + floor(t / R)) * R (the final one beyond the last). On a grid
        of checkpoints every c = ``ckpt_every`` steps (default R) with c dividing speed * R this is
        interval = R, multiplier = speed, lookahead = speed * R / c (one grid point = c steps)."""
        o = "Progressive.every_refresh"
        refresh = check_int(refresh, "refresh", owner=o)
        speed = check_int(speed, "speed", owner=o)
        c = refresh if ckpt_every is None else check_int(ckpt_every, "ckpt_every", owner=o)
        if (speed * refresh) % c:
            raise ValueError(f"{o}: ckpt_every must divide speed * refresh = {speed * refresh}; got ckpt_every={c}.")
        return cls(name=name, multiplier=float(speed), interval=refresh, lookahead=speed * refresh // c)

    def bind(self, grid):
        return _ProgressiveSchedule(sorted(int(g) for g in grid), float(self.multiplier), self.interval,
                                    self.lookahead, self.plateau_patience, float(self.plateau_delta))


@dataclass(frozen=True)
class KShot(Strategy):
    name: str = "k_shot"
    pairs: tuple[tuple[int, int], ...] = ()

    def __post_init__(self):
        if not self.pairs:
            raise ValueError("KShot.pairs must hold at least one (checkpoint_step, student_steps) pair; got ().")
        for p in self.pairs:
            if len(p) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in p):
                raise ValueError(f"KShot.pairs must hold (checkpoint_step, student_steps) pairs of ints >= 0; got {p!r}.")
        object.__setattr__(self, "pairs", tuple((int(a), int(b)) for a, b in self.pairs))

    def bind(self, grid):
        grid = [int(g) for g in grid]
        for c, _ in self.pairs:
            if c not in grid:
                raise CheckpointError(f"{self.name}: teacher has no checkpoint at step {c}; available: {grid}.")
        return _Fixed(list(self.pairs), grid[-1])


@dataclass(frozen=True)
class TwoShot(Strategy):
    """The checkpoint at step ``checkpoint`` (explicit) for ``steps`` student steps (default: as
    many as the checkpoint's step), then the final teacher. Which checkpoint to use is not chosen
    here: the CLI takes the mid-transition checkpoint of the teacher's history when none is given."""

    name: str = "two_shot"
    checkpoint: int | None = None
    steps: int | None = None

    def __post_init__(self):
        check_int(self.checkpoint, "checkpoint", lo=0, allow_none=True, owner="TwoShot")
        check_int(self.steps, "steps", lo=0, allow_none=True, owner="TwoShot")

    def choose(self, grid: Sequence[int]) -> int:
        """The supervising checkpoint step (validated against the teacher's checkpoint grid)."""
        grid = [int(g) for g in grid]
        if self.checkpoint is None:
            raise ValueError(f"{self.name}: TwoShot.checkpoint must be an explicit teacher checkpoint step (one of {grid}); got None. "
                             "Pass StudentConfig.two_shot_checkpoint (pdistill student picks the mid-transition checkpoint when it is not given).")
        if int(self.checkpoint) not in grid:
            raise CheckpointError(f"{self.name}: teacher has no checkpoint at step {self.checkpoint}; available: {grid}.")
        return int(self.checkpoint)

    def bind(self, grid):
        c = self.choose(grid)
        return _Fixed([(c, int(self.steps) if self.steps is not None else c)], int(sorted(grid)[-1]))


def make_strategy(name: str, config: StudentConfig | None = None) -> Strategy:
    """A strategy spec from its name and the StudentConfig's parameters."""
    c = config or StudentConfig()
    if name == "ce":
        return CE()
    if name == "one_shot":
        return OneShot()
    if name == "progressive":
        return Progressive(multiplier=c.progressive_multiplier, interval=c.progressive_interval,
                           lookahead=c.progressive_lookahead, plateau_patience=c.plateau_patience,
                           plateau_delta=c.plateau_delta)
    if name == "two_shot":
        return TwoShot(checkpoint=c.two_shot_checkpoint, steps=c.two_shot_steps)
    if name == "k_shot":
        return KShot(pairs=c.k_shot_pairs)
    raise ValueError(f"strategy must be one of ce, one_shot, progressive, two_shot, k_shot (or a Strategy); got {name!r}.")


def mid_transition_checkpoint(run: TeacherRun) -> int:
    """The default 2-shot checkpoint: the teacher checkpoint nearest the mid point of its loss
    transition, ``curriculum.Transition.from_history(run.history)`` (the steepest loss drop; the
    toolkit's one rule, docs/curriculum.md)."""
    from curriculum.transition import Transition

    return Transition.from_history(run.history).mid_checkpoint(run.steps)


def with_two_shot_checkpoint(config: StudentConfig, run: TeacherRun, strategies=None) -> StudentConfig:
    """``config`` with ``two_shot_checkpoint`` set to :func:`mid_transition_checkpoint` when the
    strategy name "two_shot" is among ``strategies`` (default ``config.strategies``) and no step
    was given; otherwise ``config`` unchanged."""
    names = config.strategies if strategies is None else [s for s in strategies if isinstance(s, str)]
    if "two_shot" in names and config.two_shot_checkpoint is None:
        return config.replace(two_shot_checkpoint=mid_transition_checkpoint(run))
    return config


# ----------------------------------------------------------------------------- loss targets
def distill_targets(teacher_logits: torch.Tensor, labels: torch.Tensor, tau: float, alpha: float) -> torch.Tensor:
    """q = alpha*onehot(labels) + (1-alpha)*softmax(teacher_logits/tau) (tau=0: onehot argmax).
    teacher_logits (..., C), labels (...) int64 -> q (..., C) (``sims.tasks.soft_targets``)."""
    return soft_targets(labels, teacher_logits.shape[-1], teacher_logits, tau, alpha)


# ----------------------------------------------------------------------------- member probes
class MemberProbe:
    """A probe of the students while they train: at every student step ``s`` with ``due(s)`` (s = 0
    before any update, s = t + 1 after update t) ``train_students`` calls
    ``probe(step, model, members) -> list of row dicts`` with the live ensemble (eval mode; the
    probe must not change it) and ``members[e] = (strategy, seed)`` of member e. The rows of all
    calls form ``StudentResults.probes[name]`` (columns ``columns``), saved as ``<name>.parquet``.

    Due steps: the multiples of ``every`` (0 included) and the explicit ``steps``. ``settings()``
    (JSON-able) describes the probe in manifests and cache keys; subclasses extend it."""

    name: str = "probe"
    columns: tuple[str, ...] = ()

    def __init__(self, every: int | None = None, steps: Sequence[int] | None = None):
        o = type(self).__name__
        self.every = check_int(every, "every", allow_none=True, owner=o)
        if steps is not None and (isinstance(steps, (str, bytes)) or not hasattr(steps, "__iter__")):
            raise TypeError(f"{o}.steps must be None or a sequence of student steps (ints >= 0); got {steps!r}.")
        self.steps = tuple(sorted({check_int(s, "steps[i]", lo=0, owner=o) for s in steps})) if steps is not None else ()
        if self.every is None and not self.steps:
            raise ValueError(f"{o}: give every (probe every this many student steps) or steps (a list of steps); got neither.")

    def due(self, step: int) -> bool:
        return step in self.steps or (self.every is not None and step % self.every == 0)

    def settings(self) -> dict:
        return {"kind": type(self).__name__, "name": self.name, "every": self.every, "steps": list(self.steps)}

    def check_members(self, members: Sequence[tuple[str, int]]) -> None:
        """Called once before training with ``members``; raise ValueError if the probe cannot serve them."""
        return None

    def __call__(self, step: int, model: torch.nn.Module, members: Sequence[tuple[str, int]]) -> list[dict]:  # pragma: no cover
        raise NotImplementedError


_PROBE_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_RESERVED = {"results", "curves", "config"}


def _check_probes(probes) -> list[MemberProbe]:
    if probes is None:
        return []
    if isinstance(probes, MemberProbe):
        probes = [probes]
    probes = list(probes)
    names = []
    for p in probes:
        if not isinstance(p, MemberProbe):
            raise TypeError(f"train_students: probes must be MemberProbe objects; got {type(p).__name__}.")
        if not isinstance(p.name, str) or not _PROBE_NAME.match(p.name) or p.name in _RESERVED:
            raise ValueError(f"train_students: a probe name must match [a-z][a-z0-9_]* and not be one of "
                             f"{sorted(_RESERVED)} (it names <name>.parquet); got {p.name!r}.")
        names.append(p.name)
    if len(set(names)) != len(names):
        raise ValueError(f"train_students: probe names must be distinct; got {names}.")
    return probes


def _probe_frames(probes: Sequence[MemberProbe], rows: dict[str, list]) -> dict[str, pd.DataFrame]:
    return {p.name: pd.DataFrame(rows[p.name], columns=list(p.columns) or None) for p in probes}


def _run_probe(probe: MemberProbe, step: int, model: torch.nn.Module, members, dev: torch.device) -> list[dict]:
    """``probe(step, model, members)`` in eval mode (the mode restored after) with the torch RNG
    state of the CPU (and of ``dev``) restored after, so that training continues as without it."""
    was = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
            return list(probe(step, model, members))
    finally:
        model.train(was)


# ----------------------------------------------------------------------------- results
@dataclass
class StudentResults:
    """summary: one row per (strategy, seed): strategy, seed, t95, t99, samples95, samples99,
    final_accuracy, final_loss (held-out, last evaluation; inf = not reached). curves: strategy, seed, step, accuracy, loss, teacher_step.
    probes: {name: table} of the member probes (``MemberProbe``), saved as <name>.parquet; their
    settings are ``meta["probes"][name]``."""

    summary: pd.DataFrame
    curves: pd.DataFrame
    config: StudentConfig | None = None
    teacher_dir: str | None = None
    meta: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)

    def median(self, column: str = "t95") -> pd.Series:
        """Median of ``column`` per strategy (inf counts as inf)."""
        return self.summary.groupby("strategy", sort=False)[column].median()

    FILES = ("results.parquet", "curves.parquet", "config.json")

    def _record(self, complete: bool = True) -> dict:
        return {"kind": "StudentResults", "complete": complete,
                "config": self.config.to_dict() if self.config else None,
                "config_hash": config_hash(self.config) if self.config else None,
                "teacher_dir": self.teacher_dir, **self.meta}

    def save(self, out_dir: str | Path) -> Path:
        """Write results.parquet (summary), curves.parquet, <probe>.parquet and config.json (manifest) atomically."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_parquet(out / "results.parquet", self.summary)
        atomic_write_parquet(out / "curves.parquet", self.curves)
        for name, table in self.probes.items():
            atomic_write_parquet(out / f"{name}.parquet", table)
        atomic_write_text(out / "config.json", json.dumps(self._record(), indent=2, sort_keys=True, default=str))
        return out

    @classmethod
    def _save_partial(cls, out_dir, curves: pd.DataFrame, config, teacher_dir, meta, probes: dict | None = None) -> None:
        """Curves (and probe rows) of an interrupted run (no results.parquet; the manifest says complete: false)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.parquet").unlink(missing_ok=True)
        atomic_write_parquet(out / "curves.parquet", curves)
        for name, table in (probes or {}).items():
            atomic_write_parquet(out / f"{name}.parquet", table)
        rec = cls(pd.DataFrame(), curves, config, teacher_dir, meta)._record(complete=False)
        atomic_write_text(out / "config.json", json.dumps(rec, indent=2, sort_keys=True, default=str))

    @classmethod
    def load(cls, out_dir: str | Path) -> "StudentResults":
        """The results saved by :meth:`save` (FileNotFoundError when incomplete or missing)."""
        out = Path(out_dir)
        for f in ("results.parquet", "curves.parquet"):
            if not (out / f).is_file():
                raise FileNotFoundError(f"StudentResults.load: {str(out / f)!r} is missing"
                                        + (" (the run was interrupted: only its curves were saved)." if (out / "curves.parquet").is_file() else "."))
        try:
            rec = json.loads((out / "config.json").read_text()) if (out / "config.json").is_file() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"StudentResults.load: {str(out / 'config.json')!r} is not valid JSON ({exc}).") from None
        if not isinstance(rec, dict):
            raise ValueError(f"StudentResults.load: {str(out / 'config.json')!r} is damaged: it holds a JSON "
                             f"{type(rec).__name__}, not an object.")
        cfg = StudentConfig.from_dict(rec["config"]) if rec.get("config") else None
        meta = {k: v for k, v in rec.items() if k not in ("config", "config_hash", "teacher_dir", "kind", "complete")}
        probes = {}
        for name in meta.get("probes") or {}:
            if not (isinstance(name, str) and _PROBE_NAME.match(name)) or name in _RESERVED:
                raise ValueError(f"StudentResults.load: {str(out / 'config.json')!r} names a probe {name!r} that is not a "
                                 "valid probe name.")
            if not (out / f"{name}.parquet").is_file():
                raise FileNotFoundError(f"StudentResults.load: {str(out / (name + '.parquet'))!r} (probe {name!r}) is missing.")
            probes[name] = pd.read_parquet(out / f"{name}.parquet")
        return cls(pd.read_parquet(out / "results.parquet"), pd.read_parquet(out / "curves.parquet"), cfg,
                   rec.get("teacher_dir"), meta, probes)

    def one_line(self) -> str:
        med = self.median("t95")
        reached = self.summary.assign(ok=np.isfinite(self.summary.t95)).groupby("strategy", sort=False)["ok"].sum()
        n = self.summary.groupby("strategy", sort=False).size()
        parts = [f"{s}={_fmt(med[s])} ({int(reached[s])}/{int(n[s])})" for s in med.index]
        if "final_loss" in self.summary.columns and self.meta.get("task", "parity") != "parity":
            # sequence tasks (masked / next-token prediction): accuracy never nears 1; the loss says more
            loss = self.median("final_loss")
            acc = self.median("final_accuracy")
            return "median final loss: " + ", ".join(f"{s}={loss[s]:.4f} (acc {acc[s]:.3f})" for s in loss.index)
        return "median t95: " + ", ".join(parts)


def _fmt(v: float) -> str:
    return "inf" if not np.isfinite(v) else f"{v:g}"


# ----------------------------------------------------------------------------- training
class _TeacherBank:
    """Teacher checkpoints held in memory; sub-ensembles for a tuple of steps built on demand (LRU)
    through the run's one loader, ``TeacherRun.load_ensemble``."""

    def __init__(self, run: TeacherRun, steps: set[int], dev: torch.device, cache: int = 8):
        self.run, self.dev, self.cache = run, dev, cache
        for s in sorted(steps):  # fail early (missing / other-arch checkpoints), load lazily
            run.meta(s)
        self._states: OrderedDict[int, dict] = OrderedDict()
        self.models: OrderedDict[tuple[int, ...], torch.nn.Module] = OrderedDict()

    def state(self, step: int) -> dict:
        st = self._states.get(step)
        if st is None:
            st = self._states[step] = self.run.state_at(step)
            if len(self._states) > 4 * self.cache:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(step)
        return st

    def model(self, steps: tuple[int, ...]) -> torch.nn.Module:
        m = self.models.get(steps)
        if m is None:
            m = self.models[steps] = self.run.load_ensemble(list(steps), self.dev, state_of=self.state)
            if len(self.models) > self.cache:
                self.models.popitem(last=False)
        else:
            self.models.move_to_end(steps)
        return m


class ScheduleTargets(Targets):
    """Targets of K strategies x S seeds (member e = i_strategy * S + i_seed): at update t member e
    is supervised by checkpoint ``scheds[i][j].teacher_step(t)`` of the teacher (None = labels);
    every distinct checkpoint runs once on the S stacked batches."""

    def __init__(self, task, scheds: list[list[Schedule]], bank: _TeacherBank, S: int, tau: float, alpha: float,
                 dev: torch.device):
        K = len(scheds)
        super().__init__(task, K * S)
        self.scheds, self.bank, self.S, self.K, self.tau, self.alpha = scheds, bank, S, K, tau, alpha
        self.adaptive = any(sc.adaptive for row in scheds for sc in row)
        self.seed_idx = torch.arange(S, device=dev).repeat(K)
        self.dev = dev
        self._cache: dict[tuple, tuple] = {}

    def _plan(self, t: int):
        K, S = self.K, self.S
        ck = tuple(self.scheds[i][j].teacher_step(t) for i in range(K) for j in range(S)) if self.adaptive else \
            tuple(c for i in range(K) for c in [self.scheds[i][0].teacher_step(t)] * S)
        hit = self._cache.get(ck)
        if hit is None:
            uniq = tuple(sorted({c for c in ck if c is not None}))
            pos = {c: u for u, c in enumerate(uniq)}
            members = [e for e, c in enumerate(ck) if c is not None]
            mem = torch.tensor(members, dtype=torch.int64, device=self.dev)
            u_idx = torch.tensor([pos[ck[e]] for e in members], dtype=torch.int64, device=self.dev)
            hit = (ck, uniq, mem, u_idx, self.seed_idx[mem] if members else None)
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[ck] = hit
        return hit

    def q(self, t, data, member_stream):
        ck, uniq, mem, u_idx, m_seed = self._plan(t)
        self.current = list(ck)
        labels = data.labels[member_stream]                     # (E, B[, P])
        q = self.task.targets(labels)
        if uniq:
            with torch.no_grad():
                S, B = data.x.shape[:2]
                tz = self.bank.model(uniq)(data.x.reshape(S * B, *data.x.shape[2:]))   # (U, S*B, [P,] C)
                tz = tz.reshape(len(uniq), S, B, *tz.shape[2:])[u_idx, m_seed]         # (E', B, [P,] C)
                q[mem] = self.task.targets(labels[mem], tz.float(), self.tau, self.alpha)
        return q

    def observe(self, step, accuracy):
        if not self.adaptive:
            return
        for e in range(self.K * self.S):
            self.scheds[e // self.S][e % self.S].observe(step, float(accuracy[e]))


def student_claim(config: StudentConfig, run: TeacherRun) -> dict:
    """What owns a student output folder (curriculum.folders): the student config and the teacher
    it learns from (config hash and final step)."""
    return {"student": config.to_dict(), "teacher_config_hash": config_hash(run.config), "teacher_final_step": run.final_step}


def train_students(teacher_run: TeacherRun | str | Path, strategies: Sequence[str | Strategy] | None = None,
                   config: StudentConfig | None = None, device: str | torch.device = "auto",
                   progress: bool = True, manual_backward: bool = True,
                   require_finished: bool = True, out_dir: str | Path | None = None,
                   probes: MemberProbe | Sequence[MemberProbe] | None = None) -> StudentResults:
    """Distil students from ``teacher_run`` with every strategy x seed as one ensemble, through the
    one training loop (``sims.loop.run_loop``).

    Members are ordered strategy-major (member = i_strategy * n_seeds + i_seed). Returns
    StudentResults (.summary, .curves). Deterministic on CPU for a given config. ``out_dir``: also
    save the results there (:meth:`StudentResults.save`); if training stops early (an error or an
    interrupt) the curves so far are saved there as curves.parquet with ``"complete": false``.
    ``out_dir`` is typed, locked and claimed first (curriculum.folders.output_folder): a folder of
    another kind or of another student config / teacher is refused before any work.
    ``probes``: member probes (:class:`MemberProbe`) called at their due student steps with the
    live ensemble; they do not change training (same results bit for bit); their tables are
    ``.probes[name]`` (and <name>.parquet in ``out_dir``, also when training stops early).
    """
    probes = _check_probes(probes)
    run = teacher_run if isinstance(teacher_run, TeacherRun) else TeacherRun.load(teacher_run)
    cfg = config if config is not None else StudentConfig()
    if not isinstance(cfg, StudentConfig):
        raise TypeError(f"train_students: config must be a StudentConfig; got {type(cfg).__name__}.")
    # the strategy "two_shot" by name without a step: the toolkit's default (the steepest loss drop)
    cfg = with_two_shot_checkpoint(cfg, run, strategies if strategies is not None else None)
    if out_dir is None:
        return _train_students(run, strategies, cfg, device, progress, manual_backward, require_finished, None, probes)
    with output_folder(out_dir, "student", student_claim(cfg, run)):
        return _train_students(run, strategies, cfg, device, progress, manual_backward, require_finished, out_dir, probes)


def _train_students(run: TeacherRun, strategies, cfg: StudentConfig, device, progress: bool, manual_backward: bool,
                    require_finished: bool, out_dir, probes: list[MemberProbe] = ()) -> StudentResults:
    if require_finished and not run.finished:
        raise CheckpointError(f"train_students: teacher run {str(run.out_dir)!r} is unfinished (last checkpoint {run.final_step} "
                              f"of {run.config.steps}); finish it with train_teacher or pass require_finished=False.")
    specs = [make_strategy(s, cfg) if isinstance(s, str) else s for s in (strategies if strategies is not None else cfg.strategies)]
    for s in specs:
        if not isinstance(s, Strategy):
            raise TypeError(f"train_students: strategies must be names or Strategy objects; got {type(s).__name__}.")
    names = [s.name for s in specs]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"train_students: strategy names must be distinct and non-empty; got {names}.")
    dev = resolve_device(device)
    task = as_task(run.task)
    grid = list(run.steps)
    seeds = list(cfg.seeds)
    S, K = len(seeds), len(specs)
    E = S * K
    # per-member schedules (adaptive ones need their own state)
    scheds = [[spec.bind(grid) for _ in range(S)] if _is_adaptive(spec) else [spec.bind(grid)] * S for spec in specs]
    used: set[int] = set()
    for row in scheds:
        for sc in ({id(x): x for x in row}).values():
            used |= sc.steps_used(cfg.steps)
    n_in = task.model_input().n
    check_fits(training_memory_bytes(n_in, cfg.model, E, cfg.batch, cfg.eval_size)
               + min(len(used), 8) * training_memory_bytes(n_in, run.config.model, 1, 0, 0) / 16
               + training_memory_bytes(n_in, run.config.model, E, cfg.batch, cfg.eval_size) / 4,
               f"distilling {E} students ({K} strategies x {S} seeds, width {cfg.model.width}, batch {cfg.batch})")
    bank = _TeacherBank(run, used, dev)

    model = build_model(cfg.model.arch, task.model_input(), cfg.model, E,
                        [derive_seed(seeds[j], "student-init") for _ in range(K) for j in range(S)]).to(dev)
    opt = make_optimizer(list(model.parameters()), cfg.optim)
    streams = [task.stream(derive_seed(sd, "student-data")) for sd in seeds]
    targets = ScheduleTargets(task, scheds, bank, S, cfg.tau, cfg.alpha, dev)
    rows: list[dict] = []
    reached99 = np.zeros(E, dtype=bool)

    def on_record(step: int, row: dict) -> None:
        for e in range(E):
            ts = row["teacher_step"][e]
            rows.append({"strategy": names[e // S], "seed": seeds[e % S], "step": step, "accuracy": float(row["accuracy"][e]),
                         "loss": float(row["loss"][e]), "teacher_step": float("nan") if ts is None else float(ts)})

    def stop(step: int, row: dict) -> bool:
        reached99[:] |= row["accuracy"] >= 0.99
        return bool(cfg.early_stop and step > 0 and reached99.all())

    spec = LoopSpec(optim=cfg.optim, steps=cfg.steps, batch=cfg.batch, eval_every=cfg.eval_every,
                    label="student training")
    member_names = [f"{names[e // S]}/seed{seeds[e % S]}" for e in range(E)]
    curve_cols = ["strategy", "seed", "step", "accuracy", "loss", "teacher_step"]
    meta = {"task": task.name, "strategies": [repr(s) for s in specs], "teacher_config_hash": config_hash(run.config),
            "teacher_final_step": run.final_step, "checkpoints_used": sorted(used)}
    if probes:
        meta["probes"] = {p.name: p.settings() for p in probes}
    members = [(names[e // S], seeds[e % S]) for e in range(E)]
    for p in probes:
        p.check_members(members)
    probe_rows: dict[str, list] = {p.name: [] for p in probes}
    probe_wall = {p.name: 0.0 for p in probes}
    if probes:
        meta["probe_wall_s"] = probe_wall   # seconds spent in each probe (filled in as training runs)

    def on_step(step: int) -> None:
        for p in probes:
            if p.due(step):
                t0 = time.perf_counter()
                probe_rows[p.name].extend(_run_probe(p, step, model, members, dev))
                probe_wall[p.name] += time.perf_counter() - t0

    try:
        run_loop(model, opt, task, streams, spec, targets, task.eval_set(cfg.eval_size, cfg.eval_seed).to(dev),
                 member_stream=targets.seed_idx, member_names=member_names, on_record=on_record, stop=stop,
                 progress=progress, manual_backward=manual_backward, on_step=on_step if probes else None)
    except BaseException:
        if out_dir is not None and rows:
            StudentResults._save_partial(out_dir, pd.DataFrame(rows, columns=curve_cols), cfg, str(run.out_dir), meta,
                                         _probe_frames(probes, probe_rows))
        raise
    curves = pd.DataFrame(rows, columns=curve_cols)
    summ = []
    for (name, sd), g in curves.groupby(["strategy", "seed"], sort=False):
        t95 = first_step_reaching(g.step.values, g.accuracy.values, 0.95)
        t99 = first_step_reaching(g.step.values, g.accuracy.values, 0.99)
        summ.append({"strategy": name, "seed": int(sd), "t95": t95, "t99": t99, "samples95": t95 * cfg.batch,
                     "samples99": t99 * cfg.batch, "final_accuracy": float(g.accuracy.values[-1]),
                     "final_loss": float(g.loss.values[-1])})
    summary = pd.DataFrame(summ, columns=["strategy", "seed", "t95", "t99", "samples95", "samples99", "final_accuracy",
                                          "final_loss"])
    res = StudentResults(summary, curves, cfg, str(run.out_dir), meta, _probe_frames(probes, probe_rows))
    if out_dir is not None:
        res.save(out_dir)
    return res


def _is_adaptive(spec: Strategy) -> bool:
    return isinstance(spec, Progressive) and spec.plateau_patience is not None
