"""The natural-text claims (Panigrahi et al., ICLR 2025, §5; docs/paper.md §5, docs/text.md): the
BERT teacher's sharp loss drop, its 3-gram dependence peaking in the drop, and 2-shot distillation
from the checkpoint chosen in the drop.

Setting: masked language modelling on the built-in corpus (the works of Shakespeare, split by
whole works; docs/text.md) — books in Early Modern English, about 0.9M words, NOT the paper's
Wikipedia + Books, so numbers are not the paper's — or on the user's corpus (``--corpus PATH...``,
``--text-field F``: text files, folders, JSONL; split by whole documents), checked by
:func:`check_corpus` before any work. One BERT-style teacher (``sims.tasks.text``,
byte-level BPE, windows of T tokens) is trained with a checkpoint grid; students with fewer heads
are distilled from it, every strategy x seed as one ensemble (paired per seed: same init and data).

Quantities and verdict rules are those of the PCFG setting, by the one owner
``paper_checks.check_pcfg.sequence_claims`` (written before any text run; see its module docstring):

  H_u = the held-out masked-token loss of the best context-free predictor (empirical target
      frequencies of the eval set); phases = ``curriculum.loss_phases`` of the teacher's held-out
      loss from the first evaluation with loss <= H_u + 0.05 on;
  text_phases: holds when the loss has three phases (flat and slow rates < 1/4 of the drop's);
      does not hold when the flat phase is empty; else inconclusive.
  text_ngram: holds when the median M_robust(3-gram) (``sims.pcfg_probe.ngram_table`` on held-out
      windows) peaks in the drop and the final checkpoint's value is <= 1/2 of the peak; does not
      hold when the peak is in the flat phase or the final value is >= 0.9 of the peak; else
      inconclusive.
  text_two_shot: d_X = final held-out masked-token loss of student X minus that of 2-shot from mid
      (the steepest fall of the teacher's loss, ``curriculum.Transition``, snapped to the grid), per
      seed; e_X = final held-out masked-token accuracy of 2-shot from mid minus that of student X.
      Loss rule: holds when the 90% bootstrap intervals of d_one_shot and d_ce lie above 0 and the
      medians of d for 2-shot from the flat- and slow-phase checkpoints are > 0; does not hold when
      the median of d_one_shot or d_ce is <= 0; else inconclusive. Verdict: holds when the loss
      rule holds AND the medians of e_one_shot and e_ce are > 0; does not hold when the loss rule
      does not hold OR both of those accuracy medians are < 0; else inconclusive. Loss and accuracy
      at half the student budget are reported too (no verdict reads them).

Scales: ``--quick`` (CI, seconds once the tokenizer and windows are cached), the default CPU scale
(2 cores, within 5 minutes with a fresh cache; part of the default report) and ``--scale paper`` (a GPU: a 4-layer BERT of 32 heads of dim 8 over
windows of 128, students of 8 heads). The tokenizer and window caches live in
``<cache-dir>/text`` (the reproduce teacher cache).
"""
from __future__ import annotations

from typing import Sequence

from ._claims import ClaimResult, Context, fmt
from .check_pcfg import sequence_claims

__all__ = ["main", "text_configs", "check_corpus", "TEXT_CLAIMS"]

TEXT_CLAIMS = {
    "phases": ("the BERT teacher's masked-LM loss has a sharp-drop phase between a plateau and a slow decay",
               "figure (Wikipedia + Books): the teacher's loss drops sharply between 4k and 16k steps"),
    "ngram": ("the teacher's dependence on 3-grams (median M_robust) peaks inside the sharp loss drop and falls after it",
              "M_robust(3-gram) peaks ≈0.25 at 8k steps, inside the drop, and falls after it"),
    "two_shot": (("2-shot from the checkpoint chosen in the drop gives a better student at a fixed budget than "
                  "one-shot and CE, and better than 2-shot from a checkpoint before or after the drop"),
                 ("best first checkpoint 8k; student masked-token accuracy at 24k steps: progressive ≈0.40, "
                  "one-shot ≈0.38, CE ≈0.36")),
}


def text_configs(ctx: Context) -> dict:
    """{"teacher": TeacherConfig, "student": StudentConfig, "probe": dict of ngram_table arguments}
    of ctx's scale (quick: a CI smoke test; cpu: the 2-core default; paper: a GPU)."""
    from sims.config import ModelConfig, OptimConfig, StudentConfig, TeacherConfig
    from sims.tasks import TextTaskConfig

    seeds = ctx.seeds
    strategies = ("ce", "one_shot", "progressive", "two_shot")
    cache = str(ctx.cache_dir / "text")
    corpus, text_field = _corpus_args(ctx)

    def text_task(vocab_size: int, window: int) -> TextTaskConfig:
        return TextTaskConfig(corpus=corpus, text_field=text_field, vocab_size=vocab_size, window=window, cache_dir=cache)

    if ctx.scale == "paper":
        adamw = OptimConfig(name="adamw", lr=1e-3, beta2=0.98, weight_decay=0.01, schedule="warmup_cosine",
                            warmup_frac=0.06)
        task = text_task(vocab_size=8192, window=128)
        teacher = TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=4, n_heads=32, head_dim=8),
                                optim=adamw, steps=24000, batch=256, ckpt_every=1000, eval_every=500, eval_size=1024)
        student = StudentConfig(model=ModelConfig(arch="bert", n_layers=4, n_heads=8, head_dim=8), optim=adamw,
                                steps=24000, batch=256, eval_every=1000, eval_size=1024, seeds=seeds,
                                strategies=strategies, progressive_interval=1000)
        return dict(teacher=teacher, student=student, probe=dict(sequences=256, positions_per_sequence=16))
    adamw = OptimConfig(name="adamw", lr=3e-3, beta2=0.95, schedule="warmup_cosine", warmup_frac=0.02)
    if ctx.quick:
        task = text_task(vocab_size=512, window=32)
        teacher = TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=1, n_heads=4, head_dim=8),
                                optim=adamw, steps=80, batch=16, ckpt_every=20, eval_every=20, eval_size=128)
        student = StudentConfig(model=ModelConfig(arch="bert", n_layers=1, n_heads=1, head_dim=8), optim=adamw,
                                steps=40, batch=16, eval_every=20, eval_size=128, seeds=seeds, strategies=strategies,
                                progressive_interval=20)
        return dict(teacher=teacher, student=student, probe=dict(sequences=8, positions_per_sequence=4))
    # The 2-core default (docs/text.md, "CPU scale"): V = 512 and windows of 32 keep the output layer and the
    # teacher forwards of the 24 student members small enough for the whole section to run in minutes.
    task = text_task(vocab_size=512, window=32)
    teacher = TeacherConfig(task=task, model=ModelConfig(arch="bert", n_layers=2, n_heads=4, head_dim=16, init="gpt2"),
                            optim=adamw, steps=1600, batch=32, ckpt_every=100, eval_every=50, eval_size=512)
    student = StudentConfig(model=ModelConfig(arch="bert", n_layers=2, n_heads=1, head_dim=16, init="gpt2"),
                            optim=adamw, steps=600, batch=32, eval_every=50, eval_size=256, seeds=seeds,
                            strategies=strategies, progressive_interval=100)
    return dict(teacher=teacher, student=student, probe=dict(sequences=32, positions_per_sequence=8))


def _corpus_args(ctx: Context) -> tuple[str | list[str], str]:
    """(corpus, text_field) of ctx's arguments: ``--corpus`` paths (one path as a string) or "builtin"."""
    paths = getattr(ctx.args, "corpus", None)
    field = getattr(ctx.args, "text_field", None)
    if not paths:
        if field is not None:
            raise ValueError(f"--text-field applies to a --corpus of JSONL files; got --text-field {field!r} without --corpus.")
        return "builtin", "text"
    return (paths[0] if len(paths) == 1 else list(paths)), (field if field is not None else "text")


def check_corpus(ctx: Context, read: bool = True) -> None:
    """Validate ``--corpus`` / ``--text-field`` before any work: a ValueError of one line naming the
    problem (a path that does not exist or cannot be read, a corpus with no text, a train or held-out
    part smaller than one window, ...). ``read``: also read the corpus, train the tokenizer and
    encode the windows (cached under the text cache, so the check's own run finds them done);
    without it only the paths are checked."""
    teacher = text_configs(ctx)["teacher"]
    if getattr(ctx.args, "corpus", None) is None:
        return
    try:
        if read:
            from sims.tasks import as_task

            as_task(teacher.task)
        else:
            teacher.task.corpora()
    except ValueError as exc:
        raise ValueError("--corpus: " + " ".join(str(exc).split())) from None


def main(argv: Sequence[str] | None = None, ctx: Context | None = None) -> list[ClaimResult]:
    ctx = ctx or Context.from_argv(argv, "check_text", __doc__.splitlines()[0])
    return sequence_claims(ctx, text_configs(ctx), "text", TEXT_CLAIMS)


if __name__ == "__main__":
    import sys

    for r in main(sys.argv[1:]):
        print(r.name, r.verdict, r.measured, fmt(r.ratio))
