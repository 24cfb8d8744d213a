"""Probabilistic context-free grammars: a text format, the cfg3 builtins, a generator, sampling.

Text format (one rule per line)::

    # comment (also after a rule)
    S -> A B [0.7]      # LHS -> SYM SYM ... [p]
    S -> B               # unlabelled rules of one LHS share what is left equally (here 0.3)
    A -> a
    B -> b A

The first LHS is the start symbol; a symbol that never appears on a left side is a terminal.
Terminal ids follow ``Grammar.terminals``: numeric names in numeric order, otherwise sorted
(or the order given by ``terminals=``). Non-terminal ids follow the order of first appearance
as a left side (the start symbol is id 0).

Builtins (:mod:`sims.pcfg.builtins`): ``cfg3b`` and ``cfg3f`` of Allen-Zhu & Li ("Physics of
Language Models, part 1"), used by the paper (docs/paper.md §5). Sampling: :mod:`sims.pcfg.sampling`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from parity_theory.parity import check_generator, check_int

from .builtins import BUILTINS
from .sampling import GrammarSample
from .tokens import TokenLayout

__all__ = ["Rule", "Grammar"]

_PROB_RE = re.compile(r"\[([^\[\]]*)\]\s*$")
_BAD_NAME_CHARS = set("[]#")
_SUM_TOL = 1e-9

@dataclass(frozen=True)
class Rule:
    """One production ``lhs -> rhs`` with probability ``prob``; ``line`` is its source line (1-based)."""

    lhs: str
    rhs: tuple[str, ...]
    prob: float
    line: int = 0

    def __str__(self) -> str:
        return f"{self.lhs} -> {' '.join(self.rhs)} [{self.prob:.12g}]"


def _natural_key(name: str):
    return (0, int(name), "") if re.fullmatch(r"[+-]?\d+", name) else (1, 0, name)


class Grammar:
    """A validated PCFG (see the module docstring for the text format).

    Attributes: ``rules`` (tuple of :class:`Rule`), ``start`` (name), ``nonterminals`` (names in
    id order, start first), ``terminals`` (names in id order), ``layout`` (:class:`TokenLayout`).
    Build with :meth:`parse`, :meth:`builtin` or :meth:`random_leveled`.
    """

    def __init__(self, rules, start: str | None = None, terminals=None):
        rules = tuple(rules)
        if not rules:
            raise ValueError("Grammar needs at least one rule; got none.")
        lhs_order: list[str] = []
        for r in rules:
            if r.lhs not in lhs_order:
                lhs_order.append(r.lhs)
        start = lhs_order[0] if start is None else start
        if start not in lhs_order:
            raise ValueError(f"start must be a non-terminal (a left side); got start={start!r}, "
                             f"non-terminals {lhs_order}.")
        nonterminals = [start] + [a for a in lhs_order if a != start]
        nt_set = set(nonterminals)
        used_terminals = sorted({s for r in rules for s in r.rhs if s not in nt_set}, key=_natural_key)
        if terminals is None:
            terminals = used_terminals
        else:
            terminals = [str(t) for t in terminals]
            if len(set(terminals)) != len(terminals):
                raise ValueError(f"terminals must be distinct names; got {terminals}.")
            missing = [t for t in used_terminals if t not in terminals]
            clash = [t for t in terminals if t in nt_set]
            if missing or clash:
                raise ValueError(f"terminals must list every terminal of the rules and no non-terminal; "
                                 f"missing {missing}, non-terminals listed {clash}.")
        if not terminals:
            raise ValueError("Grammar has no terminal symbols: every symbol appears on a left side.")
        if len(nonterminals) > 32000:
            raise ValueError(f"Grammar supports at most 32000 non-terminals; got {len(nonterminals)}.")
        self.rules = rules
        self.start = start
        self.nonterminals = tuple(nonterminals)
        self.terminals = tuple(terminals)
        self.layout = TokenLayout(len(self.terminals))
        self._nt_id = {a: i for i, a in enumerate(self.nonterminals)}
        self._t_id = {a: i for i, a in enumerate(self.terminals)}
        self._validate()

    # ---------------------------------------------------------------- construction
    @classmethod
    def parse(cls, text: str, *, start: str | None = None, terminals=None) -> "Grammar":
        """Parse the text format (module docstring). ValueError naming the line for malformed input."""
        if not isinstance(text, str):
            raise TypeError(f"Grammar.parse expects the grammar text as a str; got {type(text).__name__}.")
        raw: list[tuple[str, tuple[str, ...], float | None, int]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            where = f"line {lineno} ({line.strip()!r})"
            if body.count("->") != 1:
                raise ValueError(f"{where}: expected one rule 'LHS -> SYM SYM ... [p]'.")
            left, right = (part.strip() for part in body.split("->"))
            prob = None
            m = _PROB_RE.search(right)
            if m:
                try:
                    prob = float(m.group(1))
                except ValueError:
                    raise ValueError(f"{where}: the probability in [...] must be a number; got {m.group(1)!r}.") from None
                if not (math.isfinite(prob) and 0.0 < prob <= 1.0):
                    raise ValueError(f"{where}: a rule probability must be in (0, 1]; got {m.group(1).strip()}.")
                right = right[:m.start()].strip()
            lhs = left.split()
            if len(lhs) != 1:
                raise ValueError(f"{where}: the left side must be exactly one symbol; got {left!r}.")
            rhs = tuple(right.split())
            if not rhs:
                raise ValueError(f"{where}: the right side is empty (empty strings are not supported).")
            for s in (lhs[0], *rhs):
                if _BAD_NAME_CHARS & set(s) or s == "->":
                    raise ValueError(f"{where}: symbol {s!r} contains one of '[', ']', '#' "
                                     f"(a probability goes last, as '[p]').")
            raw.append((lhs[0], rhs, prob, lineno))
        if not raw:
            raise ValueError("Grammar.parse: the text has no rules (only blank lines or comments).")
        # duplicate rules
        seen: dict[tuple[str, tuple[str, ...]], int] = {}
        for lhs, rhs, _, lineno in raw:
            if (lhs, rhs) in seen:
                raise ValueError(f"line {lineno}: duplicate rule {lhs} -> {' '.join(rhs)} (first on line {seen[lhs, rhs]}).")
            seen[lhs, rhs] = lineno
        # probabilities: labelled ones as given, unlabelled share the rest equally
        by_lhs: dict[str, list[int]] = {}
        for idx, (lhs, *_rest) in enumerate(raw):
            by_lhs.setdefault(lhs, []).append(idx)
        probs: list[float] = [0.0] * len(raw)
        for lhs, idxs in by_lhs.items():
            given = [raw[i][2] for i in idxs if raw[i][2] is not None]
            free = [i for i in idxs if raw[i][2] is None]
            total = math.fsum(given)
            lines = ", ".join(str(raw[i][3]) for i in idxs)
            if free:
                rest = 1.0 - total
                if rest <= _SUM_TOL:
                    raise ValueError(f"lines {lines}: the labelled rules of {lhs!r} sum to {total:.12g}, leaving "
                                     f"nothing for its {len(free)} unlabelled rule(s).")
                for i in free:
                    probs[i] = rest / len(free)
            elif abs(total - 1.0) > _SUM_TOL:
                raise ValueError(f"lines {lines}: the probabilities of {lhs!r} must sum to 1; got {total:.12g}.")
            for i in idxs:
                if raw[i][2] is not None:
                    probs[i] = raw[i][2]
        rules = [Rule(lhs, rhs, p, lineno) for (lhs, rhs, _, lineno), p in zip(raw, probs)]
        return cls(rules, start=start, terminals=terminals)

    @classmethod
    def builtin(cls, name: str) -> "Grammar":
        """One of :data:`BUILTINS` ("cfg3b", "cfg3f"); terminals "1", "2", "3" get ids 0, 1, 2."""
        if name not in BUILTINS:
            raise ValueError(f"unknown builtin grammar {name!r}; choose one of {sorted(BUILTINS)}.")
        return cls.parse(BUILTINS[name])

    @classmethod
    def random_leveled(cls, rng: np.random.Generator, *, levels: int = 4, symbols_per_level: int = 3,
                       n_terminals: int = 3, rules_per_symbol=(2, 3), rhs_lengths=(2, 3),
                       start_level: int = 0) -> "Grammar":
        """A random cfg3-style grammar: a start symbol, ``levels`` levels of ``symbols_per_level``
        non-terminals, then ``n_terminals`` terminals.

        The start symbol and every level-l symbol (l = 1..levels) get a number of rules drawn
        uniformly from ``rules_per_symbol`` (an int or an inclusive (lo, hi) range); each rule's
        right side has a length drawn uniformly from ``rhs_lengths`` (int or (lo, hi)) and symbols
        drawn uniformly from the next level (the terminals after the last level); the rules of one
        symbol are distinct and equally likely. Names: terminals "1".."V", then non-terminals
        numbered upwards from the deepest level, the start symbol last (as in cfg3). Strings
        have lengths between lo^(levels+1) and hi^(levels+1) for rhs_lengths = (lo, hi).
        ``start_level`` = s in 1..levels starts at the first symbol of level s instead (shorter
        strings: levels + 1 - s expansions; :meth:`with_start` after drawing the whole grammar).
        """
        rng = check_generator(rng)
        levels = check_int(levels, "levels")
        spl = check_int(symbols_per_level, "symbols_per_level")
        n_terminals = check_int(n_terminals, "n_terminals")
        rps = _int_range(rules_per_symbol, "rules_per_symbol")
        start_level = check_int(start_level, "start_level", lo=0)
        if start_level > levels:
            raise ValueError(f"start_level must be in [0, levels={levels}]; got start_level={start_level}.")
        lens = _int_range(rhs_lengths, "rhs_lengths")
        names: list[list[str]] = [[str(i + 1) for i in range(n_terminals)]]  # bottom-up
        nxt = n_terminals + 1
        for _ in range(levels):
            names.append([str(nxt + i) for i in range(spl)])
            nxt += spl
        names.append([str(nxt)])  # start symbol
        rules: list[Rule] = []
        for lvl in range(len(names) - 1, 0, -1):  # top-down, so the start symbol comes first
            below = names[lvl - 1]
            for sym in names[lvl]:
                want = int(rng.integers(rps[0], rps[1] + 1))
                max_distinct = sum(len(below) ** n for n in range(lens[0], lens[1] + 1))
                if want > max_distinct:
                    raise ValueError(f"rules_per_symbol={rules_per_symbol} asks for {want} distinct rules but only "
                                     f"{max_distinct} right sides exist with rhs_lengths={rhs_lengths} over "
                                     f"{len(below)} symbols.")
                rhss: list[tuple[str, ...]] = []
                while len(rhss) < want:
                    n = int(rng.integers(lens[0], lens[1] + 1))
                    rhs = tuple(below[j] for j in rng.integers(0, len(below), size=n))
                    if rhs not in rhss:
                        rhss.append(rhs)
                rules += [Rule(sym, rhs, 1.0 / want) for rhs in rhss]
        g = cls(rules, terminals=names[0])
        return g if start_level == 0 else g.with_start(names[len(names) - 1 - start_level][0])

    def with_start(self, symbol: str) -> "Grammar":
        """The same rules with another start symbol (e.g. a lower level of cfg3b: shorter strings).

        Only the rules reachable from ``symbol`` are kept; terminal ids stay those of this grammar.
        """
        if symbol not in self._nt_id:
            raise ValueError(f"with_start: symbol must be a non-terminal of this grammar; got {symbol!r}, "
                             f"non-terminals {list(self.nonterminals)}.")
        reach = {symbol}
        frontier = [symbol]
        while frontier:
            a = frontier.pop()
            for r in self.rules:
                if r.lhs == a:
                    for s in r.rhs:
                        if s in self._nt_id and s not in reach:
                            reach.add(s)
                            frontier.append(s)
        return Grammar([r for r in self.rules if r.lhs in reach], start=symbol, terminals=self.terminals)

    # ---------------------------------------------------------------- validation and analysis
    def _validate(self) -> None:
        first_line = {}
        for r in self.rules:
            first_line.setdefault(r.lhs, r.line)
        for a in self.nonterminals:
            total = math.fsum(r.prob for r in self.rules if r.lhs == a)
            if abs(total - 1.0) > _SUM_TOL:
                raise ValueError(f"line {first_line[a]}: the probabilities of {a!r} must sum to 1; got {total:.12g}.")
        for r in self.rules:
            if not (math.isfinite(r.prob) and 0.0 < r.prob <= 1.0):
                raise ValueError(f"line {r.line}: a rule probability must be in (0, 1]; got {r.prob!r} in {r}.")
        # productive non-terminals (derive at least one terminal string): least fixpoint
        productive: set[str] = set()
        changed = True
        while changed:
            changed = False
            for r in self.rules:
                if r.lhs not in productive and all(s in productive or s in self._t_id for s in r.rhs):
                    productive.add(r.lhs)
                    changed = True
        dead = [a for a in self.nonterminals if a not in productive]
        if dead:
            a = dead[0]
            raise ValueError(f"line {first_line[a]}: non-terminal {a!r} derives no terminal string "
                             f"(every rule of it reaches a cycle); all such: {dead}.")
        # unary cycles A -> B -> ... -> A make the inside algorithm a linear system: not supported
        order = self._unary_order  # raises on a cycle
        del order
        # expected number of children: the spectral radius must be < 1 for finite expected length
        rho = self.spectral_radius
        if rho >= 1.0 - 1e-12:
            raise ValueError(f"the grammar's expected string length is infinite (spectral radius of the expected "
                             f"non-terminal children matrix is {rho:.6g} >= 1): sampling would not terminate.")

    @cached_property
    def _unary_order(self) -> tuple[int, ...]:
        """Non-terminal ids ordered so that A comes after B for every unary rule A -> B (B non-terminal)."""
        children: dict[int, list[int]] = {i: [] for i in range(len(self.nonterminals))}
        line_of: dict[tuple[int, int], int] = {}
        for r in self.rules:
            if len(r.rhs) == 1 and r.rhs[0] in self._nt_id:
                a, b = self._nt_id[r.lhs], self._nt_id[r.rhs[0]]
                children[a].append(b)
                line_of[a, b] = r.line
        order: list[int] = []
        state = [0] * len(self.nonterminals)  # 0 new, 1 on stack, 2 done

        def visit(a: int, path: list[int]):
            state[a] = 1
            for b in children[a]:
                if state[b] == 1:
                    cyc = path[path.index(b):] + [a, b] if b in path else [a, b]
                    names = " -> ".join(self.nonterminals[i] for i in cyc)
                    raise ValueError(f"line {line_of[a, b]}: unary rules form a cycle ({names}); "
                                     f"cycles of single-symbol rules are not supported.")
                if state[b] == 0:
                    visit(b, path + [a])
            state[a] = 2
            order.append(a)

        for a in range(len(self.nonterminals)):
            if state[a] == 0:
                visit(a, [])
        return tuple(order)

    @cached_property
    def spectral_radius(self) -> float:
        """Spectral radius of M[A, B] = expected number of B among the children of A (< 1 here)."""
        n = len(self.nonterminals)
        M = np.zeros((n, n))
        for r in self.rules:
            for s in r.rhs:
                if s in self._nt_id:
                    M[self._nt_id[r.lhs], self._nt_id[s]] += r.prob
        return float(max(abs(np.linalg.eigvals(M)))) if n else 0.0

    @cached_property
    def expected_length(self) -> float:
        """E[number of terminals of a string] = (I - M)^-1 t at the start symbol, t[A] = E[terminal children of A]."""
        n = len(self.nonterminals)
        M = np.zeros((n, n))
        t = np.zeros(n)
        for r in self.rules:
            for s in r.rhs:
                if s in self._nt_id:
                    M[self._nt_id[r.lhs], self._nt_id[s]] += r.prob
                else:
                    t[self._nt_id[r.lhs]] += r.prob
        return float(np.linalg.solve(np.eye(n) - M, t)[0])

    @cached_property
    def depth(self) -> int | None:
        """Largest number of non-terminals on a root-to-leaf path (cfg3b: 6); None if recursive."""
        height: dict[str, int] = {}
        state: dict[str, int] = {}

        def h(a: str) -> int | None:
            if a in self._t_id:
                return 0
            if state.get(a) == 1:
                return None  # recursion
            if a in height:
                return height[a]
            state[a] = 1
            best = 0
            for r in self.rules:
                if r.lhs == a:
                    for s in r.rhs:
                        v = h(s)
                        if v is None:
                            return None
                        best = max(best, v)
            state[a] = 2
            height[a] = best + 1
            return height[a]

        return h(self.start)

    @property
    def is_recursive(self) -> bool:
        return self.depth is None

    def nonterminal_id(self, name: str) -> int:
        if name not in self._nt_id:
            raise ValueError(f"unknown non-terminal {name!r}; non-terminals: {list(self.nonterminals)}.")
        return self._nt_id[name]

    def terminal_id(self, name: str) -> int:
        if name not in self._t_id:
            raise ValueError(f"unknown terminal {name!r}; terminals: {list(self.terminals)}.")
        return self._t_id[name]

    def to_text(self) -> str:
        """The grammar in the text format, every probability written out (parses back to an equal grammar)."""
        return "".join(f"{r}\n" for r in self.rules)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Grammar):
            return NotImplemented
        key = lambda g: (g.start, g.terminals, sorted((r.lhs, r.rhs, r.prob) for r in g.rules))  # noqa: E731
        return key(self) == key(other)

    def __hash__(self) -> int:
        return hash((self.start, self.terminals, len(self.rules)))

    def __repr__(self) -> str:
        return (f"Grammar(start={self.start!r}, {len(self.nonterminals)} non-terminals, "
                f"{len(self.terminals)} terminals, {len(self.rules)} rules, depth={self.depth})")

    # ---------------------------------------------------------------- compiled tables
    @cached_property
    def tables(self):
        """Flat arrays for the kernels (see :mod:`sims.pcfg.sampling`): rule offsets per non-terminal,
        cumulative probabilities, right sides coded as ``id >= 0`` non-terminal, ``-(id + 1)`` terminal."""
        n = len(self.nonterminals)
        by = [[r for r in self.rules if r.lhs == a] for a in self.nonterminals]
        rule_offsets = np.zeros(n + 1, dtype=np.int64)
        cum, rhs_offsets, codes, probs = [], [0], [], []
        for i, rs in enumerate(by):
            rule_offsets[i + 1] = rule_offsets[i] + len(rs)
            c = np.cumsum([r.prob for r in rs])
            c[-1] = 1.0  # u < 1 always picks a rule despite rounding
            cum += c.tolist()
            for r in rs:
                probs.append(r.prob)
                codes += [self._nt_id[s] if s in self._nt_id else -(self._t_id[s] + 1) for s in r.rhs]
                rhs_offsets.append(len(codes))
        return _Tables(rule_offsets, np.array(cum, dtype=np.float64), np.array(rhs_offsets, dtype=np.int64),
                       np.array(codes, dtype=np.int64), np.array(probs, dtype=np.float64))

    # ---------------------------------------------------------------- sampling
    def sample(self, m: int, rng: np.random.Generator, *, labels: bool = True,
               max_length: int = 1_000_000) -> GrammarSample:
        """Draw ``m`` independent strings from the grammar (a :class:`GrammarSample`).

        ``labels``: also record each token's ancestor and span end at every depth. ``max_length``
        guards recursive grammars: a string longer than that raises ValueError.
        """
        from .sampling import sample_numba  # noqa: PLC0415

        m = check_int(m, "m", lo=0)
        rng = check_generator(rng)
        max_length = check_int(max_length, "max_length")
        return sample_numba(self, m, rng, labels=labels, max_length=max_length)

    # ---------------------------------------------------------------- exact inference
    def log_prob(self, tokens, *, window: bool = False) -> np.ndarray | float:
        """log P(w) by the inside algorithm (−inf if w is not derivable); see :func:`sims.pcfg.inside.log_prob`.

        ``tokens``: one 1-D int array of terminal ids (returns a float) or a list of them (float64
        array). ``window=True``: the prefix probability (w is the start of a string).
        """
        from .inside import log_prob  # noqa: PLC0415

        return log_prob(self, tokens, window=window)

    def masked_distribution(self, tokens, masked=None, *, window: bool = False):
        """P(w_p = a | the unmasked tokens), shape (L, V): see :func:`sims.pcfg.inside.masked_distribution`."""
        from .inside import masked_distribution  # noqa: PLC0415

        return masked_distribution(self, tokens, masked, window=window)

    def next_token_distribution(self, tokens):
        """P(w_{t} = a | w_0..w_{t-1}) and P(end | w_0..w_{t-1}): see :func:`sims.pcfg.prefix.next_token_distribution`."""
        from .prefix import next_token_distribution  # noqa: PLC0415

        return next_token_distribution(self, tokens)


@dataclass(frozen=True)
class _Tables:
    rule_offsets: np.ndarray
    cum_probs: np.ndarray
    rhs_offsets: np.ndarray
    rhs_codes: np.ndarray
    probs: np.ndarray


def _int_range(value, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        lo = hi = int(value)
    else:
        try:
            lo, hi = value
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be an int or a pair (lo, hi) of ints; got {name}={value!r}.") from None
        lo, hi = check_int(lo, f"{name}[0]"), check_int(hi, f"{name}[1]")
    if lo < 1 or hi < lo:
        raise ValueError(f"{name} must satisfy 1 <= lo <= hi; got {name}={value!r}.")
    return lo, hi
