"""Estimates with standard errors, concentration tolerances and noise floors.

(Skeleton: the Estimate container is the shared contract; the foundation issue fills in the rest.)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Estimate"]


@dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate: ``mean`` and its standard error ``stderr`` (same shapes)."""

    mean: np.ndarray
    stderr: np.ndarray
