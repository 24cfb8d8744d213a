"""One place for argument checks, used by every layer (parity_theory, sims, paper_checks, CLIs).

Modelled on scikit-learn's ``check_scalar`` / ``check_random_state``. Every error has one wording::

    <Owner>.<name> must be <expected>; got <value>.

(``TypeError`` for a value of the wrong type, ``ValueError`` for one out of range), e.g.
``TeacherConfig.steps must be a positive int; got -3.`` Torch-free (this is the bottom layer).

Randomness, one meaning everywhere (:func:`check_random_state`, and ``sims.devices.as_torch_generator``
for torch): an int seed >= 0 gives a fresh generator seeded with it (reproducible); a Generator is
used as it is (shared state: drawing advances it); ``None`` gives a fresh generator seeded from the
operating system's entropy (NOT reproducible: the numpy / scikit-learn meaning). Training entry
points never pass ``None``: they derive every seed from their config.
"""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable

import numpy as np

__all__ = ["check_scalar", "check_int", "check_float", "check_choice", "check_bool", "check_seed",
           "check_random_state", "check_generator", "describe"]


def _who(name: str, owner: str | None) -> str:
    return f"{owner}.{name}" if owner else name


def describe(value: Any) -> str:
    """``repr`` of ``value`` for error messages, with the type for non-scalars (e.g. ``'3' (str)``)."""
    r = repr(value)
    if len(r) > 80:
        r = r[:77] + "..."
    if isinstance(value, (bool, Integral, Real)) or value is None:
        return r
    return f"{r} ({type(value).__name__})"


def _range_text(kind: str, lo, hi, lo_open: bool, hi_open: bool) -> str:
    what = "an int" if kind == "int" else "a real number"
    if kind == "int" and lo == 1 and hi is None and not lo_open:
        return "a positive int"
    if lo is None and hi is None:
        return what
    if hi is None:
        return f"{what} {'>' if lo_open else '>='} {lo}"
    if lo is None:
        return f"{what} {'<' if hi_open else '<='} {hi}"
    lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
    return f"{what} in {lb}{lo}, {hi}{rb}"


def check_scalar(value, name: str, kind: str = "int", lo=None, hi=None, *, lo_open: bool = False,
                 hi_open: bool = False, allow_none: bool = False, owner: str | None = None):
    """Validate a scalar and return it as a Python int / float (``None`` passes when ``allow_none``).

    kind: "int" (an Integral, never a bool) or "float" (any Real but bool, finite).
    lo, hi: bounds (None = unbounded); closed unless ``lo_open`` / ``hi_open``.
    Raises TypeError (wrong type) or ValueError (non-finite / out of range) worded
    "<owner>.<name> must be <expected>; got <value>."
    """
    if value is None and allow_none:
        return None
    if kind not in ("int", "float"):
        raise ValueError(f"check_scalar.kind must be one of ['int', 'float']; got {kind!r}.")
    expected = _range_text(kind, lo, hi, lo_open, hi_open)
    if allow_none:
        expected = f"None or {expected}"
    who = _who(name, owner)
    ok_type = Integral if kind == "int" else Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, ok_type):
        raise TypeError(f"{who} must be {expected}; got {describe(value)}.")
    v = int(value) if kind == "int" else float(value)
    if kind == "float" and not math.isfinite(v):
        raise ValueError(f"{who} must be {expected} (finite); got {v}.")
    lo_bad = lo is not None and (v <= lo if lo_open else v < lo)
    hi_bad = hi is not None and (v >= hi if hi_open else v > hi)
    if lo_bad or hi_bad:
        raise ValueError(f"{who} must be {expected}; got {v}.")
    return v


def check_int(value, name: str, lo: int | None = 1, hi: int | None = None, *, allow_none: bool = False,
              owner: str | None = None) -> int | None:
    """``check_scalar(value, name, "int", lo, hi)``: an int (not a bool) in [lo, hi]; default a positive int."""
    return check_scalar(value, name, "int", lo, hi, allow_none=allow_none, owner=owner)


def check_float(value, name: str, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
                hi_open: bool = False, allow_none: bool = False, owner: str | None = None) -> float | None:
    """``check_scalar(value, name, "float", ...)``: a finite real (ints accepted) as a float."""
    return check_scalar(value, name, "float", lo, hi, lo_open=lo_open, hi_open=hi_open,
                        allow_none=allow_none, owner=owner)


def check_choice(value, name: str, choices: Iterable, *, owner: str | None = None):
    """``value`` if it is one of ``choices``, else ValueError "<owner>.<name> must be one of [...]; got ..."."""
    choices = list(choices)
    try:
        ok = value in choices
    except TypeError:  # unhashable / incomparable
        ok = False
    if not ok:
        raise ValueError(f"{_who(name, owner)} must be one of {choices}; got {value!r}.")
    return value


def check_bool(value, name: str, *, allow_none: bool = False, owner: str | None = None) -> bool | None:
    """``value`` if it is a bool (or None when ``allow_none``), else TypeError."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_who(name, owner)} must be {'None or ' if allow_none else ''}a bool; got {describe(value)}.")
    return bool(value)


def check_seed(value, name: str = "seed", *, owner: str | None = None) -> int:
    """An int seed >= 0 (the seeds of configs and generators)."""
    return check_scalar(value, name, "int", 0, owner=owner)


def check_random_state(seed, name: str = "rng", *, owner: str | None = None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``seed``: an int >= 0 -> ``default_rng(seed)`` (reproducible);
    a Generator -> itself (its state is shared with the caller); None -> ``default_rng()`` seeded
    from OS entropy (not reproducible). Anything else (a legacy RandomState, a float, ...) is a TypeError."""
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, Integral) and not isinstance(seed, (bool, np.bool_)):
        return np.random.default_rng(check_seed(seed, name, owner=owner))
    raise TypeError(f"{_who(name, owner)} must be an int seed >= 0, a numpy.random.Generator or None; got {describe(seed)}.")


def check_generator(rng, name: str = "rng", *, owner: str | None = None) -> np.random.Generator:
    """``rng`` itself if it is a ``numpy.random.Generator`` (where a function must share the caller's
    stream and a seed would hide a bug), else TypeError."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{_who(name, owner)} must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)); "
                        f"got {describe(rng)}.")
    return rng
