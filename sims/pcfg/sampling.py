"""Top-down PCFG sampling (``Grammar.sample``): a Numba kernel and its plain-Python twin (identical output).

Each string is generated depth first, left to right, from a stack. Expanding a non-terminal A
draws u = rng.random() and takes A's rule r = the first with cumulative probability > u (as
``numpy.searchsorted(cum, u, side="right")``). Terminal ids are emitted in order. With labels,
a terminal at depth d (d non-terminals above it) records the ids of its ancestors at depths
0..d-1 (-1 deeper) and, per depth, whether it is the last terminal of that ancestor's span
(the next token has a different ancestor node at that depth, or there is no next token).

Numba (>= 0.56) consumes a ``numpy.random.Generator``'s bit stream exactly like numpy does, so
the kernel and :func:`sample_python` return the same strings for the same generator state.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

__all__ = ["GrammarSample", "sample_numba", "sample_python"]


@dataclass(frozen=True, eq=False)
class GrammarSample:
    """m sampled strings in flat (CSR) form.

    * ``flat`` int32 (T,): all terminal ids, string i is ``flat[offsets[i]:offsets[i+1]]``;
    * ``offsets`` int64 (m+1,);
    * ``flat_ancestors`` int16 (T, D) or None: the non-terminal id of each token's ancestor at
      depth d (0 = the start symbol), -1 below the token's depth; D = ``Grammar.depth`` (for a
      recursive grammar: the deepest tree of this sample);
    * ``flat_span_ends`` bool (T, D) or None: whether the token is the last terminal of that
      ancestor's span (False where there is no ancestor).
    """

    flat: np.ndarray
    offsets: np.ndarray
    flat_ancestors: np.ndarray | None = None
    flat_span_ends: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """int64 (m,): the number of terminals of each string."""
        return np.diff(self.offsets)

    def _split(self, arr):
        if arr is None:
            raise ValueError("this sample was drawn with labels=False; draw it with labels=True for tree labels.")
        return [arr[a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:])]

    @property
    def tokens(self) -> list[np.ndarray]:
        """One int32 array of terminal ids per string (views into ``flat``)."""
        return self._split(self.flat)

    @property
    def ancestors(self) -> list[np.ndarray]:
        """One int16 (L_i, D) array per string: ancestor non-terminal id at each depth, -1 where none."""
        return self._split(self.flat_ancestors)

    @property
    def span_ends(self) -> list[np.ndarray]:
        """One bool (L_i, D) array per string: the token ends its depth-d ancestor's span."""
        return self._split(self.flat_span_ends)


_OK, _TOO_LONG, _TOO_DEEP, _NO_ROOM, _NO_STACK = 0, 1, 2, 3, 4


@nb.njit(cache=True)
def _sample_kernel(rng, m, start, rule_offsets, cum_probs, rhs_offsets, rhs_codes, D, labels, max_length,
                   cap, stack_cap):  # pragma: no cover - compiled
    """Returns (status, n_tokens, flat, offsets, ancestors, span_ends); fixed capacities, no reallocation.

    status 0: done; 1: a string longer than max_length; 2: a tree deeper than D; 3: more than
    ``cap`` tokens; 4: more than ``stack_cap`` pending symbols (the caller retries larger).
    """
    flat = np.empty(cap, np.int32)
    lab_cap = cap if labels else 0
    anc = np.empty((lab_cap, D), np.int16)
    ends = np.zeros((lab_cap, D), np.bool_)
    offsets = np.zeros(m + 1, np.int64)
    st_sym = np.empty(stack_cap, np.int64)
    st_dep = np.empty(stack_cap, np.int64)
    path_nt = np.empty(max(D, 1), np.int16)
    T = 0
    status = 0
    for i in range(m):
        st_sym[0] = start
        st_dep[0] = 0
        sp = 1
        length = 0
        prev_depth = 0  # depth of the previous token of this string
        min_expanded = 0  # smallest depth of a non-terminal expanded since the previous token
        while sp > 0:
            sp -= 1
            sym = st_sym[sp]
            d = st_dep[sp]
            if sym >= 0:
                if d >= D:
                    return 2, T, flat, offsets, anc, ends
                path_nt[d] = sym
                if d < min_expanded:
                    min_expanded = d
                u = rng.random()
                r = rule_offsets[sym]
                last = rule_offsets[sym + 1] - 1
                while r < last and cum_probs[r] <= u:
                    r += 1
                a = rhs_offsets[r]
                b = rhs_offsets[r + 1]
                if sp + (b - a) > stack_cap:
                    return 4, T, flat, offsets, anc, ends
                for q in range(b - 1, a - 1, -1):
                    st_sym[sp] = rhs_codes[q]
                    st_dep[sp] = d + 1
                    sp += 1
            else:
                if T >= cap:
                    return 3, T, flat, offsets, anc, ends
                flat[T] = -sym - 1
                if labels:
                    if length > 0:  # the previous token ends the spans of its ancestors replaced since
                        # (expanded anew at depth >= min_expanded, or not above this token: depth >= d)
                        for lv in range(min(min_expanded, d), prev_depth):
                            ends[T - 1, lv] = True
                    for lv in range(D):
                        anc[T, lv] = path_nt[lv] if lv < d else -1
                        ends[T, lv] = False
                prev_depth = d
                min_expanded = d
                T += 1
                length += 1
                if length > max_length:
                    return 1, T, flat, offsets, anc, ends
        offsets[i + 1] = T
        if labels and length > 0:  # the last token ends every ancestor's span
            for lv in range(prev_depth):
                ends[T - 1, lv] = True
    return status, T, flat, offsets, anc, ends


def _depth_and_capacity(grammar, m: int) -> tuple[int, int]:
    D = grammar.depth if grammar.depth is not None else 64
    return D, int(min(64 + 1.05 * m * grammar.expected_length, 5e8))


def _raise_too_long(grammar, max_length: int):
    raise ValueError(f"Grammar.sample: a string of {grammar!r} grew beyond max_length={max_length} terminals; "
                     f"raise max_length= for long strings of a recursive grammar.")


def sample_numba(grammar, m: int, rng: np.random.Generator, *, labels: bool = True,
                 max_length: int = 1_000_000):
    """The Numba sampler behind ``Grammar.sample`` (arguments validated there)."""
    t = grammar.tables
    D, cap = _depth_and_capacity(grammar, m)
    stack_cap = 64 if grammar.depth is None else 1 + grammar.depth * int(np.diff(t.rhs_offsets).max())
    state = rng.bit_generator.state
    while True:  # a retry redoes the same draws with more room
        status, n_tok, flat, offsets, anc, ends = _sample_kernel(
            rng, m, 0, t.rule_offsets, t.cum_probs, t.rhs_offsets, t.rhs_codes, D, bool(labels), max_length,
            cap, stack_cap)
        if status == _OK:
            break
        if status == _TOO_LONG:
            _raise_too_long(grammar, max_length)
        rng.bit_generator.state = state
        if status == _TOO_DEEP:
            D *= 2
        elif status == _NO_ROOM:
            cap *= 2
        else:
            stack_cap *= 2
    if n_tok < 0.9 * cap:  # release a buffer much larger than its content
        flat, anc, ends = flat[:n_tok].copy(), anc[:n_tok].copy(), ends[:n_tok].copy()
    else:
        flat, anc, ends = flat[:n_tok], anc[:n_tok], ends[:n_tok]
    if labels and grammar.depth is None:  # keep only the depths this sample reached
        used = int((anc >= 0).any(axis=0).sum()) if len(anc) else 0
        anc, ends = anc[:, :used].copy(), ends[:, :used].copy()
    return GrammarSample(flat, offsets, anc if labels else None, ends if labels else None)


def sample_python(grammar, m: int, rng: np.random.Generator, *, labels: bool = True,
                  max_length: int = 1_000_000):
    """Plain-Python twin of :func:`sample_numba` (same draws, same output; for tests)."""
    t = grammar.tables
    toks: list[int] = []
    anc_rows: list[list[int]] = []
    node_rows: list[list[int]] = []
    offsets = [0]
    counter = 0
    for _ in range(m):
        stack = [(0, 0)]
        path_nt: dict[int, int] = {}
        path_node: dict[int, int] = {}
        start_t = len(toks)
        while stack:
            sym, d = stack.pop()
            if sym >= 0:
                path_nt[d], path_node[d] = sym, counter
                counter += 1
                u = rng.random()
                lo, hi = t.rule_offsets[sym], t.rule_offsets[sym + 1]
                r = lo + min(int(np.searchsorted(t.cum_probs[lo:hi], u, side="right")), hi - lo - 1)
                rhs = t.rhs_codes[t.rhs_offsets[r]:t.rhs_offsets[r + 1]]
                stack.extend((int(c), d + 1) for c in rhs[::-1])
            else:
                toks.append(-sym - 1)
                anc_rows.append([path_nt[lv] for lv in range(d)])
                node_rows.append([path_node[lv] for lv in range(d)])
                if len(toks) - start_t > max_length:
                    _raise_too_long(grammar, max_length)
        offsets.append(len(toks))
    D = grammar.depth if grammar.depth is not None else max((len(r) for r in anc_rows), default=0)
    flat = np.array(toks, dtype=np.int32)
    offsets_arr = np.array(offsets, dtype=np.int64)
    if not labels:
        return GrammarSample(flat, offsets_arr)
    anc = np.full((len(toks), D), -1, dtype=np.int16)
    node = np.full((len(toks), D), -1, dtype=np.int64)
    for i, (a, n) in enumerate(zip(anc_rows, node_rows)):
        anc[i, :len(a)] = a
        node[i, :len(n)] = n
    ends = np.zeros((len(toks), D), dtype=bool)
    for s, e in zip(offsets[:-1], offsets[1:]):
        for tt in range(s, e):
            nxt = node[tt + 1] if tt + 1 < e else np.full(D, -2)
            ends[tt] = (anc[tt] >= 0) & (node[tt] != nxt)
    return GrammarSample(flat, offsets_arr, anc, ends)
