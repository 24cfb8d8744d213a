"""Thin adapter between the checks and the engine (sims.train / sims.distill / sims.probe).

* the configurations of each scale (quick / cpu / paper) in one place;
* teacher runs cached on disk under ``<cache_dir>/<arch>-<source-hash>/teacher-<config-hash>`` (the
  engine's ``train_teacher`` resumes / returns at once when the run is finished), and memoised in
  the Context so that the checks of one ``reproduce`` call share them;
* student results cached the same way (``students-<hash of teacher hash + student config [+ member
  probe settings]>``, Parquet files: results, curves and one per member probe) since a (config,
  seed) pair gives identical results on CPU;
* small helpers on the tidy tables: teacher history, t95 of a history, t95 per (strategy, seed).

Nothing here trains or probes by itself: it calls the engine.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from curriculum.artifacts import ArtifactError, load_probe_table, write_probe_table
from curriculum.provenance import source_hash

from ._claims import Context

__all__ = [
    "engine_version",
    "configs",
    "get_teacher",
    "get_students",
    "teacher_history",
    "t95_table",
    "checkpoint_steps",
]


def engine_version(arch: str = "mlp") -> str:
    """``<arch>-<short source hash>``: the cache folder of runs of ``arch``. The hash covers every
    source file of the toolkit (``curriculum.provenance.source_hash``), so any code change misses
    the cache; it is computed once per process, so one reproduce call keeps one folder."""
    return f"{arch}-{source_hash()[:12]}"


# ----------------------------------------------------------------------------------------------
# configurations per scale


# docs/paper.md §3 "tiny" trains 1200 steps (transition ≈ 600-1100); 1600 leaves checkpoints well after
# the transition (the paper's teacher trains to 20M steps, transition ≈ 10-10.8M) so that the
# 2-shot "after" control and the final teacher are past it.
TEACHER_STEPS = 1600


def configs(ctx: Context) -> dict:
    """The teacher/student configurations of ctx's scale, as a dict of frozen engine configs.

    keys: "teacher" (shared MLP teacher: acceleration, teacher speed, one-shot vs CE, 2-shot, spike),
    "student" (its students), "scaling" (a function n -> (teacher, student) configs for the
    sample-complexity sweep), "scaling_n" (the n grid), "probe_samples".
    """
    from sims.config import ModelConfig, OptimConfig, StudentConfig, TaskConfig, TeacherConfig

    seeds = ctx.seeds
    adam = OptimConfig(name="adam", lr=3e-3)
    if ctx.scale == "paper":
        teacher = TeacherConfig(
            task=TaskConfig(n=100, k=6, support_seed=0), model=ModelConfig(width=50_000),
            optim=OptimConfig(name="sgd", lr=0.01), steps=20_000_000, batch=1,
            ckpt_every=100_000, eval_every=100_000, seed=0)
        student = StudentConfig(model=ModelConfig(width=100), optim=OptimConfig(name="sgd", lr=0.01),
                                steps=20_000_000, batch=1, eval_every=100_000, seeds=seeds)
        scaling_n = (50, 75, 100, 150)
        k_scaling = 4
        probe_samples = 100_000
    elif ctx.quick:
        teacher = TeacherConfig(task=TaskConfig(n=40, k=4, support_seed=0), model=ModelConfig(width=500),
                                optim=adam, steps=TEACHER_STEPS, batch=32, ckpt_every=100, eval_every=100, seed=0)
        student = StudentConfig(model=ModelConfig(width=16), optim=adam, steps=5000, batch=32,
                                eval_every=100, seeds=seeds)
        scaling_n = (16, 24, 32)
        k_scaling = 3
        probe_samples = 20_000
    else:
        teacher = TeacherConfig(task=TaskConfig(n=40, k=4, support_seed=0), model=ModelConfig(width=500),
                                optim=adam, steps=TEACHER_STEPS, batch=32, ckpt_every=100, eval_every=100, seed=0)
        student = StudentConfig(model=ModelConfig(width=16), optim=adam, steps=6000, batch=32,
                                eval_every=100, seeds=seeds)
        scaling_n = (20, 30, 40, 60)
        k_scaling = 3
        probe_samples = 50_000

    def scaling(n: int):
        if ctx.scale == "paper":
            t = teacher.replace(task=TaskConfig(n=n, k=k_scaling, support_seed=0))
            s = student
        else:
            t = TeacherConfig(task=TaskConfig(n=n, k=k_scaling, support_seed=0), model=ModelConfig(width=500),
                              optim=adam, steps=max(600, 25 * n), batch=32, ckpt_every=50, eval_every=50, seed=0)
            s = StudentConfig(model=ModelConfig(width=16), optim=adam,
                              steps=(3000 if ctx.quick else 8000), batch=32, eval_every=50, seeds=seeds,
                              strategies=("ce", "two_shot"), early_stop=True)
        return t, s

    degree1 = None
    if ctx.scale == "cpu" and not ctx.quick:
        # docs/paper.md §3: the clean degree-1 spike on CPU. Seeds 0 and 1 (the first two) transition at
        # ~6k-9k steps; 12k steps leave room after the transition (a third seed needed ~16k).
        degree1 = dict(
            teacher=TeacherConfig(task=TaskConfig(n=100, k=3, support_seed=0), model=ModelConfig(width=1000),
                                  optim=OptimConfig(name="sgd", lr=0.1, weight_decay=1e-2), steps=12_000, batch=8,
                                  ckpt_every=250, eval_every=250, seed=0),
            seeds=(0, 1))
    return dict(teacher=teacher, student=student, scaling=scaling, scaling_n=scaling_n,
                k_scaling=k_scaling, probe_samples=probe_samples, degree1=degree1, probe_samples_d1=100_000)


def transformer_configs(ctx: Context):
    """(teacher, student) Transformer configs, or None when this scale has none.

    cpu: the setting recommended in docs/transformer.md ("Recommended CPU setting", the paper's
    readout) — (n, k) = (14, 2), causal, class read at the last bit, 1 layer, head dim 8, teacher
    8 heads, students 2 heads, Adam 1e-3, batch 32; teacher 600 steps with a checkpoint every 10
    (it jumps from chance to 100% within ~50-100 steps); students up to 4000 steps, eval every 50.
    paper: 2 layers, head dim 8, 32-head teacher / 4-head student, last-position readout, Adam
    3e-4 / 1e-4, batch 32, 8M samples (250k steps), checkpoints every 10k steps, (n, k) = (100, 6).
    """
    from sims.config import ModelConfig, OptimConfig, StudentConfig, TaskConfig, TeacherConfig

    if ctx.scale == "paper":
        t = TeacherConfig(task=TaskConfig(n=100, k=6, support_seed=0),
                          model=ModelConfig(arch="transformer", n_layers=2, n_heads=32, head_dim=8, readout="last"),
                          optim=OptimConfig(name="adam", lr=3e-4), steps=250_000, batch=32, ckpt_every=10_000,
                          eval_every=2_000, seed=0)
        s = StudentConfig(model=ModelConfig(arch="transformer", n_layers=2, n_heads=4, head_dim=8, readout="last"),
                          optim=OptimConfig(name="adam", lr=1e-4), steps=250_000, batch=32, eval_every=2_000,
                          seeds=ctx.seeds)
        return t, s
    t = TeacherConfig(task=TaskConfig(n=14, k=2, support_seed=0),
                      model=ModelConfig(arch="transformer", n_layers=1, n_heads=8, head_dim=8, readout="last"),
                      optim=OptimConfig(name="adam", lr=1e-3), steps=600, batch=32, ckpt_every=10, eval_every=10, seed=0)
    s = StudentConfig(model=ModelConfig(arch="transformer", n_layers=1, n_heads=2, head_dim=8, readout="last"),
                      optim=OptimConfig(name="adam", lr=1e-3), steps=4000, batch=32, eval_every=50, seeds=ctx.seeds)
    return t, s


# ----------------------------------------------------------------------------------------------
# runs, cached


def _hash(cfg) -> str:
    from sims.config import config_hash

    return config_hash(cfg)


def get_teacher(ctx: Context, cfg):
    """The finished teacher run of ``cfg`` (trained once, then reused from disk and from ctx).

    Stored as member ``seed-<cfg.seed>`` of the seed group of ``cfg`` (see :func:`get_teachers`), so
    that a later multi-seed request reuses it."""
    return get_teachers(ctx, cfg, [cfg.seed])[0]


def get_students(ctx: Context, run, cfg, label: str = "", strategies=None, probes=None):
    """(summary, curves) of train_students(run, strategies, cfg): summary has strategy, seed, t95, t99
    (inf = not reached), samples95; curves has strategy, seed, step, accuracy. ``strategies``: None
    (cfg.strategies) or names / engine Strategy objects (their repr enters the cache key). Cached
    on disk and in ctx. ``probes``: member probes (``sims.distill.MemberProbe``) run during
    training; then the result is (summary, curves, tables) with tables[name] the probe's table
    (``attrs["wall_s"]``: seconds the probe took when the students were trained); their settings
    enter the cache key and the tables are cached beside the results as <name>.parquet."""
    from sims.distill import with_two_shot_checkpoint

    cfg = with_two_shot_checkpoint(cfg, run, strategies)  # "two_shot" by name: the mid-transition checkpoint
    thash = _hash(run.config)
    skey = "" if strategies is None else repr(list(strategies))
    probes = list(probes or [])
    if probes:
        skey += json.dumps([p.settings() for p in probes], sort_keys=True, default=str)
    key = "students:" + hashlib.sha256((thash + _hash(cfg) + skey).encode()).hexdigest()[:16]

    def build():
        from sims.distill import StudentResults, train_students

        folder = ctx.cache_dir / engine_version(run.config.model.arch) / key.replace(":", "-")
        try:  # the engine's own student folder (results, curves, <probe>.parquet, config.json)
            res = StudentResults.load(folder)
        except FileNotFoundError:
            ctx.apply_threads()
            res = train_students(run, strategies, cfg, device=ctx.device, progress=ctx.progress, probes=probes)
            res.meta["label"] = label
            res.save(folder)
        summary, curves = _as_frames(res)
        if not probes:
            return summary, curves
        walls = res.meta.get("probe_wall_s") or {}
        tables = {p.name: res.probes[p.name] for p in probes}
        for name, table in tables.items():
            table.attrs["wall_s"] = walls.get(name)
        return summary, curves, tables

    return ctx.memoize(key, build)


def _as_frames(res) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, curves) of a ``sims.distill.StudentResults``, the step counts as floats (inf = not reached)."""
    summary, curves = res.summary.copy(), res.curves.copy()
    for col in ("t95", "t99", "samples95"):
        if col in summary.columns:
            summary[col] = summary[col].astype(float)
    return summary, curves


# ----------------------------------------------------------------------------------------------
# tidy helpers


def teacher_history(run) -> pd.DataFrame:
    """Teacher eval history (``run.history``: step, loss, accuracy, train_loss), sorted by step."""
    df = pd.DataFrame(run.history).dropna(subset=["accuracy"])
    return df.sort_values("step").reset_index(drop=True)


def checkpoint_steps(run) -> list[int]:
    """Sorted steps of the run's checkpoints."""
    return sorted(int(s) for s in run.steps)


def t95_table(summary: pd.DataFrame, column: str = "t95") -> pd.DataFrame:
    """Wide table: index seed, columns strategy, values ``column`` (inf = not reached)."""
    return summary.pivot_table(index="seed", columns="strategy", values=column, aggfunc="first")


def accuracy_at(hist: pd.DataFrame, step: int) -> float:
    """Accuracy of the history row nearest to ``step``."""
    i = int(np.argmin(np.abs(hist["step"].to_numpy() - step)))
    return float(hist["accuracy"].iloc[i])


def get_teachers(ctx: Context, cfg, seeds) -> list:
    """Finished teacher runs of ``cfg`` for each seed in ``seeds``, trained as one ensemble
    (``sims.train.train_teachers``; run dirs ``<cache>/<engine>/teachers-<hash>/seed-<s>``)."""
    seeds = [int(s) for s in seeds]
    base = cfg.replace(seed=0)
    key = "teachers:" + _hash(base) + ":" + ",".join(map(str, seeds))
    if key not in ctx.memo and all(("teachers:" + _hash(base) + f":{s}") in ctx.memo for s in seeds):
        return [ctx.memo["teachers:" + _hash(base) + f":{s}"][0] for s in seeds]

    def build():
        ctx.apply_threads()
        from sims.train import train_teachers

        root = ctx.cache_dir / engine_version(base.model.arch) / f"teachers-{_hash(base)[:16]}"
        root.mkdir(parents=True, exist_ok=True)
        return train_teachers(base, seeds, root, device=ctx.device, progress=ctx.progress)

    return ctx.memoize(key, build)


def get_probe(ctx: Context, run, **kwargs) -> pd.DataFrame:
    """``sims.probe.probe_run(run, **kwargs)``, cached on disk (Parquet, table attrs in JSON) and in
    ctx under the teacher config hash, the checkpoint steps and the probe arguments."""
    from sims.probe import probe_run

    arch = run.config.model.arch
    spec = json.dumps({k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in sorted(kwargs.items())},
                      sort_keys=True, default=str)
    key = "probe:" + hashlib.sha256((_hash(run.config) + spec + ",".join(map(str, run.steps))).encode()
                                    + source_hash().encode()).hexdigest()[:16]

    probe_config = {"teacher_config": run.config.to_dict(), "checkpoints": [int(s) for s in run.steps],
                    "probe_args": json.loads(spec)}

    def build():
        folder = ctx.cache_dir / engine_version(arch) / key.replace(":", "-")
        try:
            return load_probe_table(folder, probe_config)
        except ArtifactError:  # absent, unfinished or damaged: probe (again)
            pass
        ctx.apply_threads()
        table = probe_run(run, **kwargs)
        write_probe_table(folder, table, probe_config)
        return table

    return ctx.memoize(key, build)

