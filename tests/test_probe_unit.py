"""sims.probe_unit: the sweep unit that trains teachers and probes every checkpoint."""
from __future__ import annotations

from pathlib import Path

import pytest

from sims.sweep import load_spec, plan_units
from sims.sweep.worker import UnitContext

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "sweeps"

TINY = '''name = "probe-tiny"
seeds = [0, 1]
unit = "sims.probe_unit:run_unit"
[base.teacher]
task = {{ n = 12, k = 2 }}
model = {{ width = 64 }}
steps = 400
ckpt_every = 50
eval_every = 50
eval_size = 1024
[base.probe]
samples = {samples}
off_support_per_degree = 10
'''


def test_probe_unit_trains_probes_and_reports_every_checkpoint(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(TINY.format(samples=20_000))
    (unit,) = plan_units(load_spec(p))
    from sims.probe_unit import run_unit

    df = run_unit(UnitContext(unit=unit, work_dir=tmp_path / "work", attempt=1, device="cpu"))
    assert list(df.columns) == ["point_id", "seed", "strategy", "kind", "step", "metric", "value"]
    assert set(df["seed"]) == {0, 1}
    curve = df[df["kind"] == "curve"]
    for seed in (0, 1):
        c = curve[curve["seed"] == seed].pivot_table(index="step", columns="metric", values="value")
        assert list(c.index) == list(range(0, 401, 50))  # every checkpoint, step 0 included
        for j in (1, 2):
            assert {f"in_mean_d{j}", f"off_upper_d{j}", f"sampling_floor_d{j}"} <= set(c.columns)
        final = c.iloc[-1]
        assert final["accuracy"] >= 0.99  # (12, 2) at width 64 learns within 400 steps
        # a (near) perfect teacher: p = P(chi_S = -1) ~ 1[chi_S = -1], so |E[p chi_S]| ~ 0.5
        assert final["in_mean_d2"] > 0.4
        summ = df[(df["kind"] == "summary") & (df["seed"] == seed)].set_index("metric")["value"]
        assert {"spikes_d1", "peak_step_d1", "vanishes_d2", "transition_start", "transition_end"} <= set(summ.index)
        assert summ["peak_step_d1"] in set(c.index)
    assert curve.groupby("seed")["step"].nunique().eq(9).all()


def test_probe_unit_rejects_unknown_probe_keys(tmp_path):
    from sims.probe_unit import validate

    p = tmp_path / "s.toml"
    p.write_text(TINY.format(samples=1) + "bogus = 3\n")
    with pytest.raises(ValueError, match=r"unknown keys \['bogus'\]|bogus"):
        validate(plan_units(load_spec(p))[0])


@pytest.mark.parametrize("name", sorted(q.name for q in EXAMPLES.glob("*.toml")))
def test_every_example_sweep_plans_and_validates(name):
    import importlib

    spec = load_spec(EXAMPLES / name)
    units = plan_units(spec)
    assert units
    mod = importlib.import_module(spec.unit.split(":")[0])
    for u in units:
        mod.validate(u)
