"""curriculum.transition: the one owner of before / mid / after and of the loss phases."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curriculum.transition import Transition, first_step_reaching, loss_phases, snap_to_checkpoint


def _sigmoid_accuracy(steps, t0, w):
    return 0.5 + 0.5 / (1.0 + np.exp(-(np.asarray(steps, float) - t0) / w))


def test_accuracy_sigmoid_start_mid_end_match_the_closed_form():
    steps = np.arange(0, 2001, 10)
    t0, w = 1003.0, 40.0
    acc = _sigmoid_accuracy(steps, t0, w)
    acc = (acc - acc[0]) / (acc[-1] - acc[0]) * 0.5 + 0.5  # exactly 0.5 -> 1.0 end to end
    tr = Transition.from_series(steps, acc, metric="accuracy")
    assert tr.direction == "up"
    # progress 0.1 <=> accuracy 0.55 <=> sigmoid 0.1 <=> t = t0 + w ln(1/9); start = the step before.
    t_lo = t0 + w * math.log(0.1 / 0.9)
    assert tr.start == int(steps[steps >= t_lo][0]) - 10
    t_hi = t0 + w * math.log(0.9 / 0.1)
    assert tr.end == int(steps[steps >= t_hi][0])
    # the steepest central difference of a sigmoid sits at the eval point nearest t0
    assert tr.mid == 1000
    assert tr.complete


def test_loss_default_and_accuracy_agree_on_a_monotone_pair():
    steps = np.arange(0, 1501, 25)
    acc = _sigmoid_accuracy(steps, 700, 30)
    hist = pd.DataFrame({"step": steps, "accuracy": acc, "loss": -np.log(acc)})
    by_loss = Transition.from_history(hist)
    by_acc = Transition.from_history(hist, metric="accuracy")
    assert by_loss.metric == "loss" and by_loss.direction == "down"
    assert abs(by_loss.mid - by_acc.mid) <= 25  # -log is monotone and smooth: the same jump


@settings(max_examples=60, deadline=None)
@given(i=st.integers(10, 90), w=st.floats(5, 200), a=st.floats(0.1, 10), b=st.floats(-5, 5))
def test_invariant_under_increasing_affine_maps_and_flips(i, w, a, b):
    # t0 off the grid's midpoints: a sigmoid centred half-way between two evaluations has two
    # exactly equal central differences, and rounding may then break the tie either way
    t0 = 20 * i + 7
    steps = np.arange(0, 2001, 20)
    v = _sigmoid_accuracy(steps, t0, w)
    ref = Transition.from_series(steps, v, metric="accuracy")
    moved = Transition.from_series(steps, a * v + b, metric="m", direction="up")
    flipped = Transition.from_series(steps, -a * v + b, metric="m", direction="down")
    for tr in (moved, flipped):
        assert (tr.start, tr.mid, tr.end) == (ref.start, ref.mid, ref.end)


def test_threshold_rule_and_first_step_reaching():
    steps = [0, 100, 200, 300, 400]
    acc = [0.5, 0.52, 0.61, 0.9, 1.0]
    tr = Transition.from_series(steps, acc, metric="accuracy", rule="threshold", level=0.6)
    assert tr.mid == 200
    assert first_step_reaching(steps, acc, 0.95) == 400
    assert first_step_reaching(steps, acc, 1.01) == math.inf
    assert first_step_reaching(steps, [3, 2, 1, 0.5, 0.4], 1.0, "down") == 200
    with pytest.raises(ValueError, match="never reaches the level 0.99"):
        Transition.from_series(steps, [0.5, 0.5, 0.6, 0.7, 0.8], metric="accuracy", rule="threshold", level=0.99)


def test_named_checkpoints_on_a_grid():
    steps = np.arange(0, 2001, 50)
    acc = _sigmoid_accuracy(steps, 1000, 20)
    tr = Transition.from_series(steps, acc, metric="accuracy")
    grid = list(range(0, 2001, 200))
    named = tr.checkpoints(grid)
    assert named["mid"] == 1000
    assert named["edge"] == max(c for c in grid if c <= tr.start)
    assert named["before"] == min(grid, key=lambda c: (abs(c - tr.start / 2), c))
    assert named["after"] >= tr.end + (2000 - tr.end) / 2 and named["after"] < 2000
    assert named["before"] < named["edge"] <= named["mid"] < named["after"]


def test_no_transition_is_reported_not_invented():
    steps = np.arange(0, 1000, 100)
    flat = np.full(steps.shape, 0.5)
    tr = Transition.from_series(steps, flat, metric="accuracy")
    assert not tr.complete and tr.end is None
    assert tr.checkpoints(list(steps))["after"] == 900


def test_unsorted_duplicate_and_nan_points_are_cleaned():
    tr = Transition.from_series([200, 0, 100, 100, 300, 400], [0.9, 0.5, 0.55, 0.1, float("nan"), 1.0], metric="accuracy")
    assert (tr.start, tr.final) == (0, 400)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=[0, 1], values=[0.5, 1.0]), "needs >= 3 evaluations"),
    (dict(steps=[0, 1, 2], values=[0.5, 1.0]), "same length"),
    (dict(steps=[0, 1, 2], values=[0.5, 0.7, 1.0], rule="middle"), "rule must be one of"),
    (dict(steps=[0, 1, 2], values=[0.5, 0.7, 1.0], lo_frac=0.9, hi_frac=0.5), "lo_frac must be < hi_frac"),
    (dict(steps=[0, 1, 2], values=[0.5, 0.7, 1.0], hi_frac=1.5), r"hi_frac must be a real in \(0, 1\)"),
    (dict(steps=[0, 1, 2], values=[0.5, 0.7, 1.0], direction="sideways"), "direction must be 'up' or 'down'"),
    (dict(steps=[float("nan")], values=[1.0]), "no finite"),
])
def test_bad_input_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Transition.from_series(**kwargs)


def test_from_history_names_missing_columns():
    with pytest.raises(ValueError, match="needs columns 'step' and 'loss'"):
        Transition.from_history(pd.DataFrame({"step": [0, 1, 2], "accuracy": [0.5, 0.6, 0.7]}))


def test_snap_prefers_the_earlier_checkpoint_on_ties():
    assert snap_to_checkpoint(150, [100, 200]) == 100
    assert snap_to_checkpoint(151, [200, 100]) == 200


def _piecewise(steps, knots, slopes, start=1.0):
    out, v = [], start
    for i, t in enumerate(steps):
        out.append(v)
        if i + 1 < len(steps):
            seg = np.searchsorted(knots, t, side="right")
            v -= slopes[seg] * (steps[i + 1] - t)
    return np.array(out)


def test_loss_phases_find_the_knots_of_a_piecewise_linear_curve():
    steps = np.arange(0, 2001, 20)
    loss = _piecewise(steps, knots=[300, 700], slopes=[2e-5, 1e-3, 1e-4])
    ph = loss_phases(steps, loss)
    assert ph.drop == (300, 700)
    assert ph.flat == (0, 300) and ph.slow == (700, 2000)
    assert ph.three_phases
    assert ph.drop_rate == pytest.approx(1e-3) and ph.flat_rate == pytest.approx(2e-5)
    assert ph.phase_of(100) == "flat" and ph.phase_of(500) == "drop" and ph.phase_of(1000) == "slow"


def test_a_pure_exponential_decay_has_no_flat_phase():
    steps = np.arange(0, 2001, 20)
    ph = loss_phases(steps, np.exp(-steps / 300.0))
    assert ph.flat[0] == ph.flat[1] and not ph.three_phases


def test_loss_phases_can_skip_the_warmup_fall():
    steps = np.arange(0, 2001, 20)
    loss = _piecewise(steps, knots=[80, 300, 700], slopes=[3e-3, 1e-5, 1e-3, 1e-4], start=1.3)
    assert loss_phases(steps, loss).drop[0] == 0  # the warmup fall is the steepest
    ph = loss_phases(steps, loss, ignore_before=100)
    assert ph.drop == (300, 700) and ph.three_phases
