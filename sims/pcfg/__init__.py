"""PCFG setting of the paper (docs/paper.md §5), torch-free: grammars, sampling, exact inference,
BERT-style masking and the n-gram dependence probes. See docs/pcfg.md."""
from .builtins import BUILTINS
from .grammar import Grammar, Rule
from .masking import MaskedBatch, MaskingConfig, MLMReference, bayes_mlm_distribution, bayes_mlm_reference, mask_tokens
from .ngram import NgramDependence, bayes_predictor, ngram_dependence
from .sampling import GrammarSample
from .tokens import IGNORE, TokenLayout

__all__ = ["BUILTINS", "Grammar", "GrammarSample", "Rule", "TokenLayout", "IGNORE", "MaskingConfig", "MaskedBatch",
           "mask_tokens", "bayes_mlm_distribution", "MLMReference", "bayes_mlm_reference", "NgramDependence", "ngram_dependence", "bayes_predictor"]
