import os
import sys

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=50, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tests run torch on one thread (the machine is small and shared); the commands under test set
    their own count (default: the machine's cores), so it is put back to one after every test."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    yield
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # torch missing or broken: gpu tests cannot run
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs CUDA (marker 'gpu'); no GPU on this machine")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
    if any(item.get_closest_marker("slurm") for item in items):
        reason = _slurm_unreachable()
        if reason:
            skip_slurm = pytest.mark.skip(reason=f"needs a Slurm cluster (marker 'slurm'): {reason}; .ci/slurm_up.sh starts one")
            for item in items:
                if item.get_closest_marker("slurm"):
                    item.add_marker(skip_slurm)


def _slurm_unreachable() -> str | None:
    """None when SLURM_CONF is set and `sinfo` answers within 5 s, else why not."""
    import shutil
    import subprocess

    if not os.environ.get("SLURM_CONF"):
        return "SLURM_CONF is not set"
    if shutil.which("sinfo") is None:
        return "sinfo is not installed"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=5)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 5 s"
    if out.returncode != 0 or not out.stdout.strip():
        return f"sinfo failed: {(out.stderr or out.stdout).strip()[:200]}"
    return None


TEXT_PAIRS = [("red", "apple"), ("blue", "sky"), ("green", "grass"), ("old", "king"), ("dark", "night"),
              ("sweet", "love"), ("cold", "stone"), ("fair", "lady")]


@pytest.fixture(scope="session")
def pairs_corpus(tmp_path_factory):
    """A tiny text corpus (JSONL, field "text", 60 records): random two-word phrases from TEXT_PAIRS,
    40 per record, closed by a full stop. Each word of a phrase determines the other, so a model
    that reads the unmasked neighbour predicts a masked word far better than the unigram
    distribution over the 16 words."""
    import json

    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("pairs") / "pairs.jsonl"
    with open(path, "w") as f:
        for _ in range(60):
            words = [" ".join(TEXT_PAIRS[i]) for i in rng.integers(0, len(TEXT_PAIRS), 40)]
            f.write(json.dumps({"text": " ".join(words) + "."}) + "\n")
    return path
