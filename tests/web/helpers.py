"""Drawings for the tests (real test digits scaled up onto a canvas, as PNG data URLs) and
reading downloaded workbooks."""

from __future__ import annotations

import base64
import io
import warnings
from typing import Any

import httpx
import numpy as np
import openpyxl
from PIL import Image


def canvas_of(digit: np.ndarray, size: int = 280, scale: float = 1.0,
              at: tuple[int, int] | None = None) -> np.ndarray:
    """A uint8 28×28 digit enlarged ``size/28 × scale`` and pasted on a black canvas."""
    side = max(8, int(size * scale))
    big = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR))
    out = np.zeros((size, size), np.uint8)
    top, left = at if at is not None else ((size - side) // 2, (size - side) // 2)
    out[top:top + side, left:left + side] = big
    return out


def data_url(gray: np.ndarray, fmt: str = "PNG") -> str:
    buf = io.BytesIO()
    Image.fromarray(gray).save(buf, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode()


def load_xlsx(data: bytes) -> Any:
    """A workbook with its cached values; openpyxl drops (and warns about) the Excel 2010
    data-bar extension, which is expected."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".* extension is not supported", UserWarning)
        return openpyxl.load_workbook(io.BytesIO(data), data_only=True)


def named(wb: Any, name: str) -> np.ndarray:
    """The values under a defined name as a 2-D float array."""
    ((sheet, ref),) = list(wb.defined_names[name].destinations)
    cells = wb[sheet][ref.replace("$", "")]
    rows = cells if isinstance(cells, tuple) else ((cells,),)
    return np.array([[c.value for c in row] for row in rows], dtype=float)


def post(client: httpx.Client, path: str, body: dict, status: int = 200) -> dict:
    """POST JSON to the API; the status and the envelope's ``ok`` must agree with ``status``."""
    r = client.post(path, json=body)
    assert r.status_code == status, r.text[:300]
    data = r.json()
    assert data["ok"] is (status < 400)
    return data


def make_atlas(run_dir: Any, data: Any, layer: int = 1, n_features: int = 32, k: int = 4,
               epochs: int = 2, out: Any = None) -> Any:
    """A small feature atlas of ``layer`` trained on ``data``'s training digits (what
    ``digitlens features`` trains, at a size that takes a moment), written where the explorer
    looks for it (or into ``out``); the autoencoder."""
    from digitlens.analysis.atlas import atlas_of
    from digitlens.analysis.sae_file import FILE, network_digest, run_atlas, save_features
    from digitlens.nn.io import load_model
    model = load_model(run_dir)
    fs = atlas_of(model, layer, data.train_images, data.test_images, data.test_labels,
                  n_features=n_features, k=k, epochs=epochs)
    folder = out if out is not None else run_atlas(run_dir, layer)
    folder.mkdir(parents=True, exist_ok=True)
    save_features(fs.sae, folder / FILE, {"layer": layer, "run": str(run_dir),
                                          "network": network_digest(model)})
    return fs.sae
