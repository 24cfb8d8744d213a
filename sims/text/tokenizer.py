"""Subword tokenizer of the text setting, trained on the corpus with the ``tokenizers`` package (docs/text.md).

Token ids follow the PCFG layout (:class:`sims.pcfg.tokens.TokenLayout`): the V ordinary tokens
come first, ids 0..V-1, then the special tokens

    [BOS] = V, [EOS] = V + 1, [PAD] = V + 2, [MASK] = V + 3, vocab_size = V + 4,

so :func:`sims.pcfg.masking.mask_tokens` and :func:`sims.pcfg.ngram.ngram_dependence` work on
text unchanged. [UNK] is the ordinary token 0: like BERT's [UNK] it can be selected for masking
and predicted. Models:

* ``"bpe"`` (default): byte-level BPE (GPT-2 style pre-tokenizer, no normalizer). Every byte is
  in the alphabet, so [UNK] never occurs and ``decode(encode(text)) == text`` exactly.
* ``"wordpiece"``: BERT's pre-tokenizer (whitespace and punctuation) and NFC normalization;
  characters never seen in training and words over 100 characters become [UNK]; decoding joins
  words and punctuation with single spaces (no clean-up rewriting), so the round trip keeps the
  text up to whitespace.

``lowercase=True`` lowercases before either model. :func:`cached_tokenizer` stores the trained
tokenizer (``tokenizer.json``, the library's own JSON format) next to a manifest of kind
"tokenizer" holding the corpus fingerprint (file names, sizes, sha256) and the settings; a
changed corpus or setting retrains.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from curriculum.artifacts import MANIFEST, ArtifactError, config_hash, read_manifest, write_manifest
from curriculum.io import atomic_write_text, ensure_writable_dir
from sims.pcfg.tokens import TokenLayout

from .corpus import TextCorpus

__all__ = ["TokenizerSettings", "TextTokenizer", "train_tokenizer", "cached_tokenizer", "SPECIALS", "UNK",
           "TOKENIZER_FILE", "cache_state", "check_corpus"]

UNK = "[UNK]"
#: the special tokens after the ordinary ones, in id order (V, V + 1, V + 2, V + 3)
SPECIALS = ("[BOS]", "[EOS]", "[PAD]", "[MASK]")
TOKENIZER_FILE = "tokenizer.json"
MODELS = ("bpe", "wordpiece")
_MIN_VOCAB = {"bpe": 300, "wordpiece": 64}


def _tokenizers():
    try:
        import tokenizers  # noqa: PLC0415
    except ImportError:
        raise ImportError("the text setting needs the 'tokenizers' package: pip install 'tokenizers>=0.15' "
                          "(or the extra: pip install '.[text]').") from None
    return tokenizers


@dataclass(frozen=True)
class TokenizerSettings:
    """``model`` "bpe" or "wordpiece"; ``vocab_size``: the target number of ordinary tokens V
    (a small corpus may give fewer); ``min_frequency``: of a merge / subword; ``lowercase``."""

    model: str = "bpe"
    vocab_size: int = 8192
    min_frequency: int = 2
    lowercase: bool = False

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"TokenizerSettings.model must be one of {MODELS}; got model={self.model!r}.")
        for name, lo in (("vocab_size", _MIN_VOCAB[self.model]), ("min_frequency", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"TokenizerSettings.{name} must be an int >= {lo} (model {self.model!r}); "
                                 f"got {name}={v!r}.")
        if not isinstance(self.lowercase, bool):
            raise ValueError(f"TokenizerSettings.lowercase must be a bool; got {self.lowercase!r}.")

    def to_dict(self) -> dict:
        return asdict(self)


class TextTokenizer:
    """A trained tokenizer with the id layout of the module docstring.

    ``encode(text)`` -> int64 (n,) ordinary ids (no specials added); ``decode(ids)`` -> str
    (special tokens skipped); ``layout``: the :class:`TokenLayout` (``layout.n_terminals`` = V).
    """

    def __init__(self, tokenizer, settings: TokenizerSettings, *, from_cache: bool = False):
        self.tokenizer = tokenizer
        self.settings = settings
        self.from_cache = from_cache  # True when cached_tokenizer loaded it instead of training
        V = tokenizer.get_vocab_size(with_added_tokens=False)
        expected = {UNK: 0, **{s: V + i for i, s in enumerate(SPECIALS)}}
        got = {s: tokenizer.token_to_id(s) for s in expected}
        if got != expected or tokenizer.get_vocab_size(with_added_tokens=True) != V + len(SPECIALS):
            raise ValueError(f"tokenizer does not have the text layout: special ids {got}, expected {expected}.")
        self.layout = TokenLayout(V)

    @property
    def unk(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"TextTokenizer({self.settings.model}, V={self.layout.n_terminals})"

    def encode(self, text: str) -> np.ndarray:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; got {type(text).__name__}.")
        return np.asarray(self.tokenizer.encode(text, add_special_tokens=False).ids, dtype=np.int64)

    def encode_batch(self, texts) -> list[np.ndarray]:
        return [np.asarray(e.ids, dtype=np.int64) for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def decode(self, ids) -> str:
        ids = np.asarray(ids).ravel()
        if ids.size and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0 or ids.max() >= self.layout.vocab_size):
            raise ValueError(f"ids must be token ids in [0, {self.layout.vocab_size}); got dtype {ids.dtype}"
                             + (f", values in [{ids.min()}, {ids.max()}]." if ids.size else "."))
        return self.tokenizer.decode(ids.tolist(), skip_special_tokens=True)

    def tokens(self, ids) -> list[str]:
        """The token strings of ``ids`` (specials included), for inspection."""
        return [self.tokenizer.id_to_token(int(i)) for i in np.asarray(ids).ravel()]

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    def digest(self) -> str:
        """sha256 of the tokenizer's JSON: part of the cache key of encoded windows."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def load(cls, folder: str | Path, settings: TokenizerSettings | None = None, *, from_cache: bool = False) -> "TextTokenizer":
        """Load ``folder/tokenizer.json`` (checked against the folder's "tokenizer" manifest)."""
        manifest = read_manifest(folder, kind="tokenizer")
        if settings is None:
            settings = TokenizerSettings(**manifest["config"]["settings"])
        tok = _tokenizers().Tokenizer.from_file(str(Path(folder) / TOKENIZER_FILE))
        return cls(tok, settings, from_cache=from_cache)


def _new_tokenizer(settings: TokenizerSettings):
    tk = _tokenizers()
    from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers  # noqa: PLC0415

    if settings.model == "bpe":
        tok = tk.Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        if settings.lowercase:
            tok.normalizer = normalizers.Lowercase()
        trainer = trainers.BpeTrainer(vocab_size=settings.vocab_size, min_frequency=settings.min_frequency,
                                      special_tokens=[UNK], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                      show_progress=False)
    else:
        tok = tk.Tokenizer(models.WordPiece(unk_token=UNK))
        norm = [normalizers.NFC()] + ([normalizers.Lowercase()] if settings.lowercase else [])
        tok.normalizer = normalizers.Sequence(norm)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # cleanup would rewrite " do not" as " don't"
        trainer = trainers.WordPieceTrainer(vocab_size=settings.vocab_size, min_frequency=settings.min_frequency,
                                            special_tokens=[UNK], continuing_subword_prefix="##", show_progress=False)
    return tok, trainer


def _line_batches(corpus, size: int = 4096):
    batch = []
    for _, piece in corpus.segments():
        batch.append(piece)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def check_corpus(corpus) -> TextCorpus:
    """Return ``corpus`` if it is a TextCorpus, else TypeError saying how to make one."""
    if not isinstance(corpus, TextCorpus):
        raise TypeError(f"corpus must be a TextCorpus (e.g. TextCorpus('texts/') or shakespeare_corpus('train')); "
                        f"got {type(corpus).__name__}.")
    return corpus


def train_tokenizer(corpus, settings: TokenizerSettings = TokenizerSettings()) -> TextTokenizer:
    """Train a tokenizer on the streamed ``corpus`` (a :class:`~sims.text.corpus.TextCorpus`)."""
    check_corpus(corpus)
    if not isinstance(settings, TokenizerSettings):
        raise TypeError(f"settings must be a TokenizerSettings; got {type(settings).__name__}.")
    tok, trainer = _new_tokenizer(settings)
    tok.train_from_iterator(_line_batches(corpus), trainer=trainer)
    tok.add_special_tokens(list(SPECIALS))
    return TextTokenizer(tok, settings)


def cache_state(folder: Path, kind: str, config: dict) -> bool:
    """True when ``folder`` holds a complete artifact of ``kind`` made by ``config``; False when
    it holds none, another config's or a damaged one (to be rebuilt). A folder holding another
    kind of artifact is an ArtifactError (never overwritten)."""
    if not (folder / MANIFEST).is_file():
        return False
    try:
        manifest = read_manifest(folder)
    except ArtifactError:
        return False  # damaged: rebuild
    if manifest.get("kind") != kind:
        raise ArtifactError(f"{str(folder)!r} holds a {manifest.get('kind')!r} artifact, not a {kind!r} one; "
                            f"choose another cache folder.")
    return manifest.get("config_hash") == config_hash(config)


def tokenizer_config(corpus, settings: TokenizerSettings) -> dict:
    return {"corpus": corpus.fingerprint(), "settings": settings.to_dict(), "tokenizers": _tokenizers().__version__}


def cached_tokenizer(corpus, folder: str | Path, settings: TokenizerSettings = TokenizerSettings()) -> TextTokenizer:
    """The tokenizer of ``corpus`` with ``settings``: loaded from ``folder`` when its manifest
    matches (corpus fingerprint, settings, tokenizers version), else trained and stored there."""
    folder = Path(folder)
    check_corpus(corpus)
    if not isinstance(settings, TokenizerSettings):
        raise TypeError(f"settings must be a TokenizerSettings; got {type(settings).__name__}.")
    config = tokenizer_config(corpus, settings)
    if cache_state(folder, "tokenizer", config):
        return TextTokenizer.load(folder, settings, from_cache=True)
    ensure_writable_dir(folder, "tokenizer cache folder")
    tok = train_tokenizer(corpus, settings)
    atomic_write_text(folder / TOKENIZER_FILE, tok.to_json())
    write_manifest(folder, "tokenizer", config, {TOKENIZER_FILE: {"n_terminals": tok.layout.n_terminals,
                                                                 "vocab_size": tok.layout.vocab_size}})
    return tok
