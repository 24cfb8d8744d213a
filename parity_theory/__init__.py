"""parity_theory: the mathematics of sparse parity and the implicit curriculum (numpy, Numba, sympy; never torch)."""
from .parity import ParityTask
from .stats import Estimate

__all__ = ["ParityTask", "Estimate"]
