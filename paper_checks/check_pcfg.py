"""The PCFG claims (Panigrahi et al., ICLR 2025, §5; docs/paper.md §5): loss phases, n-gram
dependence, 2-shot distillation from the middle of the sharp loss drop, and the students'
non-terminal probe (progressive vs CE).

One masked-language-model teacher (a BERT-style encoder on BOS + a window of terminals of a
cfg3b grammar, started at a lower symbol at the CPU scale) is trained with a checkpoint grid;
students of fewer heads are distilled from it, every strategy x seed as one ensemble (paired:
per seed the same init and data stream). Quantities:

  unigram loss H_u = the held-out masked-token loss of the best context-free predictor, the
      cross-entropy of the empirical terminal frequencies of the eval set's targets (the flat
      phase sits at this level);
  phases = ``curriculum.loss_phases`` of the teacher's held-out loss, evaluations before the
      first one with loss <= H_u + 0.05 left out (the fall from the initial loss to the unigram
      level is not the paper's flat phase);
  M_robust(3) = the median over probed positions of the 3-gram M_robust of a checkpoint
      (``sims.pcfg_probe.ngram_table``), per checkpoint;
  mid = ``curriculum.Transition.from_history(history)`` (held-out loss, steepest fall) snapped to
      the checkpoint grid — the 2-shot default everywhere — on the evaluations the phases read
      (from the unigram level on; on the whole history the fall from the initial loss to the
      unigram level is the steepest, which is not phase 2); flat_ckpt / slow_ckpt = the
      checkpoints nearest the middle of the flat / slow phase;
  d_X = final held-out loss of student X minus that of 2-shot@mid, per seed (> 0: 2-shot@mid is
      better); median with a 90% bootstrap interval over seeds (``curriculum.compare.median_ci``);
  e_X = a(2-shot@mid) - a_X with a_X the final held-out masked-token accuracy of student X, per
      seed (> 0: 2-shot@mid is better); median with a 90% bootstrap interval, as for d_X;
  half budget: loss and accuracy of every student at the evaluation nearest half the student
      steps, and d_X, e_X there — a second fixed budget, reported only (no verdict reads it).

Verdict rules (written before any run):
  pcfg_phases: holds when ``LossPhases.three_phases`` (flat and slow rates < 1/4 of the drop's);
      does not hold when the flat phase is empty (no plateau at the unigram level after the
      initial fall); else inconclusive.
  pcfg_ngram: holds when the M_robust(3) peak lies in the drop phase and the final checkpoint's
      value is <= 1/2 of the peak; does not hold when the peak lies in the flat phase or the final
      value is >= 0.9 of the peak (no fall); else inconclusive.
  pcfg_two_shot, loss rule: holds when the intervals of d_one_shot and d_ce lie above 0 and the
      medians of d_flat (2-shot from flat_ckpt) and d_slow (2-shot from slow_ckpt) are > 0; does
      not hold when the median of d_one_shot or of d_ce is <= 0; else inconclusive.
  pcfg_two_shot (the verdict; loss and accuracy): holds when the loss rule holds AND the medians
      of e_one_shot and e_ce are > 0; does not hold when the loss rule does not hold OR the medians
      of e_one_shot and e_ce are both < 0; else inconclusive. Precondition (added after the first
      text run, whose student budget equalled mid): the claim is tested only when the student
      budget exceeds mid, so that 2-shot@mid switches to the final teacher; otherwise 2-shot@mid
      is one-shot from the mid checkpoint and the verdict is inconclusive, with a note.
  pcfg_nt (PCFG only; the students of pcfg_two_shot, probed while they train by
      ``sims.pcfg_probe.StudentNTProbe``: the CE and progressive members at evenly spaced student
      steps, step 0 included for the record; fixed probe strings):
      A_X(s) = mean over probed student steps t > 0 and over probed levels of student X's NT-probe
      accuracy (seed s) for the token's ancestor;
      d_nt(s) = A_progressive(s) − A_ce(s); pcfg_nt holds when the 90% bootstrap interval of d_nt
      (median_ci) lies above 0; does not hold when the median of d_nt is <= 0; else inconclusive.
      The same mean for the span-end target (does the token end its ancestor's span; added to the
      probe later) is reported only, never judged.
Figures: the teacher's loss with its phases and M_robust(3) per checkpoint; student loss curves; 2-shot by
its first checkpoint (the paper's sweep: flat, mid, slow and the final step = one-shot);
NT-probe accuracy per student step and strategy (median over seeds), one panel per level.
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd

from curriculum.transition import Transition, loss_phases, snap_to_checkpoint

from . import _runs
from ._claims import ClaimResult, Context, fmt, median_ci

__all__ = ["main", "pcfg_configs", "sequence_claims", "unigram_loss", "phases_verdict", "ngram_verdict",
           "two_shot_verdict", "two_shot_loss_verdict", "UNIGRAM_MARGIN", "PCFG_CLAIMS", "PCFG_NT_CLAIM",
           "nt_probe_settings", "nt_verdict", "nt_differences", "nt_claim"]

UNIGRAM_MARGIN = 0.05  # nats above the unigram loss where the flat phase may start


def pcfg_configs(ctx: Context) -> dict:
    """{"teacher": TeacherConfig, "student": StudentConfig, "probe": dict of ngram_table arguments}
    of ctx's scale (quick: a CI smoke test; cpu: the 2-core setting, docs/paper.md §5; paper: the
    paper's 4 layers, 32 vs 8 heads of dim 8, batch 512, cfg3b)."""
    from sims.config import ModelConfig, OptimConfig, StudentConfig, TeacherConfig
    from sims.tasks import PCFGTaskConfig

    seeds = ctx.seeds
    strategies = ("ce", "one_shot", "progressive", "two_shot")
    if ctx.scale == "paper":
        adamw = OptimConfig(name="adamw", lr=5e-3, beta2=0.95, schedule="warmup_cosine", warmup_frac=0.06)
        task = PCFGTaskConfig(grammar="cfg3b", window=512)
        teacher = TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=4, n_heads=32, head_dim=8),
                                optim=adamw, steps=8000, batch=512, ckpt_every=200, eval_every=200, eval_size=4096)
        student = StudentConfig(model=ModelConfig(arch="bert", n_layers=4, n_heads=8, head_dim=8), optim=adamw,
                                steps=8000, batch=512, eval_every=200, eval_size=4096, seeds=seeds,
                                strategies=strategies, progressive_interval=200, progressive_lookahead=1)
        return dict(teacher=teacher, student=student, probe=dict(sequences=256, positions_per_sequence=16))
    adamw = OptimConfig(name="adamw", lr=3e-3, beta2=0.95, schedule="warmup_cosine", warmup_frac=0.02)
    if ctx.quick:
        task = PCFGTaskConfig(grammar="cfg3b", start="16", window=16)
        teacher = TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=1, n_heads=4, head_dim=8),
                                optim=adamw, steps=120, batch=32, ckpt_every=20, eval_every=20, eval_size=256)
        student = StudentConfig(model=ModelConfig(arch="bert", n_layers=1, n_heads=1, head_dim=8), optim=adamw,
                                steps=60, batch=32, eval_every=20, eval_size=256, seeds=seeds, strategies=strategies,
                                progressive_interval=20)
        return dict(teacher=teacher, student=student, probe=dict(sequences=12, positions_per_sequence=4))
    task = PCFGTaskConfig(grammar="cfg3b", start="16", window=32)
    teacher = TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=4, n_heads=4, head_dim=8, init="gpt2"),
                            optim=adamw, steps=800, batch=64, ckpt_every=40, eval_every=20, eval_size=1024)
    student = StudentConfig(model=ModelConfig(arch="bert", n_layers=2, n_heads=2, head_dim=8, init="gpt2"), optim=adamw,
                            steps=500, batch=64, eval_every=50, eval_size=512, seeds=seeds, strategies=strategies,
                            progressive_interval=40)
    return dict(teacher=teacher, student=student, probe=dict(sequences=32, positions_per_sequence=8))


def phases_verdict(phases) -> str:
    """pcfg_phases rule (module docstring) on a ``curriculum.LossPhases``."""
    if phases.three_phases:
        return "holds"
    return "does not hold" if phases.flat[1] <= phases.flat[0] else "inconclusive"


def ngram_verdict(peak_phase: str, peak: float, last: float) -> str:
    """pcfg_ngram rule: the phase of the M_robust(3) peak, the peak and the final value."""
    if peak_phase == "drop" and last <= 0.5 * peak:
        return "holds"
    if peak_phase == "flat" or last >= 0.9 * peak:
        return "does not hold"
    return "inconclusive"


def two_shot_loss_verdict(d: dict, flat_is_mid: bool = False, slow_is_mid: bool = False) -> str:
    """The loss rule of pcfg_two_shot on d[key] = {"median", "lo", "hi"} for keys one_shot, ce, flat,
    slow (a control checkpoint that coincides with mid is not judged)."""
    if d["one_shot"]["median"] <= 0 or d["ce"]["median"] <= 0:
        return "does not hold"
    if (d["one_shot"]["lo"] > 0 and d["ce"]["lo"] > 0 and (flat_is_mid or d["flat"]["median"] > 0)
            and (slow_is_mid or d["slow"]["median"] > 0)):
        return "holds"
    return "inconclusive"


def two_shot_verdict(d: dict, e: dict, flat_is_mid: bool = False, slow_is_mid: bool = False,
                     mid_switches: bool = True) -> str:
    """pcfg_two_shot verdict (module docstring): the loss rule on ``d`` (:func:`two_shot_loss_verdict`)
    and the accuracy medians e["one_shot"]["median"], e["ce"]["median"] (e_X = a(2-shot@mid) - a_X);
    inconclusive when ``mid_switches`` is False (the student budget does not exceed mid)."""
    if not mid_switches:
        return "inconclusive"
    loss = two_shot_loss_verdict(d, flat_is_mid, slow_is_mid)
    e1, e2 = e["one_shot"]["median"], e["ce"]["median"]
    if loss == "does not hold" or (e1 < 0 and e2 < 0):
        return "does not hold"
    if loss == "holds" and e1 > 0 and e2 > 0:
        return "holds"
    return "inconclusive"


def unigram_loss(task, eval_data) -> float:
    """Cross-entropy of the empirical terminal frequencies of the eval set's targets (module docstring)."""
    y = eval_data.labels[eval_data.mask].numpy()
    p = np.bincount(y, minlength=task.layout.n_terminals) / len(y)
    return float(-(p[p > 0] * np.log(p[p > 0])).sum())


def _phases(hist: pd.DataFrame, h_u: float):
    reached = hist.step[hist.loss <= h_u + UNIGRAM_MARGIN]
    start = int(reached.iloc[0]) if len(reached) else int(hist.step.iloc[0])
    return loss_phases(hist.step.to_numpy(), hist.loss.to_numpy(), ignore_before=start), start


def _final_losses(summary: pd.DataFrame) -> pd.DataFrame:
    return summary.pivot_table(index="seed", columns="strategy", values="final_loss", aggfunc="first")


# The paper's statements of the three claims (docs/paper.md §5), per setting: claim and claimed text.
PCFG_CLAIMS = {
    "phases": ("the MLM teacher's loss has three phases: flat (at the unigram level), a sharp drop, a slow decay",
               "figure: flat ≈1.03 over 0–0.6k steps, sharp drop 0.6k–2k, slow decay 2k–8k (cfg3b, 32 heads)"),
    "ngram": ("the teacher's dependence on 3-grams (median M_robust) peaks inside the sharp loss drop and falls after it",
              "M_robust(3-gram) peaks ≈0.6–0.7 in the middle of phase 2 and is ≈5e-5 at the end"),
    "two_shot": (("2-shot from the mid-drop checkpoint gives a better student at a fixed budget than one-shot and CE, and "
                  "better than 2-shot from a checkpoint in phase 1 or phase 3"),
                 ("2-shot final accuracy by first checkpoint: 0.4k ≈0.85, 1k ≈0.925 (best), 2k ≈0.90, 8k (one-shot) ≈0.87; "
                  "at 2k student steps progressive 0.805, one-shot 0.77, CE 0.745")),
}


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> list[ClaimResult]:
    ctx = ctx or Context.from_argv(argv, "check_pcfg", __doc__.splitlines()[0])
    return sequence_claims(ctx, pcfg_configs(ctx), "pcfg", PCFG_CLAIMS)


def sequence_claims(ctx: Context, cfg: dict, setting: str, texts: dict) -> list[ClaimResult]:
    """The three claims of a masked-LM setting ("pcfg" or "text"), named ``<setting>_phases``,
    ``<setting>_ngram``, ``<setting>_two_shot``, by the quantities and verdict rules of the module
    docstring; ``cfg`` as :func:`pcfg_configs` returns it, ``texts[claim] = (claim, claimed)``."""
    from sims.distill import CE, OneShot, Progressive, TwoShot
    from sims.pcfg_probe import ngram_table, plot_phases
    from sims.tasks import as_task

    t0 = time.perf_counter()
    run = _runs.get_teacher(ctx, cfg["teacher"])
    t_teacher = time.perf_counter() - t0
    hist = _runs.teacher_history(run)
    task = as_task(run.task)
    h_u = unigram_loss(task, task.eval_set(cfg["teacher"].eval_size, cfg["teacher"].eval_seed))
    phases, ignore_before = _phases(hist, h_u)
    steps = _runs.checkpoint_steps(run)
    final = steps[-1]

    # ---- claim 1: three phases
    v1 = phases_verdict(phases)
    pd_ = phases.to_dict()
    res = [ClaimResult(
        name=f"{setting}_phases", claim=texts["phases"][0], claimed=texts["phases"][1],
        measured=(f"flat {phases.flat}, drop {phases.drop}, slow {phases.slow}; rates per 1k steps "
                  f"{1e3 * phases.flat_rate:.3f} / {1e3 * phases.drop_rate:.3f} / {1e3 * phases.slow_rate:.3f}"),
        ratio=(phases.drop_rate / max(phases.flat_rate, phases.slow_rate, 1e-12)), verdict=v1,
        seeds=(cfg["teacher"].seed,), wall_s=t_teacher,
        details=dict(phases=pd_, unigram_loss=h_u, ignore_before=ignore_before,
                     loss=hist.loss.round(4).tolist(), steps=hist.step.tolist()),
        notes=(f"Unigram loss H_u = {h_u:.4f}; evaluations before step {ignore_before} (first loss <= H_u + "
               f"{UNIGRAM_MARGIN}) left out. Ratio = drop rate / max(flat rate, slow rate) (three phases need > 4). "
               f"Teacher: {_describe(cfg['teacher'])}; final held-out loss {hist.loss.iloc[-1]:.4f}, masked-token "
               f"accuracy {hist.accuracy.iloc[-1]:.3f}."))]

    # ---- claim 2: M_robust(3) peaks in the drop and falls after it
    t1 = time.perf_counter()
    ngram = ctx.memoize(f"{setting}-ngram:" + run.config.hash(), lambda: ngram_table(run, device="cpu", **cfg["probe"]))
    rob = ngram[(ngram.kind == "robust") & (ngram.span == 3)].sort_values("step").reset_index(drop=True)
    ipk = int(rob["median"].idxmax())
    peak_step, peak = int(rob.step[ipk]), float(rob["median"][ipk])
    last = float(rob["median"].iloc[-1])
    peak_phase = phases.phase_of(peak_step) if peak_step >= ignore_before else "flat"
    v2 = ngram_verdict(peak_phase, peak, last)
    fig1 = ctx.figure_path(f"{setting}_phases.png")
    ctx.out.mkdir(parents=True, exist_ok=True)
    plot_phases(hist, ngram, fig1, phases)
    res.append(ClaimResult(
        name=f"{setting}_ngram", claim=texts["ngram"][0], claimed=texts["ngram"][1],
        measured=f"peak {peak:.3f} at step {peak_step} (phase {peak_phase}); final {last:.3f} (step {final})",
        ratio=last / peak if peak > 0 else None, verdict=v2, seeds=(cfg["teacher"].seed,),
        wall_s=time.perf_counter() - t1, figures=(str(fig1),),
        details=dict(m_robust3=dict(zip(rob.step.astype(int).tolist(), rob["median"].round(4).tolist())),
                     probe=cfg["probe"]),
        notes=("Ratio = final / peak median M_robust(3) (the claim needs <= 0.5). Per checkpoint (step: median): "
               + ", ".join(f"{int(s)}: {m:.3f}" for s, m in zip(rob.step, rob["median"])))))

    # ---- claim 3: 2-shot from the middle of the drop
    t2 = time.perf_counter()
    grid = [s for s in steps if 0 < s < final]
    after = hist[hist.step >= ignore_before]
    mid = Transition.from_history(after if len(after) >= 3 else hist).mid_checkpoint(grid)
    flat_ckpt = snap_to_checkpoint((max(phases.flat[0], ignore_before) + phases.flat[1]) / 2, grid)
    slow_ckpt = snap_to_checkpoint((phases.slow[0] + phases.slow[1]) / 2, grid)
    base = cfg["student"]
    firsts = sorted({mid, flat_ckpt, slow_ckpt})
    strategies = [CE(), OneShot(), Progressive(interval=base.progressive_interval)] + [
        TwoShot(name=f"two_shot@{s}", checkpoint=int(s)) for s in firsts]
    probes = [_nt_probe(run, ctx, base)] if setting == "pcfg" else None
    summary, curves, *tables = _runs.get_students(ctx, run, base.replace(strategies=("ce",)), label=f"{setting} students",
                                                  strategies=strategies, probes=probes)
    fl = _final_losses(summary)
    fa = summary.pivot_table(index="seed", columns="strategy", values="final_accuracy", aggfunc="first")
    half = _at_step(curves, base.steps / 2)
    hl = half.pivot_table(index="seed", columns="strategy", values="loss", aggfunc="first")
    ha = half.pivot_table(index="seed", columns="strategy", values="accuracy", aggfunc="first")
    half_step = int(half.step.iloc[0])
    mid_col = f"two_shot@{mid}"
    cols = (("one_shot", "one_shot"), ("ce", "ce"), ("progressive", "progressive"),
            ("flat", f"two_shot@{flat_ckpt}"), ("slow", f"two_shot@{slow_ckpt}"))

    def paired(table, sign: float, seed0: int) -> dict:
        """{key: per_seed, median, lo, hi} of sign * (table[col] - table[mid_col]) per seed."""
        out = {}
        for i, (key, col) in enumerate(cols):
            diff = sign * (table[col] - table[mid_col]).to_numpy()
            med, lo, hi = median_ci(diff, np.random.default_rng(seed0 + i))
            out[key] = dict(per_seed=diff.round(4).tolist(), median=med, lo=lo, hi=hi)
        return out

    d, e = paired(fl, 1.0, 0), paired(fa, -1.0, 100)  # d: loss(X) - loss(mid); e: acc(mid) - acc(X)
    d_half, e_half = paired(hl, 1.0, 200), paired(ha, -1.0, 300)
    ref, ref_acc = fl[mid_col], fa[mid_col]
    switches = base.steps > mid
    v3 = two_shot_verdict(d, e, flat_is_mid=flat_ckpt == mid, slow_is_mid=slow_ckpt == mid, mid_switches=switches)
    v3_loss = two_shot_loss_verdict(d, flat_is_mid=flat_ckpt == mid, slow_is_mid=slow_ckpt == mid)
    fig2 = _student_figure(curves, ctx.figure_path(f"{setting}_students.png"), f"{setting.upper()} students")
    fig3 = _first_checkpoint_figure(fl, fa, firsts, final, ctx.figure_path(f"{setting}_two_shot_sweep.png"),
                                    f"{setting.upper()}: 2-shot by its first checkpoint ({base.steps} student steps)")

    def ci(x: dict) -> str:
        return f"{x['median']:+.4f} [{x['lo']:+.4f}, {x['hi']:+.4f}]"

    lines = ["| student | final loss per seed | median | d = loss − 2-shot@mid: median [90% bootstrap] | "
             "final accuracy per seed | median | e = 2-shot@mid − accuracy: median [90% bootstrap] |",
             "|---|---|---|---|---|---|---|"]
    half_lines = [f"At half the budget (step {half_step}, reported only):", "",
                  "| student | median loss | d median [90%] | median accuracy | e median [90%] |", "|---|---|---|---|---|"]
    for col in fl.columns:
        key = next((k for k, c in cols if c == col), None)
        judged = key is not None and col != mid_col
        lines.append(f"| {col} | {fmt(fl[col].round(4).tolist())} | {fl[col].median():.4f} | "
                     f"{ci(d[key]) if judged else '–'} | {fmt(fa[col].round(4).tolist())} | {fa[col].median():.4f} | "
                     f"{ci(e[key]) if judged else '–'} |")
        half_lines.append(f"| {col} | {hl[col].median():.4f} | {ci(d_half[key]) if judged else '–'} | "
                          f"{ha[col].median():.4f} | {ci(e_half[key]) if judged else '–'} |")
    res.append(ClaimResult(
        name=f"{setting}_two_shot", claim=texts["two_shot"][0], claimed=texts["two_shot"][1],
        measured=(f"median final loss: 2-shot@{mid} {ref.median():.4f}, one-shot {fl['one_shot'].median():.4f}, "
                  f"CE {fl['ce'].median():.4f}, progressive {fl['progressive'].median():.4f}, "
                  f"2-shot@{flat_ckpt} (flat) {fl[f'two_shot@{flat_ckpt}'].median():.4f}, "
                  f"2-shot@{slow_ckpt} (slow) {fl[f'two_shot@{slow_ckpt}'].median():.4f}; "
                  f"median final accuracy: 2-shot@{mid} {ref_acc.median():.4f}, one-shot {fa['one_shot'].median():.4f}, "
                  f"CE {fa['ce'].median():.4f}; e_one_shot {ci(e['one_shot'])}, e_ce {ci(e['ce'])}"),
        ratio=d["one_shot"]["median"], verdict=v3, seeds=base.seeds, wall_s=time.perf_counter() - t2,
        figures=(fig2, fig3), details=dict(mid=mid, flat_ckpt=flat_ckpt, slow_ckpt=slow_ckpt, d=d, e=e, mid_switches=switches,
                                      loss_rule=v3_loss, half_step=half_step, d_half=d_half, e_half=e_half,
                                      final_accuracy={c: fa[c].round(4).tolist() for c in fa.columns}),
        notes=(("" if switches else f"Not tested: the student budget ({base.steps} steps) does not exceed mid ({mid}), so "
                f"2-shot@{mid} never switched to the final teacher (it is one-shot from checkpoint {mid}); inconclusive "
                f"by the precondition. ")
               + f"Ratio = median d_one_shot (nats; > 0: 2-shot@mid better). Loss rule alone: {v3_loss}. "
               f"Students: {_describe(base)}, {base.steps} steps; 2-shot uses its first checkpoint for as many student "
               f"steps as its step, then the final teacher. mid = steepest loss fall of the teacher "
               f"(curriculum.Transition).\n\n" + "\n".join(lines) + "\n\n" + "\n".join(half_lines))))
    if setting == "pcfg":
        res.append(nt_claim(ctx, tables[0]["nt"], base))
    return res


def _at_step(curves: pd.DataFrame, step: float) -> pd.DataFrame:
    """The rows of ``curves`` (strategy, seed, step, loss, accuracy) at the evaluation step nearest ``step``
    (the smaller one on a tie)."""
    evals = np.unique(curves.step.to_numpy())
    nearest = int(evals[np.argmin(np.abs(evals - step))])
    return curves[curves.step == nearest]


# ---- claim 4 (PCFG): the students' non-terminal probe, progressive vs CE
PCFG_NT_CLAIM = ("the progressive student's non-terminal probe accuracy rises faster than the CE student's",
                 "progressive students learn the non-terminal structure faster (a linear probe of the last hidden "
                 "layer predicts each token's ancestor per level; the paper gives no values)")


def nt_probe_settings(ctx: Context, student) -> dict:
    """``sims.pcfg_probe.StudentNTProbe`` arguments of ctx's scale: the CE and progressive members at
    9 evenly spaced student steps 0 .. student.steps; probe strings (train / test) 32 / 16 (quick),
    128 / 64 (cpu), 256 / 128 (paper)."""
    n_train = 256 if ctx.scale == "paper" else (32 if ctx.quick else 128)
    steps = sorted({int(round(v)) for v in np.linspace(0, student.steps, 9)})
    return dict(steps=steps, strategies=("ce", "progressive"), train_sequences=n_train, test_sequences=n_train // 2)


def _nt_probe(run, ctx: Context, student):
    from sims.pcfg_probe import StudentNTProbe

    return StudentNTProbe(run, **nt_probe_settings(ctx, student))


def nt_differences(nt: pd.DataFrame) -> pd.DataFrame:
    """Per seed (index): A_ce, A_progressive (mean NT-probe accuracy over probed steps t > 0 and
    levels) and d_nt = A_progressive - A_ce (module docstring)."""
    later = nt[nt.step > 0]
    a = later.groupby(["seed", "strategy"]).accuracy.mean().unstack("strategy")
    return pd.DataFrame({"A_ce": a["ce"], "A_progressive": a["progressive"], "d_nt": a["progressive"] - a["ce"]})


def nt_verdict(median: float, lo: float) -> str:
    """pcfg_nt rule: holds when the 90% interval of d_nt lies above 0 (lo > 0); does not hold when its median is <= 0."""
    if median <= 0:
        return "does not hold"
    return "holds" if lo > 0 else "inconclusive"


def _by_target(nt: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows of one probe target ("ancestor" or "span_end", sims.pcfg_probe.NT_TARGETS)."""
    return nt[nt.target == target]


def nt_claim(ctx: Context, nt_all: pd.DataFrame, student) -> ClaimResult:
    """The pcfg_nt claim from the students' NT-probe table (strategy, seed, step, level, target, accuracy,
    majority): judged on the ancestor target; the span-end target is reported only."""
    t0 = time.perf_counter()
    nt = _by_target(nt_all, "ancestor")
    ends = _by_target(nt_all, "span_end")
    d = nt_differences(nt)
    d_end = nt_differences(ends) if len(ends) else None
    med, lo, hi = median_ci(d.d_nt.to_numpy(), np.random.default_rng(7))
    verdict = nt_verdict(med, lo)
    fig = _nt_figure(nt_all, ctx.figure_path("pcfg_nt.png"))
    per_step = nt.groupby(["strategy", "step", "seed"]).accuracy.mean().groupby(["strategy", "step"]).median().unstack("step")
    majority = nt.groupby("level").majority.first()
    probe_wall = nt_all.attrs.get("wall_s")
    end_note = "" if d_end is None else (
        f" Span ends (reported only, no verdict): the same mean for the target 'the token ends its ancestor's span', "
        f"median A_ce {d_end.A_ce.median():.4f}, A_progressive {d_end.A_progressive.median():.4f}, d per seed "
        f"{fmt(d_end.d_nt.round(4).tolist())}; majority per level "
        + ", ".join(f"{int(k)}: {v:.3f}" for k, v in ends.groupby('level').majority.first().items()) + ".")
    lines = ["| strategy | " + " | ".join(f"step {int(c)}" for c in per_step.columns) + " |",
             "|---|" + "---|" * len(per_step.columns)]
    for name, row in per_step.iterrows():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row.values) + " |")
    wall_note = f"{probe_wall:.1f} s" if isinstance(probe_wall, (int, float)) else "not recorded"
    return ClaimResult(
        name="pcfg_nt", claim=PCFG_NT_CLAIM[0], claimed=PCFG_NT_CLAIM[1],
        measured=(f"median d_nt = A_progressive − A_ce {med:+.4f} [{lo:+.4f}, {hi:+.4f}] (90% bootstrap); median A_ce "
                  f"{d.A_ce.median():.4f}, A_progressive {d.A_progressive.median():.4f}"),
        ratio=med, verdict=verdict, seeds=tuple(int(s) for s in d.index),
        wall_s=(probe_wall if isinstance(probe_wall, (int, float)) else 0.0) + time.perf_counter() - t0,
        figures=(fig,),
        details=dict(d_nt=dict(per_seed=d.d_nt.round(4).tolist(), median=med, lo=lo, hi=hi),
                     A_ce=d.A_ce.round(4).tolist(), A_progressive=d.A_progressive.round(4).tolist(),
                     steps=sorted(int(s) for s in nt.step.unique()), levels=sorted(int(v) for v in nt.level.unique()),
                     majority={int(k): round(float(v), 4) for k, v in majority.items()}, probe_wall_s=probe_wall,
                     span_end=None if d_end is None else dict(A_ce=d_end.A_ce.round(4).tolist(),
                                                              A_progressive=d_end.A_progressive.round(4).tolist(),
                                                              d=d_end.d_nt.round(4).tolist())),
        notes=(f"Ratio = median d_nt (accuracy; > 0: the progressive student's probe is more accurate). A_X = mean over "
               f"probed student steps t > 0 and levels of the probe accuracy; per seed {list(d.index)}: d_nt "
               f"{fmt(d.d_nt.round(4).tolist())}. Probe: multinomial logistic regression on the students' last hidden "
               f"layer (sims.pcfg_probe.StudentNTProbe), fixed probe strings; majority-class accuracy per level "
               + ", ".join(f"{int(k)}: {v:.3f}" for k, v in majority.items())
               + f".{end_note} Time in the probe during student training: {wall_note}. Students: {_describe(student)}, "
               f"{student.steps} steps.\n\nMean probe accuracy over levels (median over seeds) per probed step:\n\n"
               + "\n".join(lines)))


def _nt_figure(nt: pd.DataFrame, path) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._claims import save_figure_atomic

    levels = sorted(int(v) for v in nt.level.unique())
    targets = [t for t in ("ancestor", "span_end") if len(_by_target(nt, t))]
    fig, axes = plt.subplots(len(targets), len(levels), figsize=(3.2 * len(levels) + 1, 3.3 * len(targets)),
                             squeeze=False, sharey="row")
    for row, target in zip(axes, targets):
        rows = _by_target(nt, target)
        for ax, lv in zip(row, levels):
            at = rows[rows.level == lv]
            for name, g in at.groupby("strategy", sort=False):
                m = g.groupby("step").accuracy.median()
                ax.plot(m.index, m.values, "-o", ms=3, label=name)
            ax.axhline(float(at.majority.iloc[0]), color="0.6", ls=":", lw=1, label="majority class")
            ax.set_title(f"{target.replace('_', ' ')}, level {lv}", fontsize=9)
            ax.set_xlabel("student step")
        row[0].set_ylabel(f"{target.replace('_', ' ')} probe accuracy")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle("PCFG students: non-terminal probe (median over seeds)")
    fig.tight_layout()
    save_figure_atomic(fig, path)
    return str(path)


def _describe(cfg) -> str:
    m = cfg.model
    parts = [f"{m.arch} {m.n_layers} layers x {m.n_heads} heads of {m.head_dim}", f"batch {cfg.batch}",
             f"{cfg.optim.name} lr {cfg.optim.lr:g}"]
    task = getattr(cfg, "task", None)
    if task is not None and hasattr(task, "grammar"):
        parts.insert(0, f"{task.grammar}" + (f" from {task.start}" if task.start else "") + f", window {task.window}")
    elif task is not None:
        parts.insert(0, f"corpus {task.corpus}, {task.tokenizer} V={task.vocab_size}, window {task.window}")
    if task is not None:
        parts.append(f"{cfg.steps} steps")
    return ", ".join(parts)


def _student_figure(curves: pd.DataFrame, path, title: str = "PCFG students") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._claims import save_figure_atomic

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, g in curves.groupby("strategy", sort=False):
        m = g.groupby("step")["loss"].median()
        ax.plot(m.index, m.values, label=name)
    ax.set_xlabel("student step")
    ax.set_ylabel("held-out masked-token loss (median over seeds)")
    ax.legend(fontsize=8)
    ax.set_title(title)
    save_figure_atomic(fig, path)
    return str(path)


def _first_checkpoint_figure(fl: pd.DataFrame, fa: pd.DataFrame, firsts, final: int, path, title: str) -> str:
    """The paper's sweep over 2-shot's first checkpoint: median (bars: quartiles over seeds) final
    loss and accuracy of 2-shot@s against s, one-shot at the final step (its only checkpoint), CE
    and progressive as horizontal lines. fl / fa: seed x strategy final loss / accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ._claims import save_figure_atomic

    cols = [f"two_shot@{s}" for s in firsts] + ["one_shot"]
    xs = list(firsts) + [final]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, table, label in ((axes[0], fl, "final held-out masked-token loss"), (axes[1], fa, "final masked-token accuracy")):
        med = [table[c].median() for c in cols]
        lo = [med[i] - table[c].quantile(0.25) for i, c in enumerate(cols)]
        hi = [table[c].quantile(0.75) - med[i] for i, c in enumerate(cols)]
        ax.errorbar(xs, med, yerr=[lo, hi], fmt="-o", color="tab:blue", capsize=3, label="2-shot@s (s = final: one-shot)")
        for name, style in (("ce", "--"), ("progressive", ":")):
            if name in table.columns:
                ax.axhline(table[name].median(), ls=style, color="0.4", label=name)
        ax.set_xlabel("first checkpoint s (teacher step)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure_atomic(fig, path)
    return str(path)


if __name__ == "__main__":
    import sys

    for r in main(sys.argv[1:]):
        print(r.name, r.verdict, r.measured, fmt(r.ratio))
