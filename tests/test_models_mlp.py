"""EnsembleMLP: per-member init, forward = nn.Linear stack, hand-written backward = autograd."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from sims.config import ModelConfig
from sims.models import build_model, member_state, stack_states
from sims.models.mlp import EnsembleMLP
from sims.tasks import soft_xent


def reference_member(model: EnsembleMLP, e: int) -> nn.Sequential:
    """The plain nn.Sequential of member e (weights copied; nn.Linear stores (out, in))."""
    layers = []
    for i in range(model.n_layers):
        w, b = getattr(model, f"w{i}")[e], getattr(model, f"b{i}")[e]
        lin = nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(w.t())
            lin.bias.copy_(b[0])
        layers.append(lin)
        if i < model.n_layers - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def test_member_init_depends_only_on_its_generator():
    big = EnsembleMLP(n=7, width=5, depth=2, ensemble_size=3, generators=[11, 12, 13])
    alone = EnsembleMLP(n=7, width=5, depth=2, ensemble_size=1, generators=[12])
    for k, v in big.state_dict().items():
        assert torch.equal(v[1], alone.state_dict()[k][0]), k
    assert not torch.equal(big.w0[0], big.w0[1])


def test_init_follows_pytorch_linear_default_bounds():
    n, width, E = 50, 400, 4
    m = EnsembleMLP(n=n, width=width, ensemble_size=E, generators=list(range(E)))
    for w, fan_in in ((m.w0, n), (m.w1, width)):
        bound = 1 / math.sqrt(fan_in)
        assert w.abs().max() <= bound
        # U(-b, b) has variance b^2/3; with >= 3200 entries the sample variance is within 10% (CLT, ~6 sigma)
        assert abs(w.var().item() / (bound**2 / 3) - 1) < 0.1
    assert m.b0.abs().max() <= 1 / math.sqrt(n)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_forward_matches_nn_linear_stack(depth):
    g = torch.Generator().manual_seed(0)
    m = EnsembleMLP(n=9, width=6, depth=depth, ensemble_size=3, generators=[1, 2, 3])
    x_shared = torch.randint(0, 2, (5, 9), generator=g).float() * 2 - 1
    x_each = torch.randint(0, 2, (3, 5, 9), generator=g).float() * 2 - 1
    z_shared, z_each = m(x_shared), m(x_each)
    assert z_shared.shape == (3, 5, 2)
    for e in range(3):
        ref = reference_member(m, e)
        torch.testing.assert_close(z_shared[e], ref(x_shared), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(z_each[e], ref(x_each[e]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("shared", [True, False])
def test_hand_written_backward_equals_autograd_float64(depth, shared):
    g = torch.Generator().manual_seed(depth)
    m = EnsembleMLP(n=8, width=7, depth=depth, ensemble_size=4, generators=[5, 6, 7, 8]).double()
    x = torch.randint(0, 2, ((6, 8) if shared else (4, 6, 8)), generator=g).double() * 2 - 1
    q = torch.softmax(torch.randn(4, 6, 2, generator=g, dtype=torch.float64), -1)
    loss_manual = m.xent_backward(x, q)
    manual = {k: p.grad.clone() for k, p in m.named_parameters()}
    for p in m.parameters():
        p.grad = None
    loss_auto = soft_xent(m(x), q)
    loss_auto.sum().backward()
    torch.testing.assert_close(loss_manual, loss_auto.detach(), rtol=1e-12, atol=1e-12)
    n_checked = 0
    for k, p in m.named_parameters():
        torch.testing.assert_close(manual[k], p.grad, rtol=1e-10, atol=1e-12)
        n_checked += 1
    assert n_checked == 2 * (depth + 1)


def test_autograd_gradcheck_of_soft_xent_through_model():
    # finite differences vs autograd (the reference the hand-written backward is tied to)
    m = EnsembleMLP(n=4, width=3, ensemble_size=2, generators=[0, 1]).double()
    x = torch.tensor([[1.0, -1, 1, -1], [-1, -1, 1, 1], [1, 1, 1, -1]], dtype=torch.float64)
    q = torch.softmax(torch.randn(2, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)), -1)
    w0 = m.w0.detach().clone().requires_grad_(True)

    def f(w):
        h = torch.relu(torch.baddbmm(m.b0, x.expand(2, 3, 4), w))
        return soft_xent(torch.baddbmm(m.b1, h, m.w1), q).sum()

    assert torch.autograd.gradcheck(f, (w0,))


def test_validation_and_registry():
    with pytest.raises(ValueError, match="EnsembleMLP.width must be a positive int; got -3"):
        EnsembleMLP(n=4, width=-3)
    with pytest.raises(ValueError, match="one generator per member"):
        EnsembleMLP(n=4, width=3, ensemble_size=2, generators=[1])
    with pytest.raises(ValueError, match="arch must be one of"):
        build_model("rnn", 4, ModelConfig(), 1, [0])
    m = build_model("mlp", 4, ModelConfig(width=3), 2, [0, 1])
    with pytest.raises(ValueError, match=r"x must have shape"):
        m(torch.zeros(3, 5, 4))
    st = m.state_dict()
    parts = [member_state(st, i) for i in range(2)]
    assert all(v.shape[0] == 1 for v in parts[0].values())
    back = stack_states(parts)
    assert all(torch.equal(back[k], st[k]) for k in st)
