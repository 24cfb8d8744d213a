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

from ._claims import ClaimResult, Context, add_common_args, fmt, write_json_atomic, write_text_atomic

__all__ = ["CHECKS", "main_cli", "run_checks", "write_report", "claims_table", "paper_scale_estimate"]

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
]


# Cost model of the --scale paper estimate (stated assumptions, not measurements: no GPU was lent):
# one optimizer step costs STEP_OVERHEAD_S (kernel launches of a small batch-1 step) plus its FLOPs at
# GPU_FLOPS (sustained, small matrices). 6 FLOPs per parameter per sample (forward + backward).
STEP_OVERHEAD_S = 150e-6
GPU_FLOPS = 20e12


def _mlp_params(n: int, width: int) -> int:
    return n * width + width + 2 * width + 2


def _tf_params(n_heads: int, head_dim: int, n_layers: int) -> int:
    d = n_heads * head_dim
    return n_layers * 12 * d * d


def paper_scale_estimate(ctx: Context | None = None) -> str:
    """Itemized run-time estimate of --scale paper from its configurations and the cost model above."""
    lines = ["--scale paper: the paper's settings (MLP (n,k) = (100,6), teacher width 50,000, SGD batch 1, 20M steps;",
             "Transformer 2 layers, head dim 8, 32-head teacher / 4-head students, Adam, batch 32, 8M samples).",
             f"Estimated GPU run time (cost model: {STEP_OVERHEAD_S * 1e6:.0f} us per step + FLOPs at "
             f"{GPU_FLOPS / 1e12:.0f} TFLOP/s; an estimate, NOT a measurement):"]
    try:
        import argparse as _ap

        from . import _runs

        c = ctx or Context(_ap.Namespace(quick=False, scale="paper", device="cuda", no_progress=True, out="x",
                                         cache_dir=None, seeds=None, threads=1, transformer=True))
        cfg = _runs.configs(c)
        t, s = cfg["teacher"], cfg["student"]
        n = t.task.n
        S = len(s.seeds)
        tp, sp_ = _mlp_params(n, t.model.width), _mlp_params(n, s.model.width)

        def job(steps, batch, flops_per_sample):
            return steps * (STEP_OVERHEAD_S + batch * flops_per_sample / GPU_FLOPS)

        items = []
        items.append(("MLP teacher", job(t.steps, t.batch, 6 * tp)))
        # students: each member also needs a teacher forward (2 FLOPs/param) per sample
        items.append(("MLP students, 4 strategies", job(s.steps, s.batch, 4 * S * (6 * sp_ + 2 * tp))))
        items.append(("one-shot at tau 0.5 and argmax", 2 * job(s.steps, s.batch, 2 * S * (6 * sp_ + 2 * tp))))
        items.append(("2-shot sweep (CE + ~10 checkpoints)", job(s.steps, s.batch, 11 * S * (6 * sp_ + 2 * tp))))
        items.append(("spike probe (200 checkpoints x 1e5 samples, 3 teachers)", 3 * 200 * 1e5 * 2 * tp / GPU_FLOPS
                      + 2 * job(t.steps, t.batch, 6 * tp)))
        for nn in cfg["scaling_n"]:
            tn, sn = cfg["scaling"](nn)
            items.append((f"scaling n={nn}: teacher + CE/2-shot students",
                           job(tn.steps, tn.batch, 6 * _mlp_params(nn, tn.model.width))
                           + job(sn.steps, sn.batch, 2 * S * (6 * _mlp_params(nn, sn.model.width)
                                                              + 2 * _mlp_params(nn, tn.model.width)))))
        tt, ts = _runs.transformer_configs(c)
        tok = tt.task.n + 1
        items.append(("Transformer teacher", job(tt.steps, tt.batch, 6 * tok * _tf_params(tt.model.n_heads, tt.model.head_dim, tt.model.n_layers))))
        items.append(("Transformer students, 4 strategies", job(ts.steps, ts.batch, 4 * S * tok * (
            6 * _tf_params(ts.model.n_heads, ts.model.head_dim, ts.model.n_layers)
            + 2 * _tf_params(tt.model.n_heads, tt.model.head_dim, tt.model.n_layers)))))
        total = sum(v for _, v in items)
        for name, v in items:
            lines.append(f"  {name:<58} {v / 3600:6.1f} h")
        lines.append(f"  {'total':<58} {total / 3600:6.1f} h  (one GPU; the 2-core CPU of this project: months)")
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


def main_cli(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``pdistill reproduce``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="pdistill reproduce",
        description="Measure every claim of the paper on this machine and write REPORT.md, claims.json and figures.",
    )
    add_common_args(parser)
    parser.add_argument("--only", default=None, help="comma-separated subset of checks: " + ",".join(n for n, _ in CHECKS))
    parser.add_argument("--estimate", action="store_true", help="print the run-time estimate for --scale paper and exit")
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as e:  # argparse: --help -> 0, bad arguments -> 2
        return int(e.code or 0)
    if args.estimate:
        print(paper_scale_estimate())
        return 0
    if args.scale == "paper":
        print(paper_scale_estimate(), flush=True)
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    try:
        ctx = Context(args)
        if not (only and set(only) <= {"bounds", "two_stage"}):  # these two need no torch
            from sims.devices import resolve_device

            resolve_device(args.device)  # fail early and clearly on a bad device
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
