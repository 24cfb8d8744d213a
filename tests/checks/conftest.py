"""One quick ``pdistill reproduce`` run shared by the tests of tests/checks (session scope)."""
from __future__ import annotations

import json

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
