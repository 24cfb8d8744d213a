"""Tests of sims.models.sequence.EnsembleSequenceTransformer (the BERT / GPT models of the PCFG
setting): shapes, ensemble = members (forward, gradients, Adam), causality, the padding mask,
registry wiring and input errors."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sims.config import ModelConfig
from sims.models import build_model
from sims.models.sequence import EnsembleSequenceTransformer
from sims.tasks import ModelInput

V, T, PAD = 7, 9, 5
SMALL = dict(vocab=V, seq_len=T, n_classes=V, n_layers=2, n_heads=2, head_dim=4, pad_id=PAD)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tokens(shape, seed, hi=PAD):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, hi, shape, generator=g)


def model(E=3, seeds=None, causal=False, dtype=torch.float64, **kw):
    hp = {**SMALL, **kw}
    return EnsembleSequenceTransformer(ensemble_size=E, generators=list(range(E)) if seeds is None else seeds,
                                       causal=causal, dtype=dtype, **hp)


@pytest.mark.parametrize("causal", [False, True])
def test_shapes_and_shared_input(causal):
    m = model(E=3, causal=causal)
    x = tokens((4, T), 0)
    out = m(x)
    assert out.shape == (3, 4, T, V)
    torch.testing.assert_close(out, m(x.expand(3, 4, T)), rtol=0, atol=1e-13)
    assert m(x[:, :5]).shape == (3, 4, 5, V)  # shorter sequences use the first position embeddings


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("init", ["pytorch", "gpt2"])
def test_member_equals_standalone_forward_and_grad(causal, init):
    E = 3
    ens = model(E=E, seeds=[11, 12, 13], causal=causal, init=init)
    x = tokens((E, 5, T), 2)
    x[:, 1, 6:] = PAD
    y = tokens((E, 5, T), 3)
    out = ens(x)
    F.cross_entropy(out.reshape(-1, V), y.reshape(-1), reduction="sum").backward()
    for e in range(E):
        one = model(E=1, seeds=[11 + e], causal=causal, init=init)
        for (name, p1), (_, pe) in zip(one.named_parameters(), ens.named_parameters()):
            assert torch.equal(p1[0], pe[e].detach()), name
        o1 = one(x[e])[0]
        torch.testing.assert_close(o1, out[e].detach(), rtol=1e-12, atol=1e-12)
        F.cross_entropy(o1.reshape(-1, V), y[e].reshape(-1), reduction="sum").backward()
        for (name, p1), (_, pe) in zip(one.named_parameters(), ens.named_parameters()):
            torch.testing.assert_close(p1.grad[0], pe.grad[e], rtol=1e-10, atol=1e-12, msg=name)


def test_adam_on_ensemble_equals_separate_adams():
    E = 2
    ens = model(E=E, seeds=[3, 4])
    singles = [model(E=1, seeds=[3 + e]) for e in range(E)]
    opt = torch.optim.Adam(ens.parameters(), lr=1e-2)
    opts = [torch.optim.Adam(s.parameters(), lr=1e-2) for s in singles]
    for t in range(3):
        x = tokens((E, 6, T), 100 + t)
        y = torch.roll(x, 1, dims=-1)  # predict the previous token
        opt.zero_grad()
        F.cross_entropy(ens(x).reshape(-1, V), y.reshape(-1), reduction="sum").backward()
        opt.step()
        for e, (s, o) in enumerate(zip(singles, opts)):
            o.zero_grad()
            F.cross_entropy(s(x[e])[0].reshape(-1, V), y[e].reshape(-1), reduction="sum").backward()
            o.step()
    for e, s in enumerate(singles):
        for (name, p1), (_, pe) in zip(s.named_parameters(), ens.named_parameters()):
            torch.testing.assert_close(p1[0], pe[e], rtol=1e-9, atol=1e-11, msg=name)


def test_gpt_is_causal_and_bert_is_not():
    """Changing the token at position 6 leaves a causal model's outputs at positions <= 5 unchanged
    and changes a bidirectional model's output at every position."""
    x = tokens((2, T), 5)
    y = x.clone()
    y[:, 6] = (y[:, 6] + 1) % PAD
    gpt, bert = model(E=2, causal=True), model(E=2, causal=False)
    a, b = gpt(x), gpt(y)
    torch.testing.assert_close(a[:, :, :6], b[:, :, :6], rtol=0, atol=0)
    assert (a[:, :, 6:] - b[:, :, 6:]).abs().amax() > 1e-6
    a, b = bert(x), bert(y)
    assert ((a - b).abs().amax(-1) > 1e-8).all()


@pytest.mark.parametrize("causal", [False, True])
def test_padding_is_invisible(causal):
    """A string padded with PAD gives, at its own positions, the outputs of the unpadded string;
    without the padding mask (pad_id None) the PAD keys would change them."""
    m = model(E=2, causal=causal)
    x = tokens((3, 6), 7)
    padded = torch.cat([x, torch.full((3, T - 6), PAD)], dim=1)
    torch.testing.assert_close(m(padded)[:, :, :6], m(x), rtol=1e-12, atol=1e-12)
    if not causal:
        blind = model(E=2, causal=causal, pad_id=None)
        assert (blind(padded)[:, :, :6] - blind(x)).abs().amax() > 1e-6


def test_registry_builds_bert_and_gpt_from_a_token_task():
    inp = ModelInput(kind="tokens", n=T, n_classes=V, positions=T, vocab=V, pad=PAD)
    bert = build_model("bert", inp, ModelConfig(arch="bert", n_layers=1, n_heads=3), 2, [0, 1])
    gpt = build_model("gpt", inp, ModelConfig(arch="gpt", n_layers=1, n_heads=3), 2, [0, 1])
    assert (bert.causal, gpt.causal) == (False, True) and bert.d_model == 3 * 8 and bert.pad_id == PAD
    assert bert(tokens((2, T), 0)).shape == (2, 2, T, V)
    with pytest.raises(ValueError, match="arch 'bert' reads token sequences"):
        build_model("bert", 10, ModelConfig(arch="bert"), 1, [0])
    with pytest.raises(ValueError, match="arch 'transformer' reads inputs of kind"):
        build_model("transformer", inp, ModelConfig(arch="transformer"), 1, [0])


@pytest.mark.parametrize("x, exc, match", [
    (torch.zeros(2, T), TypeError, "int64 tensor of token ids"),
    (torch.zeros(2, T + 1, dtype=torch.long), ValueError, "1..9 tokens"),
    (torch.full((2, T), V, dtype=torch.long), ValueError, r"token ids must be in \[0, 7\)"),
    (torch.zeros(4, 2, T, dtype=torch.long), ValueError, r"shape \(B, T\) or \(3, B, T\)"),
])
def test_bad_forward_input(x, exc, match):
    with pytest.raises(exc, match=match):
        model(E=3)(x)


@pytest.mark.parametrize("kw, match", [
    (dict(n_heads=0), "n_heads must be"), (dict(pad_id=V), "pad_id must be"), (dict(vocab=1), "vocab must be"),
    (dict(init="xavier"), "init must be one of"),
])
def test_bad_constructor_input(kw, match):
    with pytest.raises(ValueError, match=match):
        model(**kw)
