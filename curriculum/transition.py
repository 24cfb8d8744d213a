"""The one owner of "where is the teacher's phase transition": before / mid / after, and loss phases.

Every consumer — the 2-shot default checkpoint, the probe, the curriculum studies, the paper
checks, the PCFG and text claims — calls this module; no other module decides which checkpoint
is "mid-transition". Torch-free (numpy + pandas).

A metric series (steps t_0 < ... < t_m, values v_0..v_m) moves from its start level
v_start = v_0 to its end level v_end = v_m. Its progress is p_i = (v_i - v_start) / (v_end - v_start)
(for a loss, v_end < v_start, and the same formula still gives 0 -> 1). Then

    start  (the last point before the change: "edge")  = the step just before the first i with p_i >= lo_frac
    end    (the first point after the change)          = the first step with p_i >= hi_frac
    mid    (rule "steepest", the default)              = argmax_i of the change per step, central
           difference  s_i = (v_{i+1} - v_{i-1}) / (t_{i+1} - t_{i-1}) signed so that progress is positive
    mid    (rule "threshold")                          = the first step with v_i >= level (accuracy)
                                                         or v_i <= level (loss): an explicit level

With lo_frac = 0.1 and hi_frac = 0.9, an accuracy going 0.5 -> 1.0 has start = the last step
below 0.55 and end = the first step at 0.95 (t95).

The default for 2-shot and for the paper checks is ``Transition.from_history(history)``: the
held-out **loss**, rule "steepest" — the checkpoint where the teacher's loss falls fastest. Loss
exists for every task (parity, PCFG, text), so the same rule serves all of them.

Checkpoints named from a transition (all snapped to the checkpoint grid):
    before = the checkpoint nearest start / 2 (the middle of the plateau before the change)
    edge   = the last checkpoint <= start
    mid    = the checkpoint nearest ``mid`` (ties: the earlier one)
    after  = the first checkpoint >= end + (final - end) / 2 (well after the change; the final
             checkpoint excluded when another qualifies)

Loss curves of the PCFG and text teachers have three phases (Panigrahi et al. 2025, §5): a flat
phase, a sharp drop, a slow decay. :func:`loss_phases` finds them from the same series.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["Transition", "LossPhases", "loss_phases", "first_step_reaching", "snap_to_checkpoint", "RULES", "DEFAULT_METRIC"]

RULES = ("steepest", "threshold")
DEFAULT_METRIC = "loss"
_DIRECTIONS = {"loss": "down", "accuracy": "up", "train_loss": "down"}


def _series(steps, values, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted, de-duplicated, finite (steps, values) as float arrays; clear errors otherwise."""
    s = np.asarray(steps, dtype=float).reshape(-1)
    v = np.asarray(values, dtype=float).reshape(-1)
    if s.shape != v.shape:
        raise ValueError(f"{owner}: steps and values must have the same length; got {s.size} and {v.size}.")
    keep = np.isfinite(s) & np.isfinite(v)
    s, v = s[keep], v[keep]
    if s.size == 0:
        raise ValueError(f"{owner}: the series holds no finite (step, value) point.")
    s, idx = np.unique(s, return_index=True)  # sorted; first occurrence of a repeated step
    return s, v[idx]


def _direction(direction: str | None, metric: str, owner: str) -> str:
    if direction is None:
        direction = _DIRECTIONS.get(metric, "down" if "loss" in metric else "up")
    if direction not in ("up", "down"):
        raise ValueError(f"{owner}.direction must be 'up' or 'down'; got {direction!r}.")
    return direction


def _frac(value, name: str, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 < float(value) < 1.0:
        raise ValueError(f"{owner}.{name} must be a real in (0, 1); got {value!r}.")
    return float(value)


def first_step_reaching(steps, values, level: float, direction: str = "up") -> float:
    """The first step whose value is >= ``level`` (direction "up") or <= ``level`` ("down");
    ``math.inf`` when none does. steps, values: 1-D of equal length (any order)."""
    s, v = _series(steps, values, "first_step_reaching")
    if direction not in ("up", "down"):
        raise ValueError(f"first_step_reaching.direction must be 'up' or 'down'; got {direction!r}.")
    hit = np.flatnonzero(v >= level if direction == "up" else v <= level)
    return float(s[hit[0]]) if hit.size else math.inf


def snap_to_checkpoint(step: float, checkpoints: Sequence[int]) -> int:
    """The checkpoint step nearest to ``step`` (ties: the earlier one)."""
    grid = sorted(int(c) for c in checkpoints)
    if not grid:
        raise ValueError("snap_to_checkpoint: checkpoints must not be empty.")
    return min(grid, key=lambda c: (abs(c - step), c))


@dataclass(frozen=True)
class Transition:
    """One metric's transition: ``start`` (last step before the change), ``mid`` (by ``rule``),
    ``end`` (first step after it; None when the series never gets there), on ``steps``/``values``."""

    metric: str
    direction: str
    rule: str
    start: int
    mid: int
    end: int | None
    final: int
    v_start: float
    v_end: float
    lo_frac: float
    hi_frac: float

    # -- construction
    @classmethod
    def from_series(cls, steps, values, *, metric: str = DEFAULT_METRIC, direction: str | None = None,
                    rule: str = "steepest", level: float | None = None, lo_frac: float = 0.1,
                    hi_frac: float = 0.9) -> "Transition":
        """The transition of the series (see the module docstring for the formulas)."""
        owner = "Transition"
        direction = _direction(direction, metric, owner)
        if rule not in RULES:
            raise ValueError(f"{owner}.rule must be one of {list(RULES)}; got {rule!r}.")
        lo_frac, hi_frac = _frac(lo_frac, "lo_frac", owner), _frac(hi_frac, "hi_frac", owner)
        if lo_frac >= hi_frac:
            raise ValueError(f"{owner}: lo_frac must be < hi_frac; got lo_frac={lo_frac}, hi_frac={hi_frac}.")
        s, v = _series(steps, values, owner)
        v_start, v_end = float(v[0]), float(v[-1])
        sign = 1.0 if direction == "up" else -1.0
        change = sign * (v_end - v_start)
        if change > 0:
            prog = sign * (v - v_start) / change
        else:  # no net progress: nothing moved (progress stays 0)
            prog = np.zeros_like(v)
        rise = np.flatnonzero(prog >= lo_frac)
        start = s[max(int(rise[0]) - 1, 0)] if rise.size else s[-1]
        done = np.flatnonzero(prog >= hi_frac)
        end = int(s[done[0]]) if done.size else None
        if rule == "threshold":
            if level is None or isinstance(level, bool) or not isinstance(level, Real) or not math.isfinite(level):
                raise ValueError(f"{owner}: rule 'threshold' needs a finite real level; got level={level!r}.")
            mid = first_step_reaching(s, v, float(level), direction)
            if not math.isfinite(mid):
                best = v.max() if direction == "up" else v.min()
                raise ValueError(f"{owner}: {metric} never reaches the level {level} (best {best:.4g}); no mid point.")
        else:
            if s.size < 3:
                raise ValueError(f"{owner}: rule 'steepest' needs >= 3 evaluations; got {s.size}.")
            slope = sign * (v[2:] - v[:-2]) / (s[2:] - s[:-2])
            mid = s[1 + int(np.argmax(slope))]
        return cls(metric=metric, direction=direction, rule=rule, start=int(start), mid=int(mid), end=end,
                   final=int(s[-1]), v_start=v_start, v_end=v_end, lo_frac=lo_frac, hi_frac=hi_frac)

    @classmethod
    def from_history(cls, history, metric: str = DEFAULT_METRIC, **kwargs) -> "Transition":
        """From a run's history table (columns ``step`` and ``metric``; rows without the metric,
        e.g. train-only rows, are ignored)."""
        h = pd.DataFrame(history)
        if "step" not in h.columns or metric not in h.columns:
            raise ValueError(f"Transition.from_history: the history needs columns 'step' and {metric!r}; "
                             f"got {list(h.columns)}.")
        h = h[["step", metric]].dropna()
        return cls.from_series(h["step"].to_numpy(), h[metric].to_numpy(), metric=metric, **kwargs)

    # -- checkpoints
    @property
    def complete(self) -> bool:
        """Whether the series got to ``hi_frac`` of its change (a transition actually happened)."""
        return self.end is not None and self.end > self.start

    def mid_checkpoint(self, checkpoints: Sequence[int]) -> int:
        """The checkpoint nearest the mid point (the default 2-shot supervisor)."""
        return snap_to_checkpoint(self.mid, checkpoints)

    def checkpoints(self, checkpoints: Sequence[int]) -> dict[str, int]:
        """{"before", "edge", "mid", "after"} on the checkpoint grid (module docstring)."""
        grid = sorted(int(c) for c in checkpoints)
        if not grid:
            raise ValueError("Transition.checkpoints: checkpoints must not be empty.")
        final = grid[-1]
        edge = max((c for c in grid if c <= self.start), default=grid[0])
        before = snap_to_checkpoint(self.start / 2, grid)
        if self.end is None:
            after = final
        else:
            target = self.end + (final - self.end) / 2
            cands = [c for c in grid if target <= c < final] or [c for c in grid if self.end <= c < final]
            after = cands[0] if cands else final
        return {"before": int(before), "edge": int(edge), "mid": self.mid_checkpoint(grid), "after": int(after)}

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True)
class LossPhases:
    """Three phases of a loss curve: flat [t0, drop_start], sharp drop [drop_start, drop_end],
    slow decay [drop_end, t_final]; with the loss change and mean rate of each phase."""

    flat: tuple[int, int]
    drop: tuple[int, int]
    slow: tuple[int, int]
    flat_change: float
    drop_change: float
    slow_change: float
    flat_rate: float
    drop_rate: float
    slow_rate: float
    rate_frac: float

    @property
    def three_phases(self) -> bool:
        """True when all three phases are present: the flat phase has >= 1 interval and its rate
        is < 1/4 of the drop's; the slow phase has >= 1 interval and its rate is < 1/4 of the drop's."""
        return (self.flat[1] > self.flat[0] and self.slow[1] > self.slow[0] and self.drop_rate > 0
                and self.flat_rate < 0.25 * self.drop_rate and self.slow_rate < 0.25 * self.drop_rate)

    def phase_of(self, step: float) -> str:
        """'flat', 'drop' or 'slow' for a step (boundaries belong to the drop)."""
        if step < self.drop[0]:
            return "flat"
        if step <= self.drop[1]:
            return "drop"
        return "slow"

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def loss_phases(steps, loss, *, rate_frac: float = 0.25, smooth: int = 1, ignore_before: float = 0) -> LossPhases:
    """Flat / sharp drop / slow decay of a loss curve.

    rate r_i = -(L_{i+1} - L_i) / (t_{i+1} - t_i) per interval i (after a centred moving average of
    ``smooth`` points on L). The drop is the maximal run of consecutive intervals around the
    steepest one with r_i >= rate_frac * max(r); before it is the flat phase, after it the slow one.
    Each phase's mean rate = its loss change / its length in steps. Evaluations before
    ``ignore_before`` (e.g. the fall from the initial loss to the unigram level during warmup) are
    left out.
    """
    s, v = _series(steps, loss, "loss_phases")
    keep = s >= ignore_before
    s, v = s[keep], v[keep]
    rate_frac = _frac(rate_frac, "rate_frac", "loss_phases")
    if isinstance(smooth, bool) or not isinstance(smooth, int) or smooth < 1:
        raise ValueError(f"loss_phases.smooth must be an int >= 1; got {smooth!r}.")
    if s.size < 3:
        raise ValueError(f"loss_phases: needs >= 3 evaluations; got {s.size}.")
    if smooth > 1:
        v = pd.Series(v).rolling(smooth, center=True, min_periods=1).mean().to_numpy()
    r = -(np.diff(v) / np.diff(s))
    top = int(np.argmax(r))
    thr = rate_frac * r[top]
    a = top
    while a > 0 and r[a - 1] >= thr:
        a -= 1
    b = top
    while b < r.size - 1 and r[b + 1] >= thr:
        b += 1
    t = s.astype(int)
    i0, i1, i2, i3 = 0, a, b + 1, s.size - 1

    def change_rate(i, j):
        if j <= i:
            return 0.0, 0.0
        d = float(v[i] - v[j])
        return d, d / float(s[j] - s[i])

    fc, fr = change_rate(i0, i1)
    dc, dr = change_rate(i1, i2)
    sc, sr = change_rate(i2, i3)
    return LossPhases(flat=(int(t[i0]), int(t[i1])), drop=(int(t[i1]), int(t[i2])), slow=(int(t[i2]), int(t[i3])),
                      flat_change=fc, drop_change=dc, slow_change=sc, flat_rate=fr, drop_rate=dr, slow_rate=sr,
                      rate_frac=rate_frac)
