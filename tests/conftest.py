import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None, max_examples=50)
settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=50, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


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
