"""``pdistill reproduce``: every claim of the paper measured on this machine, one report.

Runs the checks in order (sharing teacher runs and student results through one Context), then
writes to --out: REPORT.md (claims table + a section per claim + figures), claims.json (a list of
objects with name, claim, claimed, measured, ratio, verdict, seeds, wall_s, details, figures, notes)
and the PNG figures; prints the claims table. Exit code: 0 when every check ran (whatever the
verdicts), 1 when a check raised an error (reported in REPORT.md and on stderr), 2 on bad arguments.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import os
import platform
import sys
import time
import traceback
from typing import Sequence

from curriculum.io import ensure_writable_dir

from ._claims import ClaimResult, Context, add_common_args, fmt, write_json_atomic, write_text_atomic

__all__ = ["CHECKS", "main_cli", "run_checks", "write_report", "claims_table", "paper_scale_estimate", "run_plan",
           "format_plan", "COST_MODEL", "MEASURED_CPU_S"]

# (name, module) in run order: the MLP checks that share the demo teacher first, then the rest.
CHECKS: list[tuple[str, str]] = [
    ("bounds", "paper_checks.check_bounds"),
    ("acceleration", "paper_checks.check_acceleration"),
    ("teacher_speed", "paper_checks.check_teacher_speed"),
    ("one_shot_vs_ce", "paper_checks.check_one_shot_vs_ce"),
    ("two_shot", "paper_checks.check_two_shot"),
    ("spike", "paper_checks.check_spike"),
    ("scaling", "paper_checks.check_scaling"),
    ("two_stage", "paper_checks.check_two_stage"),
    ("pcfg", "paper_checks.check_pcfg"),
    ("text", "paper_checks.check_text"),
]


# Cost model of the run plan (stated assumptions, not measurements): one optimizer step costs a fixed
# overhead (kernel launches / Python of a small step) plus its FLOPs at a sustained rate; 6 FLOPs per
# parameter per sample for a training step (forward + backward), 2 for a forward pass. Memory: fp32
# weights, gradients and two Adam moments (16 bytes per parameter and ensemble member) plus the
# activations kept for the backward pass of one batch (4 bytes each): 3 x width per example for an
# MLP; per token n_layers x (16 d + n_heads x tokens) for a Transformer (d = heads x head dim).
COST_MODEL = {  # device kind -> (overhead per step in s, sustained FLOP/s)
    "gpu": (150e-6, 20e12),
    "cpu": (200e-6, 35e9),
}
STEP_OVERHEAD_S, GPU_FLOPS = COST_MODEL["gpu"]
# Jobs whose wall time at the default CPU scale was measured (docs/text.md, "CPU scale": one fresh-cache
# `pdistill reproduce` with defaults on the idle 2-core machine, 2 torch threads); the CPU plan of that
# scale shows these seconds instead of the cost model's (which misses the text students' softmax over
# the vocabulary and the teacher forwards of several checkpoints per seed): job name -> seconds.
MEASURED_CPU_S = {
    "text teacher (BERT, masked LM)": 24.0,  # tokenizer training and window encoding included
    "text students, CE / one-shot / progressive / 3 x 2-shot": 160.0,
}


def _mlp_params(n: int, width: int) -> int:
    return n * width + width + 2 * width + 2


def _tf_params(n_heads: int, head_dim: int, n_layers: int) -> int:
    d = n_heads * head_dim
    return n_layers * 12 * d * d


def _tf_activations(model, tokens: int) -> int:
    """Floats a Transformer keeps per token for its backward pass: n_layers x (16 d + heads x tokens)."""
    d = model.n_heads * model.head_dim
    return model.n_layers * (16 * d + model.n_heads * tokens)


def run_plan(ctx: Context, kind: str | None = None) -> list[dict]:
    """One row per training job of ``ctx``'s scale: name, steps, batch, members, parameters per
    member, seconds and peak memory (bytes) estimated under COST_MODEL[kind] (default: "gpu" at
    --scale paper, "cpu" otherwise), and ``measured``: True where the seconds are MEASURED_CPU_S's
    (the CPU plan of the default CPU scale, 4 seeds, the built-in corpus), not an estimate."""
    from . import _runs

    kind = kind or ("gpu" if ctx.scale == "paper" else "cpu")
    overhead, flops = COST_MODEL[kind]
    cfg = _runs.configs(ctx)
    t, s = cfg["teacher"], cfg["student"]
    S = len(s.seeds)
    rows = []

    measured_scale = (kind == "cpu" and ctx.scale == "cpu" and not ctx.quick and ctx.n_seeds == 4  # as measured
                      and not getattr(ctx.args, "corpus", None))

    def job(name, steps, batch, members, params, activations, extra_params=0, extra_flops=0.0):
        """batch: examples (tokens for sequence models) per step; activations: floats kept per example."""
        secs = steps * (overhead + batch * members * (6 * params + 2 * extra_params) / flops) + extra_flops / flops
        measured = measured_scale and name in MEASURED_CPU_S
        mem = 16 * params * members + 4 * extra_params + 4 * batch * activations * members
        rows.append(dict(job=name, steps=int(steps), batch=int(batch), members=int(members), params=int(params),
                         seconds=float(MEASURED_CPU_S[name] if measured else secs), memory_bytes=int(mem),
                         measured=bool(measured)))

    n = t.task.n
    tp, sp_ = _mlp_params(n, t.model.width), _mlp_params(n, s.model.width)
    job("MLP teacher", t.steps, t.batch, 1, tp, 3 * t.model.width)
    job("MLP students, 4 strategies", s.steps, s.batch, 4 * S, sp_, 3 * s.model.width, extra_params=tp)
    job("one-shot at tau 0.5 and argmax", 2 * s.steps, s.batch, 2 * S, sp_, 3 * s.model.width, extra_params=tp)
    job("2-shot sweep (CE + ~10 checkpoints)", s.steps, s.batch, 11 * S, sp_, 3 * s.model.width, extra_params=tp)
    n_ckpt = max(1, t.steps // t.ckpt_every)
    job("spike: 2 more teachers + probe of every checkpoint (1e5 samples)", t.steps, t.batch, 2, tp, 3 * t.model.width,
        extra_flops=3 * n_ckpt * 1e5 * 2 * tp)
    for nn in cfg["scaling_n"]:
        tn, sn = cfg["scaling"](nn)
        job(f"scaling n={nn}: teacher", tn.steps, tn.batch, 1, _mlp_params(nn, tn.model.width), 3 * tn.model.width)
        job(f"scaling n={nn}: CE + 2-shot students", sn.steps, sn.batch, 2 * S, _mlp_params(nn, sn.model.width),
            3 * sn.model.width, extra_params=_mlp_params(nn, tn.model.width))
    if getattr(ctx.args, "transformer", None) is not False and not (ctx.quick and not ctx.args.transformer):
        tt, ts = _runs.transformer_configs(ctx)
        tok = tt.task.n + 1
        ttp = _tf_params(tt.model.n_heads, tt.model.head_dim, tt.model.n_layers)
        tsp = _tf_params(ts.model.n_heads, ts.model.head_dim, ts.model.n_layers)
        job("Transformer teacher", tt.steps, tt.batch * tok, 1, ttp, _tf_activations(tt.model, tok))
        job("Transformer students, 4 strategies", ts.steps, ts.batch * tok, 4 * S, tsp,
            _tf_activations(ts.model, tok), extra_params=ttp)
    def sequence_jobs(setting: str, teacher, student, tokens: int, vocab: int = 0):
        """Teacher + the 6 students of a sequence claim; ``vocab`` adds embedding and output layers."""
        tp_ = _tf_params(teacher.model.n_heads, teacher.model.head_dim, teacher.model.n_layers) \
            + 2 * vocab * teacher.model.n_heads * teacher.model.head_dim
        sp2 = _tf_params(student.model.n_heads, student.model.head_dim, student.model.n_layers) \
            + 2 * vocab * student.model.n_heads * student.model.head_dim
        job(f"{setting} teacher (BERT, masked LM)", teacher.steps, teacher.batch * tokens, 1, tp_,
            _tf_activations(teacher.model, tokens))
        job(f"{setting} students, CE / one-shot / progressive / 3 x 2-shot", student.steps, student.batch * tokens,
            6 * S, sp2, _tf_activations(student.model, tokens), extra_params=tp_)

    names = {name for name, _ in CHECKS}
    if "pcfg" in names:
        from .check_pcfg import pcfg_configs

        pc = pcfg_configs(ctx)
        sequence_jobs("PCFG", pc["teacher"], pc["student"], pc["teacher"].task.window + 1)
    if "text" in names:
        from .check_text import text_configs

        xc = text_configs(ctx)
        sequence_jobs("text", xc["teacher"], xc["student"], xc["teacher"].task.window,
                      vocab=xc["teacher"].task.vocab_size + 4)
    return rows


def format_plan(rows: Sequence[dict], kind: str) -> str:
    """The plan as a fixed-width table with a total line."""
    overhead, flops = COST_MODEL[kind]
    lines = [f"Estimated cost per job on one {kind.upper()} (cost model: {overhead * 1e6:.0f} us per step + FLOPs at "
             f"{flops / 1e9:,.0f} GFLOP/s; an estimate, NOT a measurement):",
             f"  {'job':<66} {'steps':>10} {'members':>8} {'params/member':>14} {'time':>9} {'memory':>9}"]
    for r in rows:
        mark = "*" if r.get("measured") else " "
        lines.append(f"  {r['job']:<66} {r['steps']:>10,} {r['members']:>8} {r['params']:>14,} "
                     f"{_human_time(r['seconds']):>8}{mark} {r['memory_bytes'] / 2**30:>7.2f} GB")
    total = sum(r["seconds"] for r in rows)
    peak = max((r["memory_bytes"] for r in rows), default=0)
    lines.append(f"  {'total (sequential)':<66} {'':>10} {'':>8} {'':>14} {_human_time(total):>9} "
                 f"{peak / 2**30:>7.2f} GB peak")
    if any(r.get("measured") for r in rows):
        lines.append("  * measured, not estimated: wall time of one fresh-cache run on the shared 2-core development "
                     "machine, idle, 2 torch threads (docs/text.md)")
    return "\n".join(lines)


def _human_time(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def paper_scale_estimate(ctx: Context | None = None) -> str:
    """The plan of --scale paper (the paper's settings) with its GPU estimate."""
    lines = ["--scale paper: the paper's settings (MLP (n,k) = (100,6), teacher width 50,000, SGD batch 1, 20M steps;",
             "Transformer 2 layers, head dim 8, 32-head teacher / 4-head students, Adam, batch 32, 8M samples)."]
    try:
        c = ctx or Context(argparse.Namespace(quick=False, scale="paper", device="cuda", no_progress=True, out="x",
                                              cache_dir=None, seeds=None, threads=1, transformer=True))
        lines.append(format_plan(run_plan(c, "gpu"), "gpu"))
    except Exception as e:  # the estimate must never block the run
        lines.append(f"  (estimate unavailable: {type(e).__name__}: {e})")
    return "\n".join(lines)


def claims_table(results: Sequence[ClaimResult], errors: dict | None = None) -> str:
    """The claims table in Markdown."""
    lines = [
        "| claim | paper | measured | ratio | verdict | seeds | wall (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        seeds = f"{len(r.seeds)}" if r.seeds else "–"
        lines.append(
            f"| **{r.name}**: {r.claim} | {_cell(r.claimed)} | {_cell(r.measured)} | {fmt(r.ratio)} | "
            f"**{r.verdict}** | {seeds} | {r.wall_s:.1f} |"
        )
    for name, msg in (errors or {}).items():
        lines.append(f"| **{name}** | – | ERROR: {_cell(msg.splitlines()[-1] if msg else '')} | – | **error** | – | – |")
    return "\n".join(lines)


def _cell(x) -> str:
    s = fmt(x) if not isinstance(x, str) else x
    return s.replace("|", "/").replace("\n", " ")


def run_checks(ctx: Context, only: Sequence[str] | None = None) -> tuple[list[ClaimResult], dict[str, str]]:
    """Run the checks (all, or those named in ``only``) with ctx; returns (results, errors by check)."""
    from tqdm.auto import tqdm

    names = [n for n, _ in CHECKS]
    if only:
        unknown = [o for o in only if o not in names]
        if unknown:
            raise ValueError(f"--only must name checks among {names}; got {unknown}.")
    todo = [(n, m) for n, m in CHECKS if not only or n in only]
    results: list[ClaimResult] = []
    errors: dict[str, str] = {}
    bar = tqdm(todo, desc="reproduce", unit="check", disable=not ctx.progress, leave=True)
    for name, module in bar:
        bar.set_postfix_str(name)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(module)
            out = mod.main(None, ctx=ctx)
            for r in out:
                if not isinstance(r, ClaimResult):
                    raise TypeError(f"{module}.main must return ClaimResult objects; got {type(r).__name__}.")
            results.extend(out)
        except Exception:  # report and go on: one broken check must not hide the others
            errors[name] = traceback.format_exc()
            print(f"\n[reproduce] check {name!r} failed after {time.perf_counter() - t0:.1f}s:\n{errors[name]}",
                  file=sys.stderr)
    return results, errors


def write_report(ctx: Context, results: Sequence[ClaimResult], errors: dict[str, str], wall_s: float) -> None:
    """Write REPORT.md and claims.json to ctx.out."""
    out = ctx.out
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "claims.json", [r.to_dict() for r in results])
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        import torch

        torch_v = torch.__version__
    except Exception:
        torch_v = "absent"
    mode = "quick" if ctx.quick else "default"
    lines = [
        "# Progressive distillation: the paper's claims measured on this machine",
        "",
        f"Generated {now} by `pdistill reproduce` ({mode} mode, scale `{ctx.scale}`, device `{ctx.device}`, "
        f"{ctx.n_seeds} student seeds) in {wall_s:.0f} s on {platform.machine()} with {os.cpu_count()} CPU cores, "
        f"torch {torch_v}. Paper: Panigrahi et al., *Progressive distillation induces an implicit curriculum*, ICLR 2025.",
        "",
        "Verdicts: **holds** (the measured effect clears the threshold with its bootstrap interval), "
        "**does not hold** (it does not, at this scale), **inconclusive** (the interval straddles the threshold, "
        "or the check could not run at this scale). Ratios are speed-ups t95(baseline)/t95(method) paired by seed, "
        "a run that never reaches 95% counting as t95 = ∞. Nothing here is tuned to make a claim hold.",
        "",
        "## Claims",
        "",
        claims_table(results, errors),
        "",
    ]
    for r in results:
        lines += [f"## {r.name}", "", f"*Claim:* {r.claim}", "", f"*Paper:* {r.claimed}", "",
                  f"*Measured:* {fmt(r.measured) if not isinstance(r.measured, str) else r.measured} — "
                  f"ratio {fmt(r.ratio)} — **{r.verdict}** (seeds {list(r.seeds)}, {r.wall_s:.1f} s)", ""]
        if r.notes:
            lines += [r.notes, ""]
        short = {k: v for k, v in r.details.items() if len(repr(v)) <= 200}
        if short:
            lines += ["<details><summary>numbers (all of them in claims.json)</summary>", "", "```"]
            for k, v in short.items():
                lines.append(f"{k}: {fmt(v) if not isinstance(v, (str, dict)) else v}")
            lines += ["```", "", "</details>", ""]
        for f in r.figures:
            rel = os.path.relpath(f, out)
            lines += [f"![{r.name}]({rel})", ""]
    if errors:
        lines += ["## Errors", ""]
        for name, tb in errors.items():
            lines += [f"### {name}", "", "```", tb.rstrip(), "```", ""]
    write_text_atomic(out / "REPORT.md", "\n".join(lines))


def _check_text_args(ctx: Context, only: Sequence[str] | None, read: bool) -> None:
    """--corpus / --text-field: only with the text check selected, and a readable corpus with text
    (``check_text.check_corpus``; ``read``: tokenize and encode it too, into the cache). ValueError."""
    if getattr(ctx.args, "corpus", None) is None and getattr(ctx.args, "text_field", None) is None:
        return
    if only and "text" not in only:
        raise ValueError(f"--corpus and --text-field apply to the text check; --only {','.join(only)} leaves it out.")
    from .check_text import check_corpus

    check_corpus(ctx, read=read)


def main_cli(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pdistill reproduce``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="pdistill reproduce",
        description="Measure every claim of the paper on this machine and write REPORT.md, claims.json and figures.",
    )
    add_common_args(parser)
    parser.add_argument("--only", default=None, help="comma-separated subset of checks: " + ",".join(n for n, _ in CHECKS))
    parser.add_argument("--estimate", action="store_true", help="print the run-time estimate for --scale paper and exit")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan of the chosen scale (jobs, sizes, estimated time and memory) and exit; trains nothing")
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as e:  # argparse: --help -> 0, bad arguments -> 2
        return int(e.code or 0)
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    if args.estimate:
        print(paper_scale_estimate())
        return 0
    if args.dry_run:
        try:
            ctx = Context(args)
            _check_text_args(ctx, only, read=False)
            kind = "gpu" if args.scale == "paper" else "cpu"
            print(f"pdistill reproduce --scale {args.scale} (dry run: nothing is trained)")
            print(format_plan(run_plan(ctx, kind), kind))
        except ValueError as e:
            print(f"pdistill reproduce: {e}", file=sys.stderr)
            return 2
        return 0
    try:
        ctx = Context(args)
        ensure_writable_dir(ctx.out, "--out")  # before any work: a bad folder fails in a second, not after the compute
        ensure_writable_dir(ctx.cache_dir, "--cache-dir")
        _check_text_args(ctx, only, read=False)  # paths first (a second), the corpus's contents below
        if not (only and set(only) <= {"bounds", "two_stage"}):  # these two need no torch
            from sims.devices import resolve_device

            resolve_device(args.device)  # fail early and clearly on a bad device
        _check_text_args(ctx, only, read=True)  # a corpus without text fails before the other checks run
        if args.scale == "paper":
            print(paper_scale_estimate(), flush=True)
        t0 = time.perf_counter()
        results, errors = run_checks(ctx, only)
    except ValueError as e:
        print(f"pdistill reproduce: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - t0
    write_report(ctx, results, errors, wall)
    print()
    print(claims_table(results, errors))
    print(f"\nWrote {ctx.out / 'REPORT.md'} and {ctx.out / 'claims.json'} ({wall:.0f} s).")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main_cli())
