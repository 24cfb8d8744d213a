"""Probe measurement: teacher outputs on N fresh samples -> the tidy correlation table.

The measuring half of :mod:`sims.probe` (which re-exports every public name here; import from
there): runs (:class:`CallableRun`, anything with ``task``, ``steps`` and ``predict_proba`` or
``load_model``), batched forward passes, the in-/off-support subset plan, the correlation
estimators (chi-matrix mat-vec or the parity_theory.fourier kernels), :func:`probe_outputs`,
:func:`probe_run` and :func:`write_parquet`. Summaries, checkpoint choice, the theory comparison,
the figure and the CLI live in :mod:`sims.probe`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from parity_theory.fourier import correlations, random_off_support_subsets, support_spectrum
from parity_theory.parity import ParityTask, check_generator, check_int

from curriculum.io import atomic_write_parquet

__all__ = ["CallableRun", "probe_outputs", "probe_run", "write_parquet", "TABLE_COLUMNS"]

TABLE_COLUMNS = ["step", "accuracy", "loss", "degree", "in_support", "T", "coef", "corr", "stderr"]


# ----------------------------------------------------------------------------------------------
# runs
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallableRun:
    """A teacher run made of callables: ``probas[step](x int8 (m, n)) -> (m,)`` in [0, 1].

    Useful for synthetic teachers with known Fourier coefficients. ``steps`` are sorted keys.
    """

    task: ParityTask
    probas: dict

    @property
    def steps(self) -> list[int]:
        return sorted(int(s) for s in self.probas)

    def predict_proba(self, step: int, x) -> np.ndarray:
        if step not in self.probas:
            raise ValueError(f"CallableRun: no checkpoint at step={step}; available {self.steps}.")
        return np.asarray(self.probas[step](x), dtype=np.float64)


def _check_run(run):
    for attr in ("task", "steps"):
        if not hasattr(run, attr):
            raise TypeError(f"run must have .task, .steps and .predict_proba (e.g. sims.train.TeacherRun); "
                            f"got {type(run).__name__} without .{attr}.")
    if not (hasattr(run, "predict_proba") or hasattr(run, "load_model")):
        raise TypeError(f"run must have .predict_proba(step, x) or .load_model(step, device); got {type(run).__name__}.")
    if not isinstance(run.task, ParityTask):
        raise TypeError(f"run.task must be a ParityTask; got {type(run.task).__name__}.")


def _select_steps(all_steps, steps) -> list[int]:
    all_steps = sorted(int(s) for s in all_steps)
    if not all_steps:
        raise ValueError("run has no checkpoints (run.steps is empty).")
    if steps is None:
        return all_steps
    if isinstance(steps, tuple) and len(steps) == 2 and all(s is None or isinstance(s, Real) for s in steps):
        lo = -math.inf if steps[0] is None else steps[0]
        hi = math.inf if steps[1] is None else steps[1]
        out = [s for s in all_steps if lo <= s <= hi]
        if not out:
            raise ValueError(f"steps window {steps!r} holds no checkpoint; available {all_steps}.")
        return out
    try:
        req = [int(s) for s in steps]
    except TypeError:
        raise TypeError(f"steps must be None, a (lo, hi) window or a list of checkpoint steps; got {steps!r}.") from None
    missing = sorted(set(req) - set(all_steps))
    if missing:
        raise ValueError(f"steps {missing} are not checkpoints of this run; available {all_steps}.")
    return sorted(set(req))


class _Forward:
    """p(x) for one checkpoint; batched forward without grad when the run exposes load_model."""

    def __init__(self, run, x: np.ndarray, device, batch_size: int):
        self.run, self.x, self.batch_size = run, x, batch_size
        self.use_model = hasattr(run, "load_model") and device is not None
        if self.use_model:
            import torch

            from .devices import resolve_device

            self.torch = torch
            self.device = resolve_device(device)
            self.xt = torch.from_numpy(x).to(self.device, torch.float32)

    def __call__(self, step: int) -> np.ndarray:
        if not self.use_model:
            p = np.asarray(self.run.predict_proba(step, self.x), dtype=np.float64)
        else:
            torch = self.torch
            model = self.run.load_model(step, self.device)
            if hasattr(model, "eval"):
                model.eval()
            outs = []
            with torch.inference_mode():
                for i in range(0, self.xt.shape[0], self.batch_size):
                    logits = model(self.xt[i:i + self.batch_size])
                    if logits.ndim == 3:
                        if logits.shape[0] != 1:
                            raise ValueError(f"probe expects a single teacher per run (ensemble size 1); "
                                             f"got logits of shape {tuple(logits.shape)}.")
                        logits = logits[0]
                    outs.append(torch.softmax(logits.float(), dim=-1)[:, 1])
            p = torch.cat(outs).cpu().numpy().astype(np.float64)
        if p.shape != (self.x.shape[0],):
            raise ValueError(f"predict_proba must return shape ({self.x.shape[0]},); got {p.shape} at step {step}.")
        if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
            raise ValueError(f"predict_proba must return probabilities in [0, 1]; got range "
                             f"[{np.nanmin(p)}, {np.nanmax(p)}] at step {step}.")
        return p


def _subset_plan(task: ParityTask, off_support_per_degree: int, rng: np.random.Generator, degrees):
    """In-support subsets (from the 2^k spectrum order) and R off-support subsets per degree."""
    S = task.support
    k = task.k
    in_rows = []  # (spectrum index b, degree, subset)
    for b in range(1, 1 << k):
        T = tuple(S[i] for i in range(k) if b >> i & 1)
        if len(T) in degrees:
            in_rows.append((b, len(T), T))
    off = []
    for d in degrees:
        if off_support_per_degree > 0:
            for T in random_off_support_subsets(task.n, S, d, off_support_per_degree, rng, allow_fewer=True):
                off.append((d, T))
    return in_rows, off


_MATMUL_MAX_BYTES = 512 * 2**20  # chi matrix (J, m) float32 above this -> the Numba kernels


class _Prober:
    """Correlations of many outputs f with a fixed set of J subsets on fixed samples x.

    method "matmul": builds chi (J, m) float32 once (4 J m bytes), then each f costs one
    mat-vec: mean = chi @ f / m, stderr = sqrt((mean(f^2) - mean^2) m / (m - 1)) / sqrt(m) — the
    estimator of parity_theory.fourier.correlations. method "kernel": the Numba kernels of
    parity_theory.fourier — support_spectrum for the in-support rows (all 2^k in one pass, when
    ``support``/``in_b`` are given) and correlations for the rest.
    "auto": matmul when probing >= 4 outputs and chi fits in 512 MiB (the build amortises), else kernel.
    """

    def __init__(self, x: np.ndarray, mask: np.ndarray, method: str = "auto", n_outputs: int = 1,
                 support: Sequence[int] | None = None, in_b: np.ndarray | None = None):
        if method not in ("auto", "matmul", "kernel"):
            raise ValueError(f"method must be 'auto', 'matmul' or 'kernel'; got {method!r}.")
        self.x, self.mask = x, mask
        # kernel path: the first len(in_b) rows are in-support subsets, row i = spectrum entry in_b[i]
        self.support, self.in_b = support, (np.asarray(in_b, dtype=np.int64) if in_b is not None else None)
        m = x.shape[0]
        fits = 4 * mask.shape[0] * m <= _MATMUL_MAX_BYTES
        self.chi = None
        if method == "matmul" or (method == "auto" and fits and n_outputs >= 4):
            chi = np.empty((mask.shape[0], m), dtype=np.float32)
            sizes = mask.sum(1)
            xt = np.ascontiguousarray(x.T)  # (n, m): rows are coordinates
            for d in np.unique(sizes):  # one vectorised product per degree
                rows = np.flatnonzero(sizes == d)
                if d == 0:
                    chi[rows] = 1.0
                    continue
                idx = np.stack([np.flatnonzero(mask[r]) for r in rows])  # (J_d, d)
                acc = xt[idx[:, 0]]
                for c in range(1, d):
                    acc *= xt[idx[:, c]]
                chi[rows] = acc
            self.chi = chi

    def __call__(self, f: np.ndarray):
        m = f.shape[0]
        if self.chi is None:
            if self.support is None or self.in_b is None or len(self.in_b) == 0:
                est = correlations(f, self.x, self.mask)
                return np.asarray(est.mean), np.asarray(est.stderr)
            spec = support_spectrum(f, self.x, self.support)  # all 2^k in-support subsets, one pass
            n_in = len(self.in_b)
            parts_m, parts_s = [np.asarray(spec.mean)[self.in_b]], [np.asarray(spec.stderr)[self.in_b]]
            if self.mask.shape[0] > n_in:
                est = correlations(f, self.x, self.mask[n_in:])
                parts_m.append(np.asarray(est.mean))
                parts_s.append(np.asarray(est.stderr))
            return np.concatenate(parts_m), np.concatenate(parts_s)
        mean = (self.chi @ f.astype(np.float32)).astype(np.float64) / m
        s2 = float(np.dot(f, f)) / m
        var = np.maximum(s2 - mean * mean, 0.0) * (m / (m - 1))
        return mean, np.sqrt(var / m)


def _plan_table(task: ParityTask, in_rows, off):
    deg = np.array([r[1] for r in in_rows] + [d for d, _ in off], dtype=np.int64)
    insup = np.array([True] * len(in_rows) + [False] * len(off), dtype=bool)
    labels = [",".join(map(str, r[2])) for r in in_rows] + [",".join(map(str, T)) for _, T in off]
    mask = np.zeros((len(labels), task.n), dtype=bool)
    for j, T in enumerate([r[2] for r in in_rows] + [T for _, T in off]):
        mask[j, list(T)] = True
    return deg, insup, labels, mask


def probe_outputs(task: ParityTask, x, probas: dict, *, off_support_per_degree: int = 100,
                  rng: np.random.Generator | None = None, degrees: Sequence[int] | None = None,
                  center: bool = True, off_subsets=None, method: str = "auto",
                  _prober: "_Prober | None" = None) -> pd.DataFrame:
    """The probe table from precomputed outputs: ``probas[step]`` = p_t(x), shape (m,).

    Returns the tidy table of :func:`probe_run` (one row per step x subset). ``off_subsets``
    (list of (degree, T)) overrides the random draw; otherwise R per degree from ``rng``.
    method: "matmul" (chi matrix once, one mat-vec per step), "kernel" (parity_theory.fourier
    Numba kernels per step), "auto" (see _Prober).
    """
    x = np.ascontiguousarray(x, dtype=np.int8)
    m = x.shape[0]
    degrees = tuple(range(1, task.k + 1)) if degrees is None else tuple(int(d) for d in degrees)
    for d in degrees:
        if not 1 <= d <= task.k:
            raise ValueError(f"degrees must lie in [1, k] = [1, {task.k}]; got {d}.")
    if off_subsets is None:
        rng = check_generator(rng if rng is not None else np.random.default_rng(0))
        in_rows, off = _subset_plan(task, off_support_per_degree, rng, degrees)
    else:
        in_rows, _ = _subset_plan(task, 0, np.random.default_rng(0), degrees)
        off = list(off_subsets)
    deg, insup, labels, mask = _plan_table(task, in_rows, off)
    in_b = np.array([r[0] for r in in_rows], dtype=np.int64)
    prober = _prober if _prober is not None else _Prober(x, mask, method, n_outputs=len(probas),
                                                         support=task.support, in_b=in_b)
    y_class = (np.prod(x[:, list(task.support)], axis=1, dtype=np.int8) < 0)
    blocks = []
    for step in sorted(probas):
        p = np.asarray(probas[step], dtype=np.float64)
        if p.shape != (m,):
            raise ValueError(f"probas[{step}] must have shape ({m},); got {p.shape}.")
        f = p - p.mean() if center else p
        coef, se = prober(f)
        acc = float(np.mean((p > 0.5) == y_class))
        py = np.clip(np.where(y_class, p, 1 - p), 1e-12, 1.0)
        loss = float(-np.mean(np.log(py)))
        blocks.append(pd.DataFrame({
            "step": np.full(len(coef), int(step), dtype=np.int64), "accuracy": acc, "loss": loss,
            "degree": deg, "in_support": insup, "T": labels, "coef": coef, "corr": np.abs(coef), "stderr": se,
        }))
    table = pd.concat(blocks, ignore_index=True)
    table.attrs.update(n=task.n, k=task.k, support=list(task.support), samples=m, center=center)
    return table


def probe_run(run, samples: int = 100_000, off_support_per_degree: int = 100, seed: int = 0,
              steps=None, device: str | None = "cpu", *, degrees: Sequence[int] | None = None,
              center: bool = True, batch_size: int = 8192, method: str = "auto") -> pd.DataFrame:
    """Probe every checkpoint of ``run`` (or those in ``steps``: a list, or a (lo, hi) window).

    The same N = ``samples`` fresh samples (from ``seed``) and the same off-support subsets serve
    every checkpoint. Forward passes are batched (``batch_size``) under inference mode when the
    run exposes ``load_model``; ``device=None`` forces ``run.predict_proba``.
    Returns a DataFrame with columns step, accuracy, loss (teacher accuracy and cross-entropy on
    the probe samples), degree, in_support, T ("i,j,..."), coef (signed), corr = |coef|, stderr.
    """
    _check_run(run)
    samples = check_int(samples, "samples", lo=2)
    off_support_per_degree = check_int(off_support_per_degree, "off_support_per_degree", lo=0)
    seed = check_int(seed, "seed", lo=0)
    batch_size = check_int(batch_size, "batch_size")
    chosen = _select_steps(run.steps, steps)
    rng = np.random.default_rng(seed)
    x, _ = run.task.sample(samples, rng)
    fwd = _Forward(run, x, device, batch_size)
    degrees_t = tuple(range(1, run.task.k + 1)) if degrees is None else tuple(int(d) for d in degrees)
    in_rows, off = _subset_plan(run.task, off_support_per_degree, rng, degrees_t)
    prober = _Prober(x, _plan_table(run.task, in_rows, off)[3], method, n_outputs=len(chosen),
                     support=run.task.support, in_b=np.array([r[0] for r in in_rows], dtype=np.int64))
    tables = []
    for step in chosen:  # one checkpoint at a time keeps memory at O(N + J N)
        tables.append(probe_outputs(run.task, x, {step: fwd(step)}, degrees=degrees_t, center=center,
                                    off_subsets=off, _prober=prober))
    table = pd.concat(tables, ignore_index=True)
    table.attrs.update(n=run.task.n, k=run.task.k, support=list(run.task.support), samples=samples,
                       center=center, seed=seed, off_support_per_degree=off_support_per_degree)
    return table


def write_parquet(table: pd.DataFrame, path) -> Path:
    """Write ``table`` to Parquet atomically (see :mod:`curriculum.io`); its attrs are dropped."""
    t = table.copy()
    t.attrs = {}
    return atomic_write_parquet(path, t, index=False)
