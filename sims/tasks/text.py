"""The natural-text setting as a Task (Panigrahi et al., ICLR 2025, §5; docs/paper.md §5, docs/text.md).

A BERT masked language model on windows of a real corpus: the built-in Shakespeare corpus
("builtin", split by whole works) or the user's files (a path or list of paths: plain text,
folders, JSONL with a text field; split by whole documents, ``eval_fraction`` / ``split_seed``).
A subword tokenizer (byte-level BPE or WordPiece, V ordinary tokens) is trained on the train
part; both parts are cut into windows of T = ``window`` tokens ([BOS] + T - 1 tokens, packed).
Tokenizer and windows are cached under ``cache_dir`` (``sims.text.cached_tokenizer`` /
``cached_windows``: a manifest keyed by the corpus fingerprint and the settings notices a changed
corpus). Ids follow the PCFG ``TokenLayout``: V ordinary ids, then BOS EOS PAD MASK (C = V + 4).

Training batch of step s of a stream with seed σ: ``sims.text.mlm_batch(train, B, seed=σ,
step=s)`` — a function of (σ, s) only, so a stream's state is (σ, s) and a resumed run draws the
same batches. Masking: each ordinary token selected with probability ``mask_rate`` (0.3); a
selected input becomes [MASK] (``mask_frac``), a random ordinary token (``random_frac``) or stays;
labels = original token, mask = selected (loss and masked-token accuracy at selected positions).
Eval set of (size, seed): the first min(size, N_eval) windows of the held-out part in the order
of ``mlm_batch(eval, ., seed=seed, step=0)``, each window at most once.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from parity_theory.validation import check_bool, check_choice, check_float, check_int

from ..config import ConfigBase, register_task_config
from .base import Batch, BatchStream, ModelInput, Task

__all__ = ["TextTask", "TextTaskConfig", "WindowStream", "default_text_cache"]

CACHE_ENV = "PDISTILL_TEXT_CACHE"


def default_text_cache() -> Path:
    """The cache root when a config gives none: ``$PDISTILL_TEXT_CACHE``, else ``~/.cache/pdistill/text``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path.home() / ".cache" / "pdistill" / "text"


class WindowStream(BatchStream):
    """The state (seed, step) of a text batch stream; ``get_state`` / ``set_state`` round-trip it
    through uint8 bytes (JSON)."""

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.step = 0

    def get_state(self) -> torch.Tensor:
        blob = json.dumps({"seed": self.seed, "step": self.step}).encode()
        return torch.tensor(list(blob), dtype=torch.uint8)

    def set_state(self, state: torch.Tensor) -> None:
        d = json.loads(bytes(state.to(torch.uint8).tolist()).decode())
        self.seed, self.step = int(d["seed"]), int(d["step"])


def _masked_arrays(mb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, labels, mask) of a sims.pcfg MaskedBatch: labels 0 where not selected."""
    return mb.inputs, np.where(mb.selected, mb.targets, 0), mb.selected


class TextTask(Task):
    """Masked-token prediction on text windows (see the module docstring).

    ``train`` / ``eval``: ``sims.text.TextWindows`` of the same tokenizer (same layout and T)."""

    name = "text"

    def __init__(self, train, eval, tokenizer=None, masking=None):
        from ..pcfg import MaskingConfig
        from ..text import TextWindows

        for nm, w in (("train", train), ("eval", eval)):
            if not isinstance(w, TextWindows):
                raise TypeError(f"TextTask.{nm} must be sims.text.TextWindows; got {type(w).__name__}.")
        if train.layout != eval.layout or train.length != eval.length:
            raise ValueError(f"TextTask: train and eval windows differ (layout {train.layout} vs {eval.layout}, "
                             f"length {train.length} vs {eval.length}); encode both with one tokenizer.")
        self.train, self.eval, self.tokenizer = train, eval, tokenizer
        self.layout = train.layout
        self.masking = masking if masking is not None else MaskingConfig()
        if not isinstance(self.masking, MaskingConfig):
            raise TypeError(f"TextTask.masking must be a sims.pcfg.MaskingConfig; got {type(self.masking).__name__}.")

    def __repr__(self) -> str:
        return (f"TextTask(V={self.layout.n_terminals}, window={self.seq_len}, train={len(self.train)} windows, "
                f"eval={len(self.eval)} windows)")

    @property
    def seq_len(self) -> int:
        return self.train.length

    def model_input(self) -> ModelInput:
        V = self.layout.vocab_size
        return ModelInput(kind="tokens", n=self.seq_len, n_classes=V, positions=self.seq_len, vocab=V, pad=self.layout.pad)

    def stream(self, seed: int) -> WindowStream:
        return WindowStream(seed)

    def draw(self, stream: WindowStream, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch of ``stream``'s current step (then the step advances): (x, labels, mask) (batch, T)."""
        from ..text import mlm_batch

        mb = mlm_batch(self.train.tokens, self.layout, batch, seed=stream.seed, step=stream.step, masking=self.masking)
        stream.step += 1
        return _masked_arrays(mb)

    def sample(self, streams: Sequence[WindowStream], batch: int) -> Batch:
        parts = [self.draw(s, batch) for s in streams]
        x, labels, mask = (torch.from_numpy(np.stack([p[i] for p in parts])) for i in range(3))
        return Batch(x.long(), labels.long(), mask.bool())

    def eval_set(self, size: int, seed: int) -> Batch:
        from ..text import mlm_batch

        size = min(check_int(size, "size", owner="TextTask.eval_set"), len(self.eval))
        mb = mlm_batch(self.eval.tokens, self.layout, size, seed=int(seed) % 2**63, step=0, masking=self.masking)
        x, labels, mask = _masked_arrays(mb)
        return Batch(torch.from_numpy(x).long(), torch.from_numpy(labels).long(), torch.from_numpy(mask))

    def unigram_baseline(self) -> float:
        """The held-out masked-token loss (nats) of the train unigram predictor (``sims.text.unigram_baseline``)."""
        from ..text import unigram_baseline

        return unigram_baseline(self.train.tokens, self.layout, self.eval.tokens)


def _corpus_spec(corpus):
    if isinstance(corpus, (str, os.PathLike)):
        s = str(corpus)
        if not s:
            raise ValueError("TextTaskConfig.corpus must be \"builtin\" or a path / list of paths; got ''.")
        return s
    if isinstance(corpus, (list, tuple)) and corpus and all(isinstance(c, (str, os.PathLike)) and str(c) for c in corpus):
        return tuple(str(c) for c in corpus)
    raise ValueError(f"TextTaskConfig.corpus must be \"builtin\" or a path / non-empty list of paths; got {corpus!r}.")


@register_task_config("text")
@dataclass(frozen=True)
class TextTaskConfig(ConfigBase):
    """The text task of a teacher run: ``corpus`` "builtin" or path(s) (``text_field`` of JSONL
    records, ``paragraphs``: blank-line paragraphs of plain text as documents, ``errors``
    "strict" | "replace"; user corpora split by documents with ``eval_fraction`` / ``split_seed``),
    tokenizer ``tokenizer`` "bpe" | "wordpiece" with ``vocab_size`` V, ``window`` T, the BERT masking
    rates, and ``cache_dir`` (None: :func:`default_text_cache`), under which a sub-folder named by
    the hash of the other settings holds tokenizer/, windows-train/, windows-eval/ (docs/text.md)."""

    corpus: str | tuple[str, ...] = "builtin"
    text_field: str = "text"
    paragraphs: bool = False
    errors: str = "strict"
    eval_fraction: float = 0.1
    split_seed: int = 0
    tokenizer: str = "bpe"
    vocab_size: int = 8192
    min_frequency: int = 2
    lowercase: bool = False
    window: int = 128
    mask_rate: float = 0.3
    mask_frac: float = 0.8
    random_frac: float = 0.1
    cache_dir: str | None = None

    def __post_init__(self):
        o = "TextTaskConfig"
        object.__setattr__(self, "corpus", _corpus_spec(self.corpus))
        if not isinstance(self.text_field, str) or not self.text_field:
            raise ValueError(f"{o}.text_field must be a non-empty string; got {self.text_field!r}.")
        check_bool(self.paragraphs, "paragraphs", owner=o)
        check_bool(self.lowercase, "lowercase", owner=o)
        check_choice(self.errors, "errors", ("strict", "replace"), owner=o)
        check_choice(self.tokenizer, "tokenizer", ("bpe", "wordpiece"), owner=o)
        object.__setattr__(self, "eval_fraction", check_float(self.eval_fraction, "eval_fraction", lo=0.0, hi=1.0,
                                                                   lo_open=True, hi_open=True, owner=o))
        object.__setattr__(self, "split_seed", check_int(self.split_seed, "split_seed", lo=0, owner=o))
        object.__setattr__(self, "vocab_size", check_int(self.vocab_size, "vocab_size", lo=2, owner=o))
        object.__setattr__(self, "min_frequency", check_int(self.min_frequency, "min_frequency", owner=o))
        object.__setattr__(self, "window", check_int(self.window, "window", lo=2, owner=o))
        for name in ("mask_rate", "mask_frac", "random_frac"):
            object.__setattr__(self, name, check_float(getattr(self, name), name, lo=0.0, hi=1.0, owner=o))
        if self.mask_frac + self.random_frac > 1.0 + 1e-12:
            raise ValueError(f"{o}.mask_frac + random_frac must be <= 1; got {self.mask_frac} + {self.random_frac}.")
        if self.cache_dir is not None:
            if not isinstance(self.cache_dir, (str, os.PathLike)) or not str(self.cache_dir):
                raise ValueError(f"{o}.cache_dir must be a folder path or None; got {self.cache_dir!r}.")
            object.__setattr__(self, "cache_dir", str(self.cache_dir))
        self.tokenizer_settings()  # validates vocab_size against the model's minimum

    def tokenizer_settings(self):
        from ..text import TokenizerSettings

        return TokenizerSettings(model=self.tokenizer, vocab_size=self.vocab_size, min_frequency=self.min_frequency,
                                 lowercase=self.lowercase)

    def cache_folder(self) -> Path:
        """``cache_dir`` / (first 16 hex digits of sha256 of the settings other than cache_dir)."""
        d = self.to_dict()
        d.pop("cache_dir", None)
        key = hashlib.sha256(json.dumps(d, sort_keys=True, default=list).encode()).hexdigest()[:16]
        root = Path(self.cache_dir) if self.cache_dir is not None else default_text_cache()
        return root / f"text-{key}"

    def corpora(self):
        """(train, eval) ``sims.text.TextCorpus`` (``sims.text.train_eval_corpora``)."""
        from ..text import train_eval_corpora

        spec = list(self.corpus) if isinstance(self.corpus, tuple) else self.corpus
        return train_eval_corpora(spec, eval_fraction=self.eval_fraction, seed=self.split_seed,
                                  text_field=self.text_field, paragraphs=self.paragraphs, errors=self.errors)

    def make_task(self) -> TextTask:
        """Read the corpus, train or load the tokenizer, encode or load the windows (all cached)."""
        from ..pcfg import MaskingConfig
        from ..text import cached_tokenizer, cached_windows

        try:
            train, held_out = self.corpora()
            folder = self.cache_folder()
            tok = cached_tokenizer(train, folder / "tokenizer", self.tokenizer_settings())
            wt = cached_windows(train, tok, folder / "windows-train", self.window)
            we = cached_windows(held_out, tok, folder / "windows-eval", self.window)
        except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:  # unreadable corpus or cache
            raise ValueError(f"TextTaskConfig: cannot read or write {exc.filename!r} ({exc.strerror}).") from exc
        return TextTask(wt, we, tok, MaskingConfig(self.mask_rate, self.mask_frac, self.random_frac))
