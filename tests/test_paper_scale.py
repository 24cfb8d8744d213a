"""The paper-scale configurations of ``pdistill reproduce --scale paper`` (Panigrahi et al. 2025, §3:
the (100, 6) width-50,000 MLP with SGD batch 1, and the 2-layer 32-head vs 4-head Transformer)
run for a few steps on CPU: model shapes, checkpoints, resume, students of every strategy and the
probe — so that the GPU path is exercised here, not only on a GPU. Slow tier (a few seconds to a
minute each on 2 cores)."""
from __future__ import annotations

import argparse
import shutil

import numpy as np
import pytest
import torch

from sims.distill import train_students
from sims.train import TeacherRun, train_teacher

pytestmark = pytest.mark.slow


def _paper_ctx(tmp_path):
    from paper_checks._claims import Context

    return Context(argparse.Namespace(quick=False, scale="paper", device="cpu", no_progress=True, out=str(tmp_path / "out"),
                                      cache_dir=str(tmp_path / "cache"), seeds=None, threads=1, transformer=True))


def _few_steps(cfg, steps: int, every: int):
    return cfg.replace(steps=steps, ckpt_every=every, eval_every=every, eval_size=256)


def _same_weights(a: TeacherRun, b: TeacherRun, step: int) -> bool:
    x, y = a.state_at(step), b.state_at(step)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def _check_resume(cfg, run: TeacherRun, tmp_path) -> None:
    cut = tmp_path / "cut"
    shutil.copytree(run.out_dir, cut)
    shutil.rmtree(cut / f"checkpoint-{run.final_step}")
    resumed = train_teacher(cfg, cut, device="cpu", progress=False)
    assert resumed.steps == run.steps and _same_weights(resumed, run, run.final_step)


def test_paper_scale_mlp_runs_on_cpu(tmp_path):
    from paper_checks import _runs
    from sims.probe_measure import probe_run

    torch.set_num_threads(1)
    c = _runs.configs(_paper_ctx(tmp_path))
    full = c["teacher"]
    assert (full.task.n, full.task.k, full.model.width, full.batch) == (100, 6, 50_000, 1)
    tcfg = _few_steps(full, steps=4, every=2)
    run = train_teacher(tcfg, tmp_path / "teacher", device="cpu", progress=False)
    assert run.steps == [0, 2, 4] and run.finished
    model = run.load_model(4, "cpu")
    assert tuple(model.w0.shape) == (1, 100, 50_000) and tuple(model.w1.shape) == (1, 50_000, 2)
    assert np.isfinite(run.history.loss).all() and len(run.history) == 3
    _check_resume(tcfg, run, tmp_path)
    # students of the paper configuration (width 100), every strategy, a few steps
    scfg = c["student"].replace(steps=4, eval_every=2, eval_size=256, seeds=(0, 1),
                                strategies=("ce", "one_shot", "progressive", "two_shot"), two_shot_checkpoint=2)
    res = train_students(run, None, scfg, device="cpu", progress=False)
    assert len(res.summary) == 8 and res.curves.step.max() == 4 and np.isfinite(res.curves.loss).all()
    # the probe on a checkpoint of the width-50k teacher: every in-support subset of degree 1..2
    tab = probe_run(run, samples=2_000, off_support_per_degree=3, steps=[4], degrees=[1, 2])
    ins = tab[tab.in_support]
    assert set(ins.degree) == {1, 2} and len(ins) == 6 + 15 and np.isfinite(tab["corr"].to_numpy(dtype=float)).all()


def test_paper_scale_transformer_runs_on_cpu(tmp_path):
    from paper_checks import _runs

    torch.set_num_threads(1)
    t, s = _runs.transformer_configs(_paper_ctx(tmp_path))
    assert (t.model.n_layers, t.model.n_heads, t.model.head_dim, s.model.n_heads) == (2, 32, 8, 4)
    tcfg = _few_steps(t, steps=2, every=1)
    run = train_teacher(tcfg, tmp_path / "teacher", device="cpu", progress=False)
    assert run.steps == [0, 1, 2]
    model = run.load_model(2, "cpu")
    assert model.n_heads == 32 and model.d_model == 256 and model.seq_len == 100
    _check_resume(tcfg, run, tmp_path)
    scfg = s.replace(steps=2, eval_every=1, eval_size=128, seeds=(0,), strategies=("ce", "progressive", "two_shot"),
                     two_shot_checkpoint=1)
    res = train_students(run, None, scfg, device="cpu", progress=False)
    assert len(res.summary) == 3 and np.isfinite(res.curves.loss).all()
    p = run.predict_proba(2, np.ones((4, 100), dtype=np.int8), device="cpu")
    assert p.shape == (4,) and ((p >= 0) & (p <= 1)).all()
