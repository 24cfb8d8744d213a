"""Frozen, validated configurations for teachers and students; TOML/dict loading; stable hashes.

Every config is a frozen dataclass validated at construction. Errors name the owner, the
constraint and the value, e.g. ``TeacherConfig.steps must be a positive int; got -3``.
``config_hash(cfg)`` is the sha256 of the canonical JSON of ``cfg.to_dict()`` (sorted keys), so
equal configs hash equally across processes and machines (used for caching and resume checks).
"""
from __future__ import annotations

import hashlib
import math
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from dataclasses import asdict, dataclass, field, fields, replace
from typing import ClassVar
from numbers import Integral
from pathlib import Path

import numpy as np

from curriculum.artifacts import config_hash as _config_hash
from parity_theory.parity import ParityTask
from parity_theory.validation import check_bool, check_choice, check_float, check_int

__all__ = [
    "ConfigBase",
    "TASK_KINDS",
    "register_task_config",
    "TaskConfig",
    "ModelConfig",
    "OptimConfig",
    "TeacherConfig",
    "StudentConfig",
    "config_hash",
    "derive_seed",
    "load_toml",
    "STRATEGY_NAMES",
]

ARCHS = ["mlp", "transformer", "bert", "gpt"]  # model architectures ModelConfig accepts; sims.models.register_model adds to it
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "warmup_cosine")
STRATEGY_NAMES = ("ce", "one_shot", "progressive", "two_shot", "k_shot")


# ----------------------------------------------------------------------------- helpers
def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def _accepted(typ) -> tuple:
    """The classes a sub-config slot of type ``typ`` accepts: every registered task config for the
    task slot, else ``typ`` itself."""
    return tuple(TASK_KINDS.values()) if typ is TaskConfig else (typ,)


def _coerce_nested(obj, owner: str) -> None:
    """Turn each sub-config of ``obj`` (``type(obj)._nested()``) given as a dict into its config
    class; anything else but an instance of that class is a TypeError naming ``owner``."""
    for name, typ in type(obj)._nested().items():
        v = getattr(obj, name)
        if isinstance(v, dict):
            v = typ.from_dict(v)
            _set(obj, name, v)
        if not isinstance(v, _accepted(typ)):
            names = " / ".join(t.__name__ for t in _accepted(typ))
            raise TypeError(f"{owner}.{name} must be a {names} (or dict); got {type(v).__name__}.")


def _from_mapping(cls, d: dict, nested: dict[str, type] | None = None):
    """Build ``cls`` from a dict, rejecting unknown keys with a clear message."""
    if isinstance(d, cls):
        return d
    if not isinstance(d, dict):
        raise TypeError(f"{cls.__name__}.from_dict expects a dict; got {type(d).__name__}.")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown}; allowed: {sorted(names)}.")
    kw = dict(d)
    for key, sub in (nested or {}).items():
        if key in kw and not isinstance(kw[key], _accepted(sub)):
            kw[key] = sub.from_dict(kw[key])
    return cls(**kw)


def derive_seed(seed: int, *stream: int | str) -> int:
    """A 63-bit seed derived from ``seed`` and a stream label (numpy SeedSequence; stable)."""
    words = [int(seed)]
    for s in stream:
        words.append(int.from_bytes(hashlib.sha256(s.encode()).digest()[:4], "little") if isinstance(s, str) else int(s))
    return int(np.random.SeedSequence(words).generate_state(2, dtype=np.uint32).astype(np.uint64) @ np.array([1, 2**31], dtype=np.uint64))


def _canonical(obj):
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    return obj


def config_hash(cfg) -> str:
    """sha256 hex digest of the canonical JSON of ``cfg.to_dict()`` (keys sorted): the one config
    hash of the toolkit, ``curriculum.artifacts.config_hash``."""
    return _config_hash(cfg.to_dict() if hasattr(cfg, "to_dict") else cfg)


def load_toml(path: str | Path) -> dict:
    """Read a TOML file into a dict (tomllib; clear error when missing)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {str(p)!r} does not exist.")
    with open(p, "rb") as fh:
        return tomllib.load(fh)


class ConfigBase:
    """Base of the frozen configs: ``to_dict`` / ``from_dict`` / ``from_toml`` / ``replace`` / ``hash``."""

    def to_dict(self) -> dict:
        d = _canonical(asdict(self))
        for name in (type(self)._nested() if hasattr(type(self), "_nested") else {}):
            kind = getattr(type(getattr(self, name)), "kind", None)
            if kind is not None and kind != "parity":  # parity dicts carry no kind: their hashes stay as they were
                d[name] = {"kind": kind, **d[name]}
        return d

    def hash(self) -> str:
        return config_hash(self)

    def replace(self, **changes):
        return replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict):
        nested = cls._nested() if hasattr(cls, "_nested") else None
        return _from_mapping(cls, d, nested)

    @classmethod
    def from_toml(cls, path: str | Path, table: str | None = None):
        """Load from TOML; ``table`` selects a sub-table (e.g. 'teacher'); default: the top level,
        or the table named after the class ('teacher' / 'student') when that is present."""
        d = load_toml(path)
        if table is None:
            guess = cls.__name__.replace("Config", "").lower()
            if guess in d and isinstance(d[guess], dict):
                d = d[guess]
        else:
            if table not in d:
                raise ValueError(f"{cls.__name__}.from_toml: table [{table}] not found in {str(path)!r}; tables: {sorted(d)}.")
            d = d[table]
        return cls.from_dict(d)


# ----------------------------------------------------------------------------- configs
TASK_KINDS: dict[str, type] = {}


def register_task_config(kind: str):
    """Class decorator: register a frozen task config (a ConfigBase dataclass with ``make_task()``
    returning a ``sims.tasks.Task``) under ``kind``. ``TeacherConfig.task`` then accepts it, and a
    dict / TOML table with ``kind = "<kind>"`` builds it (no kind: parity)."""
    def deco(cls):
        cls.kind = kind
        TASK_KINDS[kind] = cls
        return cls
    return deco


@register_task_config("parity")
@dataclass(frozen=True)
class TaskConfig(ConfigBase):
    """(n, k)-sparse parity; the support is explicit or drawn from ``support_seed``.
    ``TaskConfig.from_dict`` dispatches on a ``kind`` key to other registered task configs."""

    kind: ClassVar[str] = "parity"

    n: int = 40
    k: int = 4
    support_seed: int = 0
    support: tuple[int, ...] | None = None

    def __post_init__(self):
        o = "TaskConfig"
        n = check_int(self.n, "n", owner=o)
        k = check_int(self.k, "k", owner=o)
        if k > n:
            raise ValueError(f"TaskConfig.k must be an int in [1, n]; got k={k} with n={n}.")
        _set(self, "n", n)
        _set(self, "k", k)
        _set(self, "support_seed", check_int(self.support_seed, "support_seed", lo=0, owner=o))
        if self.support is not None:
            sup = ParityTask(n, tuple(self.support)).support  # validates indices
            if len(sup) != k:
                raise ValueError(f"TaskConfig.support must have k={k} indices; got {len(sup)} in {tuple(self.support)!r}.")
            _set(self, "support", tuple(sup))

    @classmethod
    def from_dict(cls, d: dict):
        if isinstance(d, dict) and "kind" in d:
            d = dict(d)
            kind = d.pop("kind")
            if kind not in TASK_KINDS:
                import sims.tasks  # noqa: F401  (registers the toolkit's own task configs, e.g. pcfg)
            check_choice(kind, "kind", sorted(TASK_KINDS), owner="TaskConfig")
            if TASK_KINDS[kind] is not cls:
                return TASK_KINDS[kind].from_dict(d)
        return _from_mapping(cls, d)

    def make_task(self) -> ParityTask:
        if self.support is not None:
            return ParityTask(self.n, self.support)
        return ParityTask.random(self.n, self.k, np.random.default_rng(self.support_seed))


@dataclass(frozen=True)
class ModelConfig(ConfigBase):
    """Model shape. MLP: ``width`` hidden units in each of ``depth`` hidden ReLU layers.
    Transformer: ``n_layers`` pre-norm blocks of ``n_heads`` heads of ``head_dim``, MLP ratio
    ``mlp_ratio``, class read at the last position or a CLS token (``readout``); ``causal``
    None = the readout's default (causal for "last", bidirectional for "cls"); ``init``
    "pytorch" | "gpt2". Defaults follow the CPU-feasible setting of docs/paper.md §3 (1 layer, CLS)."""

    arch: str = "mlp"
    width: int = 500
    depth: int = 1
    n_layers: int = 1
    n_heads: int = 4
    head_dim: int = 8
    mlp_ratio: int = 4
    readout: str = "cls"
    causal: bool | None = None
    init: str = "pytorch"

    def __post_init__(self):
        o = "ModelConfig"
        check_choice(self.arch, "arch", ARCHS, owner=o)
        _set(self, "width", check_int(self.width, "width", owner=o))
        _set(self, "depth", check_int(self.depth, "depth", owner=o))
        _set(self, "n_layers", check_int(self.n_layers, "n_layers", owner=o))
        _set(self, "n_heads", check_int(self.n_heads, "n_heads", owner=o))
        _set(self, "head_dim", check_int(self.head_dim, "head_dim", owner=o))
        _set(self, "mlp_ratio", check_int(self.mlp_ratio, "mlp_ratio", owner=o))
        check_choice(self.readout, "readout", ("last", "cls"), owner=o)
        check_bool(self.causal, "causal", allow_none=True, owner=o)
        check_choice(self.init, "init", ("pytorch", "gpt2"), owner=o)


@dataclass(frozen=True)
class OptimConfig(ConfigBase):
    """Optimizer: sgd | adam | adamw, lr, momentum (sgd), betas (adam*), weight decay, schedule
    constant | warmup_cosine (linear warmup over ``warmup_frac`` of the steps, then cosine to 0),
    ``grad_clip`` = max global grad norm PER ENSEMBLE MEMBER (None = off)."""

    name: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_frac: float = 0.06
    grad_clip: float | None = None

    def __post_init__(self):
        o = "OptimConfig"
        check_choice(self.name, "name", OPTIMIZERS, owner=o)
        _set(self, "lr", check_float(self.lr, "lr", lo=0.0, lo_open=True, owner=o))
        _set(self, "momentum", check_float(self.momentum, "momentum", lo=0.0, hi=1.0, hi_open=True, owner=o))
        _set(self, "beta1", check_float(self.beta1, "beta1", lo=0.0, hi=1.0, hi_open=True, owner=o))
        _set(self, "beta2", check_float(self.beta2, "beta2", lo=0.0, hi=1.0, hi_open=True, owner=o))
        _set(self, "eps", check_float(self.eps, "eps", lo=0.0, lo_open=True, owner=o))
        _set(self, "weight_decay", check_float(self.weight_decay, "weight_decay", lo=0.0, owner=o))
        check_choice(self.schedule, "schedule", SCHEDULES, owner=o)
        _set(self, "warmup_frac", check_float(self.warmup_frac, "warmup_frac", lo=0.0, hi=1.0, owner=o))
        _set(self, "grad_clip", check_float(self.grad_clip, "grad_clip", lo=0.0, lo_open=True, allow_none=True, owner=o))

    def lr_at(self, step: int, total: int) -> float:
        """Learning rate for update number ``step`` (0-based) of ``total``."""
        if self.schedule == "constant":
            return self.lr
        warm = int(round(self.warmup_frac * total))
        if step < warm:
            return self.lr * (step + 1) / warm
        rest = max(total - warm, 1)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * min(step - warm, rest) / rest))


@dataclass(frozen=True)
class TeacherConfig(ConfigBase):
    """A teacher run: task, model, optimizer; ``steps`` updates of ``batch`` fresh samples;
    eval every ``eval_every`` steps on ``eval_size`` held-out samples (drawn from ``eval_seed``);
    a checkpoint every ``ckpt_every`` steps (and at steps 0 and ``steps``)."""

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=lambda: ModelConfig(width=500))
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 1200
    batch: int = 32
    ckpt_every: int = 100
    eval_every: int = 100
    eval_size: int = 4096
    eval_seed: int = 12345
    seed: int = 0

    @classmethod
    def _nested(cls):
        return {"task": TaskConfig, "model": ModelConfig, "optim": OptimConfig}

    def __post_init__(self):
        o = "TeacherConfig"
        _coerce_nested(self, o)
        for name in ("steps", "batch", "ckpt_every", "eval_every", "eval_size"):
            _set(self, name, check_int(getattr(self, name), name, owner=o))
        _set(self, "eval_seed", check_int(self.eval_seed, "eval_seed", lo=0, owner=o))
        _set(self, "seed", check_int(self.seed, "seed", lo=0, owner=o))


@dataclass(frozen=True)
class StudentConfig(ConfigBase):
    """Students distilled from a teacher run (all strategies x seeds trained as one ensemble).

    strategies: names among ce | one_shot | progressive | two_shot | k_shot.
    tau: teacher temperature (0 = argmax hard labels); alpha: weight of the label CE in
    alpha * CE + (1 - alpha) * KD.
    progressive: at student step t, the checkpoint ``lookahead`` grid positions after the last
    checkpoint with step <= t_q * multiplier, t_q = t rounded down to ``progressive_interval``
    (1 = every step); lookahead 1 = one checkpoint ahead (default, docs/paper.md §3), 0 = the
    "current" checkpoint; ``plateau_patience`` (evals) enables advance-on-plateau.
    two_shot: the teacher checkpoint at step ``two_shot_checkpoint`` (an explicit step; the CLI
    picks the mid-transition checkpoint of the teacher's history when none is given) for
    ``two_shot_steps`` student steps (default: as many as that checkpoint's step), then the
    final teacher. Training with "two_shot" among the strategies needs the step.
    k_shot: explicit ((checkpoint_step, student_steps), ...) then the final teacher.
    """

    model: ModelConfig = field(default_factory=lambda: ModelConfig(width=16))
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 5000
    batch: int = 32
    eval_every: int = 100
    eval_size: int = 4096
    eval_seed: int = 54321
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    strategies: tuple[str, ...] = ("ce", "one_shot", "progressive", "two_shot")
    tau: float = 1.0
    alpha: float = 0.0
    progressive_multiplier: float = 1.0
    progressive_interval: int = 1
    progressive_lookahead: int = 1
    plateau_patience: int | None = None
    plateau_delta: float = 0.005
    two_shot_checkpoint: int | None = None
    two_shot_steps: int | None = None
    k_shot_pairs: tuple[tuple[int, int], ...] = ()
    early_stop: bool = False

    @classmethod
    def _nested(cls):
        return {"model": ModelConfig, "optim": OptimConfig}

    def __post_init__(self):
        o = "StudentConfig"
        _coerce_nested(self, o)
        for name in ("steps", "batch", "eval_every", "eval_size", "progressive_interval"):
            _set(self, name, check_int(getattr(self, name), name, owner=o))
        _set(self, "eval_seed", check_int(self.eval_seed, "eval_seed", lo=0, owner=o))
        seeds = self.seeds
        if isinstance(seeds, Integral) and not isinstance(seeds, bool):
            seeds = tuple(range(check_int(seeds, "seeds", owner=o)))
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise TypeError(f"{o}.seeds must be a positive int (count) or a sequence of ints >= 0; got {self.seeds!r}.")
        seeds = tuple(check_int(s, "seeds[i]", lo=0, owner=o) for s in seeds)
        if not seeds:
            raise ValueError(f"{o}.seeds must not be empty; got {self.seeds!r}.")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"{o}.seeds must be distinct; got {seeds!r}.")
        _set(self, "seeds", seeds)
        strat = self.strategies
        if isinstance(strat, str):
            strat = tuple(s.strip() for s in strat.split(",") if s.strip())
        strat = tuple(strat)
        if not strat:
            raise ValueError(f"{o}.strategies must not be empty; choose from {list(STRATEGY_NAMES)}.")
        for s in strat:
            check_choice(s, "strategies[i]", STRATEGY_NAMES, owner=o)
        if len(set(strat)) != len(strat):
            raise ValueError(f"{o}.strategies must be distinct; got {strat!r}.")
        _set(self, "strategies", strat)
        _set(self, "tau", check_float(self.tau, "tau", lo=0.0, owner=o))
        _set(self, "alpha", check_float(self.alpha, "alpha", lo=0.0, hi=1.0, owner=o))
        _set(self, "progressive_multiplier", check_float(self.progressive_multiplier, "progressive_multiplier", lo=0.0, lo_open=True, owner=o))
        _set(self, "progressive_lookahead", check_int(self.progressive_lookahead, "progressive_lookahead", lo=0, owner=o))
        _set(self, "plateau_patience", check_int(self.plateau_patience, "plateau_patience", allow_none=True, owner=o))
        _set(self, "plateau_delta", check_float(self.plateau_delta, "plateau_delta", lo=0.0, owner=o))
        _set(self, "two_shot_checkpoint", check_int(self.two_shot_checkpoint, "two_shot_checkpoint", lo=0, allow_none=True, owner=o))
        _set(self, "two_shot_steps", check_int(self.two_shot_steps, "two_shot_steps", lo=0, allow_none=True, owner=o))
        pairs = []
        for p in self.k_shot_pairs:
            if not hasattr(p, "__len__") or len(p) != 2:
                raise ValueError(f"{o}.k_shot_pairs must hold (checkpoint_step, student_steps) pairs; got {p!r}.")
            pairs.append((check_int(p[0], "k_shot_pairs[i][0]", lo=0, owner=o), check_int(p[1], "k_shot_pairs[i][1]", lo=0, owner=o)))
        _set(self, "k_shot_pairs", tuple(pairs))
        if "k_shot" in strat and not pairs:
            raise ValueError(f"{o}.k_shot_pairs must be non-empty when 'k_shot' is among the strategies; got {self.k_shot_pairs!r}.")
        check_bool(self.early_stop, "early_stop", owner=o)
