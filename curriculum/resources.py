"""Pre-flight resource checks: refuse what cannot fit before any work starts.

``check_fits(nbytes, what)`` compares an estimate with the machine's memory and raises a
ValueError that shows the estimate, so that ``--samples 1e11`` or ``--width 1e9`` fail in a
second with one clear line instead of minutes later with a MemoryError traceback.
"""
from __future__ import annotations

import os

__all__ = ["total_memory_bytes", "check_fits", "human_bytes"]


def total_memory_bytes() -> int | None:
    """Physical memory of this machine in bytes (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def check_fits(nbytes: float, what: str, *, fraction: float = 0.8, total: int | None = None) -> float:
    """Raise ValueError when the estimate ``nbytes`` exceeds ``fraction`` of the machine's memory
    (``total``, default: this machine's); returns the estimate otherwise."""
    total = total_memory_bytes() if total is None else total
    if total is not None and nbytes > fraction * total:
        raise ValueError(f"{what} needs about {human_bytes(nbytes)} of memory; this machine has "
                         f"{human_bytes(total)} — reduce the sizes.")
    return float(nbytes)
