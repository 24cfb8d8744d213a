"""A small GPT-2-style Transformer for sparse parity, as a batched ensemble of E members.

Paper (Panigrahi et al., ICLR 2025, §3 / App.): GPT-2-style, 2 layers, head dim 8, teacher 32 heads,
student 4 heads; input tokens (1 - x)/2; the class is read at the last position.

One member, for x in {-1,+1}^n (shapes per member, d = n_heads * head_dim, T = n or n + 1):

    tokens  = (1 - x) / 2                      in {0, 1}; readout="cls" appends token 2 (CLS) at the end
    h_0     = tok_emb[tokens] + pos_emb        (B, T, d)
    a       = h + Attn(LN_1(h))                pre-norm multi-head attention (causal or bidirectional)
    h_{l+1} = a + W_2 GELU(W_1 LN_2(a))        MLP with hidden size mlp_ratio * d (4 by default)
    logits  = W_out LN_f(h_L)[:, T - 1]        (B, 2): read at the last position (the CLS token if any)

readout="last" (the paper's): causal attention by default, class read at the last bit.
readout="cls": a CLS token appended after the bits, bidirectional attention by default (docs/paper.md §3:
the configuration that learns on CPU). ``causal`` overrides the default either way; the last
position sees every token in both cases.

Ensemble layout: every parameter is stacked with a leading member axis E and applied with
``torch.baddbmm`` (one batched matmul for all members); attention runs as one
``scaled_dot_product_attention`` over (E * B) sequences. Members never interact, so the gradient
of ``sum_e loss_e`` w.r.t. member e's slice is member e's own gradient, and element-wise optimizers
on the stacked tensors equal E separate optimizers. Member e is initialised from its own generator
exactly as a one-member model built from the same generator (see ``tests/test_models_transformer.py``).

Speed: the last layer only computes the query, the output projection and the MLP at the readout
position (the other positions' outputs are never read); ``forward(x, all_positions=True)`` runs
the full model and returns logits at every position (used to check causality).
"""
from __future__ import annotations

import math
from numbers import Integral
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from parity_theory.validation import check_int

from . import make_generators

__all__ = ["EnsembleTransformer", "transformer_hparams"]

_READOUTS = ("cls", "last")
_INITS = ("pytorch", "gpt2")


def _pos_int(value, name: str) -> int:
    return check_int(value, name, owner="EnsembleTransformer")


def transformer_hparams(n, n_layers=1, n_heads=4, head_dim=8, readout="cls", causal=None, mlp_ratio=4, init="pytorch") -> dict:
    """Validate the shape hyper-parameters; returns them as a plain JSON-able dict (causal resolved)."""
    n = _pos_int(n, "n")
    n_layers = _pos_int(n_layers, "n_layers")
    n_heads = _pos_int(n_heads, "n_heads")
    head_dim = _pos_int(head_dim, "head_dim")
    mlp_ratio = _pos_int(mlp_ratio, "mlp_ratio")
    if readout not in _READOUTS:
        raise ValueError(f"EnsembleTransformer.readout must be one of {_READOUTS}; got readout={readout!r}.")
    if causal is None:
        causal = readout == "last"
    if not isinstance(causal, bool):
        raise TypeError(f"EnsembleTransformer.causal must be a bool or None (default for the readout); got {causal!r}.")
    if init not in _INITS:
        raise ValueError(f"EnsembleTransformer.init must be one of {_INITS}; got init={init!r}.")
    return dict(n=n, n_layers=n_layers, n_heads=n_heads, head_dim=head_dim, readout=readout, causal=causal,
                mlp_ratio=mlp_ratio, init=init)


def install_members(module: nn.Module, members: Sequence[dict], n_layers: int, device, dtype) -> None:
    """Stack E members' tensors (names as in state_dict) along a new leading axis and place them on
    ``module``: tok_emb, pos_emb, ``n_layers`` ``_Block``s, lnf_w, lnf_b, head_w, head_b."""
    stacked = {name: torch.stack([m[name] for m in members]).to(device=device, dtype=dtype) for name in members[0]}
    module.tok_emb = nn.Parameter(stacked.pop("tok_emb"))
    module.pos_emb = nn.Parameter(stacked.pop("pos_emb"))
    module.blocks = nn.ModuleList()
    for layer in range(n_layers):
        prefix = f"blocks.{layer}."
        module.blocks.append(_Block({k[len(prefix):]: stacked.pop(k) for k in list(stacked) if k.startswith(prefix)}))
    for name in ("lnf_w", "lnf_b", "head_w", "head_b"):
        module.register_parameter(name, nn.Parameter(stacked.pop(name)))
    assert not stacked, f"unplaced parameters {sorted(stacked)}"


class _MemberInit:
    """Draws one member's tensors from its generator, in a fixed order (PyTorch default or GPT-2 init)."""

    def __init__(self, gen: torch.Generator, init: str, n_layers: int):
        self.gen, self.init, self.n_layers = gen, init, n_layers

    def embedding(self, *shape) -> torch.Tensor:  # nn.Embedding: N(0, 1); GPT-2: N(0, 0.02)
        std = 1.0 if self.init == "pytorch" else 0.02
        return torch.randn(*shape, generator=self.gen) * std

    def linear(self, fan_in: int, fan_out: int, residual: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(W (fan_in, fan_out), b (fan_out,)). nn.Linear: U(+-1/sqrt(fan_in)) for both; GPT-2: N(0, 0.02), b = 0."""
        if self.init == "pytorch":
            bound = 1.0 / math.sqrt(fan_in)
            w = (torch.rand(fan_in, fan_out, generator=self.gen) * 2 - 1) * bound
            b = (torch.rand(fan_out, generator=self.gen) * 2 - 1) * bound
        else:
            std = 0.02 / math.sqrt(2 * self.n_layers) if residual else 0.02
            w = torch.randn(fan_in, fan_out, generator=self.gen) * std
            b = torch.zeros(fan_out)
        return w, b


def draw_member(init: _MemberInit, vocab: int, seq_len: int, n_layers: int, d: int, dm: int,
                n_out: int) -> dict[str, torch.Tensor]:
    """One member's tensors in a fixed draw order (names as in state_dict): token and position
    embeddings, ``n_layers`` pre-LN blocks (d_model d, MLP hidden dm), final LayerNorm, a
    (d, n_out) output head. Shared by every Transformer of the registry."""
    p = {"tok_emb": init.embedding(vocab, d), "pos_emb": init.embedding(seq_len, d)}
    for layer in range(n_layers):
        b = f"blocks.{layer}."
        p[b + "ln1_w"], p[b + "ln1_b"] = torch.ones(d), torch.zeros(d)
        p[b + "attn_w"], p[b + "attn_b"] = init.linear(d, 3 * d)
        p[b + "proj_w"], p[b + "proj_b"] = init.linear(d, d, residual=True)
        p[b + "ln2_w"], p[b + "ln2_b"] = torch.ones(d), torch.zeros(d)
        p[b + "fc_w"], p[b + "fc_b"] = init.linear(d, dm)
        p[b + "out_w"], p[b + "out_b"] = init.linear(dm, d, residual=True)
    p["lnf_w"], p["lnf_b"] = torch.ones(d), torch.zeros(d)
    p["head_w"], p["head_b"] = init.linear(d, n_out)
    return p


def _ln(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-member LayerNorm: h (E, ..., d), w and b (E, d)."""
    shape = (w.shape[0],) + (1,) * (h.dim() - 2) + (w.shape[1],)
    return F.layer_norm(h, h.shape[-1:]) * w.view(shape) + b.view(shape)


def _lin(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-member affine map: h (E, ..., d_in) @ w (E, d_in, d_out) + b (E, d_out)."""
    E = w.shape[0]
    out = torch.baddbmm(b.unsqueeze(1), h.reshape(E, -1, w.shape[1]), w)
    return out.view(*h.shape[:-1], w.shape[2])


class _Block(nn.Module):
    """One pre-norm block (stacked over members): h + Attn(LN1 h), then + MLP(LN2 .)."""

    def __init__(self, params: dict[str, torch.Tensor]):
        super().__init__()
        for name, t in params.items():
            self.register_parameter(name, nn.Parameter(t))

    def forward(self, h: torch.Tensor, n_heads: int, causal: bool, readout_only: bool,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """h (E, B, T, d); key_mask None or bool (E * B, T): keys a query may attend to (padding
        mask; with ``causal`` also the causal mask). Returns (E, B, T, d), or (E, B, 1, d) when
        ``readout_only``."""
        E, B, T, d = h.shape
        hd = d // n_heads
        a = _ln(h, self.ln1_w, self.ln1_b)
        if readout_only:
            # Only the last position's output is read: query, projections and MLP at T - 1 only.
            # The last position attends to every key under either mask, so no mask is needed.
            kv = _lin(a, self.attn_w[:, :, d:], self.attn_b[:, d:]).view(E, B, T, 2, n_heads, hd)
            k, v = kv.permute(3, 0, 1, 4, 2, 5).reshape(2, E * B, n_heads, T, hd)
            q = _lin(a[:, :, -1:], self.attn_w[:, :, :d], self.attn_b[:, :d]).view(E * B, 1, n_heads, hd).transpose(1, 2)
            o = F.scaled_dot_product_attention(q, k, v)  # (E*B, H, 1, hd)
            h = h[:, :, -1:]
            T = 1
        else:
            qkv = _lin(a, self.attn_w, self.attn_b).view(E, B, T, 3, n_heads, hd)
            q, k, v = qkv.permute(3, 0, 1, 4, 2, 5).reshape(3, E * B, n_heads, T, hd)
            if key_mask is None:
                o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # (E*B, H, T, hd)
            else:
                allowed = key_mask[:, None, None, :]                     # (E*B, 1, 1, T)
                if causal:
                    allowed = allowed & torch.ones(T, T, dtype=torch.bool, device=h.device).tril()
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        o = o.transpose(1, 2).reshape(E, B, T, d)
        h = h + _lin(o, self.proj_w, self.proj_b)
        m = F.gelu(_lin(_ln(h, self.ln2_w, self.ln2_b), self.fc_w, self.fc_b))
        return h + _lin(m, self.out_w, self.out_b)


class EnsembleTransformer(nn.Module):
    """E independent GPT-2-style Transformers for sparse parity; forward(x) -> logits (E, B, 2).

    Args:
        n: number of input bits.
        n_layers, n_heads, head_dim: depth, heads per layer, width per head (d_model = n_heads * head_dim).
        ensemble_size: E, the number of independent members.
        generators: E torch.Generator (CPU) or int seeds; member e's init is drawn from generators[e].
        readout: "last" (class at the last bit; the paper's) or "cls" (a CLS token appended after the bits).
        causal: attention mask; None = True for "last", False for "cls".
        mlp_ratio: MLP hidden size / d_model (GPT-2: 4).
        init: "pytorch" (nn.Embedding N(0,1), nn.Linear U(+-1/sqrt(fan_in)), LayerNorm 1/0) or "gpt2"
            (N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)), zero biases).
        device, dtype: where the parameters live (init is drawn on CPU in float32, then moved).
    """

    def __init__(self, n, n_layers=1, n_heads=4, head_dim=8, ensemble_size=1, generators=None, readout="cls",
                 causal=None, mlp_ratio=4, init="pytorch", device=None, dtype=torch.float32):
        super().__init__()
        hp = transformer_hparams(n, n_layers, n_heads, head_dim, readout, causal, mlp_ratio, init)
        E = _pos_int(ensemble_size, "ensemble_size")
        gens = make_generators(generators, E, owner="EnsembleTransformer")
        self.hparams = hp
        self.n, self.n_layers, self.n_heads, self.head_dim = hp["n"], hp["n_layers"], hp["n_heads"], hp["head_dim"]
        self.readout, self.causal, self.mlp_ratio, self.init = hp["readout"], hp["causal"], hp["mlp_ratio"], hp["init"]
        self.ensemble_size = E
        self.d_model = d = self.n_heads * self.head_dim
        self.vocab = 3 if self.readout == "cls" else 2
        self.seq_len = self.n + (1 if self.readout == "cls" else 0)
        dm = d * self.mlp_ratio

        members = [self._draw_member(_MemberInit(g, self.init, self.n_layers), d, dm) for g in gens]
        install_members(self, members, self.n_layers, device, dtype)

    def _draw_member(self, init: _MemberInit, d: int, dm: int) -> dict[str, torch.Tensor]:
        """One member's tensors, drawn in a fixed order from its generator (names as in state_dict)."""
        return draw_member(init, self.vocab, self.seq_len, self.n_layers, d, dm, 2)

    # ------------------------------------------------------------------ forward
    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, n) or (E, B, n) in {-1,+1} -> token ids (E or 1, B, T) int64."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"EnsembleTransformer.forward: x must be a torch.Tensor of shape (B, n) or (E, B, n); got {type(x).__name__}.")
        if x.dim() == 2:
            x = x.unsqueeze(0)
        elif x.dim() != 3 or x.shape[0] != self.ensemble_size:
            raise ValueError(
                f"EnsembleTransformer.forward: x must have shape (B, {self.n}) or ({self.ensemble_size}, B, {self.n}); got {tuple(x.shape)}."
            )
        if x.shape[-1] != self.n:
            raise ValueError(f"EnsembleTransformer.forward: x must have n={self.n} columns; got shape {tuple(x.shape)}.")
        if not bool(((x == 1) | (x == -1)).all()):
            bad = x[(x != 1) & (x != -1)][0].item()
            raise ValueError(f"EnsembleTransformer.forward: x must have entries in {{-1, +1}}; got {bad!r}.")
        tokens = ((1 - x) * 0.5).long()
        if self.readout == "cls":
            cls = torch.full(tokens.shape[:-1] + (1,), 2, dtype=torch.long, device=tokens.device)
            tokens = torch.cat([tokens, cls], dim=-1)
        return tokens

    def forward(self, x: torch.Tensor, all_positions: bool = False) -> torch.Tensor:
        """Logits (E, B, 2) at the readout position; with all_positions=True, (E, B, T, 2) at every position."""
        tokens = self._tokens(x)
        E = self.ensemble_size
        if tokens.shape[0] == 1:  # shared input: (E, V, d) indexed by (B, T) -> (E, B, T, d)
            h = self.tok_emb[:, tokens[0]]
        else:
            h = self.tok_emb[torch.arange(E, device=tokens.device).view(E, 1, 1), tokens]
        h = h + self.pos_emb.unsqueeze(1)
        for i, block in enumerate(self.blocks):
            h = block(h, self.n_heads, self.causal, readout_only=(not all_positions and i == self.n_layers - 1))
        logits = _lin(_ln(h, self.lnf_w, self.lnf_b), self.head_w, self.head_b)
        return logits if all_positions else logits[:, :, -1]

    # ------------------------------------------------------------------ member state
    def member_state(self, e: int) -> dict[str, torch.Tensor]:
        """Member e's weights as a flat dict of plain tensors (no member axis), safetensors-ready."""
        self._check_member(e)
        return {name: p.detach()[e].clone().contiguous() for name, p in self.named_parameters()}

    def load_member_state(self, e: int, state: Mapping[str, torch.Tensor]) -> None:
        """Copy a dict from ``member_state`` into member e (names and shapes are checked)."""
        self._check_member(e)
        params = dict(self.named_parameters())
        missing, extra = sorted(set(params) - set(state)), sorted(set(state) - set(params))
        if missing or extra:
            raise ValueError(f"EnsembleTransformer.load_member_state: state does not match this model; missing {missing}, unexpected {extra}.")
        with torch.no_grad():
            for name, p in params.items():
                t = state[name]
                if tuple(t.shape) != tuple(p.shape[1:]):
                    raise ValueError(
                        f"EnsembleTransformer.load_member_state: {name} must have shape {tuple(p.shape[1:])} for this model; got {tuple(t.shape)}."
                    )
                p[e].copy_(t)

    @classmethod
    def from_member_states(cls, states: Sequence[Mapping[str, torch.Tensor]], device=None, dtype=torch.float32,
                           **hparams) -> "EnsembleTransformer":
        """An ensemble whose member e holds ``states[e]`` (shape hyper-parameters as in the constructor)."""
        states = list(states)
        if not states:
            raise ValueError("EnsembleTransformer.from_member_states: states must be a non-empty list of member states.")
        model = cls(ensemble_size=len(states), generators=list(range(len(states))), device=device, dtype=dtype, **hparams)
        for e, s in enumerate(states):
            model.load_member_state(e, s)
        return model

    def _check_member(self, e) -> None:
        if isinstance(e, bool) or not isinstance(e, Integral) or not 0 <= e < self.ensemble_size:
            raise ValueError(f"EnsembleTransformer: member index must be an int in [0, {self.ensemble_size - 1}]; got {e!r}.")

    def extra_repr(self) -> str:
        return f"E={self.ensemble_size}, d_model={self.d_model}, " + ", ".join(f"{k}={v}" for k, v in self.hparams.items())
