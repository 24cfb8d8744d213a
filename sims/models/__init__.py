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

Registry keyed by architecture: ``build_model(arch, model_input, config, ensemble_size, generators)``
with ``model_input`` the task's ``sims.tasks.ModelInput`` and ``config`` a ``sims.config.ModelConfig``;
``@register_model("name")`` adds an architecture (a builder function of the same arguments).
"""
from __future__ import annotations

from typing import Sequence

import torch

from ..config import ARCHS  # the names ModelConfig accepts; register_model extends it

__all__ = ["build_model", "register_model", "member_state", "stack_states", "make_generators", "ARCHS"]


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


_REGISTRY: dict = {}


def register_model(arch: str):
    """Decorator: register ``builder(model_input, config, ensemble_size, generators) -> nn.Module``
    under ``arch``. ``model_input`` is a ``sims.tasks.ModelInput``; a builder raises ValueError for an
    input kind it cannot read."""
    def deco(builder):
        _REGISTRY[arch] = builder
        if arch not in ARCHS:
            ARCHS.append(arch)
        return builder
    return deco


def _as_input(inp):
    from ..tasks.base import ModelInput

    if isinstance(inp, ModelInput):
        return inp
    if isinstance(inp, int) and not isinstance(inp, bool):  # a parity input dimension
        return ModelInput(kind="pm1", n=inp)
    raise TypeError(f"build_model: model_input must be a sims.tasks.ModelInput or an int n (±1 inputs); got {type(inp).__name__}.")


def _require(arch: str, inp, kinds=("pm1",), n_classes=(2,), positions=(1,)) -> None:
    if inp.kind not in kinds or inp.n_classes not in n_classes or inp.positions not in positions:
        raise ValueError(f"build_model: arch {arch!r} reads inputs of kind {list(kinds)} with {list(n_classes)} classes at "
                         f"{list(positions)} position(s); the task gives {inp}.")


@register_model("mlp")
def _build_mlp(inp, config, ensemble_size, generators):
    from .mlp import EnsembleMLP

    _require("mlp", inp)
    return EnsembleMLP(n=inp.n, width=config.width, depth=config.depth, ensemble_size=ensemble_size, generators=generators)


@register_model("transformer")
def _build_transformer(inp, config, ensemble_size, generators):
    from .transformer import EnsembleTransformer

    _require("transformer", inp)
    return EnsembleTransformer(n=inp.n, n_layers=config.n_layers, n_heads=config.n_heads, head_dim=config.head_dim,
                               mlp_ratio=config.mlp_ratio, readout=config.readout, causal=config.causal, init=config.init,
                               ensemble_size=ensemble_size, generators=generators)


def _build_sequence(arch: str, inp, config, ensemble_size, generators, causal: bool):
    from .sequence import EnsembleSequenceTransformer

    if inp.kind != "tokens" or inp.vocab is None or inp.positions != inp.n:
        raise ValueError(f"build_model: arch {arch!r} reads token sequences with an output at every position "
                         f"(ModelInput kind='tokens', vocab set, positions == n); the task gives {inp}.")
    return EnsembleSequenceTransformer(vocab=inp.vocab, seq_len=inp.n, n_classes=inp.n_classes,
                                       n_layers=config.n_layers, n_heads=config.n_heads, head_dim=config.head_dim,
                                       mlp_ratio=config.mlp_ratio, causal=causal, pad_id=inp.pad, init=config.init,
                                       ensemble_size=ensemble_size, generators=generators)


@register_model("bert")
def _build_bert(inp, config, ensemble_size, generators):
    """BERT-style encoder over token sequences (bidirectional; logits at every position)."""
    return _build_sequence("bert", inp, config, ensemble_size, generators, causal=False)


@register_model("gpt")
def _build_gpt(inp, config, ensemble_size, generators):
    """GPT-style decoder over token sequences (causal; logits at every position)."""
    return _build_sequence("gpt", inp, config, ensemble_size, generators, causal=True)


def build_model(arch: str, model_input, config, ensemble_size: int, generators) -> torch.nn.Module:
    """An ensemble model of ``arch`` (a registered architecture: 'mlp' | 'transformer' | 'bert' | 'gpt') with
    E = ensemble_size members, reading ``model_input`` (a sims.tasks.ModelInput, or an int n for
    ±1 inputs of dimension n), shape from ``config`` (sims.config.ModelConfig), per-member init from
    ``generators`` (E torch.Generator or int seeds). The model lives on CPU; move it with .to()."""
    if arch not in _REGISTRY:
        raise ValueError(f"build_model: arch must be one of {sorted(_REGISTRY)}; got {arch!r}.")
    if arch != getattr(config, "arch", arch):
        raise ValueError(f"build_model: arch={arch!r} disagrees with config.arch={config.arch!r}.")
    return _REGISTRY[arch](_as_input(model_input), config, ensemble_size, generators)


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
