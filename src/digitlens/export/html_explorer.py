"""The explorer as ONE self-contained HTML file: opens from ``file://`` with no server.

Inside: the served page's HTML, CSS and ES modules (packed into one inline script by
``digitlens.jspack``, entry ``js/offline.js``), the network as a ``digitlens-network`` v1
document whose weights and biases are base64 of little-endian float32 (exact: the values the
model holds, 4 bytes each; the JSON export's decimal text would be ~2.5× larger), and a
balanced sample of test digits (uint8, base64) with their labels, for the test-set browser and
knock-out accuracies measured on that sample, and each hidden layer's mean activation over the
whole test set, for the circuit that follows the drawing. A convolutional network travels as
the served page's ``digitlens-cnn-network`` document, its parameters base64 float32 too.
"""

from __future__ import annotations

import base64
import html as htmlmod
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from digitlens import csp
from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.export.json_format import to_json_text
from digitlens.fileio import atomic_write_text
from digitlens.jspack import pack
from digitlens.nn.backprop import hidden_means
from digitlens.nn.cnn import CNN
from digitlens.nn.cnn_io import page_network_text, page_summary
from digitlens.nn.mlp import MLP
from digitlens.version import __version__

STATIC = Path(__file__).parents[1] / "web" / "static"
PER_CLASS = 50              # sample digits per class
MAX_WEIGHTS = 4_000_000     # ~21 MB of base64: beyond this a page takes too long to open


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def check_representable(model: MLP | CNN, data: Dataset, name: str) -> None:
    """One error line for a run the single-file explorer cannot show."""
    if isinstance(model, CNN):
        weights, (h, w), n_out = model.n_weights, model.input_shape[1:], model.n_classes
        if model.input_shape[0] != 1:
            raise ModelError(f"{name}: the network reads {model.input_shape[0]} channels; the "
                             "explorer draws one")
    else:
        weights = sum(a * b for a, b in zip(model.sizes[:-1], model.sizes[1:], strict=True))
        (h, w), n_out = model.input_shape, model.sizes[-1]
    if weights > MAX_WEIGHTS:
        raise ModelError(f"{name}: {weights} weights is more than the {MAX_WEIGHTS} the HTML "
                         "explorer inlines")
    if tuple(data.test_images.shape[1:]) != (h, w):
        raise ModelError(f"{name}: the network reads {h}×{w} images but the test images of "
                         f"{data.name} are {'×'.join(map(str, data.test_images.shape[1:]))}")
    if int(data.test_labels.max(initial=0)) >= n_out:
        raise ModelError(f"{name}: {data.name} has more classes than the network's "
                         f"{n_out} outputs")


def network_document(model: MLP) -> dict[str, Any]:
    """The JSON export's document, parameters as base64 float32 (rows: one per neuron)."""
    doc: dict[str, Any] = json.loads(to_json_text(model))
    for layer, w, b in zip(doc["layers"], model.weights, model.biases, strict=True):
        layer["weights"] = {"encoding": "float32-base64", "data": b64(w.T.astype("<f4"))}
        layer["biases"] = {"encoding": "float32-base64", "data": b64(b.astype("<f4"))}
    return doc


def balanced_sample(data: Dataset, per_class: int = PER_CLASS) -> dict[str, Any]:
    """The first ``per_class`` test digits of each class, in test-set order."""
    labels = data.test_labels.astype(np.int64)
    idx = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class]
                                  for c in np.unique(labels)]))
    return {"images": b64(data.test_images[idx].astype(np.uint8)),
            "labels": labels[idx].tolist(), "indices": idx.tolist(), "dataset": data.name}


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no ``<`` at all (``\\u003c`` parses to the same
    string), so neither ``</script>`` nor ``<!--<script>`` in a name can end or bend it."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def contents(model: MLP | CNN, data: Dataset, run_name: str) -> dict[str, Any]:
    """What the page carries: the network, a sample of test digits, the run list's summary
    and, for an MLP, each hidden layer's mean over the whole test set (for the circuit:
    why.js, circuit.js)."""
    check_representable(model, data, run_name)
    sample = balanced_sample(data)
    common = {"name": run_name, "dataset": data.name, "version": __version__,
              "test_accuracy": None, "n_test": len(sample["labels"])}
    if isinstance(model, CNN):
        names = list(data.class_names)[:model.n_classes]
        return {"run": run_name, "network": page_network_text(model, names), "sample": sample,
                "means": [],
                "summary": {**common, **page_summary(model), "class_names": names}}
    summary = {**common, "sizes": list(model.sizes), "activations": list(model.activations),
               "cost": model.cost, "describe": model.describe(),
               "class_names": list(data.class_names)[:model.sizes[-1]],
               "input_shape": list(model.input_shape)}
    means = [m.tolist() for m in hidden_means(model, data.test_images)]
    return {"run": run_name, "network": network_document(model), "sample": sample,
            "summary": summary, "means": means}


def build_html(model: MLP | CNN, data: Dataset, run_name: str) -> str:
    """The whole page as text."""
    payload = contents(model, data, run_name)
    sample = payload["sample"]
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    # the UI colours (colors.css) and the page's stylesheet, in the order the page links them
    css = "\n".join((STATIC / "css" / name).read_text(encoding="utf-8")
                    for name in ("colors.css", "style.css", "cnn.css"))
    icon = base64.b64encode((STATIC / "favicon.svg").read_bytes()).decode("ascii")
    bundle = pack(STATIC / "js" / "offline.js")
    style, flag, module = f"\n{css}", "window.digitlensOffline = true;", f"\n{bundle}"
    n = len(sample["labels"])
    replacements = [
        (r'<meta charset="utf-8">', '<meta charset="utf-8">'
         + csp.meta(csp.policy(scripts=[flag, module], styles=[style]))),
        (r'<link rel="icon"[^>]*>', f'<link rel="icon" href="data:image/svg+xml;base64,{icon}">'),
        (r'(<link rel="stylesheet"[^>]*>\s*){3}', f"<style>{style}</style>"),
        (r'<script type="module" src="js/main.js"></script>', ""),
        (r'<script type="module" src="js/sweep.js"></script>', ""),  # sweeps live on a server
        (r'<img src="favicon.svg"', f'<img src="data:image/svg+xml;base64,{icon}"'),
        (r"<title>[^<]*</title>",
         f"<title>digitlens · {htmlmod.escape(run_name)} · explorer</title>"),
        (r'<button role="tab" data-tab="train"[^<]*</button>', ""),
        (r'<button role="tab" data-tab="sweeps"[^<]*</button>', ""),
        (r'<nav class="downloads".*?</nav>', ""),
        # the page's words in the reader's language (js/i18n.js fills the span, {n} given)
        (r"<footer>.*?</footer>", f"<footer>digitlens {__version__} · {htmlmod.escape(run_name)} "
         f"({htmlmod.escape(model.describe())}) · "
         f'<span data-i18n="foot.single" data-i18n-vars="{htmlmod.escape(json.dumps({"n": n}))}">'
         "a single-file explorer: everything is computed in this page; accuracies are measured "
         f"on the {n:,} test digits it carries</span></footer>"),
    ]
    for pattern, new in replacements:
        html, count = re.subn(pattern, new.replace("\\", "\\\\"), html, count=1, flags=re.S)
        if count != 1:
            raise ModelError(f"the explorer page has changed: no {pattern!r} to replace")
    tail = (f'<script type="application/json" id="digitlens-offline">{script_json(payload)}'
            f"</script>\n<script>{flag}</script>\n"
            f'<script type="module">{module}</script>\n</body>')
    return html.replace("</body>", tail, 1)


def export_html(model: MLP | CNN, data: Dataset, path: str | Path, run_name: str) -> Path:
    """Write the single-file explorer, atomically."""
    path = Path(path)
    atomic_write_text(path, build_html(model, data, run_name))
    return path
