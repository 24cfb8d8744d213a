"""curriculum.io: the shared atomic writers."""
from __future__ import annotations

import json
import os
import stat
import sys

import pandas as pd
import pytest

from curriculum.io import (atomic_path, atomic_savefig, atomic_write_bytes, atomic_write_json, atomic_write_parquet,
                     atomic_write_text, umask_mode)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_failure_leaves_no_temp_file_and_keeps_old_content(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    seen = []
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            seen.append(tmp)
            tmp.write_text("new, half written")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert not seen[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_failure_without_target_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "b.bin"):
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_temp_file_is_in_same_folder_with_suffix(tmp_path):
    with atomic_path(tmp_path / "f.png", suffix=".png") as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png" and tmp.name.startswith(".f.png.")
        tmp.write_bytes(b"x")
    assert (tmp_path / "f.png").read_bytes() == b"x"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_final_mode_follows_umask(tmp_path, mask):
    old = os.umask(mask)
    try:
        assert umask_mode() == 0o666 & ~mask
        p = atomic_write_text(tmp_path / "r.md", "hi", fsync=True)
    finally:
        os.umask(old)
    assert _mode(p) == 0o666 & ~mask
    if mask == 0o022:
        assert _mode(p) == 0o644  # not mkstemp's 0600


def test_creates_parent_folders(tmp_path):
    p = atomic_write_bytes(tmp_path / "x" / "y" / "z.bin", b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"


def test_overwrites_existing(tmp_path):
    p = tmp_path / "t.txt"
    atomic_write_text(p, "one")
    atomic_write_text(p, "two")
    assert p.read_text() == "two"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["t.txt"]


def test_json_round_trip_and_options_passed_through(tmp_path):
    obj = {"b": 1, "a": [1.5, None, "x"]}
    p = atomic_write_json(tmp_path / "o.json", obj, indent=2, sort_keys=True)
    text = p.read_text()
    assert json.loads(text) == obj
    assert text == json.dumps(obj, indent=2, sort_keys=True) + "\n"
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "nan.json", {"x": float("nan")}, allow_nan=False)
    assert not (tmp_path / "nan.json").exists()
    assert sorted(q.name for q in tmp_path.iterdir()) == ["o.json"]
    p2 = atomic_write_json(tmp_path / "d.json", {"p": tmp_path}, default=str)
    assert json.loads(p2.read_text()) == {"p": str(tmp_path)}


def test_parquet_round_trip(tmp_path):
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"step": [0, 10, 20], "accuracy": [0.5, 0.75, 1.0], "name": ["a", "b", "c"]})
    p = atomic_write_parquet(tmp_path / "sub" / "t.parquet", df)
    back = pd.read_parquet(p)
    pd.testing.assert_frame_equal(back, df)
    assert _mode(p) == umask_mode()
    # index=False by default; index=None keeps a non-range index
    idx = df.set_index("name")
    assert "name" not in pd.read_parquet(atomic_write_parquet(tmp_path / "i.parquet", idx)).columns
    pd.testing.assert_frame_equal(pd.read_parquet(atomic_write_parquet(tmp_path / "j.parquet", idx, index=None)), idx)


def test_savefig_round_trip_and_close(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    p = atomic_savefig(fig, tmp_path / "figs" / "f.png", dpi=50)
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)
    assert sorted(q.name for q in (tmp_path / "figs").iterdir()) == ["f.png"]
    assert _mode(p) == umask_mode()

    fig2, _ = plt.subplots()
    p2 = atomic_savefig(fig2, tmp_path / "g.png", close=False)
    assert p2.stat().st_size > 0 and plt.fignum_exists(fig2.number)
    plt.close(fig2)


def test_savefig_failure_closes_and_cleans(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots()
    with pytest.raises(ValueError):
        atomic_savefig(fig, tmp_path / "bad.png", format="no-such-format")
    assert not plt.fignum_exists(fig.number)
    assert list(tmp_path.iterdir()) == []


def test_io_is_torch_free():
    import subprocess

    code = "import sys, curriculum.io; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
