"""Counted nouns and verbs in generated sentences: "1 neuron is", "30 neurons are"."""

from __future__ import annotations


def plural(n: float, one: str, many: str | None = None) -> str:
    """``one`` for exactly 1 (or -1), else ``many`` (default ``one`` + "s")."""
    return one if abs(n) == 1 else (many if many is not None else one + "s")


def count(n: float, one: str, many: str | None = None, fmt: str = ",") -> str:
    """``n`` formatted with ``fmt`` and its noun: "1 neuron", "60,000 digits", "0.5 points"."""
    return f"{n:{fmt}} {plural(n, one, many)}"
