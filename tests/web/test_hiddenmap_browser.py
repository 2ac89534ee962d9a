"""The hidden-space map in a real browser: the drawing is a point that moves on the map as you
draw, at the PCA projection NumPy computes, and hovering it lists its nearest test digits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitlens.analysis.maps import all_layers
from digitlens.data.sources import Dataset
from digitlens.nn.io import load_model
from digitlens.numbering import layer_name
from support import forward_bounds

from .test_browser import ONE, ZERO, Page, page  # noqa: F401  (a fixture)

pytestmark = pytest.mark.e2e


def map_point(p: Page) -> list[float] | None:
    return p.js("window.digitlens.map.point")  # type: ignore[no-any-return]


def test_drawing_moves_on_the_map(page: Page, shots: Path, served_runs: Path,  # noqa: F811
                                  sample: Dataset) -> None:
    page.wait("window.digitlens.map.map !== null")
    m = page.js("window.digitlens.map.map")
    assert m["layer"] == 1 and len(m["points"]) == len(m["labels"]) > 0
    assert map_point(page) is None  # nothing drawn: no point
    page.stroke(ONE[:8], release=False)
    page.wait("window.digitlens.map.point !== null")
    page.settle()
    first = map_point(page)
    page.stroke(ONE[8:])
    page.stroke(ZERO)
    page.settle()
    moved = map_point(page)
    assert first is not None and moved is not None
    assert np.hypot(*np.subtract(moved, first)) > 1e-3
    assert page.js("window.digitlens.map.updates") >= 2
    # the page's point is the NumPy projection of the layer's activations
    acts = np.asarray(page.js("Array.from(window.digitlens.last.activations[1])"), np.float64)
    want = (acts - np.asarray(m["mean"])) @ np.asarray(m["components"]).T
    # float64 both sides, from the same activations, mean and components (1e-4 is ample)
    np.testing.assert_allclose(moved, want, rtol=1e-4, atol=1e-4)
    # hovering the point lists the nearest test digits on the map
    canvas = page.page.get_by_test_id("hidden-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    px, py = page.js("window.digitlens.map.pixel()")
    scale = box["width"] / page.js("window.digitlens.map.canvas.width")
    page.page.mouse.move(box["x"] + px * scale, box["y"] + py * scale)
    page.wait("document.querySelectorAll('[data-testid=map-near] figure').length === 5")
    shown = [int(i) for i in page.js("[...document.querySelectorAll("
                                     "'[data-testid=map-near] figure')].map(f => f.dataset.index)")]
    h = all_layers(load_model(served_runs / "small"), sample.test_images)[2]  # layer 1
    d = ((h - acts) ** 2).sum(1)
    # the server's test activations may be summed in another order than these (the forward
    # bound dh): each squared distance moves by ≤ 2‖h − a‖·‖dh‖ + ‖dh‖²
    dh = np.linalg.norm(forward_bounds(load_model(served_runs / "small"),
                                       sample.test_images)[1][1], axis=1)
    moves = float((2 * np.sqrt(d) * dh + dh ** 2).max())
    assert d[shown] == pytest.approx(np.sort(d)[:5], rel=1e-4, abs=1e-6 + 2 * moves)
    assert "your drawing in layer 1 (hidden)" in page.text("map-near")
    # elsewhere on the map: the test digits under the cursor, nearest on the map
    page.page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.wait("document.querySelector('[data-testid=map-near]').textContent.includes('here')")
    page.wait("document.querySelectorAll('[data-testid=map-near] figure').length === 5")
    corner = page.js("window.digitlens.map.fromCanvas([5 / " + str(scale) + ", 5 / " +
                     str(scale) + "])")
    shown = [int(i) for i in page.js("[...document.querySelectorAll("
                                     "'[data-testid=map-near] figure')].map(f => f.dataset.index)")]
    d2 = ((np.asarray(m["points"]) - corner) ** 2).sum(1)
    assert sorted(d2[shown]) == pytest.approx(sorted(np.sort(d2)[:5]))  # float64 both
    page.page.mouse.move(box["x"] + px * scale, box["y"] + py * scale)
    page.wait("document.querySelector('[data-testid=map-near]').textContent.includes('drawing')")
    page.page.wait_for_timeout(300)  # the thumbnails
    page.page.screenshot(path=str(shots / "hidden-map.png"), full_page=True)
    # another layer: a new map, the same drawing projected with its own components
    page.page.get_by_test_id("map-layer").select_option("0")
    page.wait("window.digitlens.map.map && window.digitlens.map.map.layer === 0")
    page.wait("window.digitlens.map.point !== null")
    m0 = page.js("window.digitlens.map.map")
    a0 = np.asarray(page.js("Array.from(window.digitlens.last.activations[0])"), np.float64)
    point = map_point(page)
    assert point is not None
    np.testing.assert_allclose(point, (a0 - m0["mean"]) @ np.asarray(
        m0["components"]).T, rtol=1e-4, atol=1e-4)  # float64 both, the same numbers


def test_train_tab_shows_the_neuron_monitor_live(page: Page, served_runs: Path,  # noqa: F811
                                                 shots: Path) -> None:  # noqa: F811
    page.page.get_by_test_id("tab-train").click()
    form = page.page.get_by_test_id("train-form")
    form.locator("select[name=preset]").select_option("s0-fingerprints")
    form.locator("input[name=epochs]").fill("1")
    form.locator("select[name=dataset]").select_option("mnist-sample")
    form.locator("input[name=name]").fill("monitored")
    page.page.get_by_test_id("train-start").click()
    page.wait("document.querySelector('[data-testid=train-status]').textContent.includes('done')",
              timeout=90)
    import json
    row = json.loads((served_runs / "monitored" / "history.json").read_text())["epochs"][0]
    shown = page.text("train-neurons")
    for n in row["neurons"]:
        assert (f"{layer_name(n['layer'])}: {n['dead']} dead, {n['dim']} dim, "
                f"{n['duplicates']} near-duplicate of {n['n']}") in shown
    page.page.screenshot(path=str(shots / "train-neurons.png"))
