"""curriculum.artifacts: manifests that say what a folder holds, and the probe table's one format."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from curriculum.artifacts import (MANIFEST, PROBE_FILE, ArtifactError, config_hash, load_probe_table,
                                  read_manifest, write_manifest, write_probe_table)


def _table():
    t = pd.DataFrame({"step": [0, 0, 100, 100], "accuracy": [0.5, 0.5, 0.9, 0.9], "loss": [0.7] * 2 + [0.3] * 2,
                      "degree": [1, 2, 1, 2], "in_support": [True, False, True, False], "T": ["0", "1,2", "0", "1,2"],
                      "coef": [0.01, -0.002, 0.05, 0.001], "corr": [0.01, 0.002, 0.05, 0.001], "stderr": [0.003] * 4})
    t.attrs.update(n=12, k=2, support=[0, 3], samples=1000, center=True)
    return t


def test_probe_table_round_trip_keeps_rows_and_attrs(tmp_path):
    cfg = {"teacher": {"n": 12}, "samples": 1000}
    write_probe_table(tmp_path / "p", _table(), cfg)
    back = load_probe_table(tmp_path / "p", cfg)
    pd.testing.assert_frame_equal(back, _table())
    assert back.attrs == _table().attrs
    m = read_manifest(tmp_path / "p", kind="probe")
    assert m["files"][PROBE_FILE]["rows"] == 4 and len(m["source_hash"]) == 64


def test_config_hash_ignores_key_order_and_tuple_vs_list():
    assert config_hash({"a": 1, "b": (1, 2)}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": np.int64(3)}) == config_hash({"a": 3})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_damage_is_named(tmp_path):
    folder = tmp_path / "p"
    write_probe_table(folder, _table(), {"x": 1})
    data = (folder / PROBE_FILE).read_bytes()
    (folder / PROBE_FILE).write_bytes(data[: len(data) // 2])  # truncated by a crash or a copy
    with pytest.raises(ArtifactError, match="damaged"):
        load_probe_table(folder)
    (folder / PROBE_FILE).unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_probe_table(folder)


@pytest.mark.parametrize("content, match", [
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "not a manifest"),
    ('{"format": "other/9"}', "not a manifest"),
])
def test_bad_manifests_are_clear_errors(tmp_path, content, match):
    (tmp_path / MANIFEST).write_text(content)
    with pytest.raises(ArtifactError, match=match):
        read_manifest(tmp_path)


def test_kind_and_config_are_checked(tmp_path):
    write_probe_table(tmp_path / "p", _table(), {"x": 1})
    with pytest.raises(ArtifactError, match="holds a 'probe' artifact, not a 'teacher' one"):
        read_manifest(tmp_path / "p", kind="teacher")
    with pytest.raises(ArtifactError, match="another configuration"):
        load_probe_table(tmp_path / "p", {"x": 2})
    with pytest.raises(ArtifactError, match="no manifest.json"):
        read_manifest(tmp_path)
    with pytest.raises(ArtifactError, match="not a folder"):
        read_manifest(tmp_path / "nope")


def test_a_manifest_lists_only_existing_files(tmp_path):
    with pytest.raises(ArtifactError, match="does not exist"):
        write_manifest(tmp_path, "probe", {}, {"ghost.parquet": {}})
    (tmp_path / "a.json").write_text(json.dumps({"v": 1}))
    m = write_manifest(tmp_path, "transition", {"metric": "loss"}, {"a.json": {}})
    assert read_manifest(tmp_path, kind="transition", config={"metric": "loss"}) == m
