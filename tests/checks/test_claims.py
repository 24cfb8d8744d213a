"""Unit tests of paper_checks._claims: ClaimResult, paired ratios, bootstrap medians, verdict rules."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from paper_checks._claims import (VERDICTS, ClaimResult, fmt, jsonable, median_ci, paired_ratios,
                                  ratio_verdict, write_json_atomic)


def _result(**over):
    kw = dict(name="x", claim="c", claimed="paper", measured=1.0, ratio=2.0, verdict="holds", seeds=(0, 1), wall_s=1)
    kw.update(over)
    return ClaimResult(**kw)


def test_claim_result_validates_verdict_and_name():
    with pytest.raises(ValueError, match="verdict"):
        _result(verdict="passed")
    with pytest.raises(ValueError, match="name"):
        _result(name="")
    with pytest.raises(TypeError, match="ratio"):
        _result(ratio="big")


def test_claim_result_to_dict_is_strict_json(tmp_path):
    r = _result(measured=math.inf, ratio=math.inf, details=dict(a=np.array([1.0, math.nan]), b=np.float32(2)))
    d = r.to_dict()
    for key in ("name", "claimed", "measured", "ratio", "verdict", "seeds", "wall_s"):
        assert key in d
    assert d["ratio"] == "inf" and d["measured"] == "inf"
    assert d["details"]["a"] == [1.0, None]
    p = write_json_atomic(tmp_path / "c.json", [d])
    assert json.loads(p.read_text())[0]["verdict"] in VERDICTS  # allow_nan=False would have raised on inf/nan
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_paired_ratios_inf_conventions():
    r = paired_ratios([100, math.inf, 50, math.inf], [50, 10, math.inf, math.inf])
    assert r[0] == 2.0 and math.isinf(r[1]) and r[2] == 0.0 and r[3] == 1.0
    with pytest.raises(ValueError, match="one shape"):
        paired_ratios([1, 2], [1])
    with pytest.raises(ValueError, match="positive"):
        paired_ratios([0, 2], [1, 1])


def test_median_ci_median_and_interval():
    rng = np.random.default_rng(0)
    med, lo, hi = median_ci([1.0, 2.0, 3.0, 4.0, 100.0], rng)
    assert med == 3.0 and lo <= med <= hi
    assert lo >= 1.0 and hi <= 100.0
    med, lo, hi = median_ci([2.0, math.inf, math.inf], rng)
    assert math.isinf(med) and lo >= 2.0
    med, lo, hi = median_ci([5.0], rng)
    assert med == lo == hi == 5.0


def test_median_ci_covers_the_true_median():
    """Coverage of the nominal 90% percentile bootstrap over 400 independent samples of size 9
    from a lognormal (true median 1). If the true coverage is >= 0.85 (the small-sample percentile
    bootstrap under-covers a little), an observed rate < 0.75 has probability <= exp(-2*400*0.1^2)
    = 3.4e-4 (Hoeffding); fixed seed."""
    rng = np.random.default_rng(1)
    hits = 0
    for _ in range(400):
        x = np.exp(rng.normal(size=9))
        _, lo, hi = median_ci(x, rng, n_boot=300)
        hits += lo <= 1.0 <= hi
    assert hits / 400 >= 0.75


def test_ratio_verdict_rules():
    assert ratio_verdict(1.2, 2.0) == "holds"
    assert ratio_verdict(0.8, 1.5) == "inconclusive"
    assert ratio_verdict(0.5, 1.0) == "does not hold"
    assert ratio_verdict(float("nan"), float("nan")) == "inconclusive"


def test_fmt_and_jsonable():
    assert fmt(math.inf) == "∞" and fmt(None) == "–" and fmt(float("nan")) == "n/a"
    assert fmt(1234.0) == "1234" and fmt(0.1234) == "0.123"
    assert jsonable({"a": (np.int64(3), -math.inf)}) == {"a": [3, "-inf"]}


def test_acceleration_verdict_rule_on_synthetic_tables():
    """acceleration_result's rule (module docstring): holds when every pair's interval is above 1,
    does not hold when any median is <= 1, inconclusive when a pair is all ties (nothing measured)."""
    import pandas as pd

    from paper_checks.check_acceleration import acceleration_result

    inf = math.inf
    seeds = range(5)

    def verdict(ce, one_shot, progressive, two_shot):
        t95 = pd.DataFrame(dict(ce=ce, one_shot=one_shot, progressive=progressive, two_shot=two_shot),
                           index=pd.Index(seeds, name="seed"))
        return acceleration_result("acceleration", t95, seeds, 0.0)

    fast = [100.0, 110.0, 120.0, 130.0, 140.0]
    r = verdict([inf] * 5, [400.0, 500.0, inf, inf, 450.0], fast, fast)
    assert r.verdict == "holds" and r.ratio > 1
    # 2-shot never reaches 95% on 3/5 seeds: its median speed-up over one-shot is 0 -> does not hold
    r = verdict([inf] * 5, [400.0] * 5, fast, [inf, inf, inf, 100.0, 100.0])
    assert r.verdict == "does not hold" and r.ratio == 0.0
    # nobody reaches 95%: every pair is a tie (ratio 1 on every seed) -> inconclusive, not "does not hold"
    r = verdict([inf] * 5, [inf] * 5, [inf] * 5, [inf] * 5)
    assert r.verdict == "inconclusive" and r.details["speedups"]["ce/progressive"]["n_ties"] == 5
    assert "5/5" in r.notes  # the ties are reported
