"""One quick ``pdistill reproduce`` run shared by the tests of tests/checks (session scope)."""
from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="session")
def quick_report(tmp_path_factory):
    """Run ``pdistill reproduce --quick`` once into a fresh folder with a fresh cache.

    Returns dict(out=Path, cache=Path, rc=int, wall_s=float, claims=list[dict], stdout=str).
    """
    from paper_checks.reproduce import main_cli

    root = tmp_path_factory.mktemp("reproduce_quick")
    out, cache = root / "out", root / "cache"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main_cli(["--quick", "--no-progress", "--out", str(out), "--cache-dir", str(cache)])
    claims = json.loads((out / "claims.json").read_text()) if (out / "claims.json").is_file() else []
    return dict(out=out, cache=cache, rc=rc, claims=claims, stdout=buf.getvalue())


@pytest.fixture(scope="session")
def claims_by_name(quick_report):
    return {c["name"]: c for c in quick_report["claims"]}


def _check_accuracy_details(claim: dict, student_steps: int, eval_every: int) -> None:
    """e_X per seed is accuracy(2-shot@mid) - accuracy(X) of the recorded final accuracies (sign
    convention: > 0 means 2-shot@mid is better), medians inside their intervals, and the half-budget
    evaluation is the one nearest steps / 2 on the evaluation grid."""
    det = claim["details"]
    acc = det["final_accuracy"]
    mid = acc[f"two_shot@{det['mid']}"]
    for key in ("one_shot", "ce"):
        want = [m - a for m, a in zip(mid, acc[key])]
        assert np.allclose(det["e"][key]["per_seed"], want, atol=2e-4)
        for table in (det["e"], det["d"], det["e_half"], det["d_half"]):
            assert table[key]["lo"] <= table[key]["median"] <= table[key]["hi"]
    assert abs(det["half_step"] - student_steps / 2) <= eval_every / 2 and det["half_step"] % eval_every == 0
    assert det["loss_rule"] in ("holds", "does not hold", "inconclusive")
    assert "e_one_shot" in claim["measured"] and "half the budget" in claim["notes"]


@pytest.fixture(scope="session")
def check_accuracy_details():
    """The checks of the accuracy and half-budget details of a ``*_two_shot`` claim (PCFG and text)."""
    return _check_accuracy_details


def _run_sequence_paper_shapes(c: dict, tmp_path, seq_len: int) -> None:
    """The --scale paper masked-LM configs ``c`` (PCFG or text; 4 layers, 32 vs 8 heads of dim 8): a
    teacher for 2 steps on a batch of 2 on CPU (d_model 256, input length ``seq_len``), then one
    student of every strategy for 2 steps."""
    from sims.distill import train_students
    from sims.train import train_teacher

    t, s = c["teacher"], c["student"]
    run = train_teacher(t.replace(steps=2, batch=2, ckpt_every=1, eval_every=1, eval_size=4), tmp_path / "t",
                        device="cpu", progress=False)
    model = run.load_model(2, "cpu")
    assert model.d_model == 256 and model.seq_len == seq_len and np.isfinite(run.history.loss).all()
    res = train_students(run, None, s.replace(steps=2, batch=2, eval_every=1, eval_size=4, seeds=(0,),
                                              two_shot_checkpoint=1, progressive_interval=1),
                         device="cpu", progress=False)
    assert len(res.summary) == 4 and np.isfinite(res.summary.final_loss).all()


@pytest.fixture(scope="session")
def run_sequence_paper_shapes():
    """Train the paper-scale masked-LM shapes of a PCFG or text config for a few CPU steps."""
    return _run_sequence_paper_shapes
