"""The paper's 2-stage training (its Algorithm 1), simulated on (d, k)-sparse parity in numpy.

Known from the paper (Panigrahi et al., ICLR 2025, §3; docs/paper.md §4): a one-hidden-layer
network is trained in two stages -- stage 1 trains the first layer, stage 2 the output layer (a
convex problem) -- in the style of Barak et al. (NeurIPS 2022); progressive distillation with 2
checkpoints supervises stage 1 with an intermediate teacher checkpoint and stage 2 with the final
one. Everything else below is THIS TOOLKIT'S CHOICE (the paper's exact algorithm, widths, step
sizes and initialisation are not available to us); docs/two_stage.md lists the choices.

Network  f(x) = sum_i a_i ReLU(u_i . x + c_i),  x in {-1,+1}^d,  m neurons in pairs (a, -a).

1. Symmetric initialisation: every neuron has w_i = (1, ..., 1), an init bias b_i from
   ``n_init_biases`` values evenly spaced in [-0.8 sqrt(d), -0.2 sqrt(d)] (``init_bias_range``),
   output weight +-a0 (a0 = 1/m) in pairs with the same (w, b): the output is exactly 0 at
   initialisation. The label signal of a neuron with bias b is the degree-(k-1) coefficient of
   1[sum(x) + b > 0], ~ d^(-(k-1)/2) He_(k-2)(-b/sqrt(d)) (Hermite); this range avoids the zeros of
   He_1, He_2, He_3 (t = 0, +-1, +-sqrt(3)), i.e. gives every neuron a label signal of one sign for
   k = 3, 4, 5. A neuron at a zero gets no signal from the labels, and with infinite batches its
   normalised weights point off the support.
2. Stage 1 (first layer): ONE gradient step on the correlation loss -y f(x) (the hinge loss at
   f = 0, and up to a factor 1/2 the cross-entropy at logit 0 with target y = 2p - 1) from a batch
   of N1 samples, with weight decay 1/lr so that the step erases the initialisation:
       w_i = lr * a_i * G(b_i),   G(b) = (1/N1) sum_t y_t 1[sum(x_t) + b > 0] x_t   (d,).
   Then u_i = w_i / max_j |w_ij| and coordinates with |u_ij| < ``threshold`` (1/2) are set to 0
   (this makes the first layer sparse once the support stands out: the thresholding learner of the
   calculator's ``support_recovery`` bound). The new biases c_i are evenly spaced in (-k, k) over
   the pairs (thresholds between the levels of sum_{i in S} x_i), the output weights stay at init.
   **The network at this point is the intermediate checkpoint.**
3. Stage 2 (output layer): ridge regression of y on the features ReLU(u_i . x + c_i) from N2
   fresh samples (squared loss + ``ridge`` |a|^2). **This is the final checkpoint.**

Teacher: the same algorithm on the labels y = chi_S(x), width ``teacher_width``, with infinite
batches: the stage-1 gradient is the population one (exact, :func:`population_gradient`) and stage 2
is the population ridge regression (exact expectation over the block sums). Its intermediate
checkpoint is odd in sum_{i in S} x_i and has degree-1 coefficient rho on every i in S.
Students (width ``width``), targets y = clip(teacher output, -1, 1) or the labels:
  ce: stage 1 and stage 2 on labels; one_shot: both on the final teacher;
  progressive: stage 1 on the intermediate checkpoint, stage 2 on the final teacher.
Success: test mean squared error against chi_S <= eps. Samples of a student: N = N1 + N2, N2 = N1.

Exact population gradients: a neuron with w = 1 sees x only through (z1, z2) = (sum_S x, sum_rest x),
and every target here is a function of (z1, z2), so E[y 1[z1 + z2 + b > 0] x_j] is a two-block
Krawtchouk coefficient (:func:`parity_theory.symmetric.fourier_two_block`): one value for j in S and
one for j not in S. That is what separates signal (the population gap) from sampling noise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from .symmetric import fourier_two_block

__all__ = ["STRATEGIES", "TwoStageConfig", "Teacher", "train_teacher", "population_gradient", "block_weights",
           "target_table", "sample_inputs", "empirical_gradient", "stage1_weights", "stage2_fit", "read_support", "features",
           "first_passage", "grid_sizes"]

STRATEGIES = ("ce", "one_shot", "progressive")


def _int(v, name, lo, hi=None):
    if isinstance(v, bool) or not isinstance(v, Integral):
        raise TypeError(f"{name} must be an int >= {lo}; got {name}={v!r} ({type(v).__name__}).")
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be an int {rng}; got {name}={v!r}.")
    return int(v)


def _real(v, name, lo, hi, lo_open=True, hi_open=True):
    if isinstance(v, bool) or not isinstance(v, Real) or not math.isfinite(v):
        raise TypeError(f"{name} must be a finite real in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}; got {name}={v!r}.")
    bad = (v <= lo if lo_open else v < lo) or (v >= hi if hi_open else v > hi)
    if bad:
        raise ValueError(f"{name} must be a real in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}; got {name}={v!r}.")
    return float(v)


@dataclass(frozen=True)
class TwoStageConfig:
    """The choices of the simulated 2-stage algorithm (module docstring; docs/two_stage.md).

    d, k: the task; width: student neurons (even; 0 -> 2^(k+2)); teacher_width: teacher neurons
    (even); n_init_biases: distinct init biases, evenly spaced in init_bias_range * sqrt(d);
    threshold: stage-1 sparsification level in (0, 1); ridge: stage-2 penalty; eps: target test
    MSE; n_test: test samples.
    """

    d: int
    k: int
    width: int = 0
    teacher_width: int = 256
    n_init_biases: int = 8
    init_bias_range: tuple = (-0.8, -0.2)
    threshold: float = 0.5
    ridge: float = 1e-4
    eps: float = 0.05
    n_test: int = 4096

    def __post_init__(self):
        d = _int(self.d, "d", 2)
        k = _int(self.k, "k", 1, d - 1)
        width = _int(self.width, "width", 0)
        if width == 0:
            width = 2 ** (k + 2)
        for name, v in (("width", width), ("teacher_width", self.teacher_width)):
            _int(v, name, 2)
            if v % 2:
                raise ValueError(f"{name} must be even (neurons come in pairs (a, -a)); got {name}={v}.")
        _int(self.n_init_biases, "n_init_biases", 1)
        try:
            lo, hi = (float(v) for v in self.init_bias_range)
        except (TypeError, ValueError):
            raise TypeError(f"init_bias_range must be a pair (lo, hi) of reals; got {self.init_bias_range!r}.") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError(f"init_bias_range must be finite with lo <= hi; got {self.init_bias_range!r}.")
        object.__setattr__(self, "init_bias_range", (lo, hi))
        _real(self.threshold, "threshold", 0, 1)
        _real(self.ridge, "ridge", 0, math.inf)
        _real(self.eps, "eps", 0, 1)
        _int(self.n_test, "n_test", 16)
        object.__setattr__(self, "width", width)

    def init_biases(self) -> np.ndarray:
        """(n_init_biases,) evenly spaced in init_bias_range * sqrt(d) (both ends included; one value: the midpoint)."""
        lo, hi = self.init_bias_range
        t = np.linspace(lo, hi, self.n_init_biases) if self.n_init_biases > 1 else np.array([(lo + hi) / 2])
        return math.sqrt(self.d) * t

    def pair_layout(self, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For m neurons: (init-bias index (m,), stage-2 bias c (m,), sign of a (m,)).

        Pair p = neurons (2p, 2p + 1) shares init bias index p mod n_init_biases and c_p, evenly
        spaced in (-k, k); signs +1, -1.
        """
        P = m // 2
        p = np.arange(P)
        q = np.repeat(p % self.n_init_biases, 2)
        c = np.repeat(-self.k + 2 * self.k * (p + 0.5) / P, 2)
        sign = np.tile([1.0, -1.0], P)
        return q, c, sign


# ------------------------------------------------------------------------------------------------
# exact (population) quantities on the block sums
# ------------------------------------------------------------------------------------------------
def block_weights(d: int, k: int) -> np.ndarray:
    """P[j1, j2] = C(k, j1) C(d-k, j2) / 2^d, (k+1, d-k+1): the law of the numbers of -1 entries on S and off S."""
    w1 = np.array([math.comb(k, j) for j in range(k + 1)], dtype=float) / 2.0**k
    w2 = np.array([math.comb(d - k, j) for j in range(d - k + 1)], dtype=float) / 2.0 ** (d - k)
    return np.outer(w1, w2)


def _block_sums(d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    z1 = (k - 2 * np.arange(k + 1, dtype=float))[:, None]
    z2 = (d - k - 2 * np.arange(d - k + 1, dtype=float))[None, :]
    return z1, z2


def population_gradient(target: np.ndarray, d: int, k: int, b) -> np.ndarray:
    """Exact E[y(x) 1[sum(x) + b > 0] x_j] for j in S and j not in S: float64 (len(b), 2).

    target: (k+1, d-k+1) table of y as a function of the block sums (:func:`target_table`);
    b: init biases (scalar or 1-D). Column 0: any j in S; column 1: any j off S (two-block
    Krawtchouk coefficients of degree (1, 0) and (0, 1)).
    """
    target = np.asarray(target, dtype=float)
    if target.shape != (k + 1, d - k + 1):
        raise ValueError(f"target must have shape (k+1, d-k+1) = ({k + 1}, {d - k + 1}); got {target.shape}.")
    z1, z2 = _block_sums(d, k)
    out = []
    for bb in np.atleast_1d(np.asarray(b, dtype=float)):
        H = fourier_two_block(target * (z1 + z2 + bb > 0))
        out.append((H[1, 0] if k >= 1 else 0.0, H[0, 1] if d - k >= 1 else 0.0))
    return np.array(out, dtype=float)


@dataclass(frozen=True)
class Teacher:
    """A teacher trained by the 2-stage algorithm with infinite batches (exact).

    Tables over the block sums (k+1, d-k+1): ``mid`` (intermediate checkpoint output), ``final``
    (final output). ``rho_mid`` / ``rho_final``: exact degree-1 coefficient of clip(output, -1, 1) on
    each i in S; ``mse_final``: exact E[(final - chi_S)^2]; ``alpha, beta, c, a_init, a_final``: the
    neurons (weight alpha on S, beta off S).
    """

    config: TwoStageConfig
    mid: np.ndarray
    final: np.ndarray
    rho_mid: float
    rho_final: float
    mse_final: float
    alpha: np.ndarray = field(repr=False)
    beta: np.ndarray = field(repr=False)
    c: np.ndarray = field(repr=False)
    a_init: np.ndarray = field(repr=False)
    a_final: np.ndarray = field(repr=False)

    def table(self, strategy_stage: str) -> np.ndarray:
        """Target table (clipped to [-1, 1]) for 'labels', 'mid' or 'final'."""
        return target_table(self, strategy_stage)


def target_table(teacher: Teacher, which: str) -> np.ndarray:
    """(k+1, d-k+1) table of the stage target: 'labels' (chi_S = (-1)^j1), 'mid' or 'final' (clipped)."""
    cfg = teacher.config
    if which == "labels":
        return np.repeat(((-1.0) ** np.arange(cfg.k + 1))[:, None], cfg.d - cfg.k + 1, axis=1)
    if which == "mid":
        return np.clip(teacher.mid, -1, 1)
    if which == "final":
        return np.clip(teacher.final, -1, 1)
    raise ValueError(f"target must be 'labels', 'mid' or 'final'; got {which!r}.")


def _degree1(table: np.ndarray) -> float:
    return float(fourier_two_block(table)[1, 0])


def train_teacher(cfg: TwoStageConfig) -> Teacher:
    """The 2-stage algorithm on labels with population gradients and population ridge regression."""
    d, k, m = cfg.d, cfg.k, cfg.teacher_width
    labels = np.repeat(((-1.0) ** np.arange(k + 1))[:, None], d - k + 1, axis=1)
    G = population_gradient(labels, d, k, cfg.init_biases())  # (n_b, 2): on S, off S
    # the students' stage-1 rule (stage1_weights) on the population gradient, support = the first k coordinates
    dense = np.where(np.arange(d)[None, :] < k, G[:, [0]], G[:, [1]])
    U, c, a_init = stage1_weights(dense, cfg, m)
    alpha, beta = U[:, 0].astype(float), U[:, k].astype(float)
    c, a_init = c.astype(float), a_init.astype(float)
    z1, z2 = _block_sums(d, k)
    phi = np.maximum(alpha[:, None, None] * z1 + beta[:, None, None] * z2 + c[:, None, None], 0.0)  # (m, k+1, d-k+1)
    mid = np.tensordot(a_init, phi, axes=1)
    P = block_weights(d, k)
    M = np.einsum("iab,jab,ab->ij", phi, phi, P) + cfg.ridge * np.eye(m)
    v = np.einsum("iab,ab,ab->i", phi, labels, P)
    a_final = np.linalg.solve(M, v)
    final = np.tensordot(a_final, phi, axes=1)
    return Teacher(cfg, mid, final, _degree1(np.clip(mid, -1, 1)), _degree1(np.clip(final, -1, 1)),
                   float(np.sum(P * (final - labels) ** 2)), alpha, beta, c, a_init, a_final)


# ------------------------------------------------------------------------------------------------
# sampled (finite-batch) students
# ------------------------------------------------------------------------------------------------
def sample_inputs(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """n uniform inputs in {-1,+1}^d as float32 (n, d)."""
    x = rng.integers(0, 2, size=(n, d), dtype=np.int8).astype(np.float32)
    x *= 2.0
    x -= 1.0
    return x


def _block_index(x: np.ndarray, support: np.ndarray, k: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    s_in = x[:, support].sum(1)
    s_all = x.sum(1)
    j1 = np.rint((k - s_in) / 2).astype(np.int64)
    j2 = np.rint((d - k - (s_all - s_in)) / 2).astype(np.int64)
    return j1, j2


def empirical_gradient(x: np.ndarray, y: np.ndarray, biases) -> np.ndarray:
    """Sum (not mean) over samples of y_t 1[sum(x_t) + b > 0] x_t for each init bias: (len(b), d) float64."""
    s = x.sum(1)
    b = np.atleast_1d(np.asarray(biases, dtype=np.float32))
    M = (s[:, None] + b[None, :] > 0).astype(np.float32) * y[:, None].astype(np.float32)
    return (x.T @ M).T.astype(np.float64)


def stage1_weights(G: np.ndarray, cfg: TwoStageConfig, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Student first layer from the stage-1 gradients G (n_init_biases, d): (U (m, d), c (m,), a_init (m,))."""
    q, c, sign = cfg.pair_layout(m)
    scale = np.abs(G).max(axis=1, keepdims=True)
    Un = np.divide(G, scale, out=np.zeros_like(G), where=scale > 0)
    Un[np.abs(Un) < cfg.threshold] = 0.0
    U = sign[:, None] * Un[q]
    return U.astype(np.float32), c.astype(np.float32), (sign / m).astype(np.float32)


def read_support(U: np.ndarray) -> np.ndarray:
    """Coordinates kept (nonzero after the threshold) by at least half of the neurons that kept any: bool (d,)."""
    nz = np.abs(U) > 0
    alive = nz.any(axis=1)
    if not alive.any():
        return np.zeros(U.shape[1], dtype=bool)
    return nz[alive].mean(axis=0) >= 0.5


def features(x: np.ndarray, U: np.ndarray, c: np.ndarray) -> np.ndarray:
    """ReLU(x U^T + c): (n, m) float32."""
    h = x @ U.T
    h += c
    np.maximum(h, 0.0, out=h)
    return h


def stage2_fit(phi: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """Ridge regression a = argmin mean (phi a - y)^2 + ridge |a|^2: (m,) float64."""
    phi = phi.astype(np.float64)
    return _ridge_solve(phi.T @ phi, phi.T @ np.asarray(y, dtype=np.float64), phi.shape[0], ridge)


def _ridge_solve(gram_sum: np.ndarray, rhs_sum: np.ndarray, n: int, ridge: float) -> np.ndarray:
    """(gram_sum / n + ridge I)^-1 rhs_sum / n: the ridge solution from accumulated normal equations."""
    return np.linalg.solve(gram_sum / n + ridge * np.eye(gram_sum.shape[0]), rhs_sum / n)


def grid_sizes(n_min: int, n_max: int, ratio: float = math.sqrt(2)) -> np.ndarray:
    """Stage-1 batch sizes searched: round(n_min * ratio^g) <= n_max, strictly increasing (int64)."""
    _int(n_min, "n_min", 1)
    _int(n_max, "n_max", n_min)
    _real(ratio, "ratio", 1, math.inf)
    out, g = [], 0
    while True:
        v = int(round(n_min * ratio**g))
        if v > n_max:
            break
        if not out or v > out[-1]:
            out.append(v)
        g += 1
    return np.array(out, dtype=np.int64)


_STAGES = {"ce": ("labels", "labels"), "one_shot": ("final", "final"), "progressive": ("mid", "final")}


def first_passage(teacher: Teacher, seed: int, grid: np.ndarray, strategies=STRATEGIES, chunk: int = 1 << 16) -> dict:
    """For one seed, the first stage-1 batch N1 on ``grid`` at which each student reaches test MSE <= eps.

    All strategies share the seed's sample streams (paired): stage-1 samples are one growing
    stream (the batch at grid point g is its first grid[g] samples, so gradients are accumulated);
    stage-2 samples (N2 = N1, fresh) and the test set are drawn per seed. Returns, per strategy,
    dict(n1=first N1 or inf, samples=N1 + N2 or inf, support=first N1 at which :func:`read_support`
    equals S (or inf), mse=test MSE at the stop).
    """
    cfg = teacher.config
    d, k, m = cfg.d, cfg.k, cfg.width
    for s in strategies:
        if s not in _STAGES:
            raise ValueError(f"strategies must be among {STRATEGIES}; got {s!r}.")
    grid = np.asarray(grid, dtype=np.int64)
    if grid.ndim != 1 or grid.size == 0 or np.any(np.diff(grid) <= 0) or grid[0] < 1:
        raise ValueError(f"grid must be a non-empty strictly increasing 1-D array of positive ints; got {grid!r}.")
    root = np.random.SeedSequence([int(seed), d, k, 20251])
    s_task, s_stream, s_test = root.spawn(3)
    support = np.sort(np.random.default_rng(s_task).choice(d, size=k, replace=False))
    tables = {w: target_table(teacher, w) for w in ("labels", "mid", "final")}
    biases = cfg.init_biases()
    rng_stream = np.random.default_rng(s_stream)
    xt = sample_inputs(np.random.default_rng(s_test), cfg.n_test, d)
    yt = np.prod(xt[:, support], axis=1)
    sums = {s: np.zeros((len(biases), d)) for s in strategies}
    out = {s: dict(n1=math.inf, samples=math.inf, support=math.inf, mse=math.nan) for s in strategies}
    todo = set(strategies)
    seen = 0
    in_s = np.zeros(d, bool)
    in_s[support] = True
    for g, n1 in enumerate(grid):
        while seen < n1 and todo:
            n = int(min(chunk, n1 - seen))
            x = sample_inputs(rng_stream, n, d)
            j1, j2 = _block_index(x, support, k, d)
            for s in todo:
                y = tables[_STAGES[s][0]][j1, j2]
                sums[s] += empirical_gradient(x, y, biases)
            seen += n
        if not todo:
            break
        layers = {}
        for s in sorted(todo):
            U, c, _ = stage1_weights(sums[s] / n1, cfg, m)
            if math.isinf(out[s]["support"]) and np.array_equal(read_support(U), in_s):
                out[s]["support"] = int(n1)
            layers[s] = (U, c, np.zeros((m, m)), np.zeros(m))
        # stage 2: N2 = N1 fresh samples of this grid point, normal equations accumulated in chunks
        rng2 = np.random.default_rng([int(seed), d, k, 20252, g])
        done2 = 0
        while done2 < n1:
            n = int(min(chunk, n1 - done2))
            x2 = sample_inputs(rng2, n, d)
            j1, j2 = _block_index(x2, support, k, d)
            for s, (U, c, A, v) in layers.items():
                phi = features(x2, U, c).astype(np.float64)
                A += phi.T @ phi
                v += phi.T @ tables[_STAGES[s][1]][j1, j2]
            done2 += n
        for s, (U, c, A, v) in layers.items():
            a = _ridge_solve(A, v, int(n1), cfg.ridge)
            mse = float(np.mean((features(xt, U, c).astype(np.float64) @ a - yt) ** 2))
            out[s]["mse"] = mse
            if mse <= cfg.eps:
                out[s].update(n1=int(n1), samples=int(2 * n1))
                todo.discard(s)
    return out
