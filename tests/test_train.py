"""Configs, teacher training, checkpoints, resume, errors, reproducibility, ensemble == sequential."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

import sims.train as train_mod
from parity_theory.parity import ParityTask
from sims.config import ModelConfig, OptimConfig, StudentConfig, TaskConfig, TeacherConfig, config_hash
from sims.data import ParityStream
from sims.models.mlp import EnsembleMLP
from sims.loop import ensemble_step, make_optimizer, set_lr
from sims.train import CheckpointError, TeacherRun, train_teacher, train_teachers
from curriculum.folders import LOCK_NAME


SMALL = TeacherConfig(task=TaskConfig(n=12, k=3), model=ModelConfig(width=64), steps=300, batch=32,
                      ckpt_every=100, eval_every=50, eval_size=512)


# ----------------------------------------------------------------------------- configs
@pytest.mark.parametrize("make, msg", [
    (lambda: TeacherConfig(steps=-3), "TeacherConfig.steps must be a positive int; got -3"),
    (lambda: ModelConfig(width=-3), "ModelConfig.width must be a positive int; got -3"),
    (lambda: TaskConfig(n=5, k=7), "TaskConfig.k must be an int in [1, n]; got k=7 with n=5"),
    (lambda: OptimConfig(name="rmsprop"), "OptimConfig.name must be one of"),
    (lambda: OptimConfig(lr=0.0), "OptimConfig.lr must be a real number > 0.0; got 0.0."),
    (lambda: StudentConfig(tau=-1.0), "StudentConfig.tau must be a real number >= 0.0; got -1.0."),
    (lambda: StudentConfig(strategies=("ce", "magic")), "StudentConfig.strategies[i] must be one of"),
    (lambda: StudentConfig(strategies=("k_shot",)), "k_shot_pairs must be non-empty"),
    (lambda: TeacherConfig.from_dict({"stepz": 3}), "TeacherConfig: unknown keys ['stepz']"),
    (lambda: TaskConfig(n=5, k=2, support=(1, 9)), "support indices must lie in [0, n-1]"),
])
def test_config_validation_messages(make, msg):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert msg in str(info.value)


def test_config_type_errors():
    with pytest.raises(TypeError, match="TeacherConfig.batch must be a positive int; got 2.5"):
        TeacherConfig(batch=2.5)
    with pytest.raises(TypeError, match="ModelConfig.width must be a positive int; got True"):
        ModelConfig(width=True)


def test_config_dict_toml_roundtrip_and_hash(tmp_path):
    cfg = TeacherConfig(task=TaskConfig(n=20, k=3, support=(1, 5, 7)), optim=OptimConfig(name="sgd", lr=0.1, momentum=0.9))
    again = TeacherConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and config_hash(again) == config_hash(cfg)
    assert config_hash(cfg.replace(seed=1)) != config_hash(cfg)
    (tmp_path / "c.toml").write_text(
        "[teacher]\nsteps = 77\nseed = 3\n[teacher.task]\nn = 20\nk = 3\nsupport = [1, 5, 7]\n"
        "[teacher.optim]\nname = 'sgd'\nlr = 0.1\nmomentum = 0.9\n[student]\nsteps = 5\n")
    loaded = TeacherConfig.from_toml(tmp_path / "c.toml")
    assert loaded == cfg.replace(steps=77, seed=3)
    st = StudentConfig.from_toml(tmp_path / "c.toml")
    assert st.steps == 5 and st.seeds == (0, 1, 2, 3, 4)
    assert StudentConfig(seeds=3).seeds == (0, 1, 2)


def test_warmup_cosine_schedule():
    o = OptimConfig(lr=1.0, schedule="warmup_cosine", warmup_frac=0.1)
    lrs = np.array([o.lr_at(t, 1000) for t in range(1000)])
    assert lrs[99] == pytest.approx(1.0) and lrs[0] == pytest.approx(0.01)
    assert np.all(np.diff(lrs[:100]) > 0) and np.all(np.diff(lrs[100:]) <= 1e-12)
    assert lrs[-1] < 1e-4 and lrs[550] == pytest.approx(0.5, abs=0.01)
    assert OptimConfig(lr=0.3).lr_at(500, 1000) == 0.3


# ----------------------------------------------------------------------------- the engine vs plain PyTorch
@pytest.mark.parametrize("optim", [
    OptimConfig(name="adam", lr=3e-3),
    OptimConfig(name="adamw", lr=1e-2, weight_decay=0.1, grad_clip=0.05),
    OptimConfig(name="sgd", lr=0.1, momentum=0.9, weight_decay=1e-3, schedule="warmup_cosine"),
])
def test_ensemble_step_equals_plain_torch_loop(optim):
    """Each member of the ensemble (hand-written backward, one optimizer over stacked params,
    per-member clipping) follows the same trajectory as a plain nn.Sequential + torch.optim loop."""
    task = ParityTask(10, (1, 4, 7))
    seeds, steps, B = [3, 4, 5], 60, 16
    ens = EnsembleMLP(n=10, width=12, ensemble_size=3, generators=seeds)
    refs = []
    for e in range(3):
        net = nn.Sequential(nn.Linear(10, 12), nn.ReLU(), nn.Linear(12, 2))
        with torch.no_grad():
            net[0].weight.copy_(ens.w0[e].t()); net[0].bias.copy_(ens.b0[e, 0])
            net[2].weight.copy_(ens.w1[e].t()); net[2].bias.copy_(ens.b1[e, 0])
        cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}[optim.name]
        kw = dict(lr=optim.lr, weight_decay=optim.weight_decay)
        kw.update(momentum=optim.momentum) if optim.name == "sgd" else None
        refs.append((net, cls(net.parameters(), **kw)))
    opt = make_optimizer(ens.parameters(), optim)
    streams = [ParityStream(task, s) for s in seeds]
    ref_streams = [ParityStream(task, s) for s in seeds]
    for t in range(steps):
        lr = optim.lr_at(t, steps)
        set_lr(opt, lr)
        xs, cs = zip(*(s.sample(B) for s in streams))
        q = torch.nn.functional.one_hot(torch.stack(cs), 2).float()
        ensemble_step(ens, opt, torch.stack(xs), q, optim.grad_clip)
        for (net, o), s in zip(refs, ref_streams):
            for g in o.param_groups:
                g["lr"] = lr
            x, c = s.sample(B)
            o.zero_grad()
            nn.functional.cross_entropy(net(x), c).backward()
            if optim.grad_clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), optim.grad_clip)
            o.step()
    for e, (net, _) in enumerate(refs):
        torch.testing.assert_close(ens.w0[e].t(), net[0].weight, rtol=1e-4, atol=2e-5)
        torch.testing.assert_close(ens.w1[e].t(), net[2].weight, rtol=1e-4, atol=2e-5)
        torch.testing.assert_close(ens.b1[e, 0], net[2].bias, rtol=1e-4, atol=2e-5)


# ----------------------------------------------------------------------------- teacher runs
@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    return train_teacher(SMALL, tmp_path_factory.mktemp("teacher") / "run", device="cpu", progress=False)


def _weights(run: TeacherRun, step: int) -> dict:
    return load_file(str(run.checkpoint_dir(step) / "model.safetensors"))


def test_teacher_run_layout_and_api(small_run):
    run = small_run
    assert run.steps == [0, 100, 200, 300] and run.final_step == 300 and run.finished
    assert list(run.history.columns) == ["step", "loss", "accuracy", "train_loss"]
    assert run.history.step.tolist() == list(range(0, 301, 50))
    meta = json.loads((run.checkpoint_dir(100) / "meta.json").read_text())
    assert meta["arch"] == "mlp" and meta["step"] == 100 and meta["seed"] == 0
    assert TeacherConfig.from_dict(meta["config"]) == SMALL
    assert run.accuracy_at(100) == pytest.approx(float(run.history.set_index("step").accuracy[100]))
    assert not any(p.name.startswith(".") and p.name != LOCK_NAME for p in run.out_dir.iterdir())  # no temp leftovers (the lock file stays)
    # predict_proba: class 1 <=> chi_S = -1, consistent with parity_theory's labels
    x, _ = run.task.sample(2000, np.random.default_rng(0))
    p = run.predict_proba(run.final_step, x)
    assert p.shape == (2000,) and p.dtype == np.float64 and np.all((p >= 0) & (p <= 1))
    acc = np.mean((p > 0.5).astype(np.int64) == run.task.class_of(x))
    # held-out accuracy from meta vs a fresh sample of 2000: Hoeffding at delta=1e-6 -> tol 0.059
    tol = math.sqrt(math.log(2 / 1e-6) / (2 * 2000))
    assert abs(acc - run.accuracy_at(run.final_step)) < tol
    assert run.accuracy_at(run.final_step) > 0.9, "the small teacher should learn (n=12, k=3)"
    m = run.load_model(100)
    assert next(m.parameters()).shape[0] == 1


def test_same_seed_reproduces_and_other_seed_differs(small_run, tmp_path):
    again = train_teacher(SMALL, tmp_path / "again", device="cpu", progress=False)
    pd.testing.assert_frame_equal(again.history, small_run.history)
    for s in small_run.steps:
        a, b = _weights(again, s), _weights(small_run, s)
        assert all(torch.equal(a[k], b[k]) for k in a)
    other = train_teacher(SMALL.replace(seed=1), tmp_path / "other", device="cpu", progress=False)
    assert not torch.equal(_weights(other, 0)["w0"], _weights(small_run, 0)["w0"])


def test_ensemble_of_seeds_equals_separate_runs(small_run, tmp_path):
    """The ensemble contract: on CPU (one thread) each member of a seed ensemble is bit-identical
    to the same seed trained alone, weights and history, MLP and Transformer."""
    torch.set_num_threads(1)
    runs = train_teachers(SMALL, [0, 1, 2], tmp_path / "ens", device="cpu", progress=False)
    single1 = train_teacher(SMALL.replace(seed=1), tmp_path / "one", device="cpu", progress=False)
    for ens_run, ref in ((runs[0], small_run), (runs[1], single1)):
        assert ens_run.config == ref.config
        pd.testing.assert_frame_equal(ens_run.history, ref.history, check_exact=True)
        for s in ref.steps:
            a, b = _weights(ens_run, s), _weights(ref, s)
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), s
    tcfg = TeacherConfig(task=TaskConfig(n=6, k=2), model=ModelConfig(arch="transformer", n_heads=2, head_dim=4),
                         optim=OptimConfig(lr=1e-3), steps=20, batch=8, ckpt_every=10, eval_every=10, eval_size=64)
    ens = train_teachers(tcfg, [0, 1], tmp_path / "xens", device="cpu", progress=False)
    alone = train_teacher(tcfg.replace(seed=1), tmp_path / "xone", device="cpu", progress=False)
    a, b = _weights(ens[1], 20), _weights(alone, 20)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    pd.testing.assert_frame_equal(ens[1].history, alone.history, check_exact=True)


def test_resume_after_interruption_is_identical(small_run, tmp_path, monkeypatch):
    import sims.tasks.base as task_base

    calls = {"n": 0}
    real = task_base.evaluate_members

    def interrupting(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:  # evals at 0, 50, 100, 150 done; interrupted at the eval of step 200
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(task_base, "evaluate_members", interrupting)  # the loop's evaluation
    with pytest.raises(KeyboardInterrupt):
        train_teacher(SMALL, tmp_path / "r", device="cpu", progress=False)
    monkeypatch.setattr(task_base, "evaluate_members", real)
    assert train_mod.list_checkpoints(tmp_path / "r") == [0, 100]
    (tmp_path / "r" / ".checkpoint-200.tmp-1-dead").mkdir()  # a crash leftover is ignored
    resumed = train_teacher(SMALL, tmp_path / "r", device="cpu", progress=False)
    pd.testing.assert_frame_equal(resumed.history, small_run.history)
    for s in small_run.steps:
        a, b = _weights(resumed, s), _weights(small_run, s)
        assert all(torch.equal(a[k], b[k]) for k in a), s
        sa = load_file(str(resumed.checkpoint_dir(s) / "state.safetensors"))
        sb = load_file(str(small_run.checkpoint_dir(s) / "state.safetensors"))
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_finished_run_is_not_retrained(small_run, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("retrained a finished run")

    monkeypatch.setattr(train_mod, "_run_members", boom)
    again = train_teacher(SMALL, small_run.out_dir, device="cpu", progress=False)
    assert again.steps == small_run.steps


def test_incomplete_checkpoint_dir_is_rewritten_on_resume(small_run, tmp_path):
    run_dir = tmp_path / "damaged"
    shutil.copytree(small_run.out_dir, run_dir)
    (run_dir / "checkpoint-300" / "model.safetensors").unlink()  # e.g. deleted by hand
    assert not TeacherRun.load(run_dir).finished
    repaired = train_teacher(SMALL, run_dir, device="cpu", progress=False)
    assert repaired.finished and repaired.steps == small_run.steps
    a, b = _weights(repaired, 300), _weights(small_run, 300)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_checkpoint_errors(small_run, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TeacherRun.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no config.json"):
        TeacherRun.load(tmp_path / "empty")
    with pytest.raises(ValueError, match="different config"):
        train_teacher(SMALL.replace(steps=400), small_run.out_dir, device="cpu", progress=False)
    run_dir = tmp_path / "copy"
    shutil.copytree(small_run.out_dir, run_dir)
    run = TeacherRun.load(run_dir)
    with pytest.raises(CheckpointError, match="no checkpoint at step 150"):
        run.load_model(150)
    f = run.checkpoint_dir(100) / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"checkpoint-100/model.safetensors' is damaged \(its sha256"):
        TeacherRun.load(run_dir).load_model(100)
    meta_path = run.checkpoint_dir(200) / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["arch"] = "transformer"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="architecture 'transformer'"):
        TeacherRun.load(run_dir).load_model(200)
    # weights of another shape under the right arch name
    other = train_teacher(SMALL.replace(model=ModelConfig(width=8), steps=100), tmp_path / "w8", device="cpu", progress=False)
    shutil.copy(other.checkpoint_dir(100) / "model.safetensors", run.checkpoint_dir(300) / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"checkpoint-300/model.safetensors' is damaged"):
        TeacherRun.load(run_dir).load_model(300)


def test_nan_loss_raises_and_keeps_checkpoints(tmp_path):
    cfg = SMALL.replace(optim=OptimConfig(name="sgd", lr=1e30), eval_every=50)
    with pytest.raises(FloatingPointError, match="diverged"):
        train_teacher(cfg, tmp_path / "nan", device="cpu", progress=False)
    assert train_mod.list_checkpoints(tmp_path / "nan") == [0]
    assert TeacherRun.load(tmp_path / "nan").load_model(0) is not None


def test_transformer_runs_through_the_generic_engine(tmp_path):
    """The Transformer (sims/models/transformer.py) under the same trainer: checkpoints, resume
    identity, load_model and students (autograd path)."""
    from sims.config import StudentConfig
    from sims.distill import train_students

    cfg = TeacherConfig(task=TaskConfig(n=6, k=2), model=ModelConfig(arch="transformer", n_heads=2, head_dim=4),
                        optim=OptimConfig(lr=1e-3), steps=20, batch=8, ckpt_every=10, eval_every=10, eval_size=64)
    full = train_teacher(cfg, tmp_path / "full", device="cpu", progress=False)
    assert full.steps == [0, 10, 20]
    shutil.copytree(full.out_dir, tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoint-20")
    resumed = train_teacher(cfg, tmp_path / "cut", device="cpu", progress=False)
    a, b = _weights(resumed, 20), _weights(full, 20)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.predict_proba(20, np.ones((5, 6))).shape == (5,)
    with pytest.raises(CheckpointError, match="architecture 'transformer'"):
        mlp_dir = tmp_path / "mlp"
        train_teacher(SMALL.replace(task=TaskConfig(n=6, k=2), steps=10, ckpt_every=10, eval_every=10),
                      mlp_dir, device="cpu", progress=False)
        meta = json.loads((mlp_dir / "checkpoint-10" / "meta.json").read_text())
        meta["arch"] = "transformer"
        (mlp_dir / "checkpoint-10" / "meta.json").write_text(json.dumps(meta))
        TeacherRun.load(mlp_dir).accuracy_at(10)
    res = train_students(full, ["ce", "progressive"], StudentConfig(model=ModelConfig(arch="transformer", n_heads=1, head_dim=4),
                         steps=10, batch=8, eval_every=5, eval_size=64, seeds=(0, 1)), device="cpu", progress=False)
    assert len(res.summary) == 4 and res.curves.teacher_step.dropna().isin(full.steps).all()


def test_ensemble_resume_when_seeds_stopped_at_different_checkpoints(tmp_path):
    runs = train_teachers(SMALL, [0, 1], tmp_path / "full", device="cpu", progress=False)
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "seed-1" / "checkpoint-300")
    shutil.rmtree(tmp_path / "cut" / "seed-1" / "checkpoint-200")
    shutil.rmtree(tmp_path / "cut" / "seed-0" / "checkpoint-300")  # seed 0 keeps 200: resume from 100 for both
    again = train_teachers(SMALL, [0, 1], tmp_path / "cut", device="cpu", progress=False)
    for r_new, r_old in zip(again, runs):
        assert r_new.steps == r_old.steps
        pd.testing.assert_frame_equal(r_new.history, r_old.history)
        for s in r_old.steps:
            a, b = _weights(r_new, s), _weights(r_old, s)
            assert all(torch.equal(a[k], b[k]) for k in a), (r_old.config.seed, s)


def test_resolve_device_edge_and_bad_names():
    from sims.devices import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "cuda:x", "cudax", "CPU"):
        with pytest.raises(ValueError, match="'cuda:N'"):
            resolve_device(bad)
    with pytest.raises(ValueError, match="CUDA device|not available"):
        resolve_device("cuda:99")


def test_progress_bars_only_on_a_terminal(monkeypatch):
    import io
    import sys

    from sims.loop import progress_bar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    it = range(3)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # a log file: no bar
    assert progress_bar(it, True, "x") is it
    monkeypatch.setattr(sys, "stderr", Tty())
    bar = progress_bar(it, True, "x")
    assert bar is not it and list(bar) == [0, 1, 2]
    assert progress_bar(it, False, "x") is it
