"""paper_checks/check_pcfg.py: the verdict rules on synthetic inputs, the unigram reference, the
claims of the shared quick reproduce run, and (slow) the paper-scale configs for a few CPU steps."""
from __future__ import annotations

import argparse
import math

import numpy as np
import pytest
import torch

from curriculum.transition import loss_phases
import pandas as pd

from paper_checks.check_pcfg import (ngram_verdict, nt_differences, nt_probe_settings, nt_verdict, pcfg_configs,
                                     phases_verdict, two_shot_loss_verdict, two_shot_verdict, unigram_loss)
from sims.tasks import PCFGTaskConfig


def test_phases_verdict_on_synthetic_curves():
    steps = np.arange(0, 1000, 20)
    three = np.where(steps < 300, 1.0, np.where(steps < 500, 1.0 - (steps - 300) * 2e-3, 0.6 - (steps - 500) * 1e-4))
    assert phases_verdict(loss_phases(steps, three)) == "holds"
    no_plateau = 1.0 - steps * 1e-3 + (steps > 500) * (steps - 500) * 9e-4
    assert phases_verdict(loss_phases(steps, no_plateau)) == "does not hold"
    still_dropping = np.where(steps < 300, 1.0, 1.0 - (steps - 300) * 1e-3)
    assert phases_verdict(loss_phases(steps, still_dropping)) == "inconclusive"  # a plateau, but no slow phase yet


@pytest.mark.parametrize("phase, peak, last, verdict", [
    ("drop", 0.7, 0.3, "holds"), ("drop", 0.7, 0.66, "does not hold"), ("flat", 0.7, 0.1, "does not hold"),
    ("slow", 0.7, 0.2, "inconclusive"), ("drop", 0.7, 0.5, "inconclusive"),
])
def test_ngram_verdict(phase, peak, last, verdict):
    assert ngram_verdict(phase, peak, last) == verdict


def _d(m, lo):
    return {"median": m, "lo": lo, "hi": m + 1}


def test_two_shot_loss_verdict():
    good = dict(one_shot=_d(0.05, 0.01), ce=_d(0.1, 0.02), flat=_d(0.03, -0.1), slow=_d(0.01, -0.1))
    assert two_shot_loss_verdict(good) == "holds"
    assert two_shot_loss_verdict({**good, "one_shot": _d(-0.01, -0.1)}) == "does not hold"
    assert two_shot_loss_verdict({**good, "ce": _d(0.0, -0.1)}) == "does not hold"
    assert two_shot_loss_verdict({**good, "one_shot": _d(0.05, -0.01)}) == "inconclusive"
    assert two_shot_loss_verdict({**good, "slow": _d(-0.02, -0.1)}) == "inconclusive"
    assert two_shot_loss_verdict({**good, "slow": _d(-0.02, -0.1)}, slow_is_mid=True) == "holds"


_LOSS_HOLDS = dict(one_shot=_d(0.05, 0.01), ce=_d(0.1, 0.02), flat=_d(0.03, -0.1), slow=_d(0.01, -0.1))
_LOSS_FAILS = {**_LOSS_HOLDS, "ce": _d(-0.02, -0.1)}
_LOSS_UNSURE = {**_LOSS_HOLDS, "one_shot": _d(0.05, -0.01)}


@pytest.mark.parametrize("d, e_one_shot, e_ce, verdict", [
    (_LOSS_HOLDS, 0.01, 0.02, "holds"),             # loss holds and both accuracy medians > 0
    (_LOSS_HOLDS, 0.0, 0.02, "inconclusive"),       # loss holds, one accuracy median exactly 0
    (_LOSS_HOLDS, -0.01, 0.02, "inconclusive"),     # loss holds, accuracy medians of both signs
    (_LOSS_HOLDS, -0.01, -0.02, "does not hold"),   # loss holds, but both accuracy medians < 0
    (_LOSS_FAILS, 0.01, 0.02, "does not hold"),     # the loss rule says does not hold: accuracy cannot save it
    (_LOSS_UNSURE, 0.01, 0.02, "inconclusive"),     # loss inconclusive, accuracy for 2-shot
    (_LOSS_UNSURE, -0.01, -0.02, "does not hold"),  # loss inconclusive, accuracy against 2-shot
    (_LOSS_UNSURE, -0.01, 0.0, "inconclusive"),     # loss inconclusive, one accuracy median 0
])
def test_two_shot_verdict_reads_loss_and_accuracy(d, e_one_shot, e_ce, verdict):
    e = dict(one_shot=_d(e_one_shot, e_one_shot - 1), ce=_d(e_ce, e_ce - 1))
    assert two_shot_verdict(d, e) == verdict


def test_two_shot_verdict_passes_the_mid_controls_to_the_loss_rule():
    d = {**_LOSS_HOLDS, "flat": _d(-0.02, -0.1)}
    e = dict(one_shot=_d(0.01, 0.0), ce=_d(0.01, 0.0))
    assert two_shot_verdict(d, e) == "inconclusive"
    assert two_shot_verdict(d, e, flat_is_mid=True) == "holds"


@pytest.mark.parametrize("d, e_sign", [(_LOSS_HOLDS, 1), (_LOSS_FAILS, -1), (_LOSS_UNSURE, -1)])
def test_two_shot_verdict_is_inconclusive_when_mid_never_switches(d, e_sign):
    """A student budget that does not exceed mid makes 2-shot@mid one-shot from mid: untested."""
    e = dict(one_shot=_d(0.01 * e_sign, 0.01 * e_sign - 1), ce=_d(0.02 * e_sign, 0.02 * e_sign - 1))
    assert two_shot_verdict(d, e, mid_switches=False) == "inconclusive"


def test_nt_verdict():
    assert nt_verdict(0.02, 0.001) == "holds"
    assert nt_verdict(0.02, -0.01) == "inconclusive"
    assert nt_verdict(0.0, -0.01) == "does not hold" and nt_verdict(-0.01, -0.05) == "does not hold"


def test_nt_differences_average_steps_after_0_and_levels():
    """A_X(s) = mean over steps t > 0 and levels; step 0 (any value) is left out."""
    rows = []
    for seed, bonus in ((0, 0.1), (1, -0.02)):
        for step in (0, 10, 20):
            for level in (1, 2):
                for strat in ("ce", "progressive"):
                    acc = 0.9 if step == 0 else 0.5 + 0.01 * level + (bonus if strat == "progressive" else 0.0)
                    rows.append(dict(strategy=strat, seed=seed, step=step, level=level, accuracy=acc, majority=0.4))
    d = nt_differences(pd.DataFrame(rows))
    assert list(d.index) == [0, 1]
    np.testing.assert_allclose(d.A_ce, [0.515, 0.515])
    np.testing.assert_allclose(d.d_nt, [0.1, -0.02])


def test_nt_claim_judges_the_ancestor_target_only(tmp_path):
    """Ancestor rows favour progressive on every seed (d = +0.05); span-end rows favour CE by far
    (d = -0.3): the verdict reads the ancestor rows (holds), the span-end d is only reported."""
    from paper_checks._claims import Context
    from paper_checks.check_pcfg import nt_claim

    rows = []
    for seed in range(4):
        for step in (0, 10, 20):
            for strat in ("ce", "progressive"):
                better = strat == "progressive"
                rows.append(dict(strategy=strat, seed=seed, step=step, level=1, target="ancestor",
                                 accuracy=0.5 + (0.05 + 0.001 * seed if better else 0.0), majority=0.4))
                rows.append(dict(strategy=strat, seed=seed, step=step, level=1, target="span_end",
                                 accuracy=0.9 - (0.3 if better else 0.0), majority=0.6))
    ctx = Context(argparse.Namespace(quick=True, scale="cpu", device="cpu", no_progress=True, out=str(tmp_path / "o"),
                                     cache_dir=str(tmp_path / "c"), seeds=None, threads=1, transformer=False))
    (tmp_path / "o").mkdir()
    res = nt_claim(ctx, pd.DataFrame(rows), argparse.Namespace(steps=20, model=argparse.Namespace(
        arch="bert", n_layers=1, n_heads=1, head_dim=4), batch=4, optim=argparse.Namespace(name="adamw", lr=1e-3)))
    assert res.verdict == "holds" and res.details["d_nt"]["median"] > 0.04
    np.testing.assert_allclose(res.details["span_end"]["d"], [-0.3] * 4)


def test_nt_probe_settings_are_evenly_spaced_with_step_0():
    ctx = argparse.Namespace(quick=False, scale="cpu")
    s = nt_probe_settings(ctx, argparse.Namespace(steps=500))
    assert s["steps"][0] == 0 and s["steps"][-1] == 500 and 6 <= len(s["steps"]) <= 10
    assert np.ptp(np.diff(s["steps"])) <= 1 and s["strategies"] == ("ce", "progressive")


def test_unigram_loss_of_a_uniform_grammar(tmp_path):
    """Four terminals of marginal 1/4 each: H_u = ln 4 up to sampling; the empirical entropy of n
    draws is within ~ (K - 1) / (2n) + 5 * sqrt(Var / n) of it (here < 0.01 for n ≈ 3700)."""
    path = tmp_path / "pairs.cfg"
    path.write_text("S -> P P P P P P\nP -> a b\nP -> c d\n")
    task = PCFGTaskConfig(grammar=str(path), window=12).make_task()
    assert abs(unigram_loss(task, task.eval_set(1024, 3)) - math.log(4)) < 0.01


def test_pcfg_claims_in_the_quick_report(claims_by_name, quick_report, check_accuracy_details):
    for name in ("pcfg_phases", "pcfg_ngram", "pcfg_two_shot", "pcfg_nt"):
        c = claims_by_name[name]
        assert c["verdict"] in ("holds", "does not hold", "inconclusive") and c["measured"]
    for name in ("pcfg_phases.png", "pcfg_students.png", "pcfg_two_shot_sweep.png"):
        assert (quick_report["out"] / name).is_file(), name
    d = claims_by_name["pcfg_two_shot"]["details"]
    assert {"mid", "flat_ckpt", "slow_ckpt", "d", "e", "loss_rule", "half_step", "d_half", "e_half"} <= set(d)
    from paper_checks._claims import Context

    s = pcfg_configs(Context(argparse.Namespace(quick=True, scale="cpu", device="cpu", out="o", cache_dir="c",
                                                seeds=None)))["student"]
    check_accuracy_details(claims_by_name["pcfg_two_shot"], student_steps=s.steps, eval_every=s.eval_every)
    nt = claims_by_name["pcfg_nt"]["details"]
    assert nt["steps"][0] == 0 and len(nt["d_nt"]["per_seed"]) == len(claims_by_name["pcfg_nt"]["seeds"])
    assert (quick_report["out"] / "pcfg_nt.png").is_file()
    assert any(quick_report["cache"].rglob("nt.parquet"))  # cached beside the students' results


def test_student_cache_key_includes_the_probe_settings(tmp_path):
    """Two probe settings: two cache folders, the same training results; the same settings again: no new folder."""
    from paper_checks import _runs
    from paper_checks._claims import Context
    from sims.config import ModelConfig, OptimConfig, StudentConfig, TeacherConfig
    from sims.pcfg_probe import StudentNTProbe
    from sims.train import train_teacher

    torch.set_num_threads(1)
    task = PCFGTaskConfig(grammar="cfg3b", start="16", window=12)
    run = train_teacher(TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=1, n_heads=2, head_dim=4),
                                      optim=OptimConfig(name="adamw"), steps=10, batch=4, ckpt_every=5, eval_every=5,
                                      eval_size=32), tmp_path / "t", device="cpu", progress=False)
    student = StudentConfig(model=ModelConfig(arch="bert", n_layers=1, n_heads=1, head_dim=4), optim=OptimConfig(name="adamw"),
                            steps=6, batch=4, eval_every=3, eval_size=32, seeds=(0,), strategies=("ce", "progressive"))

    def ctx():
        return Context(argparse.Namespace(quick=True, scale="cpu", device="cpu", no_progress=True, out=str(tmp_path / "o"),
                                          cache_dir=str(tmp_path / "c"), seeds=None, threads=1, transformer=False))

    def folders():
        return sorted(p.parent.name for p in (tmp_path / "c").rglob("results.parquet"))

    a = _runs.get_students(ctx(), run, student, probes=[StudentNTProbe(run, steps=(0, 6), train_sequences=8, test_sequences=4)])
    b = _runs.get_students(ctx(), run, student, probes=[StudentNTProbe(run, steps=(0, 3), train_sequences=8, test_sequences=4)])
    assert len(folders()) == 2 and sorted(a[2]["nt"].step.unique()) == [0, 6] and sorted(b[2]["nt"].step.unique()) == [0, 3]
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    again = _runs.get_students(ctx(), run, student, probes=[StudentNTProbe(run, steps=(0, 6), train_sequences=8, test_sequences=4)])
    assert len(folders()) == 2
    pd.testing.assert_frame_equal(again[2]["nt"], a[2]["nt"], check_exact=True)
    assert isinstance(again[2]["nt"].attrs["wall_s"], float)


@pytest.mark.slow
def test_paper_scale_pcfg_configs_run_a_few_steps_on_cpu(tmp_path, run_sequence_paper_shapes):
    """--scale paper: cfg3b, 4 layers, 32 (teacher) vs 8 (student) heads of dim 8, batch 512 —
    the same shapes trained for 2 steps on a batch of 2 on CPU, then students of every strategy."""
    from paper_checks._claims import Context

    ctx = Context(argparse.Namespace(quick=False, scale="paper", device="cpu", no_progress=True, out=str(tmp_path / "o"),
                                     cache_dir=str(tmp_path / "c"), seeds=None, threads=1, transformer=True))
    c = pcfg_configs(ctx)
    t, s = c["teacher"], c["student"]
    assert (t.model.n_layers, t.model.n_heads, t.model.head_dim, t.batch, t.task.grammar) == (4, 32, 8, 512, "cfg3b")
    assert (s.model.n_layers, s.model.n_heads, s.batch) == (4, 8, 512) and t.task.start is None
    run_sequence_paper_shapes(c, tmp_path, seq_len=513)
