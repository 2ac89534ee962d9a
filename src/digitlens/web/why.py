"""The explorer's "why this answer and not that one": ``POST /api/circuit`` (the few hidden
neurons behind the drawing's answer, by mean-ablation) and ``POST /api/patch`` (the drawing
run with a test digit's activations at one hidden layer).

Inputs are read as ``/api/predict`` reads them; the numbers come from
``digitlens.analysis.patching``. Mean-ablation puts in each neuron's mean over the test set,
computed once per loaded model by the registry (``Registry.hidden_means``); ``GET
/api/runs/NAME/means`` gives the same means to the page, which computes the circuit itself
while the learner draws (``static/js/circuit.js``). Both go through ``digitlens.web.ask``'s route
(strict fields, one ``Flights`` per kind).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens.analysis import patching as P
from digitlens.errors import DigitlensError, bad_param
from digitlens.http import validate as v
from digitlens.web import explore
from digitlens.web.runs import LoadedRun, Registry

MAX_NODES = 60


def drawn(run: LoadedRun, data: dict[str, Any]) -> explore.Input:
    inp = explore.read_input(data, run)
    if not inp.has_ink or not np.any(inp.x > 0):
        raise DigitlensError("the drawing is blank: draw a digit first")
    if run.model.n_layers < 2:
        raise DigitlensError("this network has no hidden layer: its answer is the weights "
                             "times the pixels (see the evidence view)")
    return inp


def means(registry: Registry, run: LoadedRun) -> dict[str, Any]:
    """``GET /api/runs/NAME/means``: each hidden layer's mean test activation (float64, as
    JSON numbers that read back to the same bits), for the page's own circuit."""
    if run.model.n_layers < 2:
        raise DigitlensError("this network has no hidden layer: its answer is the weights "
                             "times the pixels (see the evidence view)")
    return {"run": run.name, "means": [m.tolist() for m in registry.hidden_means(run)]}


def circuit(registry: Registry, run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    inp = drawn(run, data)
    n = run.model.sizes[-1]
    target = data.get("target")
    contrast = data.get("contrast")
    c = P.circuit(run.model, inp.x, registry.hidden_means(run),
                  None if target is None else v.whole(target, "target", 0, n - 1),
                  None if contrast is None else v.whole(contrast, "contrast", 0, n - 1),
                  v.whole(data.get("max_nodes", P.MAX_NODES), "max_nodes", 1, MAX_NODES))
    return {"run": run.name, **c.to_dict()}


def patch(_registry: Registry, run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    """The drawing (``into``) with test digit ``source_index``'s activations at ``layer``
    (all its neurons, or ``neurons``)."""
    inp = drawn(run, data)
    model = run.model
    ds = run.dataset
    i = v.whole(data.get("source_index"), "source_index", 0, len(ds.test_labels) - 1)
    layer = v.whole(data.get("layer"), "layer", 0, model.n_layers - 2)
    chosen = data.get("neurons")
    if chosen is not None:
        width = model.sizes[layer + 1]
        if not isinstance(chosen, list) or not 1 <= len(chosen) <= width:
            raise bad_param("neurons", f"a list of 1..{width} neurons of layer {layer}",
                              type(chosen).__name__)
        chosen = [v.whole(j, "neurons", 0, width - 1) for j in chosen]
    source = ds.test_images[i].astype(np.float32).ravel() / 255
    p = P.patch(model, source, inp.x, layer, chosen)
    return {"run": run.name, **p.to_dict(), "source_index": i,
            "source_label": int(ds.test_labels[i]),
            "source_image": ds.test_images[i].ravel().tolist()}


FIELDS = {"circuit": explore.INPUT_FIELDS | {"run", "target", "contrast", "max_nodes"},
          "patch": explore.INPUT_FIELDS | {"run", "source_index", "layer", "neurons"}}
HANDLERS = {"circuit": circuit, "patch": patch}
