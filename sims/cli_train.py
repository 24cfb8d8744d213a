"""``pdistill teacher`` and ``pdistill student``: thin argparse front-ends to sims.train / sims.distill.

Settings come from defaults (docs/paper.md §3 tiny config), then ``--config FILE.toml`` (top level or a
[teacher] / [student] table, with [task] / [model] / [optim] sub-tables), then the flags given.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["teacher_main", "student_main"]


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--arch", choices=["mlp", "transformer", "bert", "gpt"],
                   help="model family (default mlp for parity, bert for pcfg)")
    g.add_argument("--width", type=int, help="MLP hidden width")
    g.add_argument("--depth", type=int, help="MLP hidden layers (default 1)")
    g.add_argument("--n-layers", type=int, help="Transformer layers")
    g.add_argument("--n-heads", type=int, help="Transformer heads")
    g.add_argument("--head-dim", type=int, help="Transformer head dimension (paper: 8)")
    g.add_argument("--readout", choices=["last", "cls"], help="Transformer class readout")
    g.add_argument("--mlp-ratio", type=int, help="Transformer MLP hidden size / d_model (default 4)")
    g.add_argument("--init", choices=["pytorch", "gpt2"], help="Transformer init (default pytorch; gpt2: N(0, 0.02))")


def _optim_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("optimizer")
    g.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], help="default adam")
    g.add_argument("--lr", type=float, help="learning rate (default 3e-3)")
    g.add_argument("--momentum", type=float, help="SGD momentum")
    g.add_argument("--weight-decay", type=float, help="weight decay")
    g.add_argument("--schedule", choices=["constant", "warmup_cosine"], help="learning-rate schedule")
    g.add_argument("--warmup-frac", type=float, help="warmup fraction (warmup_cosine)")
    g.add_argument("--grad-clip", type=float, help="max gradient norm per model")


def _common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, help="TOML file with the settings (flags override it)")
    p.add_argument("--batch", type=int, help="batch size (default 32)")
    p.add_argument("--steps", type=int, help="training steps")
    p.add_argument("--eval-every", type=int, help="evaluate every this many steps (default 100)")
    p.add_argument("--eval-size", type=int, help="held-out samples (default 4096)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: the machine's cores)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (they show only when stderr is a terminal)")


_LIST_OPTIONS = ("--support", "--seeds")  # values such as -1,2 must reach our own check, not argparse's


def _join_list_values(argv: list[str] | None) -> list[str]:
    """``--support -1,2`` -> ``--support=-1,2``: argparse takes a value starting with '-' for an option."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _LIST_OPTIONS and i + 1 < len(argv) and argv[i + 1].startswith("-") and argv[i + 1][1:2].isdigit():
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _parse(p: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add the options both commands share, parse, and apply --threads."""
    _common_args(p)
    _model_args(p)
    _optim_args(p)
    a = p.parse_args(_join_list_values(argv))
    if a.threads is not None and a.threads < 1:
        p.error(f"--threads must be a positive int; got {a.threads}")
    import torch

    from .devices import machine_cores

    torch.set_num_threads(a.threads or machine_cores())
    return a


def _put(d: dict, path: str, value) -> None:
    if value is None:
        return
    keys = path.split(".")
    for k in keys[:-1]:
        d = d.setdefault(k, {})
    d[keys[-1]] = value


def _model_optim(d: dict, a: argparse.Namespace) -> None:
    for flag, key in (("arch", "arch"), ("width", "width"), ("depth", "depth"), ("n_layers", "n_layers"),
                      ("n_heads", "n_heads"), ("head_dim", "head_dim"), ("readout", "readout"),
                      ("mlp_ratio", "mlp_ratio"), ("init", "init")):
        _put(d, f"model.{key}", getattr(a, flag))
    for flag, key in (("optimizer", "name"), ("lr", "lr"), ("momentum", "momentum"), ("weight_decay", "weight_decay"),
                      ("schedule", "schedule"), ("warmup_frac", "warmup_frac"), ("grad_clip", "grad_clip")):
        _put(d, f"optim.{key}", getattr(a, flag))


def _base(a: argparse.Namespace, table: str, default_model: dict) -> dict:
    from .config import load_toml

    d: dict = {}
    if a.config is not None:
        raw = load_toml(a.config)
        d = dict(raw.get(table, raw)) if isinstance(raw.get(table, raw), dict) else {}
        for other in ("teacher", "student"):
            if other != table:
                d.pop(other, None)
    d.setdefault("model", dict(default_model))
    return d


def _fail(prog: str, exc: BaseException) -> int:
    print(f"pdistill {prog}: error: {exc}", file=sys.stderr)
    return 2


def teacher_main(argv: list[str] | None = None) -> int:
    """pdistill teacher: train one teacher (or several seeds as one ensemble) with checkpoints."""
    p = argparse.ArgumentParser(prog="pdistill teacher", description="Train a teacher (sparse parity, --task pcfg or --task text) with checkpoints checkpoint-<step>/ (resumable).")
    p.add_argument("--out", type=Path, required=True, help="run directory (several seeds: DIR/seed-<s>/)")
    p.add_argument("--n", type=int, help="input dimension (default 40)")
    p.add_argument("--k", type=int, help="support size (default 4)")
    p.add_argument("--support-seed", type=int, help="seed of the random support (default 0)")
    p.add_argument("--support", help="explicit support, comma-separated 0-based indices")
    p.add_argument("--ckpt-every", type=int, help="checkpoint every this many steps (default 100)")
    p.add_argument("--seed", type=int, help="training seed (init + data), default 0")
    p.add_argument("--seeds", help="several seeds trained as one ensemble, e.g. 0,1,2 or a count like 5")
    g = p.add_argument_group("task")
    g.add_argument("--task", choices=["parity", "pcfg", "text"], help="parity (default), pcfg (docs/pcfg.md) or text (docs/text.md)")
    g.add_argument("--grammar", help="pcfg: builtin grammar (cfg3b, cfg3f) or a rules file (default cfg3b)")
    g.add_argument("--start", help="pcfg: start at this non-terminal (shorter strings), e.g. 16")
    g.add_argument("--window", type=int, help="pcfg: terminals per input (BOS + W; default 64); text: tokens per window (default 128)")
    g.add_argument("--objective", choices=["mlm", "next_token"], help="pcfg: masked (bert) or next-token (gpt) loss")
    g.add_argument("--span-level", type=int, help="pcfg next_token: loss at tokens ending a span at this depth")
    g.add_argument("--mask-rate", type=float, help="pcfg mlm / text: fraction of positions selected (default 0.3)")
    g.add_argument("--corpus", nargs="+", help="text: 'builtin' (Shakespeare, split by work) or text/JSONL files or folders")
    g.add_argument("--text-field", help="text: the JSONL field holding the text (default 'text')")
    g.add_argument("--tokenizer", choices=["bpe", "wordpiece"], help="text: subword tokenizer (default bpe)")
    g.add_argument("--vocab-size", type=int, help="text: ordinary tokens of the tokenizer (default 8192)")
    g.add_argument("--eval-fraction", type=float, help="text: share of a user corpus's documents held out (default 0.1)")
    g.add_argument("--text-cache", type=Path, help="text: tokenizer / windows cache folder (default OUT/text-cache)")
    a = _parse(p, argv)
    try:
        from .config import TeacherConfig
        from .train import train_teacher, train_teachers

        d = _base(a, "teacher", {"width": 500})
        _task_args(d, a)
        _put(d, "task.n", a.n)
        _put(d, "task.k", a.k)
        _put(d, "task.support_seed", a.support_seed)
        if a.support:
            try:
                sup = [int(s) for s in a.support.split(",") if s.strip()]
            except ValueError:
                raise ValueError(f"--support must be comma-separated 0-based indices, e.g. 0,3,7; got {a.support!r}.") from None
            _put(d, "task.support", sup)
            if a.k is None:
                _put(d, "task.k", len(sup))
        for flag in ("steps", "batch", "ckpt_every", "eval_every", "eval_size", "seed"):
            _put(d, flag, getattr(a, flag))
        _model_optim(d, a)
        cfg = TeacherConfig.from_dict(d)
        if a.seeds:
            seeds = _parse_seeds(a.seeds)
            runs = train_teachers(cfg, seeds, a.out, device=a.device, progress=not a.quiet)
        else:
            runs = [train_teacher(cfg, a.out, device=a.device, progress=not a.quiet)]
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as exc:
        return _fail("teacher", exc)
    for r in runs:
        if getattr(r.config.task, "kind", "parity") != "parity":
            h = r.history.dropna(subset=["loss"])
            last = h.iloc[-1]
            print(f"teacher seed {r.config.seed}: held-out loss {h.loss.iloc[0]:.4f} -> {last.loss:.4f}, accuracy "
                  f"{last.accuracy:.3f} at step {int(last.step)}; {len(r.steps)} checkpoints in {r.out_dir}")
            continue
        accs = r.accuracies()
        t95 = next((s for s in r.steps if accs[s] >= 0.95), None)
        print(f"teacher seed {r.config.seed}: accuracy {accs[r.final_step]:.3f} at step {r.final_step}; "
              f"first checkpoint >= 0.95 at {t95 if t95 is not None else 'never'}; "
              f"{len(r.steps)} checkpoints in {r.out_dir}")
    return 0


_MAX_SEEDS = 1_000_000  # more members than any ensemble could train; the memory pre-flight refuses far fewer


PCFG_FLAGS = ("grammar", "start", "window", "objective", "span_level", "mask_rate")
TEXT_FLAGS = ("corpus", "text_field", "tokenizer", "vocab_size", "eval_fraction", "window", "mask_rate")
PCFG_MODEL = {"arch": "bert", "n_layers": 4, "n_heads": 8, "head_dim": 8}
PCFG_OPTIM = {"name": "adamw", "beta2": 0.95}


def _task_args(d: dict, a: argparse.Namespace) -> None:
    """Task flags into the config dict: --task pcfg makes a PCFG task config (model default: a
    4-layer 8-head BERT; optimizer AdamW (0.9, 0.95), docs/paper.md §5); parity flags with a pcfg
    task and pcfg flags with a parity task are refused."""
    given_task = dict(d.get("task", {}))
    kind = a.task or given_task.get("kind", "parity")
    pcfg_given = [f"--{f.replace('_', '-')}" for f in PCFG_FLAGS if getattr(a, f) is not None]
    text_given = [f"--{f.replace('_', '-')}" for f in TEXT_FLAGS + ("text_cache",) if getattr(a, f) is not None]
    if kind == "text":
        _text_task_args(d, a, given_task, [f for f in pcfg_given if f.strip("-").replace("-", "_") not in TEXT_FLAGS])
        return
    if kind == "pcfg" and (only_text := [f for f in text_given if f.strip("-").replace("-", "_") not in PCFG_FLAGS]):
        raise ValueError(f"{', '.join(only_text)} need(s) --task text.")
    if kind == "pcfg":
        parity_given = [f"--{f.replace('_', '-')}" for f in ("n", "k", "support_seed", "support") if getattr(a, f)]
        if parity_given:
            raise ValueError(f"{', '.join(parity_given)} set(s) a parity task; --task pcfg takes --grammar, --start, "
                             f"--window, --objective, --span-level, --mask-rate.")
        if given_task.get("kind", "pcfg") != "pcfg":
            given_task = {}
        d["task"] = {**given_task, "kind": "pcfg"}
        for f in PCFG_FLAGS:
            _put(d, f"task.{f}", getattr(a, f))
        if "arch" not in d.get("model", {}):  # the PCFG model under the sizes given
            given = {k: v for k, v in d.get("model", {}).items() if k != "width"}
            arch = "gpt" if d["task"].get("objective") == "next_token" else "bert"
            d["model"] = {**PCFG_MODEL, "arch": arch, **given}
        d.setdefault("optim", dict(PCFG_OPTIM))
    elif pcfg_given or text_given:
        raise ValueError(f"{', '.join(pcfg_given or text_given)} need(s) --task pcfg or --task text.")


def _text_task_args(d: dict, a: argparse.Namespace, given_task: dict, pcfg_only: list[str]) -> None:
    """--task text: a text task config (corpus required; cache default OUT/text-cache), the PCFG
    BERT model and optimizer defaults (docs/paper.md §5)."""
    parity_given = [f"--{f.replace('_', '-')}" for f in ("n", "k", "support_seed", "support") if getattr(a, f)]
    if parity_given or pcfg_only:
        raise ValueError(f"{', '.join(parity_given + pcfg_only)} do(es) not apply to --task text; it takes --corpus, "
                         f"--text-field, --tokenizer, --vocab-size, --eval-fraction, --window, --mask-rate, --text-cache.")
    if given_task.get("kind", "text") != "text":
        given_task = {}
    d["task"] = {**given_task, "kind": "text"}
    if a.corpus is not None:
        d["task"]["corpus"] = a.corpus[0] if len(a.corpus) == 1 else list(a.corpus)
    if "corpus" not in d["task"]:
        raise ValueError("--task text needs --corpus: 'builtin' (the Shakespeare corpus) or text / JSONL files or folders.")
    for f in TEXT_FLAGS[1:]:
        _put(d, f"task.{f}", getattr(a, f))
    cache = a.text_cache if a.text_cache is not None else d["task"].get("cache_dir") or a.out / "text-cache"
    d["task"]["cache_dir"] = str(Path(cache).resolve())
    if "arch" not in d.get("model", {}):
        given = {k: v for k, v in d.get("model", {}).items() if k != "width"}
        d["model"] = {**PCFG_MODEL, "arch": "bert", **given}
    d.setdefault("optim", dict(PCFG_OPTIM))


def _parse_seeds(text: str) -> list[int]:
    text = str(text).strip()
    if "," not in text and text.isdigit():
        if not 1 <= int(text) <= _MAX_SEEDS:
            raise ValueError(f"--seeds must be a positive count (at most {_MAX_SEEDS}, e.g. 5) or a comma-separated list of "
                             f"non-negative ints; got {text!r}.")
        return list(range(int(text)))
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds must be a count (e.g. 5) or a comma-separated list of non-negative ints; got {text!r}.") from None
    if not seeds or len(seeds) > _MAX_SEEDS or any(s < 0 for s in seeds):
        raise ValueError(f"--seeds must be a count (e.g. 5) or a comma-separated list of non-negative ints; got {text!r}.")
    return seeds


def _existing_results(out: Path, cfg, run, probes=()):
    """StudentResults in ``out`` made with the same student config and teacher (and the tables of
    ``probes`` with the same settings), else None."""
    from .config import config_hash
    from .distill import StudentResults

    try:
        res = StudentResults.load(out)
    except (FileNotFoundError, ValueError, OSError):
        return None
    same = (res.config is not None and config_hash(res.config) == config_hash(cfg)
            and res.meta.get("teacher_config_hash") == config_hash(run.config)
            and res.meta.get("teacher_final_step") == run.final_step
            and all(p.name in res.probes and (res.meta.get("probes") or {}).get(p.name) == p.settings() for p in probes))
    return res if same else None


def student_main(argv: list[str] | None = None) -> int:
    """pdistill student: distil students from a teacher run with several strategies and seeds."""
    p = argparse.ArgumentParser(prog="pdistill student", description="Distil students (strategies x seeds, one ensemble) from a teacher run.")
    p.add_argument("--teacher", type=Path, required=True, help="teacher run directory (pdistill teacher --out)")
    p.add_argument("--out", type=Path, required=True, help="output dir: results.parquet, curves.parquet, config.json")
    p.add_argument("--strategies", help="comma-separated: ce,one_shot,progressive,two_shot,k_shot")
    p.add_argument("--seeds", help="number of seeds (0..N-1) or a comma-separated list")
    p.add_argument("--tau", type=float, help="teacher temperature (0 = argmax labels; default 1)")
    p.add_argument("--alpha", type=float, help="weight of label CE in alpha*CE + (1-alpha)*KD (default 0)")
    p.add_argument("--multiplier", type=float, help="progressive: teacher steps per student step (default 1)")
    p.add_argument("--interval", type=int, help="progressive: update the checkpoint every this many student steps")
    p.add_argument("--lookahead", type=int, help="progressive: checkpoints ahead of the student (default 1; 0 = current)")
    p.add_argument("--plateau-patience", type=int, help="progressive: advance when accuracy plateaus this many evals")
    p.add_argument("--two-shot-checkpoint", type=int,
                   help="two_shot: teacher checkpoint step (default: the checkpoint where the teacher's loss falls fastest, curriculum.Transition)")
    p.add_argument("--two-shot-steps", type=int, help="two_shot: student steps on that checkpoint (default: its step)")
    p.add_argument("--k-shot", help="k_shot pairs checkpoint:steps,checkpoint:steps (then the final teacher)")
    p.add_argument("--early-stop", action="store_true", help="stop once every student reached 99%%")
    p.add_argument("--force", action="store_true", help="retrain even if --out already holds these results")
    g = p.add_argument_group("non-terminal probe (PCFG teachers)")
    g.add_argument("--nt-every", type=int, help="probe every member's last hidden layer for each token's ancestors every "
                   "N student steps (0 included): nt.parquet (sims.pcfg_probe.StudentNTProbe)")
    g.add_argument("--nt-train", type=int, help="strings to fit the non-terminal probe (default 128; half as many to score it)")
    a = _parse(p, argv)
    try:
        from parity_theory.validation import check_int

        from .config import StudentConfig
        from .distill import train_students, with_two_shot_checkpoint
        from .train import TeacherRun

        d = _base(a, "student", {"width": 16})
        for flag in ("steps", "batch", "eval_every", "eval_size", "tau", "alpha"):
            _put(d, flag, getattr(a, flag))
        for flag, key in (("multiplier", "progressive_multiplier"), ("interval", "progressive_interval"),
                          ("lookahead", "progressive_lookahead"), ("plateau_patience", "plateau_patience"),
                          ("two_shot_checkpoint", "two_shot_checkpoint"),
                          ("two_shot_steps", "two_shot_steps")):
            _put(d, key, getattr(a, flag))
        if a.strategies:
            d["strategies"] = [s.strip() for s in a.strategies.split(",") if s.strip()]
        if a.seeds:
            d["seeds"] = _parse_seeds(a.seeds)
        if a.k_shot:
            try:
                d["k_shot_pairs"] = [tuple(int(v) for v in pair.split(":")) for pair in a.k_shot.split(",") if pair.strip()]
            except ValueError:
                raise ValueError(f"--k-shot must look like 400:400,800:200; got {a.k_shot!r}.") from None
        if a.early_stop:
            d["early_stop"] = True
        optim_from_file = "optim" in d
        _model_optim(d, a)
        if a.nt_train is not None and a.nt_every is None:
            raise ValueError("--nt-train needs --nt-every (the student steps between non-terminal probes).")
        for flag in ("nt_every", "nt_train"):
            if getattr(a, flag) is not None:
                check_int(getattr(a, flag), "--" + flag.replace("_", "-"))
        run = TeacherRun.load(a.teacher)
        kind = getattr(run.config.task, "kind", "parity")
        if a.nt_every is not None and kind != "pcfg":
            raise ValueError(f"--nt-every needs a PCFG teacher (the non-terminal probe reads parse trees); "
                             f"{str(a.teacher)!r} holds a {kind!r} run.")
        if getattr(run.config.task, "kind", "parity") in ("pcfg", "text") and "arch" not in d.get("model", {}):
            given = {k: v for k, v in d["model"].items() if k != "width"}  # a narrower student by default
            d["model"] = {**PCFG_MODEL, "arch": run.config.model.arch, "n_heads": 2, **given}
            if not optim_from_file:  # as for the teacher: the PCFG optimizer under the optimizer flags given
                d["optim"] = {**PCFG_OPTIM, **d.get("optim", {})}
        cfg = StudentConfig.from_dict(d)
        given = cfg.two_shot_checkpoint
        cfg = with_two_shot_checkpoint(cfg, run)
        if given is None and cfg.two_shot_checkpoint is not None:
            print(f"pdistill student: two_shot uses teacher checkpoint {cfg.two_shot_checkpoint} "
                  f"(steepest drop of the teacher's loss; --two-shot-checkpoint overrides)")
        probes = []
        if a.nt_every is not None:
            from .pcfg_probe import StudentNTProbe

            n_train = a.nt_train if a.nt_train is not None else 128
            probes.append(StudentNTProbe(run, every=a.nt_every, train_sequences=n_train,
                                         test_sequences=max(n_train // 2, 1)))
        res = None if a.force else _existing_results(a.out, cfg, run, probes)
        if res is None:
            res = train_students(run, None, cfg, device=a.device, progress=not a.quiet, out_dir=a.out, probes=probes)
        else:
            print(f"pdistill student: {a.out} already holds these results (same config and teacher); --force retrains.")
    except (ValueError, TypeError, FileNotFoundError, FloatingPointError) as exc:
        return _fail("student", exc)
    print(f"{res.one_line()}  [{len(cfg.seeds)} seeds, {cfg.steps} steps; results in {a.out}/results.parquet]")
    if probes:
        print(_nt_line(res.probes["nt"], a.out))
    return 0


def _nt_line(nt, out: Path) -> str:
    """One line: per strategy, the median over seeds of the NT-probe accuracy of the ancestor (mean over
    levels) at the last probed step."""
    last = int(nt.step.max())
    at = nt[(nt.step == last) & (nt.target == "ancestor")]
    acc = at.groupby(["strategy", "seed"], sort=False).accuracy.mean().groupby("strategy", sort=False).median()
    levels = sorted(int(v) for v in nt.level.unique())
    return (f"non-terminal probe (ancestor) at student step {last} (mean over levels {levels}, median over seeds): "
            + ", ".join(f"{s}={v:.3f}" for s, v in acc.items()) + f"  [{nt.step.nunique()} probed steps; {out}/nt.parquet]")
