"""Ensemble of ReLU MLPs (E members, ``depth`` hidden layers of ``width``, 2 logits), via bmm.

Member e computes z = W_D^T relu(... relu(W_0^T x + b_0) ...) + b_D with weights stored as
(E, fan_in, fan_out) and biases as (E, 1, fan_out). Init per member = PyTorch's nn.Linear default
(U(-1/sqrt(fan_in), +1/sqrt(fan_in)) for weights and biases) from that member's generator.
``xent_backward`` is a hand-written backward of the soft-target cross-entropy
(dz = (softmax(z) - q) / B), tested against autograd (tests/test_models_mlp.py).
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from parity_theory.validation import check_int

from . import make_generators

__all__ = ["EnsembleMLP"]

_threshold_backward = torch.ops.aten.threshold_backward


class EnsembleMLP(nn.Module):
    """E independent MLPs n -> width (x depth, ReLU) -> 2; forward (B, n) or (E, B, n) -> (E, B, 2)."""

    def __init__(self, n: int, width: int, depth: int = 1, ensemble_size: int = 1,
                 generators: Sequence[torch.Generator | int] | None = None):
        super().__init__()
        for name, v in (("n", n), ("width", width), ("depth", depth), ("ensemble_size", ensemble_size)):
            check_int(v, name, owner="EnsembleMLP")
        gens = make_generators(generators, ensemble_size, owner="EnsembleMLP")
        self.n, self.width, self.depth, self.ensemble_size = n, width, depth, ensemble_size
        dims = [n] + [width] * depth + [2]
        self.n_layers = len(dims) - 1
        ws = [[] for _ in range(self.n_layers)]
        bs = [[] for _ in range(self.n_layers)]
        for g in gens:  # member-major: each member's init depends on its generator only
            for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])):
                bound = 1.0 / math.sqrt(fan_in)
                w = (torch.rand(fan_out, fan_in, generator=g) * 2 - 1) * bound  # nn.Linear layout
                b = (torch.rand(fan_out, generator=g) * 2 - 1) * bound
                ws[layer].append(w.t().contiguous())
                bs[layer].append(b.view(1, fan_out))
        for layer in range(self.n_layers):
            setattr(self, f"w{layer}", nn.Parameter(torch.stack(ws[layer])))
            setattr(self, f"b{layer}", nn.Parameter(torch.stack(bs[layer])))

    def extra_repr(self) -> str:
        return f"n={self.n}, width={self.width}, depth={self.depth}, ensemble_size={self.ensemble_size}"

    def _weights(self):
        return [(getattr(self, f"w{i}"), getattr(self, f"b{i}")) for i in range(self.n_layers)]

    def _expand(self, x: torch.Tensor) -> torch.Tensor:
        E = self.w0.shape[0]
        if x.dim() == 2:
            return x.unsqueeze(0).expand(E, *x.shape)
        if x.dim() == 3 and x.shape[0] == E:
            return x
        raise ValueError(f"EnsembleMLP.forward: x must have shape (B, {self.n}) or ({E}, B, {self.n}); got {tuple(x.shape)}.")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self._expand(x)
        layers = self._weights()
        for w, b in layers[:-1]:
            h = torch.relu(torch.baddbmm(b, h, w))
        w, b = layers[-1]
        return torch.baddbmm(b, h, w)

    @torch.no_grad()
    def xent_backward(self, x: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """Per-member mean soft-target cross-entropy; fills ``.grad`` (hand-written backward).

        loss_e = -(1/B) sum_b sum_c q[e,b,c] log softmax(z[e,b])_c, q (E, B, 2) rows summing to 1;
        dL/dz = (softmax(z) - q) / B. Returns loss (E,) (detached).
        """
        h = self._expand(x)
        layers = self._weights()
        acts = [h]
        for w, b in layers[:-1]:
            h = torch.relu(torch.baddbmm(b, h, w))
            acts.append(h)
        w, b = layers[-1]
        z = torch.baddbmm(b, h, w)
        logp = torch.log_softmax(z, dim=-1)
        B = z.shape[1]
        loss = -(q * logp).sum(-1).mean(-1)
        dz = (logp.exp() - q).div_(B)
        grad = dz
        for i in range(self.n_layers - 1, -1, -1):
            w, b = layers[i]
            a = acts[i]
            w.grad = torch.bmm(a.transpose(1, 2), grad)
            b.grad = grad.sum(1, keepdim=True)
            if i > 0:
                grad = _threshold_backward(torch.bmm(grad, w.transpose(1, 2)), a, 0)
        return loss
