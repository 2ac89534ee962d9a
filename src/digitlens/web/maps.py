"""``GET /api/map``: a hidden layer's PCA map of the test set for the explorer. The answer holds
the projection itself (mean and two components), so the page places the current drawing on the
map from the activations it already has, with no request per stroke. The app computes both
answers through its ``Flights`` (``digitlens.web.flight``), which also keeps the last maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from digitlens.analysis.maps import nearest, page_map
from digitlens.errors import ParameterError, bad_param
from digitlens.http import validate as v
from digitlens.numbering import layer_name
from digitlens.palette import CLASS_COLOURS
from digitlens.web.runs import LoadedRun, Registry

KEEP = 16  # maps kept in memory (a map is ~100 kB)
MAX_ACTIVATION = 1e6  # far above any layer's values on digits; squares stay finite


def map_layer(run: LoadedRun, value: Any) -> int:
    """The hidden layer a map request names (default the last), checked against the model."""
    hidden = run.model.n_layers - 1
    if hidden < 1:
        raise ParameterError(f"run {run.name!r} has no hidden layer to map")
    return v.integer(hidden - 1 if value is None else value, "layer", 0, hidden - 1)


def hidden_map(registry: Registry, run: LoadedRun, layer: int) -> dict[str, Any]:
    """The map of hidden layer ``layer`` of ``run`` (checked by ``map_layer``)."""
    ds = run.dataset
    acts = registry.test_activations(run, layer)
    m = page_map(run.model, ds.test_images, ds.test_labels, layer, acts)
    return {"run": run.name, "n_hidden": run.model.n_layers - 1, **m,
            "colours": list(CLASS_COLOURS), "mean": np.round(m["mean"], 5).tolist(),
            "components": np.round(m["components"], 6).tolist(),
            "points": np.round(m["points"], 3).tolist()}


def near_digits(registry: Registry, run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    """``POST /api/map/near``: the ``k`` test digits whose activations in hidden ``layer`` are
    nearest (Euclidean, all the layer's numbers, not the 2-D map) to ``activations``."""
    hidden = run.model.n_layers - 1
    if hidden < 1:
        raise ParameterError(f"run {run.name!r} has no hidden layer to map")
    layer = v.whole(data.get("layer", hidden - 1), "layer", 0, hidden - 1)
    k = v.whole(data.get("k", 5), "k", 1, 50)
    width = run.model.sizes[layer + 1]
    acts = data.get("activations")
    if not isinstance(acts, list) or len(acts) != width or not all(
            isinstance(a, int | float) and not isinstance(a, bool)
            and -MAX_ACTIVATION <= a <= MAX_ACTIVATION for a in acts):  # NaN fails too
        raise bad_param("activations", f"a list of {width} numbers within ±{MAX_ACTIVATION:g} "
                        f"({layer_name(layer)})", f"{type(acts).__name__} of {len(acts)}"
                        if isinstance(acts, list) else type(acts).__name__)
    h = registry.test_activations(run, layer)
    idx, dist = nearest(h, np.asarray(acts, np.float64), k)
    labels = run.dataset.test_labels
    return {"run": run.name, "layer": layer, "indices": idx[0].tolist(),
            "labels": [int(labels[i]) for i in idx[0]],
            "distances": [round(float(d), 4) for d in dist[0]]}
