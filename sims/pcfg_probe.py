"""Probes of PCFG and text checkpoints (Panigrahi et al., ICLR 2025, §5; docs/paper.md §5, docs/pcfg.md,
docs/text.md).

* n-gram dependence: M_robust and M_close (``sims.pcfg.ngram_dependence``, the one owner of that
  math) of every checkpoint, with the checkpoint's masked-token distribution as ``predict``:
  softmax of the logits over the vocabulary at every position, (B, T) token ids -> (B, T, V).
  The probe strings (``probe_tokens``) are, for PCFG, BOS + the first W terminals of fresh strings
  from a fixed seed; for text, held-out windows chosen by a fixed seed. The probed positions are
  drawn once, so every checkpoint is measured on the same positions.
  ``ngram_table`` -> step, span, kind, median, q25, q75, count.
* non-terminal probe (PCFG only: text has no parse tree): a linear (multinomial logistic) probe on the frozen last hidden layer
  (``EnsembleSequenceTransformer.hidden``, before the final LayerNorm) of the unmasked input
  predicts, for each terminal and depth d (d = 1 .. depth - 1), its ancestor at depth d (target
  "ancestor") and whether it ends that ancestor's span (target "span_end", 0/1); trained on one
  set of strings (L-BFGS, L2 penalty ``l2`` * ||W||^2), scored on another. ``nt_table`` -> step,
  level, target, accuracy, majority (the accuracy of always predicting the training set's most
  frequent label). ``StudentNTProbe`` is the same probe on the students while they train
  (``train_students(..., probes=[...])``): every member's hidden states from one forward of the
  ensemble, then the same per-member probe; -> strategy, seed, step, level, target, accuracy,
  majority (nt.parquet).
* ``cli_main``: ``pdistill probe RUN_DIR --out OUT`` for a PCFG or text teacher run (``sims.probe``
  hands them over): ngram.parquet, nt.parquet (PCFG, unless ``--no-nt``), summary.json and
  phases.png (the held-out loss with its three phases, ``curriculum.loss_phases``, and the
  median M_robust of 3-grams per checkpoint).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from parity_theory.validation import check_int

from .distill import MemberProbe

__all__ = ["model_predictor", "probe_strings", "probe_tokens", "ngram_table", "nt_table", "linear_probe_accuracy", "plot_phases",
           "cli_main", "NGRAM_COLUMNS", "NT_COLUMNS", "STUDENT_NT_COLUMNS", "NT_TARGETS", "StudentNTProbe"]

NGRAM_COLUMNS = ["step", "span", "kind", "median", "q25", "q75", "count"]
NT_COLUMNS = ["step", "level", "target", "accuracy", "majority"]
STUDENT_NT_COLUMNS = ["strategy", "seed", "step", "level", "target", "accuracy", "majority"]
NT_TARGETS = ("ancestor", "span_end")  # the token's ancestor at the level; whether the token ends that ancestor's span


def model_predictor(model: torch.nn.Module, member: int = 0, batch_size: int = 1024) -> Callable[[np.ndarray], np.ndarray]:
    """``predict(tokens (B, T) int) -> (B, T, V) float64``: member ``member``'s softmax over the vocabulary."""
    dev = next(model.parameters()).device

    @torch.no_grad()
    def predict(tokens: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        out = [torch.softmax(model(x[s:s + batch_size].to(dev))[member].double(), -1).cpu()
               for s in range(0, x.shape[0], batch_size)]
        return torch.cat(out).numpy()

    return predict


def probe_strings(task, count: int, seed: int, labels: bool = False):
    """(tokens (count, T) int64 = BOS + W terminals + PAD, the GrammarSample) from ``seed``."""
    sample = task.grammar.sample(check_int(count, "count"), np.random.default_rng(seed), labels=labels)
    return task.layout.batch(sample.tokens, length=task.seq_len), sample


def probe_tokens(task, count: int, seed: int) -> np.ndarray:
    """(count', T) int64 probe inputs of a sequence task: PCFG ``probe_strings``; text: the held-out
    windows at the first count' = min(count, N_eval) places of a permutation from ``seed``."""
    from .tasks import TextTask

    count = check_int(count, "count")
    if isinstance(task, TextTask):
        rows = np.random.default_rng(seed).permutation(len(task.eval))[:count]
        return np.asarray(task.eval.tokens[np.sort(rows)], dtype=np.int64)
    return probe_strings(task, count, seed)[0]


def _steps(run, steps: Sequence[int] | None) -> list[int]:
    return list(run.steps) if steps is None else [run._check_step(s) for s in steps]


def ngram_table(run, *, sequences: int = 64, positions_per_sequence: int = 8, spans=(3, 5), seed: int = 0,
                steps: Sequence[int] | None = None, device="cpu") -> pd.DataFrame:
    """M_robust / M_close summaries (median, quartiles) per checkpoint of a PCFG or text teacher run."""
    from .pcfg import ngram_dependence

    task = _sequence_task(run)
    tokens = probe_tokens(task, sequences, seed)
    rows = []
    for step in _steps(run, steps):
        model = run.load_model(step, device)
        dep = ngram_dependence(model_predictor(model), tokens, task.layout, spans=spans,
                               positions_per_sequence=positions_per_sequence, rng=np.random.default_rng(seed + 1))
        summ = dep.summary()
        summ.insert(0, "step", int(step))
        rows.append(summ)
    return pd.concat(rows, ignore_index=True)[NGRAM_COLUMNS]


def linear_probe_accuracy(train_x: torch.Tensor, train_y: np.ndarray, test_x: torch.Tensor, test_y: np.ndarray,
                          l2: float = 1e-3, max_iter: int = 200) -> float:
    """Held-out accuracy of a multinomial logistic regression (bias included) fitted by L-BFGS on
    mean cross-entropy + l2 * ||W||^2; features standardised with the training mean and std."""
    classes, yi = np.unique(train_y, return_inverse=True)
    mu, sd = train_x.mean(0), train_x.std(0).clamp_min(1e-6)
    xtr = ((train_x - mu) / sd).double()
    xte = ((test_x - mu) / sd).double()
    y = torch.as_tensor(yi)
    W = torch.zeros(xtr.shape[1], len(classes), dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(classes), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, b], max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xtr @ W + b, y) + l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = classes[(xte @ W + b).argmax(1).numpy()]
    return float((pred == np.asarray(test_y)).mean())


class _NTProbeData:
    """The fixed probe strings of the non-terminal probe: train / test token batches (BOS + W
    terminals) and their samples (ancestors) from seeds ``seed`` / ``seed + 7919``, and the levels
    probed (default 1 .. depth - 1)."""

    def __init__(self, task, train_sequences: int, test_sequences: int, seed: int, levels: Sequence[int] | None):
        self.task = task
        self.train_tokens, self.train = probe_strings(task, train_sequences, seed, labels=True)
        self.test_tokens, self.test = probe_strings(task, test_sequences, seed + 7919, labels=True)
        depth = self.train.flat_ancestors.shape[1]
        if depth < 2:
            raise ValueError(f"the non-terminal probe needs a grammar of depth >= 2 (ancestors below the start symbol); got depth {depth}.")
        self.levels = list(range(1, depth)) if levels is None else \
            [check_int(v, "level", lo=1, hi=depth - 1) for v in levels]

    def rows(self, model, members: Sequence[int] = (0,)) -> list[tuple[int, int, str, float, float]]:
        """(member, level, target, accuracy, majority) for each of ``members`` of ``model``, level and
        target (NT_TARGETS): hidden states of every member from one forward per batch, then one probe
        per member, level and target; majority = the test share of the training set's most frequent label."""
        xtr, ytr = _nt_features(model, self.task, self.train_tokens, self.train)
        xte, yte = _nt_features(model, self.task, self.test_tokens, self.test)
        out = []
        for lv in self.levels:
            for target in NT_TARGETS:
                a, b = ytr[target][:, lv], yte[target][:, lv]
                vals, counts = np.unique(a, return_counts=True)
                majority = float((b == vals[counts.argmax()]).mean())
                for e in members:
                    acc = linear_probe_accuracy(xtr[e], a, xte[e], b) if len(vals) > 1 else majority
                    out.append((int(e), int(lv), target, acc, majority))
        return out


def _nt_features(model, task, tokens: np.ndarray, sample, batch_size: int = 256) -> tuple[torch.Tensor, dict]:
    """Hidden states (E, N, d) of every member at every terminal of the window (N = terminals of all
    strings, float32 on the CPU; ``model.hidden`` (E, B, T, d)) and the labels of those tokens:
    {"ancestor": (N, D) int64 ancestor ids, "span_end": (N, D) int64 0/1 (the token ends its depth-d
    ancestor's span in the whole string)}."""
    dev = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
    with torch.no_grad():
        h = torch.cat([model.hidden(x[s:s + batch_size].to(dev)).float().cpu()
                       for s in range(0, x.shape[0], batch_size)], dim=1)                 # (E, B, T, d)
    feats, anc, ends = [], [], []
    for i, (a, z) in enumerate(zip(sample.ancestors, sample.span_ends)):
        n = min(len(a), task.window)
        feats.append(h[:, i, 1:1 + n])
        anc.append(a[:n])
        ends.append(z[:n])
    return torch.cat(feats, dim=1), {"ancestor": np.concatenate(anc).astype(np.int64),
                                     "span_end": np.concatenate(ends).astype(np.int64)}


def nt_table(run, *, train_sequences: int = 128, test_sequences: int = 64, seed: int = 0,
             steps: Sequence[int] | None = None, levels: Sequence[int] | None = None, device="cpu") -> pd.DataFrame:
    """Non-terminal probe accuracy per checkpoint and ancestor depth (see the module docstring)."""
    data = _NTProbeData(_pcfg_task(run), train_sequences, test_sequences, seed, levels)
    rows = []
    for step in _steps(run, steps):
        model = run.load_model(step, device)
        for _, lv, target, acc, majority in data.rows(model, (0,)):
            rows.append({"step": int(step), "level": lv, "target": target, "accuracy": acc, "majority": majority})
    return pd.DataFrame(rows, columns=NT_COLUMNS)


class StudentNTProbe(MemberProbe):
    """The non-terminal probe of students during training (a ``sims.distill.MemberProbe``, name
    "nt"): at every due student step, the hidden states of all members from one forward of the
    ensemble on fixed probe strings (the same at every step), then ``linear_probe_accuracy`` per
    member of ``strategies`` (default all) and level. Rows: STUDENT_NT_COLUMNS.

    ``task``: the teacher's PCFG task (a ``PCFGTask``, its config, or a teacher run); ``every`` /
    ``steps``: the probed student steps (``MemberProbe``); ``train_sequences`` / ``test_sequences``
    / ``seed`` / ``levels``: as ``nt_table``."""

    name = "nt"
    columns = tuple(STUDENT_NT_COLUMNS)

    def __init__(self, task, *, every: int | None = None, steps: Sequence[int] | None = None,
                 strategies: Sequence[str] | None = None, train_sequences: int = 128, test_sequences: int = 64,
                 seed: int = 0, levels: Sequence[int] | None = None):
        super().__init__(every=every, steps=steps)
        o = "StudentNTProbe"
        if strategies is not None:
            if isinstance(strategies, str) or not all(isinstance(v, str) for v in strategies) or not strategies:
                raise TypeError(f"{o}.strategies must be None or a non-empty sequence of strategy names; got {strategies!r}.")
            strategies = tuple(strategies)
        self.strategies = strategies
        self.train_sequences = check_int(train_sequences, "train_sequences", owner=o)
        self.test_sequences = check_int(test_sequences, "test_sequences", owner=o)
        self.seed = check_int(seed, "seed", lo=0, owner=o)
        task = _pcfg_task(task) if hasattr(task, "out_dir") else _check_pcfg(task)
        self.data = _NTProbeData(task, self.train_sequences, self.test_sequences, self.seed, levels)

    def settings(self) -> dict:
        return {**super().settings(), "strategies": None if self.strategies is None else list(self.strategies),
                "train_sequences": self.train_sequences, "test_sequences": self.test_sequences, "seed": self.seed,
                "levels": list(self.data.levels)}

    def check_members(self, members: Sequence[tuple[str, int]]) -> None:
        trained = sorted({name for name, _ in members})
        missing = [s for s in (self.strategies or ()) if s not in trained]
        if missing:
            raise ValueError(f"StudentNTProbe.strategies names {missing}, which the students do not use; "
                             f"their strategies are {trained}.")

    def __call__(self, step: int, model, members: Sequence[tuple[str, int]]) -> list[dict]:
        chosen = [e for e, (name, _) in enumerate(members) if self.strategies is None or name in self.strategies]
        if not chosen:
            return []
        return [{"strategy": members[e][0], "seed": int(members[e][1]), "step": int(step), "level": lv, "target": target,
                 "accuracy": acc, "majority": majority} for e, lv, target, acc, majority in self.data.rows(model, chosen)]


def _check_pcfg(task):
    from .tasks import PCFGTask, as_task

    t = as_task(task)
    if not isinstance(t, PCFGTask):
        raise ValueError(f"the non-terminal probe needs a PCFG task (text and parity have no parse tree); got a {t.name!r} task.")
    return t


def _sequence_task(run, kinds=("pcfg", "text")):
    from .tasks import PCFGTask, TextTask, as_task

    task = as_task(run.task)
    classes = tuple(c for c in (PCFGTask, TextTask) if c.name in kinds)
    if not isinstance(task, classes):
        raise ValueError(f"these probes need a teacher run of task {' or '.join(kinds)} (pdistill teacher --task "
                         f"{kinds[0]}); {str(run.out_dir)!r} holds a {task.name!r} run.")
    return task


def _pcfg_task(run):
    return _sequence_task(run, ("pcfg",))


def plot_phases(history: pd.DataFrame, ngram: pd.DataFrame, path, phases=None) -> None:
    """Held-out loss (log-free axis) with the three phases shaded, and median M_robust(3) per checkpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curriculum.io import atomic_savefig

    h = history.dropna(subset=["loss"])
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(h.step, h.loss, color="k", label="held-out loss")
    ax.set_xlabel("teacher step")
    ax.set_ylabel("masked-token loss (nats)")
    if phases is not None:
        for (lo, hi), color, name in ((phases.flat, "0.9", "flat"), (phases.drop, "#fdd", "drop"), (phases.slow, "#ddf", "slow")):
            ax.axvspan(lo, hi, color=color, alpha=0.6, lw=0, label=name)
    ax2 = ax.twinx()
    for span, style in ((3, "-o"), (5, "--s")):
        r = ngram[(ngram.kind == "robust") & (ngram.span == span)].sort_values("step")
        if len(r):
            ax2.plot(r.step, r["median"], style, color="tab:red", ms=3, label=f"M_robust ({span}-gram)")
    ax2.set_ylabel("median M_robust", color="tab:red")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper right")
    ax.set_title("teacher loss phases and n-gram dependence")
    fig.tight_layout()
    atomic_savefig(fig, path)


def cli_main(argv=None) -> int:
    """pdistill probe RUN_DIR --out OUT for a PCFG teacher run (see the module docstring)."""
    from curriculum.transition import loss_phases

    from curriculum.io import atomic_write_parquet, atomic_write_text, ensure_writable_dir
    from .train import TeacherRun

    ap = argparse.ArgumentParser(prog="pdistill probe", description="n-gram (and, for PCFG, non-terminal) probes of PCFG or text checkpoints.")
    ap.add_argument("run_dir", help="a PCFG or text teacher run directory (pdistill teacher --task pcfg|text --out DIR)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--sequences", type=int, default=64, help="probe strings / held-out text windows for the n-gram measures (default 64)")
    ap.add_argument("--positions", type=int, default=8, help="probed positions per string (default 8)")
    ap.add_argument("--nt-train", type=int, default=128, help="strings to fit the non-terminal probe (default 128)")
    ap.add_argument("--no-nt", action="store_true", help="skip the non-terminal probe (always skipped for text)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    try:
        for name in ("sequences", "positions", "nt_train"):
            check_int(getattr(args, name), name.replace("_", "-"), owner="pdistill probe")
        ensure_writable_dir(args.out, "--out")
        run = TeacherRun.load(args.run_dir)
        task = _sequence_task(run)
        t0 = time.perf_counter()
        ngram = ngram_table(run, sequences=args.sequences, positions_per_sequence=args.positions, seed=args.seed,
                            device=args.device)
        out = Path(args.out)
        atomic_write_parquet(out / "ngram.parquet", ngram)
        nt = None
        if not args.no_nt and task.name == "pcfg":
            nt = nt_table(run, train_sequences=args.nt_train, test_sequences=max(args.nt_train // 2, 1), seed=args.seed,
                          device=args.device)
            atomic_write_parquet(out / "nt.parquet", nt)
        wall = time.perf_counter() - t0
        h = run.history.dropna(subset=["loss"])
        phases = loss_phases(h.step.to_numpy(), h.loss.to_numpy()) if len(h) >= 3 else None
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"pdistill probe: error: {exc}", file=sys.stderr)
        return 2
    rob3 = ngram[(ngram.kind == "robust") & (ngram.span == 3)].sort_values("step")
    peak = rob3.loc[rob3["median"].idxmax()]
    summary = {"run_dir": str(args.run_dir), "probe_wall_s": round(wall, 3),
               "phases": None if phases is None else {**phases.to_dict(), "three_phases": phases.three_phases},
               "m_robust3_peak": {"step": int(peak.step), "median": float(peak["median"]),
                                  "phase": None if phases is None else phases.phase_of(int(peak.step))},
               "m_robust3_final": float(rob3["median"].iloc[-1])}
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2, default=float))
    plot_phases(run.history, ngram, out / "phases.png", phases)
    print(f"probed {ngram.step.nunique()} checkpoints in {wall:.1f}s; M_robust(3-gram) median peaks at step "
          f"{summary['m_robust3_peak']['step']} ({summary['m_robust3_peak']['median']:.3f}"
          + (f", phase {summary['m_robust3_peak']['phase']})" if phases is not None else ")")
          + f", final {summary['m_robust3_final']:.3f}")
    if phases is not None:
        print(f"loss phases: flat {phases.flat}, drop {phases.drop}, slow {phases.slow}; three phases: {phases.three_phases}")
    files = ["ngram.parquet"] + ([] if nt is None else ["nt.parquet"]) + ["summary.json", "phases.png"]
    print("wrote " + ", ".join(str(out / f) for f in files))
    return 0
