"""The Task protocol: a second task written as one small module (majority of k support bits) trains
end to end through the one loop, teacher and distilled student; the per-position masked loss and
metrics agree with a brute-force loop; parity as a Task equals the engine's parity stream."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dataclasses import dataclass

from sims.config import ConfigBase, ModelConfig, OptimConfig, StudentConfig, TeacherConfig, register_task_config
from sims.loop import LabelTargets, ModelTargets, train_ensemble
from sims.models import build_model
from sims.tasks import Batch, BatchStream, ModelInput, SparseParity, Task, as_task, soft_targets, soft_xent
from sims.tasks.base import evaluate_members


# ----------------------------------------------------------------------------- a second task, one module
class _BitStream(BatchStream):
    def __init__(self, n: int, seed: int):
        self.n = n
        self.generator = torch.Generator().manual_seed(int(seed))

    def bits(self, batch: int) -> torch.Tensor:
        return torch.randint(0, 2, (batch, self.n), generator=self.generator, dtype=torch.uint8)

    def get_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state.clone())


class Majority(Task):
    """x uniform on {-1,+1}^n; class 1 <=> most of the k (odd) support bits are -1."""

    name = "majority"

    def __init__(self, n: int, support: tuple[int, ...]):
        assert len(support) % 2 == 1
        self.n, self.support = n, torch.tensor(support)

    def model_input(self) -> ModelInput:
        return ModelInput(kind="pm1", n=self.n)

    def stream(self, seed: int) -> _BitStream:
        return _BitStream(self.n, seed)

    def sample(self, streams, batch: int) -> Batch:
        u = torch.stack([s.bits(batch) for s in streams])                      # (S, B, n), u = 1 <=> x = -1
        cls = (u.index_select(-1, self.support).sum(-1) * 2 > len(self.support)).long()
        return Batch(1.0 - 2.0 * u.float(), cls, None)


@register_task_config("majority")
@dataclass(frozen=True)
class MajorityConfig(ConfigBase):
    """The config of Majority: what makes it a task of teacher runs (checkpoints, students, TOML)."""

    n: int = 10
    support: tuple[int, ...] = (1, 4, 7)

    def __post_init__(self):
        object.__setattr__(self, "support", tuple(int(i) for i in self.support))  # JSON gives lists

    def make_task(self) -> Majority:
        return Majority(self.n, tuple(self.support))


MAJ = Majority(10, (1, 4, 7))
SMALL = dict(steps=300, batch=32, eval_every=50, eval_size=2048, eval_seed=7)


def test_second_task_trains_end_to_end_and_distils():
    """Teacher from labels, then a narrower student from the teacher's soft targets, both through
    sims.loop.train_ensemble. Majority of 3 bits is linearly separable (Bayes accuracy 1), so a
    learner that works gets close to 1; a broken loss or target stays near 0.5 (the class prior is 1/2).
    The held-out accuracy is an average of 2048 indicators, stderr <= 0.011: 0.9 is > 8 stderr
    below any accuracy >= 0.99 and > 30 stderr above chance."""
    adam = OptimConfig(lr=1e-2)
    teacher, hist = train_ensemble(MAJ, ModelConfig(width=32), adam, seeds=[0], device="cpu", **SMALL)
    final = hist[hist.step == SMALL["steps"]]
    assert hist.step.iloc[0] == 0 and 0.3 < hist.accuracy.iloc[0] < 0.7  # untrained: near chance
    assert final.accuracy.item() >= 0.9, hist
    student, shist = train_ensemble(MAJ, ModelConfig(width=4), adam, seeds=[1, 2], device="cpu",
                                    targets=ModelTargets(MAJ, 2, teacher, tau=1.0), init_label="student-init",
                                    data_label="student-data", **SMALL)
    last = shist[shist.step == SMALL["steps"]]
    assert len(last) == 2 and (last.accuracy >= 0.9).all(), shist
    assert shist.teacher_step.isna().all()  # a fixed model, not a checkpoint schedule


def test_second_task_members_equal_separate_runs_and_stream_resumes():
    adam = OptimConfig(lr=1e-2)
    cfg = dict(SMALL, steps=60, eval_every=20)
    _, both = train_ensemble(MAJ, ModelConfig(width=8), adam, seeds=[3, 4], device="cpu", **cfg)
    _, alone = train_ensemble(MAJ, ModelConfig(width=8), adam, seeds=[4], device="cpu", **cfg)
    a = both[both.seed == 4].reset_index(drop=True)
    np.testing.assert_allclose(a.loss, alone.loss, rtol=1e-5, atol=1e-6)
    # the stream's saved state replays the same batches
    s = MAJ.stream(5)
    s.bits(3)
    state = s.get_state()
    first = MAJ.sample([s], 4)
    s.set_state(state)
    again = MAJ.sample([s], 4)
    assert torch.equal(first.x, again.x) and torch.equal(first.labels, again.labels)


def test_second_task_runs_through_teacher_checkpoints_resume_and_strategies(tmp_path):
    """A registered task config is all train_teacher / train_students need: checkpoints, history,
    resume bit-identical, reload by kind from config.json, and students of every strategy."""
    import shutil

    from sims.distill import train_students
    from sims.train import TeacherRun, train_teacher

    cfg = TeacherConfig(task=MajorityConfig(), model=ModelConfig(width=16), optim=OptimConfig(lr=1e-2), steps=150,
                        batch=32, ckpt_every=50, eval_every=25, eval_size=1024)
    assert cfg.to_dict()["task"]["kind"] == "majority" and TeacherConfig.from_dict(cfg.to_dict()) == cfg
    run = train_teacher(cfg, tmp_path / "t", device="cpu", progress=False)
    assert run.steps == [0, 50, 100, 150] and isinstance(run.task, Majority)
    assert run.accuracy_at(150) >= 0.9  # linearly separable, see above; 1024 held-out samples (stderr <= 0.016)
    shutil.copytree(tmp_path / "t", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut" / "checkpoint-150")
    again = train_teacher(cfg, tmp_path / "cut", device="cpu", progress=False)
    a, b = again.state_at(150), run.state_at(150)
    assert all(torch.equal(a[k], b[k]) for k in a)
    back = TeacherRun.load(tmp_path / "t")
    assert isinstance(back.config.task, MajorityConfig)
    scfg = StudentConfig(model=ModelConfig(width=4), optim=OptimConfig(lr=1e-2), steps=100, batch=16, eval_every=50,
                         eval_size=512, seeds=(0, 1), strategies=("ce", "one_shot", "progressive", "two_shot"),
                         two_shot_checkpoint=50)
    res = train_students(back, None, scfg, device="cpu", progress=False)
    assert len(res.summary) == 8 and res.curves[res.curves.strategy == "progressive"].teacher_step.dropna().isin(run.steps).all()


def test_models_come_from_the_registry_keyed_by_arch():
    m = build_model("mlp", MAJ.model_input(), ModelConfig(width=5), 3, [0, 1, 2])
    assert m(torch.ones(4, 10)).shape == (3, 4, 2)
    with pytest.raises(ValueError, match="arch 'mlp' reads inputs of kind"):
        build_model("mlp", ModelInput(kind="tokens", n=10, vocab=5), ModelConfig(width=5), 1, [0])
    with pytest.raises(ValueError, match="arch must be one of"):
        build_model("rnn", 10, ModelConfig(width=5), 1, [0])
    with pytest.raises(ValueError, match="ModelConfig.arch must be one of"):
        ModelConfig(arch="linear_probe_test")


def test_a_registered_architecture_trains_through_the_loop():
    from sims.models import register_model
    from sims.models.mlp import EnsembleMLP

    @register_model("two_layer_test")
    def _build(inp, config, ensemble_size, generators):  # an MLP of depth 2, registered under its own name
        return EnsembleMLP(n=inp.n, width=config.width, depth=2, ensemble_size=ensemble_size, generators=generators)

    cfg = ModelConfig(arch="two_layer_test", width=8)  # ModelConfig accepts it once registered
    model, hist = train_ensemble(MAJ, cfg, OptimConfig(lr=1e-2), seeds=[0], device="cpu", **dict(SMALL, steps=20, eval_every=10))
    assert model.depth == 2 and list(hist.step) == [0, 10, 20]


# ----------------------------------------------------------------------------- per-position masked loss / metrics
def _brute_loss(z, q, mask):
    """Loop over members, examples and positions (no broadcasting)."""
    E, B, P, C = z.shape
    out = []
    for e in range(E):
        tot, cnt = 0.0, 0
        for b in range(B):
            for p in range(P):
                if mask[b, p]:
                    logp = [z[e, b, p, c] - math.log(sum(math.exp(z[e, b, p, j]) for j in range(C))) for c in range(C)]
                    tot += -sum(q[e, b, p, c] * logp[c] for c in range(C))
                    cnt += 1
        out.append(tot / cnt)
    return np.array(out)


def _random_outputs(seed: int, E: int, B: int, P: int, C: int, keep: float):
    """(generator, logits (E, B, P, C) float64, labels (B, P), mask (B, P) with ~keep True, at least one)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(E, B, P, C, generator=g, dtype=torch.float64)
    labels = torch.randint(0, C, (B, P), generator=g)
    mask = torch.rand(B, P, generator=g) < keep
    mask[0, 0] = True
    return g, z, labels, mask


def test_masked_per_position_loss_matches_brute_force():
    E, B, P, C = 3, 4, 5, 6
    g, z, labels, mask = _random_outputs(0, E, B, P, C, keep=0.5)
    teacher = torch.randn(B, P, C, generator=g, dtype=torch.float64)
    q = soft_targets(labels, C, teacher, tau=0.7, alpha=0.25).expand(E, -1, -1, -1)
    got = soft_xent(z, q, mask.expand(E, -1, -1)).numpy()
    np.testing.assert_allclose(got, _brute_loss(z.numpy(), q.numpy(), mask.numpy()), rtol=1e-12)
    # without a mask every position counts: equal to the brute force with an all-true mask
    np.testing.assert_allclose(soft_xent(z, q).numpy(), _brute_loss(z.numpy(), q.numpy(), np.ones((B, P), bool)), rtol=1e-12)
    # labels only: q is one-hot
    assert torch.equal(soft_targets(labels, C), torch.nn.functional.one_hot(labels, C).float())


class _FixedLogits(torch.nn.Module):
    """A stand-in 'ensemble model' whose output is a fixed tensor (E, M, P, C) sliced by rows."""

    def __init__(self, z):
        super().__init__()
        self.z = torch.nn.Parameter(z)
        self.row = 0

    def forward(self, x):
        rows = x.shape[0]
        out = self.z[:, self.row:self.row + rows]
        self.row += rows
        return out


def test_masked_metrics_count_only_masked_positions():
    E, M, P, C = 2, 70, 3, 4
    _, z, labels, mask = _random_outputs(1, E, M, P, C, keep=0.6)
    out = evaluate_members(_FixedLogits(z), Batch(torch.zeros(M, 1), labels, mask), max_elems=E * 4 * 64)  # several chunks
    zn, ln, mn = z.numpy(), labels.numpy(), mask.numpy()
    for e in range(E):
        hits = [zn[e, i, p].argmax() == ln[i, p] for i in range(M) for p in range(P) if mn[i, p]]
        nll = [-(zn[e, i, p, ln[i, p]] - np.log(np.exp(zn[e, i, p]).sum())) for i in range(M) for p in range(P) if mn[i, p]]
        assert out["accuracy"][e] == pytest.approx(np.mean(hits), abs=1e-12)
        assert out["loss"][e] == pytest.approx(np.mean(nll), rel=1e-9)


# ----------------------------------------------------------------------------- parity as a Task
def test_parity_task_is_the_engines_parity_stream():
    from parity_theory.parity import ParityTask
    from sims.config import TaskConfig
    from sims.data import ParityStream, eval_set

    pt = ParityTask(12, (1, 5, 9))
    task = as_task(pt)
    assert isinstance(task, SparseParity) and task.model_input() == ModelInput(kind="pm1", n=12)
    assert isinstance(as_task(TaskConfig(n=12, k=3, support=(1, 5, 9))), SparseParity)
    a, b = task.stream(3), ParityStream(pt, 3)
    batch = task.sample([a], 16)
    x, c = b.sample(16)
    assert torch.equal(batch.x[0], x) and torch.equal(batch.labels[0], c) and batch.mask is None
    ev = task.eval_set(32, 9)
    ex, ec = eval_set(pt, 32, 9)
    assert torch.equal(ev.x, ex) and torch.equal(ev.labels, ec)
    # the label is chi_S(x) = -1 <=> class 1, checked against parity_theory's own labeller
    y = pt.label(ev.x.numpy().astype(np.int8))
    assert np.array_equal(ev.labels.numpy(), (y == -1).astype(np.int64))
    with pytest.raises(TypeError, match="task must be a sims.tasks.Task"):
        as_task("parity")


def test_label_targets_and_model_targets_shapes():
    data = MAJ.sample([MAJ.stream(0), MAJ.stream(1)], 5)
    q = LabelTargets(MAJ, 2).q(0, data, None)
    assert q.shape == (2, 5, 2) and torch.equal(q.argmax(-1), data.labels)
    teacher = build_model("mlp", 10, ModelConfig(width=4), 1, [0])
    qt = ModelTargets(MAJ, 2, teacher, tau=1.0).q(0, data, None)
    with torch.no_grad():
        expect = torch.softmax(teacher(data.x[1]), -1)[0]
    torch.testing.assert_close(qt[1], expect)


def test_loop_entry_points_reject_bad_input_clearly():
    from sims.loop import LoopSpec

    with pytest.raises(ValueError, match=r"train_ensemble.seeds must be a non-empty list of distinct ints >= 0; got \[1, 1\]"):
        train_ensemble(MAJ, ModelConfig(width=4), OptimConfig(), seeds=[1, 1], steps=2)
    with pytest.raises(ValueError, match="train_ensemble.seeds\\[i\\] must be an int >= 0; got -1."):
        train_ensemble(MAJ, ModelConfig(width=4), OptimConfig(), seeds=[-1], steps=2)
    with pytest.raises(TypeError, match="task must be a sims.tasks.Task"):
        train_ensemble(object(), ModelConfig(width=4), OptimConfig(), seeds=[0], steps=2)
    with pytest.raises(ValueError, match="LoopSpec.steps must be a positive int; got 0."):
        LoopSpec(optim=OptimConfig(), steps=0, batch=1, eval_every=1)
    with pytest.raises(TypeError, match="LoopSpec.optim must be an OptimConfig; got dict."):
        LoopSpec(optim={}, steps=1, batch=1, eval_every=1)


# ----------------------------------------------------------------------------- a sequence task: tokens, P positions, a mask
class ShiftTokens(Task):
    """Tokens x in [0, V)^T; at each position the label is (x_t + 1) mod V, and only a random half
    of the positions count (the mask) — the shape of a masked-LM batch, learnable position-wise."""

    name = "shift_tokens"

    def __init__(self, V: int = 5, T: int = 6):
        self.V, self.T = V, T

    def model_input(self) -> ModelInput:
        return ModelInput(kind="tokens", n=self.T, n_classes=self.V, positions=self.T, vocab=self.V)

    def stream(self, seed: int) -> _BitStream:
        return _BitStream(1, seed)  # only its generator is used

    def sample(self, streams, batch: int) -> Batch:
        xs, ms = [], []
        for s in streams:
            xs.append(torch.randint(0, self.V, (batch, self.T), generator=s.generator))
            ms.append(torch.rand(batch, self.T, generator=s.generator) < 0.5)
        x = torch.stack(xs)
        return Batch(x, (x + 1) % self.V, torch.stack(ms))


class _TokenEnsemble(torch.nn.Module):
    """E members: embedding (V, d) then a per-position linear map to V logits: (B, T) or (E, B, T) -> (E, B, T, V)."""

    def __init__(self, V, d, E, generators):
        super().__init__()
        from sims.models import make_generators

        gens = make_generators(generators, E)
        self.emb = torch.nn.Parameter(torch.stack([torch.randn(V, d, generator=g) for g in gens]))
        self.out = torch.nn.Parameter(torch.stack([torch.randn(d, V, generator=g) / d ** 0.5 for g in gens]))

    def forward(self, x):
        E = self.emb.shape[0]
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(E, *x.shape)
        h = torch.stack([self.emb[e][x[e]] for e in range(E)])               # (E, B, T, d)
        return torch.einsum("ebtd,edv->ebtv", h, self.out)


def test_a_masked_sequence_task_trains_through_the_same_loop():
    """Per-position outputs with a mask go through the loop unchanged (autograd path, masked loss
    and metrics): a registered token model learns the shift map; an untrained one sits near chance
    1/V = 0.2. Held-out accuracy over ~1024 * 6 / 2 masked positions, stderr <= 0.01; 0.9 is far
    above chance and far below the attainable 1."""
    from sims.models import register_model

    @register_model("token_test")
    def _build(inp, config, ensemble_size, generators):
        assert inp.kind == "tokens" and inp.positions == inp.n
        return _TokenEnsemble(inp.vocab, config.width, ensemble_size, generators)

    task = ShiftTokens()
    model, hist = train_ensemble(task, ModelConfig(arch="token_test", width=8), OptimConfig(lr=3e-2), seeds=[0, 1],
                                 device="cpu", steps=200, batch=32, eval_every=100, eval_size=1024)
    first, last = hist[hist.step == 0], hist[hist.step == 200]
    assert (first.accuracy < 0.5).all() and (last.accuracy >= 0.9).all(), hist
    # a student from the trained teacher's soft targets, per position
    teacher = model  # two members: member e teaches student e
    _, shist = train_ensemble(task, ModelConfig(arch="token_test", width=8), OptimConfig(lr=3e-2), seeds=[2, 3], device="cpu",
                              steps=200, batch=32, eval_every=100, eval_size=1024,
                              targets=ModelTargets(task, 2, teacher, tau=1.0), init_label="student-init")
    assert (shist[shist.step == 200].accuracy >= 0.9).all(), shist
