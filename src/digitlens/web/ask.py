"""The explorer's questions about one drawing: ``POST /api/nudge``, ``/api/attribute`` and
``/api/dream`` (and ``/api/circuit``, ``/api/patch`` from ``digitlens.web.why``), in the API's
one envelope and validation style. A nudge and an attribution read the class scores, so they
answer for a convolutional run too; the others read an MLP's neurons.

Inputs are read as ``/api/predict`` reads them (``explore.read_input``); the numbers come from
``digitlens.analysis.nudge``, ``.integrated`` and ``.dream``. A dream needs the training set's
mean digit and every neuron's best training value: one pass over the training digits per
loaded model, kept by the registry. Each kind is computed through its own ``Flights``
(``digitlens.web.flight``): identical requests share one computation, and a few run at once.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from digitlens.analysis import dream as D
from digitlens.analysis import integrated as IG
from digitlens.analysis import nudge as N
from digitlens.analysis.attribution import integrated_evidence
from digitlens.analysis.gradients import read
from digitlens.errors import DigitlensError
from digitlens.http import validate as v
from digitlens.http.envelope import success
from digitlens.web import explore, why
from digitlens.web.convnets import LoadedCNN
from digitlens.web.flight import Flights, body_key
from digitlens.web.runs import LoadedRun, Registry

Run = LoadedRun | LoadedCNN


def drawing(run: Run, data: dict[str, Any]) -> explore.Input:
    inp = explore.read_input(data, run)
    if not inp.has_ink or not np.any(inp.x > 0):
        raise DigitlensError("the drawing is blank: draw a digit first")
    return inp


def target_of(run: Run, data: dict[str, Any], name: str = "target") -> int | None:
    value = data.get(name)
    return None if value is None else v.whole(value, name, 0, run.model.n_classes - 1)


def nudge(_registry: Registry, run: Run, data: dict[str, Any]) -> dict[str, Any]:
    """The smallest change of the drawing (as the network sees it, at its input shape) that
    flips it."""
    inp = drawing(run, data)
    method = v.choice(data.get("method", "deepfool"), "method", N.METHODS)
    res = N.nudge(run.model, inp.x, target_of(run, data), method)
    return {"run": run.name, **res.to_dict(), "input": np.round(res.original, 5).tolist(),
            "probabilities": np.round(res.probabilities, 5).tolist()}


def every_class(run: Run, x: np.ndarray) -> dict[str, Any]:
    """Integrated gradients of every class from a black image (the evidence panel's switch),
    with every class's completeness error and the predicted class's as
    ``completeness_error`` (a class whose score barely moves from black's has a large
    relative error over a tiny difference)."""
    ev = integrated_evidence(run.model, x)
    black = read(run.model, np.zeros_like(x)[None]).z[0]
    gain = ev.scores - black
    err = np.abs(ev.contributions.sum(axis=0) - gain) / np.maximum(np.abs(gain), 1e-12)
    return {"run": run.name, "method": "integrated-gradients", "target": "all",
            "baseline": "black", "steps": IG.STEPS, "note": ev.note,
            "scores": np.round(ev.scores, 5).tolist(), "prediction": ev.prediction,
            "completeness_error": float(err[ev.prediction]),
            "completeness_errors": np.round(err, 6).tolist(),
            "contributions": np.round(ev.contributions.T, 6).tolist()}


def attribute(_registry: Registry, run: Run, data: dict[str, Any]) -> dict[str, Any]:
    inp = drawing(run, data)
    if data.get("target") == "all":
        v.only(data, INPUT | {"target", "steps"})
        if v.whole(data.get("steps", IG.STEPS), "steps", 1, 1024) != IG.STEPS:
            raise DigitlensError(f"target 'all' integrates over {IG.STEPS} steps")
        return every_class(run, inp.x)
    method = v.choice(data.get("method", "integrated-gradients"), "method", IG.METHODS)
    steps = v.whole(data.get("steps", IG.STEPS), "steps", 1, 1024)
    baseline = v.choice(data.get("baseline", "black"), "baseline", IG.BASELINES)
    a = IG.attribute(run.model, inp.x, method, target_of(run, data), steps, baseline)
    return {"run": run.name, **a.to_dict(), "input": np.round(inp.x, 5).tolist()}


def dream(registry: Registry, run: LoadedRun, data: dict[str, Any]) -> dict[str, Any]:
    model = run.model
    layer = v.whole(data.get("layer"), "layer", 0, model.n_layers - 1)
    neuron = v.whole(data.get("neuron"), "neuron", 0, model.sizes[layer + 1] - 1)
    seed = v.whole(data.get("seed", 0), "seed", 0, 2**31 - 1)
    start, maxima = registry.train_stats(run)
    d = D.dream(model, layer, neuron, start, seed, max_train=float(maxima[layer][neuron]))
    return {"run": run.name, **d.to_dict(),
            "kind": "output" if layer == model.n_layers - 1 else "hidden"}


INPUT = explore.INPUT_FIELDS | {"run"}
FIELDS = {"nudge": INPUT | {"target", "method"},
          "attribute": INPUT | {"target", "method", "steps", "baseline"},
          "dream": {"run", "layer", "neuron", "seed"}, **why.FIELDS}
HANDLERS = {"nudge": nudge, "attribute": attribute, "dream": dream, **why.HANDLERS}


def flights() -> dict[str, Flights]:
    """One ``Flights`` per kind, for an app's ``Api``."""
    return {kind: Flights(kind) for kind in HANDLERS}


async def answer(api: Any, kind: str, request: Request) -> Response:
    """One route: read and check the body, compute in a flight's thread (a dream or a nudge
    takes tens of milliseconds to a second; the event loop keeps answering meanwhile)."""
    t0 = time.perf_counter()
    data = await v.read_json(request)
    v.only(data, FIELDS[kind])
    # a nudge and an attribution read any network's class scores; the rest an MLP's neurons
    either = kind in ("nudge", "attribute")
    run = await run_in_threadpool(api.any_run_of if either else api.run_of, data.get("run"))
    body = await api.flights[kind].run((run.name, run.mtime, body_key(data)),
                                       lambda: HANDLERS[kind](api.registry, run, data))
    ms = 1000 * (time.perf_counter() - t0)
    response = JSONResponse(success({**body, "compute_ms": round(ms, 2)}))
    response.headers["Server-Timing"] = f"compute;dur={ms:.2f}"
    return response


def routes(api: Any) -> list[Route]:
    """``/nudge``, ``/attribute``, ``/dream``, ``/circuit`` and ``/patch`` under the API's
    mount."""
    def endpoint(kind: str) -> Any:
        async def handle(request: Request) -> Response:
            return await answer(api, kind, request)
        return handle
    return [Route(f"/{kind}", endpoint(kind), methods=["POST"]) for kind in HANDLERS]
