"""Imports only point down the layers: pdistill -> paper_checks -> sims -> curriculum -> parity_theory.

Checked statically over every import statement, including the lazy ones inside functions, so an
upward edge cannot hide behind importlib or a function-level import.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from curriculum.provenance import package_roots

LAYERS = ["parity_theory", "curriculum", "sims", "paper_checks", "pdistill"]  # bottom to top


def _imports(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level > 0:
                out.add(package)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                out.add(node.args[0].value.split(".")[0])
    return out


@pytest.mark.parametrize("layer", LAYERS[:-1])
def test_no_layer_imports_a_layer_above_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1:])
    roots = [r for r in package_roots([layer])]
    assert roots, f"{layer} not found"
    checked = 0
    for root in roots:
        for path in root.rglob("*.py"):
            bad = _imports(path, layer) & above
            assert not bad, f"{path} imports {sorted(bad)}, a layer above {layer}"
            checked += 1
    assert checked > 0


def test_the_checker_sees_lazy_and_importlib_imports(tmp_path):
    p = tmp_path / "m.py"
    p.write_text("def f():\n    from paper_checks import x\n    import importlib\n    importlib.import_module('pdistill.cli')\n")
    assert {"paper_checks", "pdistill"} <= _imports(p, "sims")
