"""parity_theory and curriculum must never import torch (checked in a fresh interpreter)."""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import parity_theory


def test_parity_theory_and_all_submodules_do_not_import_torch():
    # every module and subpackage (recursively; e.g. parity_theory.bounds.*)
    names = sorted(m.name for m in pkgutil.walk_packages(parity_theory.__path__, prefix="parity_theory."))
    assert "parity_theory.fourier" in names and "parity_theory.stats" in names  # the walk found modules
    code = (
        "import importlib, json, sys\n"
        f"names = {names!r}\n"
        "import parity_theory\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'loaded': [n for n in names if n in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["loaded"] == names
    assert result["torch"] is False, "importing parity_theory pulled in torch"


def test_curriculum_does_not_import_torch():
    import curriculum

    names = sorted(m.name for m in pkgutil.walk_packages(curriculum.__path__, prefix="curriculum."))
    assert "curriculum.transition" in names
    code = (
        "import importlib, json, sys\n"
        f"names = {names!r}\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'loaded': [n for n in names if n in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["loaded"] == names
    assert result["torch"] is False, "importing curriculum pulled in torch"
