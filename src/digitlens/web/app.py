"""The live explorer's web app: routes, the one JSON envelope, safety settings.

Every API answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}`` with a proper
status. ``DigitlensError``s map to their ``status`` (400 by default); anything else is a bug and
answers 500 without details. Runs are picked by name from a ``Registry``; the only writes are
training runs into the runs folder, and only when training is allowed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from digitlens import __version__
from digitlens.errors import DigitlensError
from digitlens.nn.presets import PRESETS, get_preset
from digitlens.safeload import finite_json
from digitlens.web import ask, encode, explore, live, maps, sse, sweeps
from digitlens.web import validate as v
from digitlens.web.downloads import FORMATS, Downloads
from digitlens.web.flight import Busy, Flights, body_key
from digitlens.web.jobs import Jobs
from digitlens.web.runs import Registry

STATIC = Path(__file__).with_name("static")
MAX_TRAIN_EPOCHS = 250  # room for every preset's own epochs (S3: 230)
TRAIN_DATASETS = ("mnist", "mnist-sample")
log = logging.getLogger("digitlens.web")
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                      "style-src 'self'; script-src 'self'; object-src 'none'"}


def ok(body: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    return JSONResponse(finite_json({"ok": True, **(body or {})}), status_code=status)


def fail(message: str, status: int) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


class Guard:
    """Adds the headers above to every response (plain ASGI: no buffering of SSE streams) and,
    with ``allowed_hosts``, refuses other Host headers (a page on another site cannot reach a
    loopback server through DNS rebinding). Two Host headers are refused whatever the setting
    (RFC 9112: 400): a proxy and this server could each read a different one. WebSockets get
    the Host check too, and must come from a page of this server (``live.origin_ok``): no CORS
    rule guards them."""

    def __init__(self, app: ASGIApp, allowed_hosts: list[str] | None = None) -> None:
        self.app, self.allowed = app, allowed_hosts

    def host_refused(self, scope: Scope) -> str | None:
        """Why the request's Host header is refused, or None."""
        hosts = [value for key, value in scope.get("headers") or [] if key == b"host"]
        if len(hosts) > 1:
            return "a request has one Host header (got several)"
        if not self.allowed:
            return None
        host = (hosts[0] if hosts else b"").decode("latin-1")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in self.allowed:
            return None
        return "this server only answers to its own address (Host header refused)"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = self.host_refused(scope) if scope["type"] in ("http", "websocket") else None
        if scope["type"] == "http" and refused:
            await fail(refused, 400)(scope, receive, send)
            return
        if scope["type"] == "websocket" and (refused or not live.origin_ok(scope)):
            await send({"type": "websocket.close", "code": 1008})  # refused: HTTP 403
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k.lower().encode(), val.encode()) for k, val in HEADERS.items()]
            await send(message)
        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


class Api:
    """The routes, holding the registry, the training jobs and whether training is allowed."""

    def __init__(self, registry: Registry, allow_training: bool) -> None:
        self.registry, self.allow_training = registry, allow_training
        self.jobs = Jobs(registry)
        self.downloads = Downloads()
        self.flights: dict[str, Flights] = {  # every expensive answer (digitlens.web.flight)
            **ask.flights(), "map": Flights("map", keep=maps.KEEP), "map/near": Flights("map/near"),
            "neuron": Flights("neuron"), "ablate": Flights("ablate"),
            "sweep chart": Flights("sweep chart", running=1, waiting=4)}

    async def flight(self, kind: str, run: Any, data: dict[str, Any], compute: Any) -> Any:
        """``compute(registry, run, data)`` through the kind's flights, keyed by the request."""
        return await self.flights[kind].run((run.name, run.mtime, body_key(data)),
                                            lambda: compute(self.registry, run, data))

    def run_of(self, value: Any) -> Any:
        return self.registry.get(None if value in (None, "") else v.name(value))

    async def info(self, _request: Request) -> Response:
        return ok({"version": __version__, "training": self.allow_training,
                   "default_run": self.registry.default, "runs": self.registry.names(),
                   "presets": [p.to_dict() for p in PRESETS.values()],
                   "limits": {"body_bytes": v.MAX_BODY, "side": v.MAX_SIDE,
                              "train_epochs": MAX_TRAIN_EPOCHS}})

    async def runs(self, _request: Request) -> Response:
        await run_in_threadpool(self.registry.refresh)
        return ok({"default": self.registry.default,
                   "runs": await run_in_threadpool(self.summaries)})

    def summaries(self) -> list[dict[str, Any]]:
        rows = []
        for n in self.registry.names():
            try:
                rows.append({**self.registry.get(n).summary(), "usable": True})
            except DigitlensError as exc:  # one bad run never fails the listing
                rows.append({"name": n, "usable": False, "error": str(exc)})
        return rows

    async def sweeps(self, request: Request) -> Response:
        """The sweeps in the runs folder and their points (``digitlens.web.sweeps``)."""
        if request.query_params:
            raise DigitlensError("api/sweeps takes no parameters")
        await run_in_threadpool(self.registry.refresh)
        found = await run_in_threadpool(sweeps.listing, self.registry.runs_dir,
                                        set(self.registry.names()))
        return ok({"sweeps": found})

    async def sweep_chart(self, request: Request) -> Response:
        name = v.name(request.path_params["name"], "sweep")
        png = await self.flights["sweep chart"].run(name, lambda: sweeps.chart_png(
            self.registry.runs_dir, name))
        return Response(png, media_type="image/png")

    async def run_detail(self, request: Request) -> Response:
        run = await run_in_threadpool(self.run_of, request.path_params["name"])
        return ok({"run": run.summary()})

    async def model_file(self, request: Request) -> Response:
        run = await run_in_threadpool(self.run_of, request.path_params["name"])
        return FileResponse(run.model_file(), media_type="application/octet-stream",
                            filename=f"{run.name}.npz")

    async def export_file(self, request: Request) -> Response:
        """JSON, ONNX or the workbook, built in a worker thread: a big net's workbook takes
        seconds, and the event loop keeps answering meanwhile. Allowed on read-only servers
        (nothing is written)."""
        fmt = v.choice(request.path_params["format"], "format", FORMATS)
        params = dict(request.query_params)
        v.only(params, {"digit"})
        if "digit" in params and fmt != "xlsx":
            raise DigitlensError("'digit' only applies to the xlsx export (the digit the "
                                 "workbook shows)")
        run = await run_in_threadpool(self.run_of, request.path_params["name"])
        top = run.model.sizes[-1] - 1  # a class of the model (MNIST: 0..9)
        digit = v.integer(params["digit"], "digit", 0, top) if "digit" in params else None
        made = await self.downloads.get(run, fmt, digit)
        return Response(made.body, media_type=made.media_type, headers=made.headers)

    async def predict(self, request: Request) -> Response:
        """``POST /api/predict``; errors are JSON whatever the format."""
        t0 = time.perf_counter()
        body, media_type = await self.answer(await v.read_json(request))
        response = Response(body, media_type=media_type)
        response.headers["Server-Timing"] = f"compute;dur={1000 * (time.perf_counter() - t0):.2f}"
        return response

    async def answer(self, data: dict[str, Any], since: float | None = None) -> tuple[bytes, str]:
        """A predict request's answer and media type, for HTTP and the live socket alike.
        Pixels and test digits are answered inline (bounded NumPy work, cheaper than a hop to a
        worker thread; ``benchmarks/bench_web_load.py``). Uploaded images go to a worker thread:
        decoding one can take long (a crafted JPEG), and the event loop must keep running.
        ``format: "packed"`` answers in ``digitlens.web.encode``'s binary form, with
        ``compute_ms`` since ``since`` when given."""
        v.only(data, explore.INPUT_FIELDS | {"run", "knockout", "include", "inspect", "format"})
        fmt = v.choice(data.pop("format", "json"), "format", encode.FORMATS)
        if "image" in data:
            run = await run_in_threadpool(self.run_of, data.get("run"))
            result = await run_in_threadpool(explore.predict, run, data)
        else:
            result = explore.predict(self.run_of(data.get("run")), data)
        body = {"ok": True, **result}
        if fmt == "packed":
            return encode.to_packed(body, since), encode.PACKED_TYPE
        return encode.to_json(body).encode(), "application/json"

    async def live_socket(self, websocket: WebSocket) -> None:
        """The live drawing loop's socket (``digitlens.web.live``): predictions only, so
        read-only servers offer it too."""
        await live.serve(websocket, self.answer)

    async def neuron(self, request: Request) -> Response:
        data = await v.read_json(request)
        v.only(data, explore.INPUT_FIELDS | {"run", "knockout", "layer", "neuron"})
        run = await run_in_threadpool(self.run_of, data.get("run"))
        return ok(await self.flight("neuron", run, data, explore.neuron))

    async def ablate(self, request: Request) -> Response:
        data = await v.read_json(request)
        v.only(data, {"run", "knockout"})
        run = await run_in_threadpool(self.run_of, data.get("run"))
        return ok(await self.flight("ablate", run, data, explore.ablate))

    async def test_digits(self, request: Request) -> Response:
        params = dict(request.query_params)
        v.only(params, {"run", "label", "predicted", "misclassified", "offset", "limit"})
        run = await run_in_threadpool(self.run_of, params.get("run"))
        return ok(await run_in_threadpool(explore.test_slice, self.registry, run, params))

    async def confusion(self, request: Request) -> Response:
        params = dict(request.query_params)
        v.only(params, {"run"})
        run = await run_in_threadpool(self.run_of, params.get("run"))
        return ok(await run_in_threadpool(explore.confusion, self.registry, run))

    async def hidden_map(self, request: Request) -> Response:
        params = dict(request.query_params)
        v.only(params, {"run", "layer"})
        run = await run_in_threadpool(self.run_of, params.get("run"))
        layer = maps.map_layer(run, params.get("layer"))  # the key: "?layer=01" is layer 1
        return ok(await self.flights["map"].run((run.name, run.mtime, layer), lambda: (
            maps.hidden_map(self.registry, run, layer))))

    async def map_near(self, request: Request) -> Response:
        data = await v.read_json(request)
        v.only(data, {"run", "layer", "activations", "k"})
        run = await run_in_threadpool(self.run_of, data.get("run"))
        return ok(await self.flight("map/near", run, data, maps.near_digits))

    async def train(self, request: Request) -> Response:
        if not self.allow_training:
            raise v.Forbidden("this server is read-only: training is off (it listens beyond "
                              "this machine, or runs several worker processes; restart it "
                              "with --allow-training and one worker to allow it)")
        data = await v.read_json(request, limit=4096)
        v.only(data, {"preset", "epochs", "name", "dataset"})
        preset = get_preset(v.choice(data.get("preset", "s1-single-layer"), "preset",
                                     tuple(PRESETS)))
        epochs = v.whole(data.get("epochs", preset.config.epochs), "epochs", 1, MAX_TRAIN_EPOCHS)
        run_name = v.name(data.get("name", f"{preset.name}-web"))
        ds_name = v.choice(data.get("dataset", "mnist"), "dataset", TRAIN_DATASETS)
        ds = await run_in_threadpool(self.registry.dataset, ds_name)
        config = preset.config.with_overrides(epochs=epochs, dataset=ds.name)
        job = self.jobs.start(run_name, config, ds)
        return ok({"job": job.to_dict()}, status=202)

    async def train_jobs(self, _request: Request) -> Response:
        return ok({"training": self.allow_training,
                   "jobs": [j.to_dict() for j in self.jobs.jobs.values()]})

    async def train_events(self, request: Request) -> Response:
        job = self.jobs.get(v.name(request.path_params["job"], "job"))
        start = request.query_params.get("from") or request.headers.get("last-event-id") or "0"
        return sse.stream(job, v.integer(start, "from", 0, 10**7), request)

    async def train_stop(self, request: Request) -> Response:
        if not self.allow_training:
            raise v.Forbidden("this server is read-only")
        job = self.jobs.get(v.name(request.path_params["job"], "job"))
        job.stop.set()
        return ok({"job": job.to_dict()})


async def on_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, Busy):
        response = fail(str(exc), exc.status)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, DigitlensError):
        return fail(str(exc), exc.status)
    if isinstance(exc, HTTPException):
        msg = {404: f"no such page or endpoint: {request.url.path}",
               405: f"method {request.method} not allowed here"}.get(exc.status_code, exc.detail)
        return fail(msg, exc.status_code)
    log.exception("internal error on %s", request.url.path)
    return fail("internal error (see the server log)", 500)


async def on_disconnect(request: Request, _exc: Exception) -> Response:
    """The client left mid-body: one line in the log, nobody to answer (handled here, not as
    an internal error, so no traceback is printed)."""
    client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
    log.warning("%s left during its request body (%s %s)", client, request.method,
                request.url.path)
    return fail("the request body was cut off", 400)


SERVE_ENV = "DIGITLENS_SERVE_WORKER"


def from_environment() -> Starlette:
    """The read-only app of one of ``digitlens serve --workers N``'s processes, from the
    settings the command left in the environment."""
    from threadpoolctl import threadpool_limits
    settings = json.loads(os.environ[SERVE_ENV])
    threadpool_limits(limits=1, user_api="blas")  # as the single-process server does
    registry = Registry(Path(settings["runs_dir"]), [Path(p) for p in settings["extra"]])
    return create_app(registry, allow_training=False, allowed_hosts=settings["hosts"])


def create_app(registry: Registry, allow_training: bool = True,
               allowed_hosts: list[str] | None = None) -> Starlette:
    """The app; ``allowed_hosts`` guards a loopback server against DNS rebinding."""
    api = Api(registry, allow_training)
    api_routes = [
        Route("/info", api.info),
        Route("/runs", api.runs),
        Route("/runs/{name}", api.run_detail),
        Route("/sweeps", api.sweeps),
        Route("/sweeps/{name}/chart.png", api.sweep_chart),
        Route("/runs/{name}/model.npz", api.model_file),
        Route("/runs/{name}/export/{format}", api.export_file),
        Route("/predict", api.predict, methods=["POST"]),
        WebSocketRoute("/live", api.live_socket),
        Route("/live", live.refuse_http),
        Route("/neuron", api.neuron, methods=["POST"]),
        Route("/ablate", api.ablate, methods=["POST"]),
        Route("/test", api.test_digits),
        Route("/confusion", api.confusion),
        Route("/map", api.hidden_map),
        Route("/map/near", api.map_near, methods=["POST"]),
        *ask.routes(api),
        Route("/train", api.train, methods=["POST"]),
        Route("/train/jobs", api.train_jobs),
        Route("/train/{job}/events", api.train_events),
        Route("/train/{job}/stop", api.train_stop, methods=["POST"]),
    ]
    routes = [Mount("/api", routes=api_routes),
              Mount("/", StaticFiles(directory=STATIC, html=True), name="static")]
    middleware = [Middleware(Guard, allowed_hosts=allowed_hosts)]
    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers={Exception: on_error, HTTPException: on_error,
                                        DigitlensError: on_error,
                                        ClientDisconnect: on_disconnect})
    app.state.api = api
    return app
