"""Ensemble models: E independent members of one shape, trained as one batched computation.

Contract shared by every model here:
  * constructor takes the shape hyper-parameters, ``ensemble_size`` E and a list of E
    ``torch.Generator`` (or seeds) for per-member init (PyTorch default init per member);
  * ``forward(x)`` with x float of shape (B, n) (shared by all members) or (E, B, n) returns logits (E, B, 2);
  * members never interact, so loss = sum over members of each member's mean loss gives each member
    exactly its own gradient, and element-wise optimizers (SGD, Adam, AdamW) on the stacked parameters
    equal E separate optimizers.

Additions used by the generic trainer (sims/train.py, sims/distill.py):
  * x holds the raw ±1 inputs as floats; a model converts them itself (the Transformer embeds
    tokens (1 - x)/2);
  * EVERY parameter and buffer has leading dimension E (member i is ``t[i]`` of every tensor of
    ``state_dict()``); ``member_state`` / ``stack_states`` slice and stack members this way, so a
    checkpoint of one member is a state dict with leading dimension 1;
  * the forward must not hard-code E: a module built for E members must accept a state dict
    stacked for E' members only through ``build_model(..., ensemble_size=E')`` (we never resize
    in place);
  * optional fast path: ``xent_backward(x, q) -> loss (E,)`` computes the per-member mean of
    -sum_c q_c log softmax(z)_c and fills ``.grad`` of every parameter (hand-written backward).

Registry: ``build_model(arch, n, config, ensemble_size, generators)`` with ``config`` a
``sims.config.ModelConfig``. For arch "transformer" it calls
``sims.models.transformer.EnsembleTransformer(n=n, n_layers=, n_heads=, head_dim=, mlp_ratio=,
readout=, causal=, init=, ensemble_size=, generators=)`` (or a module-level ``build(n, config, ensemble_size,
generators)`` when the module defines one).
"""
from __future__ import annotations

import importlib
from typing import Sequence

import torch

__all__ = ["build_model", "member_state", "stack_states", "make_generators", "ARCHS"]

ARCHS = ("mlp", "transformer")


def make_generators(generators, ensemble_size: int, owner: str = "model") -> list[torch.Generator]:
    """Per-member init randomness: ``generators`` is a sequence of E seeds / torch.Generators (each
    read by ``sims.devices.as_torch_generator``: int -> seeded, Generator -> itself, None -> OS
    entropy), or None for E unseeded generators (not reproducible). Generators must live on CPU
    (init runs on CPU)."""
    from ..devices import as_torch_generator
    from parity_theory.validation import check_int

    E = check_int(ensemble_size, "ensemble_size", owner=owner)
    if generators is None:
        return [as_torch_generator(None) for _ in range(E)]
    if isinstance(generators, (torch.Generator, int)):
        generators = [generators]
    gens = list(generators)
    if len(gens) != E:
        raise ValueError(f"{owner}.generators must hold ensemble_size={E} generators or seeds (one generator per member); got {len(gens)}.")
    out = []
    for i, g in enumerate(gens):
        g = as_torch_generator(g, f"generators[{i}]", owner=owner)
        if g.device.type != "cpu":
            raise ValueError(f"{owner}.generators[{i}] must be a CPU generator (init runs on CPU); got device {g.device}.")
        out.append(g)
    return out


def build_model(arch: str, n: int, config, ensemble_size: int, generators) -> torch.nn.Module:
    """An ensemble model of ``arch`` ('mlp' | 'transformer') with E = ensemble_size members,
    inputs of dimension n, shape from ``config`` (sims.config.ModelConfig), per-member init from
    ``generators`` (E torch.Generator or int seeds). The model lives on CPU; move it with .to()."""
    if arch not in ARCHS:
        raise ValueError(f"build_model: arch must be one of {list(ARCHS)}; got {arch!r}.")
    if arch != getattr(config, "arch", arch):
        raise ValueError(f"build_model: arch={arch!r} disagrees with config.arch={config.arch!r}.")
    if arch == "mlp":
        from .mlp import EnsembleMLP

        return EnsembleMLP(n=n, width=config.width, depth=config.depth, ensemble_size=ensemble_size,
                           generators=generators)
    if arch == "transformer":
        try:
            mod = importlib.import_module("sims.models.transformer")
        except ImportError as exc:  # pragma: no cover - depends on the other module being present
            raise ImportError(f"build_model: arch 'transformer' needs sims/models/transformer.py ({exc}).") from exc
        if hasattr(mod, "build"):
            return mod.build(n=n, config=config, ensemble_size=ensemble_size, generators=generators)
        return mod.EnsembleTransformer(n=n, n_layers=config.n_layers, n_heads=config.n_heads,
                                       head_dim=config.head_dim, mlp_ratio=config.mlp_ratio,
                                       readout=config.readout, causal=config.causal, init=config.init,
                                       ensemble_size=ensemble_size, generators=generators)
    raise ValueError(f"build_model: arch must be one of {list(ARCHS)}; got {arch!r}.")


def member_state(state: dict[str, torch.Tensor], index: int | Sequence[int]) -> dict[str, torch.Tensor]:
    """Members ``index`` of a stacked state dict (leading dim E), keeping the leading dim."""
    idx = [index] if isinstance(index, int) else list(index)
    return {k: v[idx].detach().clone().contiguous() for k, v in state.items()}


def stack_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Concatenate state dicts along the leading (member) dimension; keys must agree."""
    if not states:
        raise ValueError("stack_states: need at least one state dict; got none.")
    keys = list(states[0])
    for i, s in enumerate(states[1:], 1):
        if list(s) != keys:
            raise ValueError(f"stack_states: state {i} has keys {sorted(s)}, expected {sorted(keys)}.")
    return {k: torch.cat([s[k] for s in states], dim=0) for k in keys}
