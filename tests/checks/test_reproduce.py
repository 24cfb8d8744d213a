"""The quick ``pdistill reproduce`` run (shared fixture): files, figures, claims.json, verdicts.

Verdicts asserted are those docs/paper.md §3 says hold robustly at this scale — acceleration (claim 1), the
spike (claim 2) and 2-shot (claim 3) — with the thresholds of the checks (bootstrap interval above 1, etc.);
docs/reproduce.md records the spread over seed sets that justified asserting them.
"""
from __future__ import annotations

import json
from pathlib import Path
import math
import struct

import pytest

from paper_checks._claims import VERDICTS
from paper_checks.reproduce import CHECKS, main_cli

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUIRED = ("name", "claimed", "measured", "ratio", "verdict", "seeds", "wall_s")
EXPECTED_FIGURES = ("figure1_accuracy_mlp.png", "figure2_correlations.png", "two_shot_sweep.png", "scaling_fit.png",
                    "two_stage_scaling.png")


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path.name} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24]), len(data)


def test_quick_run_succeeds(quick_report):
    assert quick_report["rc"] == 0, quick_report["stdout"][-2000:]
    # every check ran and produced at least one claim
    names = {c["name"] for c in quick_report["claims"]}
    for check, _ in CHECKS:
        assert any(n == check or n.startswith(check) for n in names), f"no result from check {check!r}"


def test_claims_json_has_the_required_keys(quick_report):
    text = (quick_report["out"] / "claims.json").read_text()
    claims = json.loads(text)  # strict JSON: no NaN / Infinity tokens
    assert "Infinity" not in text and "NaN" not in text
    assert len(claims) >= len(CHECKS)
    for c in claims:
        for key in REQUIRED:
            assert key in c, f"{c.get('name')} lacks {key!r}"
        assert c["verdict"] in VERDICTS
        assert isinstance(c["wall_s"], (int, float)) and c["wall_s"] >= 0
        assert isinstance(c["seeds"], list)
        assert c["ratio"] is None or isinstance(c["ratio"], (int, float)) or c["ratio"] in ("inf", "-inf")


def test_report_and_figures_exist(quick_report):
    out = quick_report["out"]
    report = (out / "REPORT.md").read_text()
    assert "| claim | paper | measured | ratio | verdict | seeds | wall (s) |" in report
    for c in quick_report["claims"]:
        assert f"## {c['name']}" in report
    for name in EXPECTED_FIGURES:
        p = out / name
        assert p.is_file(), f"missing figure {name}"
        (w, h), size = _png_size(p)
        assert w >= 300 and h >= 200 and size > 10_000, f"{name}: {w}x{h}, {size} bytes"
        assert f"]({name})" in report, f"REPORT.md does not embed {name}"


def test_table_printed(quick_report):
    assert "| claim | paper | measured | ratio | verdict | seeds | wall (s) |" in quick_report["stdout"]
    assert "REPORT.md" in quick_report["stdout"]


@pytest.mark.parametrize("name", ["acceleration", "spike", "two_shot"])
def test_robust_claims_hold_in_quick_mode(claims_by_name, name):
    c = claims_by_name[name]
    assert c["verdict"] == "holds", f"{name}: {c['measured']}\n{c['notes']}"


def test_acceleration_numbers_are_consistent(claims_by_name):
    """The reported speed-ups are the ratios of the reported t95 values (no tampering on the way)."""
    d = claims_by_name["acceleration"]["details"]
    t95 = {k: [math.inf if v == "inf" else v for v in vals] for k, vals in d["t95"].items()}
    for pair, v in d["speedups"].items():
        base, meth = pair.split("/")
        for b, m, r in zip(t95[base], t95[meth], v["per_seed"]):
            r = math.inf if r == "inf" else r
            if math.isinf(b) and math.isinf(m):
                assert r == 1.0
            elif math.isinf(b):
                assert math.isinf(r)
            else:
                assert r == pytest.approx(b / m)


def test_second_run_reuses_the_cache(quick_report, tmp_path):
    """Same cache: teachers and students are not retrained (no cached file is written or touched),
    and the results are identical."""
    cache = Path(quick_report["cache"])

    def snapshot():
        # the folders' lock files record each opener (curriculum.folders); they are not cached results
        return {str(f): f.stat().st_mtime_ns for f in cache.rglob("*") if f.is_file() and f.name != ".lock"}

    before = snapshot()
    rc = main_cli(["--quick", "--no-progress", "--only", "acceleration,two_shot", "--out", str(tmp_path),
                   "--cache-dir", str(cache)])
    assert rc == 0
    assert len(before) > 0 and snapshot() == before
    again = {c["name"]: c for c in json.loads((tmp_path / "claims.json").read_text())}
    first = {c["name"]: c for c in quick_report["claims"]}
    for name in ("acceleration", "two_shot"):
        assert again[name]["measured"] == first[name]["measured"]
        assert again[name]["details"] == first[name]["details"]


def test_bad_arguments_exit_2(capsys, tmp_path):
    assert main_cli(["--only", "nonsense", "--out", str(tmp_path)]) == 2
    assert "--only must name checks" in capsys.readouterr().err
    assert main_cli(["--seeds", "0"]) == 2


def test_paper_scale_estimate_is_printed(capsys):
    assert main_cli(["--scale", "paper", "--estimate"]) == 0
    out = capsys.readouterr().out
    assert "(100,6)" in out and "NOT a measurement" in out
    total = [ln for ln in out.splitlines() if ln.strip().startswith("total")]
    import re

    hours = re.search(r"([0-9.]+) h\b", total[0]) if total else None
    assert hours and float(hours.group(1)) > 1.0  # hours: a paper-scale run is not a CPU job


def test_a_failing_check_is_reported_and_exits_1(monkeypatch, tmp_path, capsys):
    import paper_checks.reproduce as rp

    monkeypatch.setattr(rp, "CHECKS", [("bounds", "paper_checks.check_bounds"), ("broken", "paper_checks._no_such_module")])
    rc = rp.main_cli(["--quick", "--no-progress", "--out", str(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert rc == 1
    report = (tmp_path / "REPORT.md").read_text()
    assert "## Errors" in report and "broken" in report and "ModuleNotFoundError" in report
    assert [c["name"] for c in json.loads((tmp_path / "claims.json").read_text())] == ["bounds"]


@pytest.mark.parametrize("module", ["check_bounds", "check_teacher_speed", "check_one_shot_vs_ce"])
def test_checks_run_standalone(module, quick_report, tmp_path):
    """Each check is an importable main(argv) -> list[ClaimResult]; with the fixture's cache it
    reproduces the numbers of the reproduce run exactly (deterministic on CPU, nothing retrained)."""
    import importlib

    from paper_checks._claims import ClaimResult

    mod = importlib.import_module(f"paper_checks.{module}")
    res = mod.main(["--quick", "--no-progress", "--out", str(tmp_path), "--cache-dir", str(quick_report["cache"])])
    assert res and all(isinstance(r, ClaimResult) for r in res)
    first = {c["name"]: c for c in quick_report["claims"]}
    for r in res:
        d = r.to_dict()
        assert d["measured"] == first[r.name]["measured"]
        assert d["verdict"] == first[r.name]["verdict"]


@pytest.mark.slow
def test_transformer_acceleration_runs(tmp_path):
    """--quick --transformer (~1 minute: one teacher): the Transformer row is measured,
    not the 'not run' placeholder. Its verdict is not asserted (docs/reproduce.md)."""
    rc = main_cli(["--quick", "--transformer", "--only", "acceleration", "--no-progress", "--out", str(tmp_path),
                   "--cache-dir", str(tmp_path / "cache")])
    assert rc == 0
    c = {r["name"]: r for r in json.loads((tmp_path / "claims.json").read_text())}["acceleration_transformer"]
    assert not c["measured"].startswith("not run")
    assert (tmp_path / "figure1_accuracy_transformer.png").is_file()


def test_transformer_is_reported_as_not_run_in_quick_mode(claims_by_name):
    c = claims_by_name["acceleration_transformer"]
    assert c["verdict"] == "inconclusive" and c["measured"].startswith("not run: skipped by --quick")


def test_dry_run_prints_the_plan_and_trains_nothing(tmp_path, capsys):
    for scale, kind in (("paper", "GPU"), ("cpu", "CPU")):
        rc = main_cli(["--scale", scale, "--dry-run", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")])
        assert rc == 0
        out = capsys.readouterr().out
        assert f"on one {kind}" in out and "MLP teacher" in out and "total (sequential)" in out
        assert "Transformer students" in out
    # the paper's MLP teacher: n = 100 inputs, width 50,000, 2 outputs -> 100*5e4 + 5e4 + 2*5e4 + 2 parameters
    main_cli(["--scale", "paper", "--dry-run", "--out", str(tmp_path / "o")])
    assert f"{100 * 50_000 + 50_000 + 2 * 50_000 + 2:,}" in capsys.readouterr().out
    assert not (tmp_path / "o").exists() and not (tmp_path / "c").exists()


def test_cpu_plan_shows_the_measured_text_jobs_and_estimates_the_rest(tmp_path):
    """Every MEASURED_CPU_S entry names a job of the default CPU plan (a renamed job would silently fall
    back to the estimate); other scales, or a user's corpus, are estimated."""
    import argparse

    from paper_checks._claims import Context
    from paper_checks.reproduce import MEASURED_CPU_S, run_plan

    def plan(**kw):
        ns = dict(quick=False, scale="cpu", device="cpu", no_progress=True, out=str(tmp_path / "o"),
                  cache_dir=str(tmp_path / "c"), seeds=None, threads=1, transformer=True, corpus=None, text_field=None)
        ns.update(kw)
        return {r["job"]: r for r in run_plan(Context(argparse.Namespace(**ns)))}

    rows = plan()
    assert set(MEASURED_CPU_S) <= set(rows)
    assert all(rows[j]["measured"] and rows[j]["seconds"] == s for j, s in MEASURED_CPU_S.items())
    assert sum(r["measured"] for r in rows.values()) == len(MEASURED_CPU_S)
    for other in (plan(quick=True), plan(corpus=[str(tmp_path)]), plan(scale="paper"), plan(seeds=8)):
        assert not any(r["measured"] for r in other.values())
