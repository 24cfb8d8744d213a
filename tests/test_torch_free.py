"""parity_theory and sims.pcfg must never import torch (checked in a fresh interpreter)."""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import parity_theory


def _fresh_import(names: list[str], setup: str) -> dict:
    """Run ``setup`` then import every module of ``names`` in a new interpreter; report what got loaded."""
    code = (
        "import importlib, json, sys\n"
        f"names = {names!r}\n"
        f"{setup}\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'loaded': [n for n in names if n in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_parity_theory_and_all_submodules_do_not_import_torch():
    # every module and subpackage (recursively; e.g. parity_theory.bounds.*)
    names = sorted(m.name for m in pkgutil.walk_packages(parity_theory.__path__, prefix="parity_theory."))
    assert "parity_theory.fourier" in names and "parity_theory.stats" in names  # the walk found modules
    result = _fresh_import(names, "import parity_theory")
    assert result["loaded"] == names
    assert result["torch"] is False, "importing parity_theory pulled in torch"


def test_sims_pcfg_and_all_submodules_do_not_import_torch():
    """`from sims.pcfg import Grammar` (grammars, exact inference, masking, probes) stays torch-free."""
    import sims.pcfg

    names = sorted(m.name for m in pkgutil.walk_packages(sims.pcfg.__path__, prefix="sims.pcfg."))
    assert "sims.pcfg.grammar" in names and "sims.pcfg.inside" in names and "sims.pcfg.ngram" in names
    setup = ("from sims.pcfg import Grammar\nimport numpy as np\n"
             "g = Grammar.builtin('cfg3b'); s = g.sample(2, np.random.default_rng(0))\n"
             "g.log_prob(s.tokens[0]); g.masked_distribution(s.tokens[1]); g.next_token_distribution(s.tokens[1][:9])")
    result = _fresh_import(names, setup)
    assert result["loaded"] == names
    assert result["torch"] is False, "importing sims.pcfg pulled in torch"
