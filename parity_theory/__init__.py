"""parity_theory: the mathematics of sparse parity and the implicit curriculum (numpy, Numba, sympy; never torch)."""
from .parity import ParityTask
from .stats import Estimate, clt_tol, hoeffding_tol, noise_floor
from .fourier import correlations, exact_coefficients, support_spectrum, walsh_hadamard
from .symmetric import fourier_by_degree

__all__ = ["ParityTask", "Estimate", "clt_tol", "hoeffding_tol", "noise_floor",
           "correlations", "exact_coefficients", "support_spectrum", "walsh_hadamard", "fourier_by_degree"]
__all__ += ["bounds"]  # submodule, imported lazily (sympy costs ~1 s at import)


def __getattr__(name):
    if name == "bounds":
        import importlib

        return importlib.import_module(".bounds", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
