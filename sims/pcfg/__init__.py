"""PCFG setting of the paper (docs/paper.md §5), torch-free: grammars, sampling, exact inference,
BERT-style masking and the n-gram dependence probes. See docs/pcfg.md."""
from .grammar import BUILTINS, Grammar, GrammarSample, Rule
from .masking import MaskedBatch, MaskingConfig, bayes_mlm_distribution, mask_tokens
from .ngram import NgramDependence, bayes_predictor, ngram_dependence
from .tokens import IGNORE, TokenLayout

__all__ = ["BUILTINS", "Grammar", "GrammarSample", "Rule", "TokenLayout", "IGNORE", "MaskingConfig", "MaskedBatch",
           "mask_tokens", "bayes_mlm_distribution", "NgramDependence", "ngram_dependence", "bayes_predictor"]
