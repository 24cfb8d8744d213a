"""The PCFG setting as a Task (Panigrahi et al., ICLR 2025, §5; docs/paper.md §5, docs/pcfg.md).

Strings come from a grammar (``sims.pcfg.Grammar``: a builtin such as cfg3b, or a rules file),
optionally from a lower start symbol. A model reads BOS followed by the first ``window`` = W
terminals of a string, right-padded with PAD when the string is shorter, so T = 1 + W tokens
(ids of ``grammar.layout``: terminals, then BOS, EOS, PAD, MASK). Outputs are logits over the
whole vocabulary at every position (C = vocab_size).

objective "mlm" (BERT): each terminal position is selected with probability ``mask_rate`` (0.3);
  a selected input becomes MASK (``mask_frac`` 0.8), a random terminal (``random_frac`` 0.1) or
  stays (``sims.pcfg.mask_tokens``). labels = the original token, mask = selected: the loss and
  the masked-token accuracy are taken at selected positions only.
objective "next_token" (GPT): the output at position p predicts token p + 1; it counts only
  where token p is a terminal that ends the span of its ancestor at depth ``span_level`` (0 = the
  start symbol; from the sampler's tree labels) and token p + 1 is a terminal.

Streams: a ``numpy.random.Generator`` (PCG64) per stream draws the strings and then the masking,
so a stream is reproducible from its seed and its state (a JSON string as uint8 bytes) goes into
checkpoints; data are drawn on CPU.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from parity_theory.validation import check_choice, check_float, check_int

from ..config import ConfigBase, register_task_config
from .base import Batch, BatchStream, ModelInput, Task

__all__ = ["PCFGTask", "PCFGTaskConfig", "GrammarStream", "load_grammar", "OBJECTIVES"]

OBJECTIVES = ("mlm", "next_token")


def load_grammar(spec: str, start: str | None = None):
    """A ``sims.pcfg.Grammar`` from a builtin name ("cfg3b", "cfg3f") or the path of a rules file,
    restarted at non-terminal ``start`` when given (``Grammar.with_start``)."""
    from ..pcfg import BUILTINS, Grammar

    if not isinstance(spec, str) or not spec:
        raise ValueError(f"PCFGTaskConfig.grammar must be a builtin name {sorted(BUILTINS)} or a rules file path; got {spec!r}.")
    if spec in BUILTINS:
        g = Grammar.builtin(spec)
    else:
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"PCFGTaskConfig.grammar must be a builtin name {sorted(BUILTINS)} or an existing rules "
                             f"file; got {spec!r} (no such file).")
        g = Grammar.parse(path.read_text())
    return g if start is None else g.with_start(str(start))


class GrammarStream(BatchStream):
    """A seeded numpy PCG64 generator; ``get_state`` / ``set_state`` round-trip it through uint8 bytes."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(int(seed))

    def get_state(self) -> torch.Tensor:
        blob = json.dumps(self.rng.bit_generator.state, sort_keys=True).encode()
        return torch.tensor(list(blob), dtype=torch.uint8)

    def set_state(self, state: torch.Tensor) -> None:
        self.rng.bit_generator.state = json.loads(bytes(state.to(torch.uint8).tolist()).decode())


class PCFGTask(Task):
    """Masked-token or next-token prediction on windows of PCFG strings (see the module docstring)."""

    name = "pcfg"

    def __init__(self, grammar, window: int = 64, objective: str = "mlm", span_level: int = 1,
                 masking=None):
        from ..pcfg import Grammar, MaskingConfig

        if not isinstance(grammar, Grammar):
            raise TypeError(f"PCFGTask.grammar must be a sims.pcfg.Grammar; got {type(grammar).__name__}.")
        self.grammar = grammar
        self.layout = grammar.layout
        self.window = check_int(window, "window", owner="PCFGTask")
        check_choice(objective, "objective", OBJECTIVES, owner="PCFGTask")
        self.objective = objective
        depth = grammar.depth
        self.span_level = check_int(span_level, "span_level", lo=0, hi=None if depth is None else depth - 1, owner="PCFGTask")
        self.masking = masking if masking is not None else MaskingConfig()
        if not isinstance(self.masking, MaskingConfig):
            raise TypeError(f"PCFGTask.masking must be a sims.pcfg.MaskingConfig; got {type(self.masking).__name__}.")

    def __repr__(self) -> str:
        return f"PCFGTask(start={self.grammar.start!r}, window={self.window}, objective={self.objective!r})"

    @property
    def seq_len(self) -> int:
        return 1 + self.window

    def model_input(self) -> ModelInput:
        V = self.layout.vocab_size
        return ModelInput(kind="tokens", n=self.seq_len, n_classes=V, positions=self.seq_len, vocab=V, pad=self.layout.pad)

    def stream(self, seed: int) -> GrammarStream:
        return GrammarStream(seed)

    def draw(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One batch from ``rng``: (x, labels, mask) numpy arrays (batch, T) (see the module docstring)."""
        from ..pcfg import mask_tokens

        labels_needed = self.objective == "next_token"
        sample = self.grammar.sample(batch, rng, labels=labels_needed)
        tokens = self.layout.batch(sample.tokens, length=self.seq_len)                  # (B, T) BOS + W, PAD
        if self.objective == "mlm":
            mb = mask_tokens(tokens, self.layout, rng, self.masking)
            return mb.inputs, np.where(mb.selected, mb.targets, 0), mb.selected
        T, V = self.seq_len, self.layout.n_terminals
        ends = np.zeros((batch, T), dtype=bool)
        for i, e in enumerate(sample.span_ends):
            n = min(len(e), self.window)
            ends[i, 1:1 + n] = e[:n, self.span_level]
        labels = np.zeros_like(tokens)
        labels[:, :-1] = tokens[:, 1:]
        mask = ends & (labels < V)
        mask[:, -1] = False
        return tokens, np.where(mask, labels, 0), mask

    def sample(self, streams: Sequence[GrammarStream], batch: int) -> Batch:
        parts = [self.draw(s.rng, batch) for s in streams]
        x, labels, mask = (torch.from_numpy(np.stack([p[i] for p in parts])) for i in range(3))
        return Batch(x.long(), labels.long(), mask.bool())

    def eval_set(self, size: int, seed: int) -> Batch:
        x, labels, mask = self.draw(np.random.default_rng(int(seed)), size)
        return Batch(torch.from_numpy(x).long(), torch.from_numpy(labels).long(), torch.from_numpy(mask))


@register_task_config("pcfg")
@dataclass(frozen=True)
class PCFGTaskConfig(ConfigBase):
    """The PCFG task of a teacher run: grammar (builtin name or rules file path), optional start
    symbol, window W (inputs BOS + W terminals), objective "mlm" | "next_token", the span level of
    the next-token loss, and the BERT masking rates. Defaults: cfg3b, W = 64, MLM 0.3 / 0.8 / 0.1
    (docs/paper.md §5)."""

    grammar: str = "cfg3b"
    start: str | None = None
    window: int = 64
    objective: str = "mlm"
    span_level: int = 1
    mask_rate: float = 0.3
    mask_frac: float = 0.8
    random_frac: float = 0.1

    def __post_init__(self):
        o = "PCFGTaskConfig"
        if not isinstance(self.grammar, str) or not self.grammar:
            raise ValueError(f"{o}.grammar must be a builtin grammar name or a rules file path; got {self.grammar!r}.")
        if self.start is not None and (not isinstance(self.start, (str, int)) or isinstance(self.start, bool)):
            raise ValueError(f"{o}.start must be a non-terminal name or None; got {self.start!r}.")
        if self.start is not None:
            object.__setattr__(self, "start", str(self.start))
        object.__setattr__(self, "window", check_int(self.window, "window", owner=o))
        check_choice(self.objective, "objective", OBJECTIVES, owner=o)
        object.__setattr__(self, "span_level", check_int(self.span_level, "span_level", lo=0, owner=o))
        for name in ("mask_rate", "mask_frac", "random_frac"):
            object.__setattr__(self, name, check_float(getattr(self, name), name, lo=0.0, hi=1.0, owner=o))
        if self.mask_frac + self.random_frac > 1.0 + 1e-12:
            raise ValueError(f"{o}.mask_frac + random_frac must be <= 1; got {self.mask_frac} + {self.random_frac}.")

    def make_grammar(self):
        return load_grammar(self.grammar, self.start)

    def make_task(self) -> PCFGTask:
        from ..pcfg import MaskingConfig

        return PCFGTask(self.make_grammar(), self.window, self.objective, self.span_level,
                        MaskingConfig(self.mask_rate, self.mask_frac, self.random_frac))
