"""The report's findings box says what the numbers say, also at the edges (no mistakes)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from digitlens.analysis.metrics import evaluate_model
from digitlens.render.report import Subject, accuracy_finding


def test_mix_up_named_or_none(single_run: Path, sample) -> None:
    s = Subject.load(single_run, sample)
    off = s.ev.confusion.copy()  # the oracle: the largest off-diagonal cell, found here
    np.fill_diagonal(off, 0)
    t, q = divmod(int(np.argmax(off)), off.shape[1])
    said = accuracy_finding(s)
    assert f"<b>{t}</b> read as" in said and f"<b>{q}</b> (" in said and str(off[t, q]) in said

    right = s.model.predict(s.x) == s.y  # only digits it reads right: nothing mixed up
    perfect = dataclasses.replace(s, ev=evaluate_model(s.model, s.x[right], s.y[right]),
                                  x=s.x[right], y=s.y[right])
    said = accuracy_finding(perfect)
    assert "<b>100.00%</b>" in said and "mixes up no class" in said and "read as" not in said
