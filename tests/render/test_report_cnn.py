"""The report of a convolutional network, end to end: `digitlens report` on a LeNet run writes
the sections that fit it (kernels, maps, channel fingerprints, attributions, nudges and dreams,
errors, robustness), its numbers the engine's, readable in a real Chromium (axe-core, 12 px);
a gallery of several networks refuses a convolutional one in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from a11y import axe_violations, describe, small_text
from digitlens.analysis.metrics import evaluate_model
from digitlens.data.sources import load_sample
from digitlens.nn.cnn import CNN
from digitlens.nn.io import load_network
from support import chromium

pytestmark = pytest.mark.e2e


def report(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitlens", "report", *args,
                           "--dataset", "mnist-sample", "--json"],
                          capture_output=True, text=True, timeout=600)


def test_a_lenet_report_has_the_sections_that_fit_it(cnn_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    done = report("--run", str(cnn_runs / "lenet"), "--out", str(out))
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout.strip().splitlines()[-1])
    assert info["sections"] == ["training", "kernels", "maps", "fingerprints", "pixels", "ask",
                                "errors", "robustness"]
    for name in ("filters.png", "feature-maps.png", "fingerprints-classes.png",
                 "attribution.png", "dreams-classes.png", "errors.png", "robustness.png"):
        assert (out / name).stat().st_size > 1000 and name in info["files"]
    model = load_network(cnn_runs / "lenet")
    assert isinstance(model, CNN)
    ds = load_sample()
    acc = evaluate_model(model, ds.test_images, ds.test_labels).accuracy
    assert info["accuracy"] == pytest.approx(acc)
    text = (out / "index.html").read_text()
    assert f"{acc:.2%}" in text and "conv 6-16 · 120-84-10" in text
    assert "have no counterpart in a convolutional one" in text
    assert "fully connected networks only" not in text
    assert re.search(r"channels <b>\d+%</b> of the time", text)
    with chromium() as browser:
        for width, height in ((1366, 768), (390, 844)):
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto((out / "index.html").as_uri())
            page.wait_for_load_state("load")
            found = axe_violations(page)
            assert not found, describe(found)
            assert small_text(page) == []
            assert all(page.eval_on_selector_all("img", "els => els.map(e => e.alt)"))
            page.close()


def test_a_gallery_refuses_a_convolutional_network(cnn_runs: Path, tmp_path: Path) -> None:
    done = report("--run", str(cnn_runs / "small"), "--run", str(cnn_runs / "lenet"),
                  "--out", str(tmp_path / "r"))
    line = done.stderr.strip()
    assert done.returncode != 0 and "\n" not in line
    assert "report a convolutional network on its own" in line
