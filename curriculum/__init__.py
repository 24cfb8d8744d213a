"""curriculum: torch-free analysis of runs — the phase transition, loss phases, probe tables.

The layer between the mathematics (``parity_theory``) and the torch engine (``sims``): everything
here reads numbers (histories, probe tables) and never imports torch, so analyses, caches and
reports can run where torch is not installed. A test checks this in a fresh interpreter.
"""
from .transition import DEFAULT_METRIC, LossPhases, Transition, first_step_reaching, loss_phases, snap_to_checkpoint

__all__ = ["Transition", "LossPhases", "loss_phases", "first_step_reaching", "snap_to_checkpoint", "DEFAULT_METRIC"]
