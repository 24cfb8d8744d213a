"""Token layout of the PCFG setting: terminal ids first, then the four special tokens.

For a grammar with V terminals (ids 0..V-1, in ``Grammar.terminals`` order):

    BOS = V, EOS = V + 1, PAD = V + 2, MASK = V + 3, vocab_size = V + 4

and ``IGNORE = -100`` marks targets without a loss.
A model input is BOS followed by the terminals of one string (docs/paper.md §5), optionally EOS,
right-padded with PAD. This is the one place these ids are defined; everything else asks a
:class:`TokenLayout` (``grammar.layout``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from parity_theory.parity import check_int

__all__ = ["TokenLayout", "IGNORE"]

#: target value at positions that carry no loss (torch's cross-entropy ``ignore_index`` default)
IGNORE = -100


@dataclass(frozen=True)
class TokenLayout:
    """Token ids for a grammar with ``n_terminals`` terminals (see the module docstring)."""

    n_terminals: int

    def __post_init__(self):
        check_int(self.n_terminals, "TokenLayout.n_terminals")

    @property
    def bos(self) -> int:
        return self.n_terminals

    @property
    def eos(self) -> int:
        return self.n_terminals + 1

    @property
    def pad(self) -> int:
        return self.n_terminals + 2

    @property
    def mask(self) -> int:
        return self.n_terminals + 3

    @property
    def vocab_size(self) -> int:
        return self.n_terminals + 4

    def batch(self, strings, length: int | None = None, *, bos: bool = True, eos: bool = False) -> np.ndarray:
        """int64 (m, length) array: [BOS] + terminals (+ [EOS]), cut to ``length`` and right-padded with PAD.

        ``strings``: a sequence of 1-D int arrays of terminal ids. ``length`` defaults to the
        longest encoded string. Strings longer than ``length`` are cut (a window of their start).
        """
        seqs = [np.asarray(s) for s in strings]
        for i, s in enumerate(seqs):
            if s.ndim != 1 or (s.size and (s.min() < 0 or s.max() >= self.n_terminals)):
                raise ValueError(f"strings[{i}] must be a 1-D array of terminal ids in [0, {self.n_terminals}); "
                                 f"got shape {s.shape}" + (f", values in [{s.min()}, {s.max()}]." if s.size else "."))
        extra = int(bos) + int(eos)
        if length is None:
            length = max((len(s) for s in seqs), default=0) + extra
        length = check_int(length, "length")
        out = np.full((len(seqs), length), self.pad, dtype=np.int64)
        for i, s in enumerate(seqs):
            row = ([self.bos] if bos else []) + s.tolist() + ([self.eos] if eos else [])
            row = row[:length]
            out[i, :len(row)] = row
        return out
