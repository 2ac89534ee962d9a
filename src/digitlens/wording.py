"""Counted nouns and verbs in generated sentences: "1 neuron is", "30 neurons are", "an 8"."""

from __future__ import annotations


def plural(n: float, one: str, many: str | None = None) -> str:
    """``one`` for exactly 1 (or -1), else ``many`` (default ``one`` + "s")."""
    return one if abs(n) == 1 else (many if many is not None else one + "s")


def count(n: float, one: str, many: str | None = None, fmt: str = ",") -> str:
    """``n`` formatted with ``fmt`` and its noun: "1 neuron", "60,000 digits", "0.5 points"."""
    return f"{n:{fmt}} {plural(n, one, many)}"



def article(word: str) -> str:
    """The article ``word`` takes as it is read aloud: "a" 2, "an" 8, "an" 11, "an" Ankle boot."""
    spoken = word.lstrip().lower()
    vowel = spoken[:1] in ("a", "e", "i", "o", "u", "8") or spoken in ("11", "18")
    return "an" if vowel else "a"
