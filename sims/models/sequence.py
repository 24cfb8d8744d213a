"""Ensemble sequence Transformers for token tasks (the PCFG setting, docs/paper.md §5).

A BERT-style encoder (bidirectional attention, masked-token prediction) and a GPT-style decoder
(causal attention, next-token prediction) share one implementation; they differ in the mask only:

    tokens  x in [0, vocab)^T                  (B, T) int64, shared by all members, or (E, B, T)
    h_0     = tok_emb[x] + pos_emb             (E, B, T, d),  d = n_heads * head_dim
    h_{l+1} = the pre-LN block of sims.models.transformer (attention over keys that are not PAD,
              and with ``causal`` only keys at positions <= the query's)
    logits  = W_out LN_f(h_L) + b_out          (E, B, T, n_classes): every position

The number of heads (head dim 8 in the paper: 32 heads for the teacher, 8 for the student, 4
layers) is the teacher/student knob. Ensemble layout and per-member init follow
``EnsembleTransformer`` (every parameter has a leading member axis E; member e is drawn from
generators[e] only, so it equals a one-member model from the same generator); the attention and
MLP blocks are that module's ``_Block`` (one owner of attention).

Panigrahi et al. (ICLR 2025), §5 (BERT and GPT-style models on PCFG data).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import nn

from parity_theory.validation import check_int

from . import make_generators
from .transformer import _INITS, _lin, _ln, _MemberInit, draw_member, install_members

__all__ = ["EnsembleSequenceTransformer"]

_OWNER = "EnsembleSequenceTransformer"


class EnsembleSequenceTransformer(nn.Module):
    """E independent pre-LN Transformers over token sequences; forward(x) -> logits (E, B, T, n_classes).

    Args:
        vocab: number of token ids the input may hold.
        seq_len: T, the (maximal) sequence length (learned position embeddings).
        n_classes: logits per position (e.g. the vocabulary).
        n_layers, n_heads, head_dim, mlp_ratio: shape (d_model = n_heads * head_dim).
        causal: False = BERT-style encoder, True = GPT-style decoder.
        pad_id: the PAD token (never attended to); None = no padding.
        ensemble_size, generators: E members, member e initialised from generators[e].
        init: "pytorch" | "gpt2" (see EnsembleTransformer).
    """

    def __init__(self, vocab, seq_len, n_classes, n_layers=4, n_heads=8, head_dim=8, mlp_ratio=4, causal=False,
                 pad_id=None, ensemble_size=1, generators=None, init="pytorch", device=None, dtype=torch.float32):
        super().__init__()
        self.vocab = check_int(vocab, "vocab", lo=2, owner=_OWNER)
        self.seq_len = check_int(seq_len, "seq_len", owner=_OWNER)
        self.n_classes = check_int(n_classes, "n_classes", lo=2, owner=_OWNER)
        self.n_layers = check_int(n_layers, "n_layers", owner=_OWNER)
        self.n_heads = check_int(n_heads, "n_heads", owner=_OWNER)
        self.head_dim = check_int(head_dim, "head_dim", owner=_OWNER)
        self.mlp_ratio = check_int(mlp_ratio, "mlp_ratio", owner=_OWNER)
        if not isinstance(causal, bool):
            raise TypeError(f"{_OWNER}.causal must be a bool; got {causal!r}.")
        self.causal = causal
        self.pad_id = None if pad_id is None else check_int(pad_id, "pad_id", lo=0, hi=self.vocab - 1, owner=_OWNER)
        if init not in _INITS:
            raise ValueError(f"{_OWNER}.init must be one of {_INITS}; got init={init!r}.")
        self.init = init
        E = self.ensemble_size = check_int(ensemble_size, "ensemble_size", owner=_OWNER)
        gens = make_generators(generators, E, owner=_OWNER)
        self.d_model = d = self.n_heads * self.head_dim
        members = [self._draw_member(_MemberInit(g, init, self.n_layers), d, d * self.mlp_ratio) for g in gens]
        install_members(self, members, self.n_layers, device, dtype)

    def _draw_member(self, init: _MemberInit, d: int, dm: int) -> dict[str, torch.Tensor]:
        return draw_member(init, self.vocab, self.seq_len, self.n_layers, d, dm, self.n_classes)

    # ------------------------------------------------------------------ forward
    def _check(self, x) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{_OWNER}.forward: x must be an int64 tensor of token ids (B, T) or (E, B, T); "
                            f"got {type(x).__name__}" + (f" of dtype {x.dtype}." if isinstance(x, torch.Tensor) else "."))
        if x.dim() == 2:
            x = x.unsqueeze(0)
        elif x.dim() != 3 or x.shape[0] != self.ensemble_size:
            raise ValueError(f"{_OWNER}.forward: x must have shape (B, T) or ({self.ensemble_size}, B, T); got {tuple(x.shape)}.")
        if not 1 <= x.shape[-1] <= self.seq_len:
            raise ValueError(f"{_OWNER}.forward: sequences must have 1..{self.seq_len} tokens; got shape {tuple(x.shape)}.")
        if x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.vocab):
            raise ValueError(f"{_OWNER}.forward: token ids must be in [0, {self.vocab}); got values in "
                             f"[{int(x.min())}, {int(x.max())}].")
        return x.long()

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The last block's output, before the final LayerNorm: (E, B, T, d) (what probes read)."""
        x = self._check(x)
        E, T = self.ensemble_size, x.shape[-1]
        if x.shape[0] == 1:
            h = self.tok_emb[:, x[0]]                                              # (E, B, T, d)
        else:
            h = self.tok_emb[torch.arange(E, device=x.device).view(E, 1, 1), x]
        h = h + self.pos_emb[:, None, :T]
        key_mask = None
        if self.pad_id is not None:
            keep = x != self.pad_id                                               # (1 or E, B, T)
            if not bool(keep.all()):
                key_mask = keep.expand(E, *keep.shape[1:]).reshape(-1, T)
        for block in self.blocks:
            h = block(h, self.n_heads, self.causal, readout_only=False, key_mask=key_mask)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (E, B, T, n_classes) at every position."""
        return _lin(_ln(self.hidden(x), self.lnf_w, self.lnf_b), self.head_w, self.head_b)

    # ------------------------------------------------------------------ member state
    def member_state(self, e: int) -> dict[str, torch.Tensor]:
        """Member e's weights as a flat dict of plain tensors (no member axis)."""
        check_int(e, "member", lo=0, hi=self.ensemble_size - 1, owner=_OWNER)
        return {name: p.detach()[e].clone().contiguous() for name, p in self.named_parameters()}

    @classmethod
    def from_member_states(cls, states: Sequence[Mapping[str, torch.Tensor]], **hparams) -> "EnsembleSequenceTransformer":
        """An ensemble whose member e holds ``states[e]`` (hyper-parameters as in the constructor)."""
        states = list(states)
        model = cls(ensemble_size=len(states), generators=list(range(len(states))), **hparams)
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.copy_(torch.stack([s[name] for s in states]))
        return model

    def extra_repr(self) -> str:
        return (f"E={self.ensemble_size}, vocab={self.vocab}, seq_len={self.seq_len}, n_classes={self.n_classes}, "
                f"n_layers={self.n_layers}, n_heads={self.n_heads}, head_dim={self.head_dim}, causal={self.causal}")
