"""Toy units: the sweep machinery without training (tests, overhead benchmarks, trying a cluster).

``checkpointed_unit``: base config ``{"toy": {"x": float, "steps": int, "sleep": float,
"fail": bool}, "student": {"scale": float}}``. It "trains" for ``steps`` steps of ``sleep``
seconds, leaving ``work/checkpoint-<step>`` after each, and resumes after the last one; its
results are a deterministic function of the config and seed:

    curve   accuracy(step) = min(1, x * scale * step / steps + seed / 100)
    summary t95 = steps * x * scale + seed,  resumed_from = first step run in this attempt
"""
from __future__ import annotations

import time

__all__ = ["checkpointed_unit", "default_config", "estimate_seconds", "expected_t95"]


def default_config() -> dict:
    return {"toy": {"x": 1.0, "steps": 4, "sleep": 0.0, "fail": False}, "student": {"scale": 1.0}}


def expected_t95(x: float, scale: float, steps: int, seed: int) -> float:
    return steps * x * scale + seed


def estimate_seconds(unit) -> float:
    toy = unit.teacher_config.get("toy", {})
    return float(toy.get("steps", 4)) * float(toy.get("sleep", 0.0))


def checkpointed_unit(ctx):
    import pandas as pd

    toy = {**default_config()["toy"], **ctx.unit.teacher_config.get("toy", {})}
    steps, x = int(toy["steps"]), float(toy["x"])
    done = sorted(int(p.name.split("-")[1]) for p in ctx.work_dir.glob("checkpoint-*"))
    start = done[-1] if done else 0
    for step in range(start + 1, steps + 1):
        if toy["fail"] and step == 2:
            raise RuntimeError(f"toy unit asked to fail at step {step} (x={x})")
        time.sleep(float(toy["sleep"]))
        (ctx.work_dir / f"checkpoint-{step}").mkdir(exist_ok=True)
    rows = []
    for p in ctx.unit.points:
        scale = float({**default_config()["student"], **p["config"].get("student", {})}["scale"])
        for seed in ctx.unit.seeds:
            for strategy, mult in (("ce", 1.0), ("progressive", 0.5)):
                for step in range(steps + 1):
                    acc = min(1.0, x * scale * step / steps + seed / 100)
                    rows.append((p["point_id"], seed, strategy, "curve", step, "accuracy", acc))
                rows.append((p["point_id"], seed, strategy, "summary", None, "t95", mult * expected_t95(x, scale, steps, seed)))
                rows.append((p["point_id"], seed, strategy, "summary", None, "resumed_from", float(start)))
    return pd.DataFrame(rows, columns=["point_id", "seed", "strategy", "kind", "step", "metric", "value"])
