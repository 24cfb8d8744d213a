"""Natural-text setting of the paper (docs/paper.md §5), torch-free data layer: streamed corpora,
the built-in Shakespeare corpus, a subword tokenizer with the PCFG token layout, cached token
windows, MLM batches and the unigram baseline. See docs/text.md.

The ``tokenizers`` package (and, for the built-in corpus, ``shakespeare``) are optional: they are
imported only when a tokenizer is trained or loaded, or the built-in corpus is read.
"""
from .builtin import BUILTIN, EVAL_WORKS, shakespeare_corpus, shakespeare_works, train_eval_corpora
from .corpus import CorpusStats, TextCorpus, split_documents
from .mlm import mlm_batch, mlm_batches, unigram_baseline, unigram_distribution
from .tokenizer import SPECIALS, TextTokenizer, TokenizerSettings, cached_tokenizer, train_tokenizer
from .windows import TextWindows, cached_windows, encode_windows

__all__ = ["TextCorpus", "CorpusStats", "split_documents", "train_eval_corpora", "BUILTIN", "EVAL_WORKS", "shakespeare_corpus", "shakespeare_works", "TokenizerSettings",
           "TextTokenizer", "train_tokenizer", "cached_tokenizer", "SPECIALS", "TextWindows", "encode_windows",
           "cached_windows", "mlm_batch", "mlm_batches", "unigram_distribution", "unigram_baseline"]
