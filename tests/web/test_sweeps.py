"""The explorer's Sweeps tab: GET /api/sweeps and the chart on a real server, then a click on
a point in Chromium that opens that run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from digitlens.web.app import create_app
from digitlens.web.runs import Registry
from support import require

from .conftest import Served, ThreadServer
from .test_browser import FLAGS

pytestmark = pytest.mark.e2e
POINT = "grid.optimizersgd-lr0.05-hidden8-seed0"


@pytest.fixture(scope="module")
def sweep_runs(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runs folder plus ``grid``: a real two-point sweep, one point diverging."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail("distributed is required for the sweep tests in CI")
        pytest.skip("distributed not installed")
    root = tmp_path_factory.mktemp("sweeps") / "runs"
    shutil.copytree(runs_dir, root)
    proc = subprocess.run([sys.executable, "-m", "digitlens", "sweep", "--preset",
                           "s0-fingerprints", "--grid", "optimizer=sgd;lr=0.05,1e30;hidden=8",
                           "--epochs", "2",
                           "--dataset", "mnist-sample", "--workers", "1", "--out",
                           str(root / "grid")], capture_output=True, text=True, timeout=180,
                          check=False)
    assert proc.returncode == 1 and "1 of 2 sweep points" in proc.stderr, proc.stderr
    return root


@pytest.fixture(scope="module")
def client(sweep_runs: Path) -> Iterator[httpx.Client]:
    app = create_app(Registry(sweep_runs), allow_training=False, allowed_hosts=["127.0.0.1"])
    with ThreadServer(app) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_api_lists_sweeps_and_opens_their_points(client: httpx.Client, sweep_runs: Path) -> None:
    d = client.get("/api/sweeps").json()
    assert d["ok"] and [s["name"] for s in d["sweeps"]] == ["grid"]
    sweep = d["sweeps"][0]
    assert sweep["keys"] == ["optimizer", "lr", "hidden"]
    assert sweep["preset"] == "s0-fingerprints"
    table = json.loads((sweep_runs / "grid" / "results.json").read_text())["points"]
    good, bad = sweep["points"]
    assert good["test_accuracy"] == table[0]["test_accuracy"] and good["status"] == "done"
    assert good["run"] == POINT
    assert bad["status"] == "failed" and "diverged" in bad["error"]
    assert "run_dir" not in good and str(sweep_runs) not in json.dumps(d)  # names, not paths
    run = client.get(f"/api/runs/{good['run']}").json()["run"]
    assert run["test_accuracy"] == good["test_accuracy"] and run["sizes"] == [784, 8, 8, 10]
    runs = client.get("/api/runs").json()
    assert good["run"] in [r["name"] for r in runs["runs"]]
    assert runs["default"] in ("small", "single")  # the folder's own runs first, not a point
    png = client.get("/api/sweeps/grid/chart.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    for url, status in (("/api/sweeps/nope/chart.png", 404), ("/api/sweeps?x=1", 400),
                        ("/api/sweeps/a%20b/chart.png", 400)):
        r = client.get(url)
        assert r.status_code == status and r.json()["ok"] is False, url


def test_clicking_a_point_opens_its_run(sweep_runs: Path, tmp_path: Path) -> None:
    chromium = require("chromium")
    from playwright.sync_api import sync_playwright
    served = Served("--runs-dir", str(sweep_runs))
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
            for width, height in ((1366, 768), (390, 844)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.goto(served.url + "?tab=sweeps")
                page.wait_for_selector("[data-testid=sweep-point][data-run]")
                rows = page.locator("[data-testid=sweep-point]")
                assert rows.count() == 2
                # one seed per setting: no spread to report (it read "± sd 0.00%")
                sds = page.locator("table.sweep-means tbody td:last-child").all_inner_texts()
                assert sds and set(sds) <= {"—"}, sds
                # the diverged point keeps its last finished epoch (here the initial weights)
                assert page.locator("[data-testid=sweep-point][data-run]").count() == 2
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(tmp_path / f"sweeps-{width}.png"))
                if width == 1366:
                    page.click(f"[data-run='{POINT}']")
                    page.wait_for_url(f"**/?run={POINT}")
                    page.wait_for_selector(f"[data-testid=run] option[value='{POINT}']",
                                           state="attached")
                    page.wait_for_timeout(300)
                    assert page.input_value("[data-testid=run]") == POINT
                    assert page.is_visible("#tab-explore")
                page.close()
            browser.close()
    finally:
        served.stop()
    assert errors == []
