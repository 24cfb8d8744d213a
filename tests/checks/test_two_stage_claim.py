"""The simulated 2-stage claim in the quick reproduce run (shared fixture)."""
from __future__ import annotations


def test_two_stage_claim_in_quick_mode(claims_by_name, quick_report):
    c = claims_by_name["two_stage"]
    diffs = c["details"]["diffs"]
    assert [x["k"] for x in diffs] == [3] and c["details"]["grid"] == "quick"
    # the verdict is the docstring's rule applied to the reported interval (fixed seeds 0-3)
    assert (c["verdict"] == "holds") == all(x["lo"] > 0 for x in diffs)
    assert c["verdict"] == "holds", c["notes"]
    assert (quick_report["out"] / "two_stage_scaling.png").is_file()
    assert "two_stage_scaling.png" in (quick_report["out"] / "REPORT.md").read_text()
