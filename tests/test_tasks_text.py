"""The text task (sims/tasks/text.py) on the one engine: batches are the data layer's
``mlm_batch(seed, step)`` and resume exactly, the eval set is drawn from the held-out part only,
the registered config round-trips and caches, bad input is a clear error, and a tiny training
run on a tiny corpus beats the unigram baseline."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("tokenizers")

from sims.config import ModelConfig, OptimConfig, TeacherConfig  # noqa: E402
from sims.tasks import TextTask, TextTaskConfig, as_task  # noqa: E402
from sims.text import mlm_batch  # noqa: E402


@pytest.fixture(scope="module")
def pairs_config(pairs_corpus, tmp_path_factory):
    """The pairs corpus of conftest.py: V <= 400 (every word one token), T = 16, 20% of records held out."""
    return TextTaskConfig(corpus=str(pairs_corpus), vocab_size=400, window=16, eval_fraction=0.2,
                          cache_dir=str(tmp_path_factory.mktemp("text-cache")))


def test_batches_are_mlm_batches_of_seed_and_step_and_resume(pairs_config):
    task = as_task(pairs_config)
    assert isinstance(task, TextTask) and task.model_input().n == 16
    assert task.model_input().n_classes == task.layout.vocab_size == task.layout.n_terminals + 4
    s, t = task.stream(7), task.stream(8)
    task.sample([s, t], 5)
    state = s.get_state()
    b = task.sample([s, t], 5)                                    # step 1 of each stream
    for e, seed in enumerate((7, 8)):
        mb = mlm_batch(task.train.tokens, task.layout, 5, seed=seed, step=1)
        assert np.array_equal(b.x[e].numpy(), mb.inputs)
        assert np.array_equal(b.mask[e].numpy(), mb.selected)
        assert np.array_equal(b.labels[e].numpy()[mb.selected], mb.targets[mb.selected])
    fresh = task.stream(0)
    fresh.set_state(state)
    again = task.sample([fresh], 5)
    assert torch.equal(again.x[0], b.x[0]) and torch.equal(again.labels[0], b.labels[0])


def test_eval_set_is_fixed_held_out_and_capped(pairs_config):
    task = as_task(pairs_config)
    n_eval = len(task.eval)
    a, b = task.eval_set(10_000, 3), task.eval_set(10_000, 3)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert a.x.shape == (n_eval, 16)                               # capped: each held-out window once
    # unmasked originals: every row is a held-out window, each exactly once
    orig = np.where(a.mask.numpy(), a.labels.numpy(), a.x.numpy())
    rows = {tuple(r) for r in np.asarray(task.eval.tokens)}
    assert {tuple(r) for r in orig} == rows
    train_rows = {tuple(r) for r in np.asarray(task.train.tokens)}
    assert not rows & train_rows
    assert task.eval_set(4, 3).x.shape == (4, 16)


def test_config_roundtrip_cache_and_errors(pairs_config, tmp_path):
    cfg = TeacherConfig(task=pairs_config, model=ModelConfig(arch="bert"))
    d = cfg.to_dict()
    assert d["task"]["kind"] == "text" and TeacherConfig.from_dict(d) == cfg
    pairs_config.make_task()
    again = pairs_config.make_task()
    assert again.tokenizer.from_cache                               # the second one loads the cache
    other = pairs_config.replace(vocab_size=300)
    assert other.cache_folder() != pairs_config.cache_folder()
    assert other.cache_folder().parent == pairs_config.cache_folder().parent
    with pytest.raises(ValueError, match="tokenizer must be one of"):
        TextTaskConfig(tokenizer="unigram")
    with pytest.raises(ValueError, match="eval_fraction"):
        TextTaskConfig(eval_fraction=0.0)
    with pytest.raises(ValueError, match="corpus must be"):
        TextTaskConfig(corpus="")
    with pytest.raises(ValueError, match="window must be"):
        TextTaskConfig(window=1)
    with pytest.raises(ValueError, match="does not exist|no such"):
        TextTaskConfig(corpus=str(tmp_path / "missing.txt"), cache_dir=str(tmp_path)).make_task()
    short = pairs_config.replace(window=4096)                      # the held-out part is smaller than a window
    with pytest.raises(ValueError, match="window"):
        short.make_task()


def test_tiny_training_beats_the_unigram_baseline(pairs_config, tmp_path):
    """The unigram baseline is about ln 16 = 2.77 nats (16 words, plus the full stop). A model
    reading the neighbour of a masked word predicts it almost surely. Held-out: ~49 windows x 15
    tokens x 0.3 ≈ 220 selected positions with per-position loss in [0, ~8]; a margin of 1 nat
    below the baseline is more than 5 standard errors of a model at the baseline (sd < 3 nats).
    The unigram predictor's accuracy is at most the top word frequency (< 0.15)."""
    from sims.train import train_teacher

    task = as_task(pairs_config)
    base = task.unigram_baseline()
    assert 2.5 < base < 3.5
    cfg = TeacherConfig(task=pairs_config, model=ModelConfig(arch="bert", n_layers=1, n_heads=2, head_dim=8),
                        optim=OptimConfig(name="adamw", lr=1e-2, beta2=0.95), steps=400, batch=32, ckpt_every=400,
                        eval_every=100, eval_size=512)
    run = train_teacher(cfg, tmp_path / "t", device="cpu", progress=False)
    final = run.history[run.history.step == 400]
    assert final.loss.item() < base - 1.0, run.history
    assert final.accuracy.item() > 0.4, run.history
