"""The cfg3 grammars of Allen-Zhu & Li ("Physics of Language Models, part 1") used by the paper
(docs/paper.md §5), as grammar texts: root 22, six levels of non-terminals, terminals 1 2 3,
every non-terminal's rules equally likely (the official convention)."""
from __future__ import annotations

__all__ = ["BUILTINS"]

# "897" is the right-hand side 8 9 7
_CFG3 = {
    "cfg3b": [
        ("22", "21 20|20 19"), ("21", "18 16|16 18 17"), ("20", "17 16 18|16 17"), ("19", "16 17 18|17 18 16"),
        ("18", "15 14 13|14 13"), ("17", "14 13 15|15 13 14"), ("16", "15 13|13 15 14"),
        ("15", "12 11 10|11 12 10"), ("14", "11 10 12|10 11 12"), ("13", "11 12|12 11"),
        ("12", "897|978"), ("11", "879|789"), ("10", "798|987"),
        ("9", "321"), ("8", "32|312"), ("7", "31|123"),
    ],
    "cfg3f": [
        ("22", "20 21|20 19 21|21 19 19|20 20"), ("21", "18 17|17 16|16 17 18|16 18"),
        ("20", "16 16|16 17|17 16 18"), ("19", "18 16 18|17 18|18 18"),
        ("18", "14 15 13|15 13 13|13 15"), ("17", "15 14 13|14 15|15 14"),
        ("16", "15 15|13 15 13|14 13|14 14"), ("15", "10 11 11|11 11 10|10 10|12 12 11"),
        ("14", "10 12|12 10 12|12 11|10 12 12"), ("13", "11 12|12 11 12|10 12 11"),
        ("12", "797|98|889"), ("11", "88|97|977"), ("10", "899|979|799"),
        ("9", "121|33|11"), ("8", "311|12|331"), ("7", "221|322|312|32"),
    ],
}


def _cfg3_text(name: str) -> str:
    lines = [f"# {name} (Allen-Zhu & Li, Physics of Language Models part 1); rules of one symbol equally likely"]
    for lhs, alts in _CFG3[name]:
        for alt in alts.split("|"):
            syms = alt.split() if " " in alt else list(alt)  # "897" -> 8 9 7 (single-digit terminals)
            lines.append(f"{lhs} -> {' '.join(syms)}")
    return "\n".join(lines) + "\n"


#: name -> grammar text of every builtin (see ``Grammar.builtin``)
BUILTINS: dict[str, str] = {name: _cfg3_text(name) for name in _CFG3}
