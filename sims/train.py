"""Teacher training with checkpoints ``checkpoint-<step>/``, resumable, plus the shared ensemble engine.

One teacher run directory holds::

    config.json                 TeacherConfig.to_dict() (+ its hash)
    history.parquet             step, loss, accuracy (held-out), train_loss (mean since last row)
    checkpoint-<step>/          model.safetensors (state dict with member dim 1),
                                state.safetensors (optimizer state + data-generator state),
                                meta.json (config, step, seed, arch, eval accuracy and loss)

Everything is written atomically (temp name + os.replace). Training samples fresh batches from a
seeded generator; a run resumes from its last checkpoint and then equals an uninterrupted run
exactly (CPU). Several seeds of one config train as one ensemble (``train_teachers``), through
the one training loop of ``sims.loop`` (labels as targets; this module adds checkpoints and resume).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from parity_theory.parity import ParityTask

from curriculum import io as _io
from curriculum.folders import output_folder
from curriculum.resources import check_fits
from .config import TeacherConfig, config_hash, derive_seed
from .data import as_model_input
from .devices import resolve_device
from .loop import LabelTargets, LoopSpec, make_optimizer, run_loop
from .models import build_model, member_state, stack_states
from .tasks import SparseParity, Task, as_task

__all__ = [
    "TeacherRun",
    "train_teacher",
    "train_teachers",
    "atomic_write_text",
    "atomic_write_parquet",
    "CheckpointError",
    "training_memory_bytes",
    "verify_checkpoint",
]

FORMAT_VERSION = 1
_CKPT_FILES = ("model.safetensors", "state.safetensors", "meta.json")


class CheckpointError(ValueError):
    """A checkpoint directory that is missing, truncated, or for another architecture/config."""


# ----------------------------------------------------------------------------- atomic files
def _tmp_name(path: Path) -> Path:
    return path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` atomically and fsynced (see :mod:`curriculum.io`)."""
    _io.atomic_write_text(path, text, fsync=True)


def atomic_write_parquet(path: str | Path, df: pd.DataFrame) -> None:
    """Write ``df`` to Parquet atomically, without its index (see :mod:`curriculum.io`)."""
    _io.atomic_write_parquet(path, df, index=False)


def _atomic_dir(final: Path, fill: Callable[[Path], None], required: Sequence[str] = ()) -> None:
    """Create directory ``final`` atomically: fill a temp dir, then rename. An existing final that
    holds every file in ``required`` is kept; an incomplete one (e.g. a file deleted by hand) is
    replaced, so that resuming repairs it instead of leaving the run unfinished for good."""
    if final.is_dir() and all((final / f).is_file() for f in required):
        return
    tmp = _tmp_name(final)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
        try:
            if final.exists():
                shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        except OSError:
            if not final.is_dir():  # another process wrote the same (deterministic) checkpoint first
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# ----------------------------------------------------------------------------- optimizer state in checkpoints
def optimizer_member_state(opt: torch.optim.Optimizer, params: Sequence[torch.nn.Parameter], index: int) -> dict[str, torch.Tensor]:
    """Flat tensors 'opt.<param>.<key>' for member ``index`` (leading dim kept as 1)."""
    out = {}
    for i, p in enumerate(params):
        st = opt.state.get(p, {})
        for key, val in st.items():
            if val is None:
                continue
            if not isinstance(val, torch.Tensor):
                val = torch.tensor(val)
            if val.dim() >= 1 and val.shape[0] == p.shape[0] and val.shape == p.shape:
                out[f"opt.{i}.{key}"] = val[index:index + 1].detach().cpu().clone().contiguous()
            else:
                out[f"opt.{i}.{key}"] = val.detach().cpu().clone().reshape(-1).contiguous()
    return out


def load_optimizer_states(opt: torch.optim.Optimizer, params: Sequence[torch.nn.Parameter],
                          states: Sequence[dict[str, torch.Tensor]], device: torch.device) -> None:
    """Inverse of optimizer_member_state for E members (scalars taken from member 0)."""
    sd = opt.state_dict()
    new_state: dict[int, dict] = {}
    for key in states[0]:
        if not key.startswith("opt."):
            continue
        _, idx, name = key.split(".", 2)
        idx = int(idx)
        p = params[idx]
        v0 = states[0][key]
        if v0.shape == (1, *p.shape[1:]):
            val = torch.cat([s[key] for s in states], 0).to(device)
        else:
            val = v0.reshape(()) if v0.numel() == 1 else v0
            if name == "step":
                val = val.to(torch.float32)
        new_state.setdefault(idx, {})[name] = val
    sd["state"] = new_state
    opt.load_state_dict(sd)


# ----------------------------------------------------------------------------- runs on disk
def _ckpt_dir(out_dir: Path, step: int) -> Path:
    return out_dir / f"checkpoint-{int(step)}"


def list_checkpoints(out_dir: str | Path) -> list[int]:
    """Sorted steps of the complete-looking checkpoint-<step>/ directories (temp dirs ignored)."""
    out_dir = Path(out_dir)
    steps = []
    if not out_dir.is_dir():
        return steps
    for p in out_dir.iterdir():
        if p.is_dir() and p.name.startswith("checkpoint-"):
            tail = p.name[len("checkpoint-"):]
            if tail.isdigit() and all((p / f).is_file() for f in _CKPT_FILES):
                steps.append(int(tail))
    return sorted(steps)


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{what}: {str(path)!r} is missing.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{what}: {str(path)!r} is truncated or not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{what}: {str(path)!r} is damaged: it holds a JSON {type(data).__name__}, not an object.")
    return data


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


_TENSOR_FILES = ("model.safetensors", "state.safetensors")


def verify_checkpoint(ckpt: Path, step: int, cfg_hash: str, files: Sequence[str] = _TENSOR_FILES) -> dict:
    """The checkpoint's meta.json, checked: an object for ``step``, written by the run whose
    config hash is ``cfg_hash`` (provenance), and each of ``files`` with the sha256 recorded at
    writing (integrity). Raises CheckpointError naming the file; returns the meta."""
    what = f"checkpoint {step}"
    meta = _read_json(ckpt / "meta.json", what)
    if meta.get("config_hash") != cfg_hash:
        raise CheckpointError(f"{what}: {str(ckpt / 'meta.json')!r} belongs to another run (config hash "
                              f"{str(meta.get('config_hash'))[:12]} != {cfg_hash[:12]}); remove that foreign checkpoint.")
    if meta.get("step") != step:
        raise CheckpointError(f"{what}: {str(ckpt / 'meta.json')!r} says step {meta.get('step')!r}, not {step}.")
    sums = meta.get("sha256")
    if sums is not None and not isinstance(sums, dict):
        raise CheckpointError(f"{what}: {str(ckpt / 'meta.json')!r} is damaged: 'sha256' must be an object.")
    for name in files:
        if sums is None or name not in sums:
            continue  # written before content hashes were recorded
        f = ckpt / name
        if not f.is_file():
            raise CheckpointError(f"{what}: {str(f)!r} is missing.")
        if _sha256(f) != sums[name]:
            raise CheckpointError(f"{what}: {str(f)!r} is damaged (its sha256 differs from the one recorded when it was written).")
    return meta


def training_memory_bytes(model_input_n: int, model, members: int, batch: int, eval_size: int) -> float:
    """Rough peak memory (bytes) of training ``members`` models of ModelConfig ``model`` as one
    ensemble: float32 weights + gradients + two Adam moments (16 bytes per parameter and member),
    activations of a training batch and of the evaluation set (forward + backward), and the inputs."""
    n = int(model_input_n)
    if model.arch == "mlp":
        w, depth = float(model.width), float(model.depth)
        params = n * w + (depth - 1) * w * w + (depth + 2) * w + 2
        acts = depth * w
    else:
        d = float(model.n_heads) * float(model.head_dim)
        params = float(model.n_layers) * (4 + 2 * float(model.mlp_ratio)) * d * d + (n + 4) * d
        acts = float(model.n_layers) * (n + 1) * d * (6 + float(model.mlp_ratio))
    E = float(members)
    return 16.0 * E * params + 4.0 * E * (3 * float(batch) + float(eval_size)) * acts + 4.0 * (float(batch) + float(eval_size)) * n * 2


def _load_tensors(path: Path, what: str) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{what}: {str(path)!r} is missing.")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{what}: {str(path)!r} is truncated or corrupt ({exc}); delete that checkpoint directory to resume from the previous one.") from None


@dataclass
class TeacherRun:
    """A teacher run directory: config, task, checkpoints, history; loads models and predicts.

    ``task`` is ``config.task.make_task()``: a parity_theory.ParityTask for parity runs (what the
    probe reads), the task's own ``sims.tasks.Task`` for other registered tasks.
    Class convention (parity): predict_proba returns p(class 1) = p(chi_S(x) = -1); the input x is ±1.
    """

    out_dir: Path
    config: TeacherConfig
    task: "ParityTask | Task"
    steps: list[int]
    history: pd.DataFrame = field(repr=False)
    _meta_cache: dict = field(default_factory=dict, repr=False)
    _model_cache: dict = field(default_factory=dict, repr=False)

    # -- construction
    @classmethod
    def load(cls, out_dir: str | Path) -> "TeacherRun":
        """Open an existing run directory (clear errors for missing dirs/configs/checkpoints)."""
        out_dir = Path(out_dir)
        if not out_dir.is_dir():
            raise FileNotFoundError(f"TeacherRun.load: teacher directory {str(out_dir)!r} does not exist.")
        cfg_path = out_dir / "config.json"
        if not cfg_path.is_file():
            seeds = sorted(p.name for p in out_dir.glob("seed-*") if (p / "config.json").is_file())
            hint = f" It holds the runs {seeds}: pass one of them." if seeds else ""
            raise CheckpointError(f"TeacherRun.load: {str(out_dir)!r} has no config.json; is it a teacher run directory (pdistill teacher --out DIR)?{hint}")
        raw = _read_json(cfg_path, "TeacherRun.load")
        config = TeacherConfig.from_dict(raw["config"] if "config" in raw else raw)
        steps = list_checkpoints(out_dir)
        if not steps:
            raise CheckpointError(f"TeacherRun.load: {str(out_dir)!r} holds no complete checkpoint-<step>/ directory.")
        _refuse_beyond(out_dir, steps, config)
        h = config_hash(config)
        for s in steps:  # provenance of every checkpoint (content hashes: when its tensors are read)
            verify_checkpoint(_ckpt_dir(out_dir, s), s, h, files=())
        hist_path = out_dir / "history.parquet"
        history = pd.read_parquet(hist_path) if hist_path.is_file() else pd.DataFrame(columns=["step", "loss", "accuracy", "train_loss"])
        return cls(out_dir=out_dir, config=config, task=config.task.make_task(), steps=steps, history=history)

    @property
    def final_step(self) -> int:
        return self.steps[-1]

    @property
    def finished(self) -> bool:
        return self.final_step == self.config.steps

    @property
    def arch(self) -> str:
        return self.config.model.arch

    def checkpoint_dir(self, step: int) -> Path:
        return _ckpt_dir(self.out_dir, step)

    def _check_step(self, step: int) -> int:
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise TypeError(f"TeacherRun: step must be an int checkpoint step; got {step!r}.")
        step = int(step)
        if step not in self.steps:
            raise CheckpointError(f"TeacherRun: no checkpoint at step {step} in {str(self.out_dir)!r}; available: {self.steps}.")
        return step

    def meta(self, step: int) -> dict:
        step = self._check_step(step)
        if step not in self._meta_cache:
            meta = _read_json(self.checkpoint_dir(step) / "meta.json", f"checkpoint {step}")
            arch = meta.get("arch")
            if arch != self.arch:
                raise CheckpointError(f"checkpoint {step} in {str(self.out_dir)!r} is for architecture {arch!r}, but the run's config says {self.arch!r}.")
            self._meta_cache[step] = meta
        return self._meta_cache[step]

    def accuracy_at(self, step: int) -> float:
        """Held-out accuracy recorded at checkpoint ``step``."""
        return float(self.meta(step)["eval_accuracy"])

    def accuracies(self) -> dict[int, float]:
        return {s: self.accuracy_at(s) for s in self.steps}

    def state_at(self, step: int) -> dict[str, torch.Tensor]:
        """The checkpoint's state dict (member dim 1), validated against the run's architecture,
        configuration hash and the recorded sha256 of model.safetensors."""
        step = self._check_step(step)
        self.meta(step)
        verify_checkpoint(self.checkpoint_dir(step), step, config_hash(self.config), files=("model.safetensors",))
        return _load_tensors(self.checkpoint_dir(step) / "model.safetensors", f"checkpoint {step}")

    def load_ensemble(self, steps: Sequence[int], device: str | torch.device = "auto",
                      state_of: Callable[[int], dict] | None = None) -> torch.nn.Module:
        """One ensemble model whose member i is the checkpoint at ``steps[i]`` (eval mode, no grad).
        ``state_of(step)`` supplies the state dicts (default :meth:`state_at`; a cache may pass its own)."""
        steps = [self._check_step(s) for s in steps]
        dev = resolve_device(device)
        model = build_model(self.arch, as_task(self.task).model_input(), self.config.model, len(steps), [0] * len(steps))
        state = stack_states([(state_of or self.state_at)(s) for s in steps])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"checkpoints {steps} in {str(self.out_dir)!r} do not match a {self.arch!r} model of the run's config ({str(exc).splitlines()[0]}).") from None
        return model.to(dev).eval().requires_grad_(False)

    def load_model(self, step: int, device: str | torch.device = "auto") -> torch.nn.Module:
        """The checkpoint at ``step`` as an ensemble of size 1."""
        return self.load_ensemble([step], device)

    @torch.no_grad()
    def predict_proba(self, step: int, x, batch_size: int = 8192, device: str | torch.device = "auto") -> np.ndarray:
        """p(class 1 | x) = p(chi_S(x) = -1) of checkpoint ``step``: x ±1 (m, n) -> float64 (m,)."""
        key = (int(step), str(resolve_device(device)))
        if key not in self._model_cache:
            self._model_cache.clear()
            self._model_cache[key] = self.load_model(step, device)
        model = self._model_cache[key]
        xt = as_model_input(x)
        n = as_task(self.task).model_input().n
        if xt.shape[1] != n:
            raise ValueError(f"predict_proba: x must have n={n} columns; got shape {tuple(xt.shape)}.")
        out = []
        dev = resolve_device(device)
        for s in range(0, xt.shape[0], batch_size):
            z = model(xt[s:s + batch_size].to(dev))[0]
            out.append(torch.softmax(z.double(), -1)[:, 1].cpu())
        return torch.cat(out).numpy() if out else np.zeros(0)


# ----------------------------------------------------------------------------- teacher training
def _config_record(cfg: TeacherConfig) -> dict:
    return {"config": cfg.to_dict(), "config_hash": config_hash(cfg), "format_version": FORMAT_VERSION}


def _prepare_dir(out_dir: Path, cfg: TeacherConfig) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "config.json"
    if path.is_file():
        raw = _read_json(path, "train_teacher")
        old = TeacherConfig.from_dict(raw["config"] if "config" in raw else raw)
        if config_hash(old) != config_hash(cfg):
            raise ValueError(f"train_teacher: {str(out_dir)!r} holds a run of a different config (hash {config_hash(old)[:12]} != {config_hash(cfg)[:12]}); use another --out or delete it.")
    else:
        atomic_write_text(path, json.dumps(_config_record(cfg), indent=2, sort_keys=True))


def _is_finished(out_dir: Path, cfg: TeacherConfig, good: Sequence[int] | None = None) -> bool:
    steps = list_checkpoints(out_dir) if good is None else good
    return cfg.steps in steps and (out_dir / "history.parquet").is_file()


def train_teacher(config: TeacherConfig, out_dir: str | Path, device: str | torch.device = "auto",
                  progress: bool = True, manual_backward: bool = True) -> TeacherRun:
    """Train (or resume, or just open when finished) one teacher of ``config`` (seed config.seed)."""
    return _train_group([config], [Path(out_dir)], device, progress, manual_backward)[0]


def train_teachers(config: TeacherConfig, seeds: Sequence[int], out_root: str | Path,
                   device: str | torch.device = "auto", progress: bool = True,
                   manual_backward: bool = True) -> list[TeacherRun]:
    """Several seeds of ``config`` trained as ONE ensemble; run dirs out_root/seed-<s>/.
    Each member equals the run ``train_teacher(config.replace(seed=s), out_root/seed-<s>)``."""
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"train_teachers: seeds must be a non-empty list of distinct ints; got {seeds!r}.")
    root = Path(out_root)
    cfgs = [config.replace(seed=s) for s in seeds]
    return _train_group(cfgs, [root / f"seed-{s}" for s in seeds], device, progress, manual_backward)


def _train_group(cfgs: list[TeacherConfig], dirs: list[Path], device, progress: bool, manual: bool) -> list[TeacherRun]:
    if not isinstance(cfgs[0], TeacherConfig):
        raise TypeError(f"train_teacher: config must be a TeacherConfig; got {type(cfgs[0]).__name__}.")
    base = cfgs[0].replace(seed=0)
    for c in cfgs:
        if c.replace(seed=0) != base:
            raise ValueError("train_teachers: all members must share the config except the seed.")
    task = as_task(cfgs[0].task)
    check_fits(training_memory_bytes(task.model_input().n, cfgs[0].model, len(cfgs), cfgs[0].batch, cfgs[0].eval_size),
               f"training {len(cfgs)} teacher(s) (width {cfgs[0].model.width}, batch {cfgs[0].batch})")
    with contextlib.ExitStack() as stack:
        for c, d in zip(cfgs, dirs):  # every folder typed, locked and claimed before any work
            stack.enter_context(output_folder(d, "teacher", c.to_dict()))
        for c, d in zip(cfgs, dirs):
            _prepare_dir(d, c)
        good = [_good_steps(d, c) for c, d in zip(cfgs, dirs)]
        todo = [i for i, (c, d) in enumerate(zip(cfgs, dirs)) if not _is_finished(d, c, good[i])]
        if todo:
            _run_members([cfgs[i] for i in todo], [dirs[i] for i in todo], resolve_device(device), progress, manual,
                         [good[i] for i in todo])
        return [TeacherRun.load(d) for d in dirs]


def _refuse_beyond(out_dir: Path, steps: Sequence[int], cfg: TeacherConfig) -> None:
    beyond = [s for s in steps if s > cfg.steps]
    if beyond:
        raise CheckpointError(f"{str(_ckpt_dir(out_dir, beyond[0]))!r} lies beyond the run's {cfg.steps} steps: "
                              "not a checkpoint of this run; remove it.")


def _good_steps(out_dir: Path, cfg: TeacherConfig) -> list[int]:
    """The checkpoints of ``out_dir`` a resume may rely on: every checkpoint before the first
    damaged one (meta.json unreadable or a tensor file whose sha256 differs). Damaged checkpoints
    are moved aside (``checkpoint-<step>.damaged``) so they are recomputed; a checkpoint of
    another run, or beyond the configured steps, is an error naming it."""
    steps = list_checkpoints(out_dir)
    _refuse_beyond(out_dir, steps, cfg)
    h = config_hash(cfg)
    good: list[int] = []
    for s in steps:
        ckpt = _ckpt_dir(out_dir, s)
        try:
            meta = verify_checkpoint(ckpt, s, h)
            if not isinstance(meta.get("sha256"), dict):  # no content hashes recorded: at least read the tensors
                for name in _TENSOR_FILES:
                    _load_tensors(ckpt / name, f"checkpoint {s}")
        except CheckpointError as exc:
            if "belongs to another run" in str(exc):
                raise
            aside = ckpt.with_name(ckpt.name + ".damaged")
            i = 1
            while aside.exists():
                aside, i = ckpt.with_name(f"{ckpt.name}.damaged-{i}"), i + 1
            os.replace(ckpt, aside)
            print(f"train_teacher: {exc} Moved it to {aside.name}; recomputing from step {good[-1] if good else 0}.",
                  file=sys.stderr)
            break
        good.append(s)
    return good


def _load_resume_point(cfgs: list[TeacherConfig], dirs: list[Path], start: int):
    """Weights, optimizer/data states and history rows of every member at checkpoint ``start``."""
    arch = cfgs[0].model.arch
    ms, ss, hists = [], [], []
    for d in dirs:
        what = f"resume {str(d)!r} from checkpoint {start}"
        meta = _read_json(_ckpt_dir(d, start) / "meta.json", what)
        if meta.get("arch") != arch:
            raise CheckpointError(f"{what}: checkpoint is for architecture {meta.get('arch')!r}, config says {arch!r}.")
        ms.append(_load_tensors(_ckpt_dir(d, start) / "model.safetensors", what))
        ss.append(_load_tensors(_ckpt_dir(d, start) / "state.safetensors", what))
        hp = d / "history.parquet"
        h = pd.read_parquet(hp) if hp.is_file() else None
        hists.append(h[h["step"] <= start].to_dict("records") if h is not None else [])
    return ms, ss, hists


def _run_members(cfgs: list[TeacherConfig], dirs: list[Path], dev: torch.device, progress: bool, manual: bool,
                 good: list[Sequence[int]] | None = None) -> None:
    """Train (or resume) the teachers ``cfgs`` (equal but for the seed) as one ensemble through
    ``sims.loop.run_loop``, writing checkpoints and history into ``dirs``. ``good``: the verified
    checkpoints of each dir (default: every complete-looking one)."""
    cfg0 = cfgs[0]
    E = len(cfgs)
    task = as_task(cfg0.task)
    good = good if good is not None else [list_checkpoints(d) for d in dirs]
    common = set.intersection(*[set(g) for g in good])  # resume point: the last verified step all have
    start = max(common) if common else None

    model = build_model(cfg0.model.arch, task.model_input(), cfg0.model, E,
                        [derive_seed(c.seed, "teacher-init") for c in cfgs]).to(dev)
    params = list(model.parameters())
    opt = make_optimizer(params, cfg0.optim)
    streams = [task.stream(derive_seed(c.seed, "teacher-data")) for c in cfgs]
    histories: list[list[dict]] = [[] for _ in range(E)]
    if start is not None:
        ms, ss, histories = _load_resume_point(cfgs, dirs, start)
        try:
            model.load_state_dict(stack_states(ms), strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"resume from checkpoint {start}: weights do not match the config's model ({str(exc).splitlines()[0]}).") from None
        if start > 0:
            load_optimizer_states(opt, params, ss, dev)
        for s, st in zip(streams, ss):
            s.set_state(st["rng.data"])
    t0 = start or 0
    if t0 == 0:
        histories = [[] for _ in range(E)]
    support = list(task.parity.support) if isinstance(task, SparseParity) else None

    def on_record(step: int, row: dict) -> None:
        for i in range(E):
            histories[i].append({"step": step, "loss": float(row["loss"][i]), "accuracy": float(row["accuracy"][i]),
                                 "train_loss": float(row["train_loss"][i])})

    def on_checkpoint(step: int, row: dict) -> None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        for i, (c, d) in enumerate(zip(cfgs, dirs)):
            tensors = member_state(state, i)
            extra = optimizer_member_state(opt, params, i)
            extra["rng.data"] = streams[i].get_state()
            meta = {"step": step, "seed": c.seed, "arch": c.model.arch, "eval_accuracy": float(row["accuracy"][i]),
                    "eval_loss": float(row["loss"][i]), "config": c.to_dict(), "config_hash": config_hash(c),
                    "support": support, "format_version": FORMAT_VERSION}

            def fill(tmp: Path, tensors=tensors, extra=extra, meta=meta):
                save_file(tensors, str(tmp / "model.safetensors"), metadata={"arch": meta["arch"], "step": str(step)})
                save_file(extra, str(tmp / "state.safetensors"))
                for name in _TENSOR_FILES:
                    os.chmod(tmp / name, _io.umask_mode())  # safetensors creates 0600; checkpoints are ordinary files
                meta = dict(meta, sha256={name: _sha256(tmp / name) for name in _TENSOR_FILES})
                (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))

            _atomic_dir(_ckpt_dir(d, step), fill, _CKPT_FILES)
            atomic_write_parquet(d / "history.parquet", pd.DataFrame(histories[i], columns=["step", "loss", "accuracy", "train_loss"]))

    def hint() -> str:
        kept = {str(d): list_checkpoints(d)[-1:] for d in dirs}
        return f" Finished checkpoints are kept (last: {kept})."

    spec = LoopSpec(optim=cfg0.optim, steps=cfg0.steps, batch=cfg0.batch, eval_every=cfg0.eval_every,
                    ckpt_every=cfg0.ckpt_every, label="teacher training")
    ev = task.eval_set(cfg0.eval_size, cfg0.eval_seed).to(dev)
    run_loop(model, opt, task, streams, spec, LabelTargets(task, E), ev, member_names=[f"seed {c.seed}" for c in cfgs],
             start=t0, on_record=on_record, on_checkpoint=on_checkpoint, progress=progress, manual_backward=manual,
             divergence_hint=hint)
