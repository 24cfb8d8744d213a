"""Member probes during student training (sims.distill.MemberProbe) and the students' non-terminal
probe (sims.pcfg_probe.StudentNTProbe): training is the same bit for bit with and without a probe,
the tables are saved and loaded, and the probe scores models of known behaviour exactly."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from sims.config import ModelConfig, OptimConfig, StudentConfig, TaskConfig, TeacherConfig
from sims.distill import MemberProbe, StudentResults, train_students
from sims.pcfg_probe import NT_TARGETS, STUDENT_NT_COLUMNS, StudentNTProbe
from sims.tasks import PCFGTaskConfig
from sims.train import train_teacher

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _keep_torch_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


TASK = PCFGTaskConfig(grammar="cfg3b", start="16", window=16)
TEACHER = TeacherConfig(task=TASK, model=ModelConfig(arch="bert", n_layers=1, n_heads=2, head_dim=4),
                        optim=OptimConfig(name="adamw", lr=3e-3, beta2=0.95), steps=20, batch=8, ckpt_every=10,
                        eval_every=10, eval_size=64)
STUDENT = StudentConfig(model=ModelConfig(arch="bert", n_layers=1, n_heads=1, head_dim=4),
                        optim=OptimConfig(name="adamw", lr=3e-3, beta2=0.95), steps=20, batch=8, eval_every=10,
                        eval_size=64, seeds=(0, 1), strategies=("ce", "one_shot", "progressive"), progressive_interval=10)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    return train_teacher(TEACHER, tmp_path_factory.mktemp("t") / "run", device="cpu", progress=False)


class _Spy(MemberProbe):
    """Draws from the global torch RNG (a probe must not disturb training even then) and records the mode."""

    name = "spy"
    columns = ("step", "training", "members")

    def __call__(self, step, model, members):
        torch.rand(7)
        return [{"step": step, "training": model.training, "members": len(members)}]


def test_probes_do_not_change_training_and_are_saved(teacher, tmp_path):
    plain = train_students(teacher, None, STUDENT, device="cpu", progress=False, out_dir=tmp_path / "plain")
    nt = StudentNTProbe(teacher, every=5, strategies=("ce", "progressive"), train_sequences=24, test_sequences=12)
    probed = train_students(teacher, None, STUDENT, device="cpu", progress=False, out_dir=tmp_path / "probed",
                            probes=[nt, _Spy(steps=(0, 7, 20))])
    for f in ("results.parquet", "curves.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "plain" / f), pd.read_parquet(tmp_path / "probed" / f),
                                      check_exact=True)
    table = pd.read_parquet(tmp_path / "probed" / "nt.parquet")
    assert list(table.columns) == STUDENT_NT_COLUMNS
    assert sorted(table.step.unique()) == [0, 5, 10, 15, 20] and set(table.strategy) == {"ce", "progressive"}
    assert set(table.seed) == {0, 1} and set(table.level) == {1, 2, 3}            # cfg3b from 16: depths 0..3
    assert set(table.target) == set(NT_TARGETS)
    assert len(table) == 5 * 2 * 2 * 3 * 2 and table.accuracy.between(0, 1).all()
    # step 0: both strategies of a seed are the same initial network
    at0 = table[table.step == 0].pivot_table(index=["seed", "level", "target"], columns="strategy", values="accuracy")
    assert (at0.ce == at0.progressive).all()
    spy = probed.probes["spy"]
    assert spy.step.tolist() == [0, 7, 20] and not spy.training.any() and (spy.members == 6).all()
    again = StudentResults.load(tmp_path / "probed")
    pd.testing.assert_frame_equal(again.probes["nt"], probed.probes["nt"], check_exact=True)
    assert again.meta["probes"]["nt"]["every"] == 5 and again.meta["probes"]["nt"]["strategies"] == ["ce", "progressive"]
    assert StudentResults.load(tmp_path / "plain").probes == {}


def test_an_interrupted_run_keeps_its_probe_rows(teacher, tmp_path):
    class Boom(MemberProbe):
        name = "boom"
        columns = ("step",)

        def __call__(self, step, model, members):
            if step == 12:
                raise KeyboardInterrupt
            return [{"step": step}]

    with pytest.raises(KeyboardInterrupt):
        train_students(teacher, None, STUDENT, device="cpu", progress=False, out_dir=tmp_path / "s", probes=Boom(every=4))
    assert pd.read_parquet(tmp_path / "s" / "boom.parquet").step.tolist() == [0, 4, 8]
    assert not (tmp_path / "s" / "results.parquet").exists()


class _KnownHidden(torch.nn.Module):
    """A 2-member 'ensemble' whose hidden state at each terminal is, for member 0, the one-hot of
    its ancestors at every depth (concatenated) followed by its span-end bit at every depth and, for
    member 1, a constant. It knows the probe's
    two batches of strings (keyed by the whole batch: equal windows may have different parses)."""

    def __init__(self, data, n_symbols: int):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(2, 1))
        self.states = {}
        for tokens, sample in ((data.train_tokens, data.train), (data.test_tokens, data.test)):
            B, T = tokens.shape
            D = sample.ancestors[0].shape[1]
            h = torch.zeros(2, B, T, D * n_symbols + D)
            for b, (anc, ends) in enumerate(zip(sample.ancestors, sample.span_ends)):
                for p in range(min(len(anc), T - 1)):
                    for d in range(D):
                        if anc[p, d] >= 0:
                            h[0, b, 1 + p, d * n_symbols + int(anc[p, d])] = 1.0
                        h[0, b, 1 + p, D * n_symbols + d] = float(ends[p, d])
            h[1] = 0.5
            self.states[np.asarray(tokens, dtype=np.int64).tobytes()] = h

    def hidden(self, x):
        return self.states[x.numpy().astype(np.int64).tobytes()]


def test_nt_probe_on_models_of_known_behaviour():
    """One-hot ancestors and span-end bits: each label is a linear function of the features -> held-out
    accuracy 1. Constant hidden state: standardised features are 0, only the bias is fitted, so the
    probe always predicts the most frequent label of the training strings: accuracy = that label's
    share of the test tokens (computed here from the sampler's labels), < 1 at every level."""
    probe = StudentNTProbe(TASK, steps=(3,), train_sequences=64, test_sequences=32)
    g = TASK.make_grammar()
    model = _KnownHidden(probe.data, len(g.nonterminals))
    rows = pd.DataFrame(probe(3, model, [("ce", 0), ("progressive", 0)]))
    assert list(rows.columns) == STUDENT_NT_COLUMNS and (rows.step == 3).all() and set(rows.level) == {1, 2, 3}
    W = TASK.window
    for target, attr in (("ancestor", "ancestors"), ("span_end", "span_ends")):
        tr = np.concatenate([a[:W] for a in getattr(probe.data.train, attr)]).astype(np.int64)
        te = np.concatenate([a[:W] for a in getattr(probe.data.test, attr)]).astype(np.int64)
        for lv in (1, 2, 3):
            vals, counts = np.unique(tr[:, lv], return_counts=True)
            share = float((te[:, lv] == vals[counts.argmax()]).mean())
            assert share < 1
            at = rows[(rows.level == lv) & (rows.target == target)]
            one_hot = at[at.strategy == "ce"].iloc[0]
            const = at[at.strategy == "progressive"].iloc[0]
            assert one_hot.accuracy == 1.0 and const.accuracy == pytest.approx(share, abs=1e-12), (target, lv)
            assert one_hot.majority == pytest.approx(share, abs=1e-12) and const.majority == one_hot.majority
    only_ce = StudentNTProbe(TASK, every=1, strategies=("ce",), train_sequences=64, test_sequences=32)
    assert {r["strategy"] for r in only_ce(0, model, [("ce", 0), ("progressive", 0)])} == {"ce"}


def test_bad_probe_input():
    with pytest.raises(ValueError, match="needs a PCFG task"):
        StudentNTProbe(TaskConfig(n=10, k=3), every=5)
    with pytest.raises(ValueError, match="give every"):
        StudentNTProbe(TASK)
    with pytest.raises(ValueError, match="every must be"):
        StudentNTProbe(TASK, every=0)
    with pytest.raises(TypeError, match="strategies must be"):
        StudentNTProbe(TASK, every=5, strategies="ce")
    with pytest.raises(ValueError, match="level must be"):
        StudentNTProbe(TASK, every=5, levels=(4,))
    with pytest.raises(ValueError, match=r"names \['two_shot'\], which the students do not use"):
        StudentNTProbe(TASK, every=5, strategies=("ce", "two_shot")).check_members([("ce", 0), ("progressive", 0)])
    bad = _Spy(every=2)
    bad.name = "results"
    with pytest.raises(ValueError, match="probe name must match"):
        train_students("nowhere", None, STUDENT, probes=[bad])
    with pytest.raises(ValueError, match="distinct"):
        train_students("nowhere", None, STUDENT, probes=[_Spy(every=2), _Spy(every=3)])
