"""curriculum.provenance: the cache key covers every source file of the toolkit."""
from __future__ import annotations

import shutil

import pytest

from curriculum.provenance import PACKAGES, package_roots, source_hash


@pytest.fixture()
def tree(tmp_path):
    """A copy of the installed packages (code and data files), to edit without touching the real ones."""
    roots = []
    for root in package_roots():
        dst = tmp_path / root.name
        shutil.copytree(root, dst, ignore=shutil.ignore_patterns("__pycache__"))
        roots.append(dst)
    return roots


def test_the_installed_packages_are_all_found():
    names = {r.name for r in package_roots()}
    assert {"parity_theory", "curriculum", "sims", "paper_checks"} <= names <= set(PACKAGES)
    assert source_hash() == source_hash(package_roots())


@pytest.mark.parametrize("rel", ["sims/probe_measure.py", "sims/devices.py", "parity_theory/parity.py",
                                 "curriculum/transition.py", "paper_checks/_runs.py"])
def test_editing_any_source_file_changes_the_hash(tree, rel):
    before = source_hash(tree)
    path = tree[0].parent / rel
    assert path.is_file()
    path.write_text(path.read_text() + "\n# an edit\n")
    assert source_hash(tree) != before


def test_adding_renaming_and_caches(tree):
    before = source_hash(tree)
    sims = next(r for r in tree if r.name == "sims")
    (sims / "__pycache__").mkdir(exist_ok=True)
    (sims / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0\1")
    assert source_hash(tree) == before  # bytecode is not source
    (sims / "new_module.py").write_text("X = 1\n")
    after_add = source_hash(tree)
    assert after_add != before
    (sims / "new_module.py").rename(sims / "other_module.py")
    assert source_hash(tree) != after_add  # the path is part of the hash
