"""parity_theory and curriculum must never import torch (checked in a fresh interpreter)."""
from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest


def _fresh_import(names: list[str], use: str = "") -> dict:
    """Run the code ``use`` (exercising the modules), then import ``names``, in a fresh interpreter:
    {'torch': loaded?, 'loaded': the names imported}."""
    code = (
        "import importlib, json, sys\n" + use +
        f"names = {names!r}\n"
        "for n in names: importlib.import_module(n)\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'loaded': [n for n in names if n in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("package, expected", [
    ("parity_theory", ["parity_theory.fourier", "parity_theory.stats"]),
    ("curriculum", ["curriculum.transition", "curriculum.artifacts"]),
])
def test_torch_free_packages_and_all_submodules_do_not_import_torch(package, expected):
    mod = __import__(package)
    # every module and subpackage (recursively; e.g. parity_theory.bounds.*)
    names = sorted(m.name for m in pkgutil.walk_packages(mod.__path__, prefix=f"{package}."))
    assert set(expected) <= set(names)  # the walk found modules
    result = _fresh_import([package, *names])
    assert result["loaded"] == [package, *names]
    assert result["torch"] is False, f"importing {package} pulled in torch"


def test_sims_pcfg_and_all_submodules_do_not_import_torch():
    """`from sims.pcfg import Grammar` (grammars, exact inference, masking, probes) stays torch-free,
    also when used (sampling, inside probabilities, conditionals)."""
    import sims.pcfg

    names = sorted(m.name for m in pkgutil.walk_packages(sims.pcfg.__path__, prefix="sims.pcfg."))
    assert {"sims.pcfg.grammar", "sims.pcfg.inside", "sims.pcfg.ngram"} <= set(names)
    use = ("from sims.pcfg import Grammar\nimport numpy as np\n"
           "g = Grammar.builtin('cfg3b'); s = g.sample(2, np.random.default_rng(0))\n"
           "g.log_prob(s.tokens[0]); g.masked_distribution(s.tokens[1]); g.next_token_distribution(s.tokens[1][:9])\n")
    result = _fresh_import(names, use)
    assert result["loaded"] == names
    assert result["torch"] is False, "importing sims.pcfg pulled in torch"


def test_sims_text_and_all_submodules_do_not_import_torch():
    """The text data layer (corpora, tokenizer, windows, MLM batches) stays torch-free, also when used."""
    import sims.text

    names = sorted(m.name for m in pkgutil.walk_packages(sims.text.__path__, prefix="sims.text."))
    assert {"sims.text.corpus", "sims.text.tokenizer", "sims.text.windows", "sims.text.mlm"} <= set(names)
    use = ("import tempfile, pathlib\nimport numpy as np\n"
           "from sims.text import TextCorpus, mlm_batch\nfrom sims.pcfg import TokenLayout\n"
           "d = pathlib.Path(tempfile.mkdtemp()); (d / 'a.txt').write_text('one two three\\n' * 50)\n"
           "list(TextCorpus(d).segments())\n"
           "lay = TokenLayout(5); x = np.zeros((4, 8), dtype=np.int64); x[:, 0] = lay.bos\n"
           "mlm_batch(x, lay, 2, seed=0, step=0)\n"
           "try:\n"
           "    from sims.text import TokenizerSettings, train_tokenizer, encode_windows\n"
           "    tok = train_tokenizer(TextCorpus(d), TokenizerSettings(vocab_size=300)); encode_windows(TextCorpus(d), tok, 8)\n"
           "except ImportError:\n"
           "    pass\n")
    result = _fresh_import(names, use)
    assert result["loaded"] == names
    assert result["torch"] is False, "importing sims.text pulled in torch"
