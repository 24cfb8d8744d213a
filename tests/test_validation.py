"""parity_theory.validation: one wording, one meaning of seeds, used by configs, models and tasks."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from parity_theory.validation import (check_bool, check_choice, check_float, check_int, check_random_state,
                                      check_scalar)
from sims.devices import as_torch_generator
from sims.models import make_generators


@pytest.mark.parametrize("call, exc, msg", [
    (lambda: check_int(0, "steps", owner="Cfg"), ValueError, "Cfg.steps must be a positive int; got 0."),
    (lambda: check_int(2.5, "steps", owner="Cfg"), TypeError, "Cfg.steps must be a positive int; got 2.5."),
    (lambda: check_int(True, "steps"), TypeError, "steps must be a positive int; got True."),
    (lambda: check_int("3", "k"), TypeError, "k must be a positive int; got '3' (str)."),
    (lambda: check_int(-1, "seed", lo=0), ValueError, "seed must be an int >= 0; got -1."),
    (lambda: check_int(9, "i", lo=0, hi=4), ValueError, "i must be an int in [0, 4]; got 9."),
    (lambda: check_float(0.0, "lr", lo=0.0, lo_open=True, owner="O"), ValueError, "O.lr must be a real number > 0.0; got 0.0."),
    (lambda: check_float(1.0, "p", lo=0.0, hi=1.0, hi_open=True), ValueError, "p must be a real number in [0.0, 1.0); got 1.0."),
    (lambda: check_float(math.nan, "x"), ValueError, "x must be a real number (finite); got nan."),
    (lambda: check_float("1", "x"), TypeError, "x must be a real number; got '1' (str)."),
    (lambda: check_float(None, "x", lo=0.0), TypeError, "x must be a real number >= 0.0; got None."),
    (lambda: check_choice("rms", "name", ["sgd", "adam"], owner="O"), ValueError, "O.name must be one of ['sgd', 'adam']; got 'rms'."),
    (lambda: check_choice([1], "name", ["a"]), ValueError, "name must be one of ['a']; got [1]."),
    (lambda: check_bool(1, "flag"), TypeError, "flag must be a bool; got 1."),
    (lambda: check_random_state(1.5, "rng"), TypeError, "rng must be an int seed >= 0, a numpy.random.Generator or None; got 1.5."),
    (lambda: check_random_state(np.random.RandomState(0)), TypeError, "(RandomState)."),
    (lambda: check_random_state(-2, "rng"), ValueError, "rng must be an int >= 0; got -2."),
    (lambda: as_torch_generator(2.0, "g"), TypeError, "g must be an int seed >= 0, a torch.Generator or None; got 2.0."),
    (lambda: check_scalar(1, "x", kind="complex"), ValueError, "check_scalar.kind must be one of"),
])
def test_one_wording(call, exc, msg):
    with pytest.raises(exc) as info:
        call()
    assert msg in str(info.value)


def test_values_pass_through_as_python_scalars():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.int64(3), "n")) is int
    assert check_float(2, "x") == 2.0 and type(check_float(2, "x")) is float
    assert check_int(None, "n", allow_none=True) is None
    assert check_float(1.0, "p", lo=0.0, hi=1.0) == 1.0  # closed bounds are inclusive
    assert check_choice("a", "c", ("a", "b")) == "a"


def test_random_state_has_one_meaning_in_numpy_and_torch():
    # int: reproducible, the same draws as the library's own seeding
    assert check_random_state(7).random() == np.random.default_rng(7).random()
    assert torch.equal(torch.rand(3, generator=as_torch_generator(7)), torch.rand(3, generator=torch.Generator().manual_seed(7)))
    # Generator: the caller's own object (shared state)
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    tg = torch.Generator()
    assert as_torch_generator(tg) is tg
    # None: fresh OS entropy in both, so two calls differ (probability of a tie 2^-53 / 2^-24)
    assert check_random_state(None).random() != check_random_state(None).random()
    assert torch.rand(1, generator=as_torch_generator(None)).item() != torch.rand(1, generator=as_torch_generator(None)).item()
    # models read per-member generators the same way
    gens = make_generators([3, torch.Generator().manual_seed(3)], 2, owner="M")
    assert torch.equal(torch.rand(2, generator=gens[0]), torch.rand(2, generator=gens[1]))
    assert len(make_generators(None, 3)) == 3
