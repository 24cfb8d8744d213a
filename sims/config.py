"""Frozen, validated configurations for teachers and students; TOML/dict loading; stable hashes.

Every config is a frozen dataclass validated at construction. Errors name the owner, the
constraint and the value, e.g. ``TeacherConfig.steps must be a positive int; got -3``.
``config_hash(cfg)`` is the sha256 of the canonical JSON of ``cfg.to_dict()`` (sorted keys), so
equal configs hash equally across processes and machines (used for caching and resume checks).
"""
from __future__ import annotations

import hashlib
import json
import math
try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Integral, Real
from pathlib import Path

import numpy as np

from parity_theory.parity import ParityTask

__all__ = [
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

ARCHS = ("mlp", "transformer")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "warmup_cosine")
STRATEGY_NAMES = ("ce", "one_shot", "progressive", "two_shot", "k_shot")


# ----------------------------------------------------------------------------- validators
def _int(owner: str, name: str, value, lo: int | None = 1, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral):
        what = "a positive int" if lo == 1 else (f"an int >= {lo}" if lo is not None else "an int")
        raise TypeError(f"{owner}.{name} must be {what}; got {value!r} ({type(value).__name__}).")
    if lo is not None and value < lo:
        what = "a positive int" if lo == 1 else f"an int >= {lo}"
        raise ValueError(f"{owner}.{name} must be {what}; got {value}.")
    return int(value)


def _float(owner: str, name: str, value, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}.{name} must be a real number; got {value!r} ({type(value).__name__}).")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{owner}.{name} must be finite; got {v}.")
    lo_bad = lo is not None and (v <= lo if lo_open else v < lo)
    hi_bad = hi is not None and (v >= hi if hi_open else v > hi)
    if lo_bad or hi_bad:
        lb = "(" if lo_open else "["
        rb = ")" if hi_open else "]"
        rng = f"{lb}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{rb}"
        raise ValueError(f"{owner}.{name} must lie in {rng}; got {v}.")
    return v


def _choice(owner: str, name: str, value, choices):
    if value not in choices:
        raise ValueError(f"{owner}.{name} must be one of {list(choices)}; got {value!r}.")
    return value


def _set(obj, name, value):
    object.__setattr__(obj, name, value)


def _coerce_nested(obj, owner: str) -> None:
    """Turn each sub-config of ``obj`` (``type(obj)._nested()``) given as a dict into its config
    class; anything else but an instance of that class is a TypeError naming ``owner``."""
    for name, typ in type(obj)._nested().items():
        v = getattr(obj, name)
        if isinstance(v, dict):
            v = typ.from_dict(v)
            _set(obj, name, v)
        if not isinstance(v, typ):
            raise TypeError(f"{owner}.{name} must be a {typ.__name__} (or dict); got {type(v).__name__}.")


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
        if key in kw and not isinstance(kw[key], sub):
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
    """sha256 hex digest of the canonical JSON of ``cfg.to_dict()`` (keys sorted)."""
    d = cfg.to_dict() if hasattr(cfg, "to_dict") else cfg
    blob = json.dumps(_canonical(d), sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_toml(path: str | Path) -> dict:
    """Read a TOML file into a dict (tomllib; clear error when missing)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {str(p)!r} does not exist.")
    with open(p, "rb") as fh:
        return tomllib.load(fh)


class _Base:
    def to_dict(self) -> dict:
        return _canonical(asdict(self))

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
@dataclass(frozen=True)
class TaskConfig(_Base):
    """(n, k)-sparse parity; the support is explicit or drawn from ``support_seed``."""

    n: int = 40
    k: int = 4
    support_seed: int = 0
    support: tuple[int, ...] | None = None

    def __post_init__(self):
        o = "TaskConfig"
        n = _int(o, "n", self.n)
        k = _int(o, "k", self.k)
        if k > n:
            raise ValueError(f"TaskConfig.k must be an int in [1, n]; got k={k} with n={n}.")
        _set(self, "n", n)
        _set(self, "k", k)
        _set(self, "support_seed", _int(o, "support_seed", self.support_seed, lo=0))
        if self.support is not None:
            sup = ParityTask(n, tuple(self.support)).support  # validates indices
            if len(sup) != k:
                raise ValueError(f"TaskConfig.support must have k={k} indices; got {len(sup)} in {tuple(self.support)!r}.")
            _set(self, "support", tuple(sup))

    def make_task(self) -> ParityTask:
        if self.support is not None:
            return ParityTask(self.n, self.support)
        return ParityTask.random(self.n, self.k, np.random.default_rng(self.support_seed))


@dataclass(frozen=True)
class ModelConfig(_Base):
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
        _choice(o, "arch", self.arch, ARCHS)
        _set(self, "width", _int(o, "width", self.width))
        _set(self, "depth", _int(o, "depth", self.depth))
        _set(self, "n_layers", _int(o, "n_layers", self.n_layers))
        _set(self, "n_heads", _int(o, "n_heads", self.n_heads))
        _set(self, "head_dim", _int(o, "head_dim", self.head_dim))
        _set(self, "mlp_ratio", _int(o, "mlp_ratio", self.mlp_ratio))
        _choice(o, "readout", self.readout, ("last", "cls"))
        if self.causal is not None and not isinstance(self.causal, bool):
            raise TypeError(f"{o}.causal must be None or a bool; got {self.causal!r}.")
        _choice(o, "init", self.init, ("pytorch", "gpt2"))


@dataclass(frozen=True)
class OptimConfig(_Base):
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
        _choice(o, "name", self.name, OPTIMIZERS)
        _set(self, "lr", _float(o, "lr", self.lr, lo=0.0, lo_open=True))
        _set(self, "momentum", _float(o, "momentum", self.momentum, lo=0.0, hi=1.0, hi_open=True))
        _set(self, "beta1", _float(o, "beta1", self.beta1, lo=0.0, hi=1.0, hi_open=True))
        _set(self, "beta2", _float(o, "beta2", self.beta2, lo=0.0, hi=1.0, hi_open=True))
        _set(self, "eps", _float(o, "eps", self.eps, lo=0.0, lo_open=True))
        _set(self, "weight_decay", _float(o, "weight_decay", self.weight_decay, lo=0.0))
        _choice(o, "schedule", self.schedule, SCHEDULES)
        _set(self, "warmup_frac", _float(o, "warmup_frac", self.warmup_frac, lo=0.0, hi=1.0))
        _set(self, "grad_clip", _float(o, "grad_clip", self.grad_clip, lo=0.0, lo_open=True, allow_none=True))

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
class TeacherConfig(_Base):
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
            _set(self, name, _int(o, name, getattr(self, name)))
        _set(self, "eval_seed", _int(o, "eval_seed", self.eval_seed, lo=0))
        _set(self, "seed", _int(o, "seed", self.seed, lo=0))


@dataclass(frozen=True)
class StudentConfig(_Base):
    """Students distilled from a teacher run (all strategies x seeds trained as one ensemble).

    strategies: names among ce | one_shot | progressive | two_shot | k_shot.
    tau: teacher temperature (0 = argmax hard labels); alpha: weight of the label CE in
    alpha * CE + (1 - alpha) * KD.
    progressive: at student step t, the checkpoint ``lookahead`` grid positions after the last
    checkpoint with step <= t_q * multiplier, t_q = t rounded down to ``progressive_interval``
    (1 = every step); lookahead 1 = one checkpoint ahead (default, docs/paper.md §3), 0 = the
    "current" checkpoint; ``plateau_patience`` (evals) enables advance-on-plateau.
    two_shot: the first checkpoint with teacher accuracy >= ``two_shot_threshold`` (or
    ``two_shot_checkpoint`` when given) for ``two_shot_steps`` student steps (default: as many
    as that checkpoint's step), then the final teacher.
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
    two_shot_threshold: float = 0.6
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
            _set(self, name, _int(o, name, getattr(self, name)))
        _set(self, "eval_seed", _int(o, "eval_seed", self.eval_seed, lo=0))
        seeds = self.seeds
        if isinstance(seeds, Integral) and not isinstance(seeds, bool):
            seeds = tuple(range(_int(o, "seeds", seeds)))
        if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
            raise TypeError(f"{o}.seeds must be a positive int (count) or a sequence of ints >= 0; got {self.seeds!r}.")
        seeds = tuple(_int(o, "seeds[i]", s, lo=0) for s in seeds)
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
            _choice(o, "strategies[i]", s, STRATEGY_NAMES)
        if len(set(strat)) != len(strat):
            raise ValueError(f"{o}.strategies must be distinct; got {strat!r}.")
        _set(self, "strategies", strat)
        _set(self, "tau", _float(o, "tau", self.tau, lo=0.0))
        _set(self, "alpha", _float(o, "alpha", self.alpha, lo=0.0, hi=1.0))
        _set(self, "progressive_multiplier", _float(o, "progressive_multiplier", self.progressive_multiplier, lo=0.0, lo_open=True))
        _set(self, "progressive_lookahead", _int(o, "progressive_lookahead", self.progressive_lookahead, lo=0))
        _set(self, "plateau_patience", _int(o, "plateau_patience", self.plateau_patience, allow_none=True))
        _set(self, "plateau_delta", _float(o, "plateau_delta", self.plateau_delta, lo=0.0))
        _set(self, "two_shot_threshold", _float(o, "two_shot_threshold", self.two_shot_threshold, lo=0.0, hi=1.0))
        _set(self, "two_shot_checkpoint", _int(o, "two_shot_checkpoint", self.two_shot_checkpoint, lo=0, allow_none=True))
        _set(self, "two_shot_steps", _int(o, "two_shot_steps", self.two_shot_steps, lo=0, allow_none=True))
        pairs = []
        for p in self.k_shot_pairs:
            if not hasattr(p, "__len__") or len(p) != 2:
                raise ValueError(f"{o}.k_shot_pairs must hold (checkpoint_step, student_steps) pairs; got {p!r}.")
            pairs.append((_int(o, "k_shot_pairs[i][0]", p[0], lo=0), _int(o, "k_shot_pairs[i][1]", p[1], lo=0)))
        _set(self, "k_shot_pairs", tuple(pairs))
        if "k_shot" in strat and not pairs:
            raise ValueError(f"{o}.k_shot_pairs must be non-empty when 'k_shot' is among the strategies; got {self.k_shot_pairs!r}.")
        if not isinstance(self.early_stop, bool):
            raise TypeError(f"{o}.early_stop must be a bool; got {self.early_stop!r}.")
