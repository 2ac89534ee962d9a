"""The single-file explorer (``digitlens export RUN --format html``) end to end: written by the
real CLI in a subprocess, opened from ``file://`` in real Chromium with every network request
refused, drawn on, inspected, knocked out, browsed; its numbers checked against the Python
engine. Also: what it refuses, its size for the default network, the packer, the palette."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.export.html_explorer import build_html
from digitlens.jspack import PackError, pack
from digitlens.nn.backprop import hidden_means
from digitlens.nn.io import load_model, save_model
from digitlens.nn.mlp import MLP
from digitlens.web.palette import TARGET, palette_js
from support import assert_within, forward_bounds, require

from .test_browser import ONE, Page
from .test_circuit import check_circuit

pytestmark = pytest.mark.e2e


def export(run: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitlens", "export", str(run), "--format",
                           "html", "--out", str(out), "--dataset", "mnist-sample", "--json",
                           *extra], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def explorer(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "explorer.html"
    done = export(trained_run, out)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["format"] == "html" and result["bytes"] == out.stat().st_size
    return out


def offline(ctx: Any) -> None:
    """No network at all: anything but the file itself is refused (and recorded)."""
    ctx.set_offline(True)
    ctx.requests = []

    def handle(route: Any) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            ctx.requests.append(url)
            route.abort()
    ctx.route("**/*", handle)


def test_explorer_file_works_offline(explorer: Path, browser: Any, trained_run: Path) -> None:
    text = explorer.read_text()
    assert "<script src" not in text and "<link rel=\"stylesheet\"" not in text
    p = Page(browser, explorer.as_uri(), offline, viewport=(1366, 768))
    try:
        p.wait("window.digitlens.renders > 0")
        assert p.text("prediction") == "?" and p.text("confidence") == "draw a digit"
        p.stroke(ONE)
        p.settle()
        assert p.text("prediction") == "1"
        model = load_model(trained_run)
        x = np.array(p.js("Array.from(window.digitlens.last.input)"), np.float32)
        probs = np.array(p.js("Array.from(window.digitlens.last.probabilities)"))
        # engine.js (float64 sums, float32 stores) and Python's float32 BLAS
        assert np.all(np.abs(model.trace(x).probabilities[0] - probs)
                      <= forward_bounds(model, x)[1][-1][0])
        assert p.page.locator("#s-fit").is_visible()  # the preprocessing strip
        assert len(p.page.get_by_test_id("evidence").locator("canvas").all()) == 10
        # the inspector, and a knock-out measured on the shipped sample, labelled so
        active = p.js("window.digitlens.last.activations[0].findIndex((v) => v > 0.1)")
        x0, y0 = p.js(f"window.digitlens.neuronPoint(0, {active})")
        p.page.mouse.click(x0, y0)
        p.wait("document.querySelector('[data-testid=inspector-title]') !== null")
        p.settle()
        assert "ReLU(z)" in p.text("arithmetic")
        # what only the server computes is not offered (each could only fail here)
        for testid in ("nudge-go", "evidence-method", "dream"):
            assert p.page.get_by_test_id(testid).count() == 0 or \
                not p.page.get_by_test_id(testid).is_visible(), testid
        assert "needs the digitlens server" not in p.text("inspector")
        p.page.get_by_test_id("knockout").check()
        p.wait("!document.querySelector('[data-testid=ko-note]').hidden")
        p.settle()
        assert p.js(f"window.digitlens.last.activations[0][{active}]") == 0
        note = p.text("knockout-accuracy")
        assert "on the 500 shipped test digits" in note
        with_it, without = (float(v) for v in re.findall(r"([\d.]+)%", note))
        sample_x, sample_y = shipped(text)
        mask = np.ones(model.sizes[1], np.float32)
        mask[active] = 0
        acc = float(np.mean(model.trace(sample_x, masks={0: mask}).prediction == sample_y))
        # the page shows percentages with 2 decimals (toFixed(2): ±0.005)
        assert without == pytest.approx(100 * acc, abs=0.006)
        assert with_it == pytest.approx(100 * np.mean(model.predict(sample_x) == sample_y),
                                        abs=0.006)
        # the test-set browser over the sample: load a digit into the explorer
        p.page.get_by_test_id("tab-test").click()
        p.page.get_by_test_id("cm-3-3").click()
        p.wait("document.querySelectorAll('[data-testid=gallery] canvas').length > 0")
        p.page.get_by_test_id("gallery").locator("canvas").first.click()
        p.settle()
        assert p.text("prediction") == "3"
        m = re.match(r"Test digit #(\d+) \(shipped digit (\d+) of 500\), labelled 3",
                     p.text("source"))
        assert m and shipped_indices(text)[int(m.group(2)) - 1] == int(m.group(1))
        assert sample_y[int(m.group(2)) - 1] == 3
        assert p.page.get_by_test_id("clear").is_visible()
        assert p.ctx.requests == [] and p.errors == []
    finally:
        p.close()


def offline_data(html: str) -> Any:
    found = re.search(r'id="digitlens-offline">(.*?)</script>', html, re.S)
    assert found is not None
    return json.loads(found.group(1))


def test_circuit_follows_the_drawing_offline(explorer: Path, browser: Any, trained_run: Path,
                                             sample: Dataset) -> None:
    """The single file carries each hidden layer's mean over the whole test set: the circuit
    switched on follows the drawing in the page, the same as ``analysis.patching.circuit``
    (``test_circuit.check_circuit``'s bounds); the patch, which needs the server, is not
    offered."""
    p = Page(browser, explorer.as_uri(), offline, viewport=(1366, 768))
    try:
        model = load_model(trained_run)
        p.stroke(ONE[:10])
        p.settle()
        assert not p.page.get_by_test_id("patch").is_visible()
        assert not p.page.get_by_test_id("patch-result").is_visible()
        p.page.get_by_test_id("circuit").click()
        p.wait("window.digitlens.why.shown !== null")
        means = [np.array(m) for m in p.js(
            "window.digitlens.why.means.values().next().value.value.map((m) => Array.from(m))")]
        # the exporter's float32 test activations, summed in BLAS's order: within their bound
        bounds = forward_bounds(model, sample.test_images)[1]
        for layer, (mine, want) in enumerate(zip(means, hidden_means(model,
                                                                     sample.test_images),
                                                 strict=True)):
            assert_within(mine, want, bounds[layer].mean(axis=0), f"means of layer {layer}")
        shown = []
        for more in (ONE[10:], None):
            js = p.js("""(() => { const c = window.digitlens.why.shown;
                return {...c, effects: c.effects.map((e) => Array.from(e)),
                        direct: Array.from(c.direct)}; })()""")
            x = np.array(p.js("Array.from(window.digitlens.last.input)"), np.float32)
            check_circuit(model, x, means, js)
            shown.append([(n["layer"], n["neuron"]) for n in js["nodes"]])
            if more:  # the rest of the 1
                p.stroke(more)
                p.settle()
        assert shown[0] != shown[1]  # it followed the drawing
        assert p.text("circuit-count") == "30"
        assert p.ctx.requests == [] and p.errors == []
    finally:
        p.close()


def shipped_indices(html: str) -> list[int]:
    data = offline_data(html)
    return list(data["sample"]["indices"])


def shipped(html: str) -> tuple[np.ndarray, np.ndarray]:
    data = offline_data(html)
    images = np.frombuffer(base64.b64decode(data["sample"]["images"]), np.uint8)
    labels = np.array(data["sample"]["labels"])
    assert np.bincount(labels).tolist() == [50] * 10  # balanced
    return images.reshape(-1, 784).astype(np.float32) / 255, labels


def test_a_hand_edited_network_is_refused_in_the_page(explorer: Path, browser: Any,
                                                      tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text(explorer.read_text().replace('"activation":"relu"', '"activation":"gelu"', 1))
    p = Page(browser, broken.as_uri(), offline)
    try:
        assert "layers[0].activation must be one of" in p.text("confidence")
        assert p.text("prediction") == "!"
    finally:
        p.errors.clear()
        p.close()


def test_runs_it_cannot_show_are_refused_with_one_line(sample: Dataset, tmp_path: Path) -> None:
    model = MLP.create((100, 10, 10))
    save_model(model, tmp_path / "odd.npz")
    done = export(tmp_path / "odd.npz", tmp_path / "odd.html")
    assert done.returncode == 1 and not (tmp_path / "odd.html").exists()
    assert done.stderr.count("\n") == 1 and "784 pixels" in done.stderr  # refused at load
    with pytest.raises(ModelError, match="reads 10×10 images but the test images of "
                       "mnist-sample are 28×28"):  # and by the exporter itself
        build_html(model, sample, "odd")


def test_default_network_fits_the_budget(sample: Dataset) -> None:
    text = build_html(MLP.create((784, 512, 256, 10)), sample, "default")
    size = len(text.encode())
    print(f"\nexplorer.html for 784-512-256-10: {size / 1e6:.2f} MB")
    assert size <= 4_000_000


def test_palette_js_is_generated_from_the_report_palette() -> None:
    assert TARGET.read_text() == palette_js()


def test_packer_wraps_modules_and_refuses_what_it_cannot_pack(tmp_path: Path) -> None:
    node = require("node")
    (tmp_path / "a.js").write_text('export const X = 2;\n'
                                   'export function twice(v) { return X * v; }\n'
                                   'function hidden() { return 1; }\n'
                                   'export { hidden as shown };\n')
    (tmp_path / "b.js").write_text('import { twice, shown as s } from "./a.js";\n'
                                   'console.log(JSON.stringify([twice(21), s(), typeof X]));\n')
    (tmp_path / "bundle.js").write_text(pack(tmp_path / "b.js"))
    out = subprocess.run([node, str(tmp_path / "bundle.js")], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out) == [42, 1, "undefined"]  # a module's names stay its own
    (tmp_path / "c.js").write_text("export const A = 1, B = 2;\n")
    with pytest.raises(PackError, match="one name per exported declaration"):
        pack(tmp_path / "c.js")
    (tmp_path / "d.js").write_text('import * as all from "./a.js";\n')
    with pytest.raises(PackError, match="only `import"):
        pack(tmp_path / "d.js")
