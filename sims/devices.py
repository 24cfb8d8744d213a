"""Devices and generators, resolved once at the edge."""
from __future__ import annotations

import os
from numbers import Integral

import torch

from parity_theory.validation import check_seed, describe

__all__ = ["resolve_device", "torch_generator", "as_torch_generator", "machine_cores"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> cuda when available else cpu; 'cpu'/'cuda'/'cuda:N' validated."""
    if isinstance(device, torch.device):
        return device
    if not isinstance(device, str):
        raise TypeError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        try:
            dev = torch.device(device)
        except RuntimeError:  # e.g. 'cuda:x', 'cudax'
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.") from None
        if dev.type != "cuda":
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but CUDA is not available on this machine; use 'cpu' or 'auto'.")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s) (cuda:0..).")
        return dev
    if device == "cpu":
        return torch.device("cpu")
    raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}.")


def torch_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A torch.Generator on ``device`` seeded with ``seed`` (an int >= 0)."""
    g = torch.Generator(device=resolve_device(device))
    g.manual_seed(check_seed(seed))
    return g


def as_torch_generator(seed, name: str = "generator", *, owner: str | None = None) -> torch.Generator:
    """The torch twin of ``parity_theory.validation.check_random_state``, with the same meaning:
    an int seed >= 0 -> a new CPU generator seeded with it; a torch.Generator -> itself; None -> a
    new CPU generator seeded from OS entropy (not reproducible). Anything else is a TypeError."""
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    if seed is None:
        g.seed()
        return g
    if isinstance(seed, Integral) and not isinstance(seed, bool):
        g.manual_seed(check_seed(seed, name, owner=owner))
        return g
    who = f"{owner}.{name}" if owner else name
    raise TypeError(f"{who} must be an int seed >= 0, a torch.Generator or None; got {describe(seed)}.")


def machine_cores() -> int:
    """CPU cores this process may use (its affinity set where the OS reports one): the default
    number of torch threads of the training commands."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)
