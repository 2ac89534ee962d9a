"""The live explorer's web app: its route table and what each route does.

Every API answer is the kit's envelope (``digitlens.http.envelope``) with the status of its
error's kind (``digitlens.http.statuses``); the guard, the headers and the error handlers are
the kit's too (``digitlens.http.app.build``). Runs are picked by name from a ``Registry``; the
only writes are training runs into the runs folder, and only when training is allowed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from digitlens.errors import DigitlensError
from digitlens.http import validate as v
from digitlens.http.app import build
from digitlens.http.envelope import ok, success
from digitlens.http.statuses import Forbidden
from digitlens.nn.presets import MAX_SERVER_EPOCHS as MAX_TRAIN_EPOCHS
from digitlens.nn.presets import PRESETS, get_preset, validate_config
from digitlens.safeload import parse_json
from digitlens.version import __version__
from digitlens.web import ask, convnets, encode, explore, features, live, maps, sweeps, why
from digitlens.web.convnets import LoadedCNN
from digitlens.web.downloads import FORMATS, Downloads
from digitlens.web.encode import PACKED_TYPE, to_packed
from digitlens.web.flight import Flights, body_key
from digitlens.web.jobs import FINAL, Jobs
from digitlens.web.runs import Registry

STATIC = Path(__file__).with_name("static")
TRAIN_DATASETS = ("mnist", "mnist-sample")
class Api:
    """The routes, holding the registry, the training jobs and whether training is allowed."""

    def __init__(self, registry: Registry, allow_training: bool) -> None:
        self.registry, self.allow_training = registry, allow_training
        self.jobs = Jobs(registry)
        self.downloads = Downloads()
        self.flights: dict[str, Flights] = {  # every expensive answer (digitlens.web.flight)
            **ask.flights(), **features.flights(), "map": Flights("map", keep=maps.KEEP),
            "map/near": Flights("map/near"),
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
                rows.append({**self.registry.get_any(n).summary(), "usable": True})
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

    def any_run_of(self, value: Any) -> Any:
        """A run of either kind, the default one for none (``run_of`` refuses a convolutional
        one in one line)."""
        return self.registry.get_any(None if value in (None, "") else v.name(value))

    async def run_detail(self, request: Request) -> Response:
        run = await run_in_threadpool(self.any_run_of, request.path_params["name"])
        return ok({"run": run.summary()})

    async def network(self, request: Request) -> Response:
        """A convolutional run's network for the page's engine, packed (an MLP's reaches the
        page as its JSON export)."""
        if request.query_params:
            raise DigitlensError("api/runs/NAME/network takes no parameters")
        run = await run_in_threadpool(self.any_run_of, request.path_params["name"])
        if not isinstance(run, LoadedCNN):
            raise DigitlensError(f"run {run.name!r} is fully connected: the page reads its "
                                 f"network from api/runs/{run.name}/export/json")
        body = await run_in_threadpool(lambda: to_packed(convnets.network(
            run.model, list(run.dataset.class_names))))
        return Response(body, media_type=PACKED_TYPE)

    async def model_file(self, request: Request) -> Response:
        run = await run_in_threadpool(self.any_run_of, request.path_params["name"])
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
        # a convolutional run's ONNX file; its other formats refused in one line (``run_of``)
        run = await run_in_threadpool(self.any_run_of if fmt == "onnx" else self.run_of,
                                      request.path_params["name"])
        top = len(run.dataset.class_names) - 1  # a class of the model (MNIST: 0..9)
        digit = v.integer(params["digit"], "digit", 0, top) if "digit" in params else None
        made = await self.downloads.get(run, fmt, digit)
        return Response(made.body, media_type=made.media_type, headers=made.headers)

    async def means(self, request: Request) -> Response:
        """A run's hidden means over its test set (``digitlens.web.why``), for the page's
        circuit; computed once per loaded model."""
        if request.query_params:
            raise DigitlensError("api/runs/NAME/means takes no parameters")
        run = await run_in_threadpool(self.run_of, request.path_params["name"])
        return ok(await run_in_threadpool(why.means, self.registry, run))

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
        body = success(result)
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
        run = await run_in_threadpool(self.any_run_of, data.get("run"))
        if isinstance(run, LoadedCNN):  # whole channels off, on every test digit
            knock = v.knockouts(data.get("knockout"))
            return ok(await self.flight("ablate", run, data,
                                        lambda reg, cnn, _d: explore.ablate_channels(
                                            reg, cnn, knock)))
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
            raise Forbidden("this server is read-only: training is off (it listens beyond "
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
        validate_config(config)  # the one set of rules, before a job starts
        job = self.jobs.start(run_name, config, ds)
        return ok({"job": job.to_dict()}, status=202)

    async def train_jobs(self, _request: Request) -> Response:
        return ok({"training": self.allow_training,
                   "jobs": [j.to_dict() for j in self.jobs.jobs.values()]})

    async def train_events(self, request: Request) -> Response:
        job = self.jobs.get(v.name(request.path_params["job"], "job"))
        start = request.query_params.get("from") or request.headers.get("last-event-id") or "0"
        return job.events.stream(request, v.integer(start, "from", 0, 10**7), FINAL)

    async def train_stop(self, request: Request) -> Response:
        if not self.allow_training:
            raise Forbidden("this server is read-only")
        job = self.jobs.get(v.name(request.path_params["job"], "job"))
        job.stop.set()
        return ok({"job": job.to_dict()})


SERVE_ENV = "DIGITLENS_SERVE_WORKER"


def from_environment() -> Starlette:
    """The read-only app of one of ``digitlens serve --workers N``'s processes, from the
    settings the command left in the environment."""
    from threadpoolctl import threadpool_limits
    settings = parse_json(os.environ[SERVE_ENV], SERVE_ENV, DigitlensError)
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
        Route("/runs/{name}/network", api.network),
        Route("/runs/{name}/export/{format}", api.export_file),
        Route("/runs/{name}/means", api.means),
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
        *features.routes(api),
        Route("/train", api.train, methods=["POST"]),
        Route("/train/jobs", api.train_jobs),
        Route("/train/{job}/events", api.train_events),
        Route("/train/{job}/stop", api.train_stop, methods=["POST"]),
    ]
    routes = [Mount("/api", routes=api_routes),
              Mount("/", StaticFiles(directory=STATIC, html=True), name="static")]
    app = build(routes, allowed_hosts)
    app.state.api = api
    return app
