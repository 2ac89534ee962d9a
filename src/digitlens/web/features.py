"""The explorer's feature atlas of a hidden layer (``digitlens features``): ``GET /api/features``
gives the page what it needs to compute a drawing's features itself (the encoder: ``W_enc``,
``b_enc``, ``b_dec`` and k, in the packed form the page asks for; the decoder ``W_dec``, to split
a gap over the last hidden layer's features) and what it says about each
feature (how often it fires on the test set, its strongest test digits); ``GET
/api/features/card`` gives one feature's card (its decoder direction composed to the input,
its top test digits with their pictures).

An atlas is found in the run's own folder (``RUN/features/layer-L/features.npz``,
``sae_file.run_atlas``) and read through ``sae_file.load_features``, which checks it against
the run's network and layer: a file of another run or layer is one line with a 400. It is
measured once per run, layer and file version, and kept with the loaded run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from digitlens.analysis import sae as S
from digitlens.analysis.atlas import atlas_of, decoder_pixels, top_digits
from digitlens.analysis.sae_file import FILE, load_features, run_atlas
from digitlens.errors import ModelError, NotFoundError, ParameterError
from digitlens.http import validate as v
from digitlens.http.envelope import success
from digitlens.numbering import layer_name
from digitlens.palette import symmetric_limit
from digitlens.web import encode
from digitlens.web.flight import Flights
from digitlens.web.runs import LoadedRun, Registry

TOP = 5  # test digits on a card, as on the report's cards


@dataclass
class Atlas:
    """A layer's autoencoder and what the test set says of it (the (digits, F) codes
    themselves are not kept: 80 MB for MNIST's 10,000 digits and 2,048 features)."""

    sae: S.SAE
    measures: S.Atlas
    top: np.ndarray         # (F, TOP) test digit indices, strongest first; -1: none
    top_values: np.ndarray  # (F, TOP)


def layer_of(run: LoadedRun, value: Any) -> int:
    hidden = run.model.n_layers - 1
    if hidden < 1:
        raise ParameterError(f"run {run.name!r} has no hidden layer, so no feature atlas")
    if value is None:
        raise ParameterError(f"give the hidden layer: layer=0..{hidden - 1}")
    return v.integer(value, "layer", 0, hidden - 1)


def atlas(registry: Registry, run: LoadedRun, layer: int) -> Atlas:
    """The run's atlas of ``layer``, measured on its test set once per file version."""
    path = run_atlas(run.path, layer) / FILE if run.path.is_dir() else None
    if path is None or not path.is_file():
        raise NotFoundError(f"run {run.name!r} has no feature atlas of {layer_name(layer)}: "
                            f"make one with `digitlens features RUN --layer {layer}`")
    key = (layer, path.stat().st_mtime_ns)

    def measure() -> Atlas:
        try:
            sae, _meta = load_features(path, run.model, layer)
        except ModelError as exc:  # say which run, not where it lives on this machine
            reason = str(exc).split(": ", 1)[-1]
            raise ModelError(f"run {run.name!r}: its feature atlas of {layer_name(layer)} "
                             f"does not fit: {reason}") from None
        ds = run.dataset
        fs = atlas_of(run.model, layer, ds.train_images, ds.test_images, ds.test_labels, sae=sae)
        top, values = top_digits(fs.codes, TOP)
        return Atlas(sae, fs.atlas, top, values)
    return registry.single_flight(run, key, run.atlases, measure)  # type: ignore[no-any-return]


def encoder(registry: Registry, run: LoadedRun, layer: int) -> dict[str, Any]:
    """What the page computes a drawing's features with (the encoder), and rebuilds the layer
    from (``W_dec``: the page splits a gap over the last hidden layer's features,
    featuregap.js), and what it says of each feature."""
    a = atlas(registry, run, layer)
    m = a.measures
    return {"run": run.name, "layer": layer, "n_hidden": int(a.sae.W_enc.shape[0]),
            "n_features": a.sae.n_features, "k": a.sae.k, "n_test": len(run.dataset.test_labels),
            "W_enc": encode.Numbers(a.sae.W_enc, 6), "b_enc": encode.Numbers(a.sae.b_enc, 6),
            "b_dec": encode.Numbers(a.sae.b_dec, 6),
            "frequency": encode.Numbers(m.frequency, 5, unit=True),
            "top": a.top.tolist(), "l0": round(m.l0, 3), "dead_fraction": m.dead_fraction,
            "explained_variance": round(m.explained_variance, 5),
            "accuracy": m.accuracy, "accuracy_spliced": m.accuracy_spliced,
            "W_dec": encode.Numbers(a.sae.W_dec, 6)}


def card(registry: Registry, run: LoadedRun, layer: int, feature: int) -> dict[str, Any]:
    """One feature's card: its decoder direction as pixels, its top test digits, how often
    it fires."""
    a = atlas(registry, run, layer)
    v.integer(feature, "feature", 0, a.sae.n_features - 1)
    pixels = decoder_pixels(run.model, layer, a.sae, [feature])[:, 0]
    ds = run.dataset
    top = [{"index": int(i), "label": int(ds.test_labels[i]), "value": round(float(val), 4),
            "image": ds.test_images[i].ravel().tolist()}
           for i, val in zip(a.top[feature], a.top_values[feature], strict=True) if i >= 0]
    labels = [d["label"] for d in top]
    common = max(set(labels), key=labels.count) if labels else None
    return {"run": run.name, "layer": layer, "feature": feature, "n_features": a.sae.n_features,
            "frequency": float(a.measures.frequency[feature]),
            "image": np.round(pixels, 6).tolist(), "limit": symmetric_limit(pixels),
            "top_test": top, "mostly": None if common is None else
            {"label": common, "count": labels.count(common), "of": len(labels)}}


def flights() -> dict[str, Flights]:
    """The two answers' ``Flights`` (single flight, a cap per kind), for an app's ``Api``."""
    return {"features": Flights("features"), "feature card": Flights("feature card")}


def routes(api: Any) -> list[Route]:
    """``/features`` and ``/features/card`` under the API's mount, through the app's flights
    (``flights``): the first answer of an atlas measures it on the test set (seconds)."""
    async def features(request: Request) -> Response:
        params = dict(request.query_params)
        v.only(params, {"run", "layer", "format"})
        fmt = v.choice(params.get("format", "json"), "format", encode.FORMATS)
        run = await run_in_threadpool(api.run_of, params.get("run"))
        layer = layer_of(run, params.get("layer"))
        body = success(await api.flights["features"].run(
            (run.name, run.mtime, layer), lambda: encoder(api.registry, run, layer)))
        if fmt == "packed":
            return Response(encode.to_packed(body), media_type=encode.PACKED_TYPE)
        return Response(encode.to_json(body), media_type="application/json")

    async def feature_card(request: Request) -> Response:
        params = dict(request.query_params)
        v.only(params, {"run", "layer", "feature"})
        run = await run_in_threadpool(api.run_of, params.get("run"))
        layer = layer_of(run, params.get("layer"))
        feature = v.integer(params.get("feature"), "feature", 0, S.MAX_FEATURES - 1)
        body = success(await api.flights["feature card"].run(
            (run.name, run.mtime, layer, feature), lambda: card(api.registry, run, layer, feature)))
        return Response(encode.to_json(body), media_type="application/json")

    return [Route("/features", features), Route("/features/card", feature_card)]
