"""Every tutorial notebook in examples/ executed top to bottom by a real kernel (nbclient +
ipykernel) on the embedded sample: no errors, and the pictures and widgets each one promises."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WIDGET = "application/vnd.jupyter.widget-view+json"
# notebook -> (at least this many PNG outputs, at least this many widget views)
EXPECTED = {
    "s0-fingerprints": (2, 1),
    "s1-evidence": (2, 1),
    "s2-composed-weights": (3, 2),
    "s3-training-video-and-canvas": (1, 3),  # progress bar, monitor, explorer
    "s4-workbook": (1, 1),
    "bring-your-own-pytorch-model": (3, 0),
}


def need(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        if os.environ.get("DIGITLENS_REQUIRE_E2E"):
            pytest.fail(f"{module} is required for the notebook tests in CI (the dev extra)")
        pytest.skip(f"{module} not installed")


def test_every_example_is_listed() -> None:
    assert sorted(p.stem for p in EXAMPLES.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    need("nbclient")
    need("ipykernel")
    import nbformat
    from nbclient import NotebookClient
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work)
    nb = nbformat.read(work / f"{name}.ipynb", as_version=4)
    env_cache = os.environ.get("DIGITLENS_CACHE")
    try:  # the sample is named in each notebook; an empty cache proves nothing is fetched
        os.environ["DIGITLENS_CACHE"] = str(tmp_path / "cache")
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(work)}}).execute()
    finally:
        if env_cache is None:
            os.environ.pop("DIGITLENS_CACHE", None)
        else:
            os.environ["DIGITLENS_CACHE"] = env_cache
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"
              and "Warning" in o.text]
    assert not stderr, f"{name} warned: {stderr[0][:300]}"
    pngs = sum("image/png" in o.get("data", {}) for o in outputs)
    widgets = sum(WIDGET in o.get("data", {}) for o in outputs)
    want_png, want_widgets = EXPECTED[name]
    assert pngs >= want_png and widgets >= want_widgets, (name, pngs, widgets)
    for o in outputs:
        if "image/png" in o.get("data", {}):
            assert o.data["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG magic
