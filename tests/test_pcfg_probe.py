"""PCFG checkpoint probes (sims/pcfg_probe.py): a model that ignores context has M_robust = M_close = 0;
a model that reads context does not; the non-terminal probe recovers an ancestor that the token
determines; `pdistill probe` on a PCFG run writes ngram.parquet, nt.parquet, summary.json, phases.png."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import torch

from pdistill.cli import main as pdistill
from sims.config import ModelConfig, OptimConfig, TeacherConfig
from sims.models.sequence import EnsembleSequenceTransformer
from sims.pcfg import ngram_dependence
from sims.pcfg_probe import NGRAM_COLUMNS, NT_COLUMNS, model_predictor, ngram_table, nt_table, probe_strings
from sims.tasks import PCFGTaskConfig
from sims.train import train_teacher


def _model(task, seed=0):
    inp = task.model_input()
    return EnsembleSequenceTransformer(vocab=inp.vocab, seq_len=inp.n, n_classes=inp.n_classes, n_layers=2, n_heads=2,
                                       head_dim=4, pad_id=inp.pad, generators=[seed], dtype=torch.float64)


def test_a_model_that_ignores_context_has_m_robust_zero():
    """With every attention output projection zero the model is position-wise: the output at p
    depends only on the token at p (masked in every variant) and on p, so both measures are 0."""
    task = PCFGTaskConfig(start="16", window=20).make_task()
    tokens, _ = probe_strings(task, 8, seed=3)
    blind = _model(task)
    with torch.no_grad():
        for block in blind.blocks:
            block.proj_w.zero_()
            block.proj_b.zero_()
    dep = ngram_dependence(model_predictor(blind), tokens, task.layout, spans=(3, 5))
    for v in dep.values.values():
        assert np.abs(v).max() < 1e-12
    seeing = ngram_dependence(model_predictor(_model(task)), tokens, task.layout, spans=(3, 5))
    assert np.median(seeing.values[(3, "robust")]) > 1e-4  # the same model with attention reads its neighbours


def test_nt_probe_recovers_an_ancestor_the_token_determines(tmp_path):
    """S -> A B A B; A -> a | b; B -> c | d (one rule a line): the depth-1 ancestor is A for a, b and B for c, d, so a
    linear probe on any hidden state that keeps the token identity (the residual stream does) is
    exact on held-out strings, while the majority class scores 1/2. Every A and B spans one
    terminal, so every token ends its depth-1 span: the span-end label is always 1."""
    path = tmp_path / "ab.cfg"
    path.write_text("S -> A B A B\nA -> a\nA -> b\nB -> c\nB -> d\n")
    cfg = TeacherConfig(task=PCFGTaskConfig(grammar=str(path), window=4),
                        model=ModelConfig(arch="bert", n_layers=1, n_heads=2, head_dim=4),
                        optim=OptimConfig(name="adamw"), steps=2, batch=4, ckpt_every=2, eval_every=2, eval_size=16)
    run = train_teacher(cfg, tmp_path / "t", device="cpu", progress=False)
    nt = nt_table(run, train_sequences=32, test_sequences=32)
    assert list(nt.columns) == NT_COLUMNS and sorted(nt.step.unique()) == [0, 2] and set(nt.level) == {1}
    anc, ends = nt[nt.target == "ancestor"], nt[nt.target == "span_end"]
    assert len(anc) == len(ends) == 2 and (nt.accuracy == 1.0).all()
    assert (anc.majority == 0.5).all() and (ends.majority == 1.0).all()


def test_pdistill_probe_on_a_pcfg_run(tmp_path, capsys):
    cfg = TeacherConfig(task=PCFGTaskConfig(start="16", window=16),
                        model=ModelConfig(arch="bert", n_layers=1, n_heads=2, head_dim=4),
                        optim=OptimConfig(name="adamw", lr=3e-3), steps=20, batch=8, ckpt_every=10, eval_every=5,
                        eval_size=64)
    run = train_teacher(cfg, tmp_path / "t", device="cpu", progress=False)
    out = tmp_path / "p"
    rc = pdistill(["probe", str(tmp_path / "t"), "--out", str(out), "--sequences", "6", "--positions", "3",
                   "--nt-train", "8"])
    assert rc == 0, capsys.readouterr().err
    ngram = pd.read_parquet(out / "ngram.parquet")
    assert list(ngram.columns) == NGRAM_COLUMNS and sorted(ngram.step.unique()) == run.steps
    assert set(zip(ngram.span, ngram.kind)) == {(3, "robust"), (3, "close"), (5, "robust"), (5, "close")}
    assert (ngram["count"] == 18).all() and (ngram.q25 <= ngram["median"]).all() and (ngram["median"] <= ngram.q75).all()
    again = ngram_table(run, sequences=6, positions_per_sequence=3)  # the same strings and positions
    pd.testing.assert_frame_equal(again, ngram)
    nt = pd.read_parquet(out / "nt.parquet")
    assert set(nt.level) == {1, 2, 3} and sorted(nt.step.unique()) == run.steps
    summary = json.loads((out / "summary.json").read_text())
    assert summary["m_robust3_peak"]["step"] in run.steps and (out / "phases.png").stat().st_size > 0
    assert pdistill(["probe", str(tmp_path / "t"), "--out", str(out), "--sequences", "0"]) == 2
    assert "sequences must be" in capsys.readouterr().err
