"""The explorer's answers: turn a validated request into numbers from ``digitlens.analysis``.

No maths lives here beyond picking and rounding: preprocessing comes from
``digitlens.data.preprocess``, values from ``MLP.trace``, evidence from ``analysis.attribution``,
diagram lines from ``analysis.flow``, neuron detail from ``analysis.inspector``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.analysis.activity import active_share
from digitlens.analysis.attribution import evidence
from digitlens.analysis.flow import strongest_connections
from digitlens.analysis.inspector import (
    Masks,
    arithmetic,
    knockout_masks,
    neuron_detail,
    top_exciting,
)
from digitlens.data.preprocess import Preprocessed, preprocess
from digitlens.errors import DigitlensError, ParameterError, bad_param
from digitlens.http import validate as v
from digitlens.layout import grid_shape
from digitlens.web.convnets import LoadedCNN
from digitlens.web.encode import Numbers
from digitlens.web.runs import LoadedRun, Registry

MODES = ("centred", "raw")
INCLUDES = ("activations", "preprocessing", "evidence", "flow")
INPUTS = ("pixels", "gray", "image", "test_index", "net_input")
INPUT_FIELDS = {*INPUTS, "width", "height", "mode"}


def r(a: np.ndarray | float, digits: int = 4) -> Any:
    """Numbers for JSON: float64, rounded (short to send, exact enough to draw and read)."""
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


@dataclass
class Input:
    """The network's input for one request and how it was made."""

    x: np.ndarray                 # (pixels,) float32 0..1, the model's input image flattened
    source: str                   # "drawing" or "test"
    mode: str
    has_ink: bool
    steps: dict[str, Any]
    pre: Preprocessed | None = None

    def preprocessing(self) -> dict[str, Any]:
        """The steps for the page (only when asked for: most of a response's size)."""
        out = {"source": self.source, "mode": self.mode, "has_ink": self.has_ink, **self.steps}
        if self.pre is not None:
            p = self.pre
            out.update(raw28=Numbers(p.raw28, 3, True), fitted=Numbers(p.fitted, 3, True),
                       centred=Numbers(p.centred, 3, True), bbox=list(p.bbox),
                       centre_of_mass=r(np.array(p.centre_of_mass), 2), offset=list(p.offset))
        return out


def read_input(data: dict[str, Any], run: LoadedRun | LoadedCNN) -> Input:
    """One of ``pixels`` or ``gray`` (+ width/height), ``image`` (data URL), ``test_index`` or
    ``net_input`` (the model's inputs, 0..1, fed to the network without preprocessing).
    Drawings are preprocessed to the model's input image (MNIST: 28×28)."""
    ih, iw = run.model.image_shape
    given = [k for k in INPUTS if k in data]
    if len(given) != 1:
        raise DigitlensError(f"give exactly one input: 'pixels' ({ih * iw} numbers in 0..1, or "
                             "width×height with 'width'/'height'), 'gray' (the same as base64 "
                             "bytes 0..255), 'image' (a data URL), 'test_index' or "
                             f"'net_input' ({ih * iw} numbers in 0..1, not preprocessed)")
    mode = v.choice(data.get("mode", "centred"), "mode", MODES)
    if given[0] == "test_index":
        n = len(run.dataset.test_labels)
        i = v.whole(data["test_index"], "test_index", 0, n - 1)
        x = run.dataset.test_images[i].astype(np.float32) / 255
        return Input(x.ravel(), "test", mode, True,
                     {"test_index": i, "label": int(run.dataset.test_labels[i])})
    if given[0] == "net_input":  # the inputs fed as they are (a nudged digit the page kept)
        try:
            x = v.pixels(data["net_input"], iw, ih).ravel()
        except ParameterError as exc:  # the same checks, under this field's name
            raise ParameterError(str(exc).replace("'pixels'", "'net_input'")) from None
        return Input(x, "net input", mode, bool(np.any(x > 0)), {})
    if given[0] in ("pixels", "gray"):
        w = v.whole(data.get("width", iw), "width", min(8, iw), v.MAX_SIDE)
        h = v.whole(data.get("height", ih), "height", min(8, ih), v.MAX_SIDE)
        read = v.pixels if given[0] == "pixels" else v.gray_bytes
        gray = read(data[given[0]], w, h)
    else:
        gray = v.image(data["image"])
    pre = preprocess(gray, (ih, iw))
    x = pre.centred if mode == "centred" else pre.raw28
    steps = {"width": int(gray.shape[1]), "height": int(gray.shape[0]), "inverted": pre.inverted}
    return Input(np.ascontiguousarray(x, np.float32).ravel(), "drawing", mode, pre.has_ink,
                 steps, pre)


def masks_for(run: LoadedRun, data: dict[str, Any]) -> tuple[dict[int, list[int]], Masks]:
    knock = v.knockouts(data.get("knockout"))
    return knock, knockout_masks(run.model, knock)


def predict(run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    """Prediction, probabilities and, as asked by ``include``, every layer's values, the
    preprocessing steps, per-class evidence and the diagram's strongest connections. Arrays
    are ``Numbers``, for ``digitlens.web.encode`` to write as JSON or packed."""
    include = data.get("include", list(INCLUDES))
    if not isinstance(include, list) or any(i not in INCLUDES for i in include):
        raise bad_param("include", f"a list of some of {', '.join(INCLUDES)}", include)
    inp = read_input(data, run)
    knock, masks = masks_for(run, data)
    model = run.model
    t = model.trace(inp.x, masks=masks or None)
    probs = t.probabilities[0]
    out: dict[str, Any] = {
        "run": run.name, "has_ink": inp.has_ink,
        "prediction": int(t.prediction[0]) if inp.has_ink else None,
        "probabilities": Numbers(probs), "input": Numbers(inp.x, 3, True), "knockout": knock,
    }
    if "activations" in include:
        out["activations"] = [Numbers(a[0]) for a in t.activations[1:]]
    if "preprocessing" in include:
        out["preprocessing"] = inp.preprocessing()
    if "evidence" in include:
        ev = evidence(model, inp.x, trace=t, masks=masks or None, ink_only=True)
        out["evidence"] = {"method": ev.method, "note": ev.note,
                           "contributions": Numbers(ev.contributions.T),
                           "scores": Numbers(ev.scores)}
    if data.get("inspect") is not None:
        out["arithmetic"] = inspect_arithmetic(run, data["inspect"], inp, masks)
    if "flow" in include:
        flow = strongest_connections(model, t, 40, masks or None, run.row_peaks())
        out["flow"] = [[[i, j, round(w, 4)] for i, j, w in layer] for layer in flow]
    return out


def inspect_arithmetic(run: LoadedRun, spec: Any, inp: Input, masks: Masks) -> dict[str, Any]:
    """The selected neuron's arithmetic for this input (``{"layer": l, "neuron": i}``)."""
    if not isinstance(spec, dict) or set(spec) != {"layer", "neuron"}:
        raise bad_param("inspect", 'an object {"layer": L, "neuron": N}', spec)
    model = run.model
    layer = v.whole(spec["layer"], "layer", 0, model.n_layers - 1)
    index = v.whole(spec["neuron"], "neuron", 0, model.sizes[layer + 1] - 1)
    return arithmetic(model, layer, index, inp.x, masks or None).to_dict()


def neuron(registry: Registry, run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    """A neuron's weights, composed image, arithmetic for the current input, the test digits
    that excite it most and the test accuracy without it."""
    model = run.model
    layer = v.whole(data.get("layer"), "layer", 0, model.n_layers - 1)
    index = v.whole(data.get("neuron"), "neuron", 0, model.sizes[layer + 1] - 1)
    knock, masks = masks_for(run, data)
    inp = read_input(data, run) if set(data) & set(INPUTS) else None
    d = neuron_detail(model, layer, index, inp.x if inp is not None else None, masks or None)
    acts = registry.test_activations(run, layer)[:, index]
    top = top_exciting(acts, 8)
    ds = run.dataset
    d.update(incoming=r(d["incoming"]), composed=r(d["composed"]),
             outgoing=None if d["outgoing"] is None else r(d["outgoing"]))
    d["incoming_shape"] = list(d["incoming_shape"])
    d["test_mean"] = float(acts.mean())
    d["test_active"] = active_share(acts, model.activations[layer], model.sizes[layer + 1])
    d["top_test"] = [{"index": int(i), "label": int(ds.test_labels[i]), "value": float(acts[i]),
                      "image": ds.test_images[i].ravel().tolist()} for i in top]
    if d["kind"] == "hidden":
        base = registry.evaluation(run).accuracy
        off = {**knock, layer: sorted(set(knock.get(layer, [])) | {index})}
        d["knockout"] = {"accuracy_with": base,
                         "accuracy_without": registry.ablated_accuracy(
                             run, off, knockout_masks(model, off))}
    d["grid"] = list(grid_shape(model.sizes[layer + 1]))
    return d


def ablate(registry: Registry, run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    """Test accuracy with the given neurons knocked out, beside the intact network's."""
    knock, masks = masks_for(run, data)
    ev = registry.evaluation(run)
    without = registry.ablated_accuracy(run, knock, masks) if masks else ev.accuracy
    return {"run": run.name, "knockout": knock, "accuracy": ev.accuracy,
            "accuracy_without": without, "n_test": int(len(run.dataset.test_labels)),
            "knocked_out": int(sum(len(n) for n in knock.values()))}


def ablate_channels(registry: Registry, run: LoadedCNN,
                    knockout: dict[int, list[int]]) -> dict[str, Any]:
    """Test accuracy with whole channels switched off ({layer: [channels]}), beside the intact
    network's: the page's channel knock-out, measured on every test digit (each knock-out
    computed once, through the registry's single flights and its bounded cache, as an MLP's
    ablations are)."""
    from digitlens.nn.cnn import knockout_channels
    from digitlens.nn.cnn_step import evaluate_cnn
    off = knockout_channels(run.model, knockout)
    ds = run.dataset

    def accuracy(k: dict[int, list[int]]) -> float:
        key = tuple(sorted((layer, tuple(c)) for layer, c in k.items()))
        return registry.bounded_flight(run, ("ablation", key), run.accuracies, lambda: evaluate_cnn(  # type: ignore[no-any-return]
            run.model, run.model.as_input(ds.test_images), ds.test_labels, knockout=k).accuracy)

    return {"run": run.name, "knockout": {str(k): c for k, c in off.items()},
            "accuracy": accuracy({}), "accuracy_without": accuracy(off),
            "n_test": int(len(ds.test_labels)),
            "knocked_out": int(sum(len(c) for c in off.values()))}


def test_slice(registry: Registry, run: LoadedRun, params: dict[str, Any]) -> dict[str, Any]:
    """Test digits by class, by 'misclassified' or by a confusion-matrix cell, with images."""
    ds, ev = run.dataset, registry.evaluation(run)
    labels = ds.test_labels.astype(np.int64)
    n_classes = run.model.sizes[-1]
    keep = np.ones(len(labels), bool)
    if params.get("label") is not None:
        keep &= labels == v.integer(params["label"], "label", 0, n_classes - 1)
    if params.get("predicted") is not None:
        keep &= ev.predictions == v.integer(params["predicted"], "predicted", 0, n_classes - 1)
    wrong = v.choice(params.get("misclassified", "false"), "misclassified", ("true", "false"))
    if wrong == "true":
        keep &= ev.predictions != labels
    idx = np.flatnonzero(keep)
    if wrong == "true" or params.get("predicted") is not None:  # most confident first
        conf = ev.probabilities[idx, ev.predictions[idx]]
        idx = idx[np.argsort(-conf, kind="stable")]
    offset = v.integer(params.get("offset", 0), "offset", 0, 10**6)
    limit = v.integer(params.get("limit", 60), "limit", 1, 200)
    page = idx[offset:offset + limit]
    return {"run": run.name, "total": int(len(idx)), "offset": offset, "digits": [
        {"index": int(i), "label": int(labels[i]), "prediction": int(ev.predictions[i]),
         "confidence": round(float(ev.probabilities[i, ev.predictions[i]]), 4),
         "image": ds.test_images[i].ravel().tolist()} for i in page]}


def confusion(registry: Registry, run: LoadedRun) -> dict[str, Any]:
    ev = registry.evaluation(run)
    return {"run": run.name, **ev.to_dict()}
