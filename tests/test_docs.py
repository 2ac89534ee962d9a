"""What the docs promise about numbers the code decides: section numbers, epoch limits."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_guide_names_each_seeds_report_section() -> None:
    """docs/demo.md's '**S4** (section 10)' is the report's own numbering when every seed's run
    is there (the demo's report): the first section of that seed."""
    from digitlens.render.report_sections import SECTIONS
    first: dict[str, int] = {}
    for number, sec in enumerate(SECTIONS, 1):
        first.setdefault(sec.seed, number)
    said = re.findall(r"\*\*(S\d)\*\* \(section (\d+)\)", (ROOT / "docs/demo.md").read_text())
    assert len(said) >= 5
    for seed, number in said:
        assert first[seed] == int(number), (seed, number)


def test_readme_train_epochs_are_the_servers() -> None:
    from digitlens.web.app import MAX_TRAIN_EPOCHS
    assert f'"epochs" (1..{MAX_TRAIN_EPOCHS})' in (ROOT / "README.md").read_text()
