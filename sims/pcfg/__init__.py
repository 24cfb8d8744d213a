"""PCFG setting of the paper (docs/paper.md §5), torch-free: grammars, sampling, exact inference,
BERT-style masking and the n-gram dependence probes. See docs/pcfg.md."""
from .grammar import BUILTINS, Grammar, GrammarSample, Rule
from .tokens import TokenLayout

__all__ = ["BUILTINS", "Grammar", "GrammarSample", "Rule", "TokenLayout"]
