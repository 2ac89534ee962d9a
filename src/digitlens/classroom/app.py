"""The classroom server: students submit drawings, the teacher (with the token) watches.

Students may only read their page, the network and the lesson's status, and submit drawings.
Every teacher endpoint needs the token (``?token=``), compared in constant time. The server
re-reads each drawing with the Python engine (``digitlens.data.preprocess``, then the network:
a fully connected or a convolutional one, ``analysis.gradients.read``) and stores what the
student meant, what the network said and what the page said.
"""

from __future__ import annotations

import asyncio
import hmac
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from digitlens.analysis.gradients import read
from digitlens.classroom import qr
from digitlens.classroom.limits import DASHBOARDS, EVENTS_KEPT, Limits
from digitlens.classroom.store import Drawing, Store
from digitlens.data.preprocess import preprocess
from digitlens.errors import DigitlensError, bad_param
from digitlens.http import guard
from digitlens.http import validate as v
from digitlens.http.app import build
from digitlens.http.envelope import ok
from digitlens.http.sse import EventLog
from digitlens.http.statuses import Conflict, Forbidden
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP

STATIC = Path(__file__).with_name("static")
# the explorer's page files (its drawing pad and engine), served under /explorer: a folder of
# the package, not an import of the explorer's code
EXPLORER_STATIC = Path(__file__).parents[1] / "web" / "static"
MIN_SIDE, MAX_SIDE = 28, 512
MAX_BODY = 4 * ((MAX_SIDE * MAX_SIDE + 2) // 3) + 1024  # the biggest drawing, base64, and JSON
DEVICE_RE = re.compile(r"\A[A-Za-z0-9_-]{4,64}\Z")
FIELDS = {"device", "label", "gray", "width", "height", "prediction"}
RECENT = 400
HARD = 24      # the dashboard's hardest drawings: read wrong, or right with less than SURE
SURE = 0.6
GALLERY = 8


class Paused(Conflict):
    """The teacher paused the lesson: drawings wait."""


def whole(value: Any, name: str, lo: int, hi: int) -> int:
    """A JSON integer in lo..hi (no strings of digits, no booleans)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_param(name, f"an int in {lo}..{hi}", value if isinstance(value, str | float)
                        and len(str(value)) < 40 else type(value).__name__)
    return v.integer(value, name, lo, hi)


@dataclass
class Lesson:
    """What the server serves: the model, the record, the teacher's token and settings."""

    store: Store
    model: MLP | CNN
    run: str
    token: str
    student_url: str
    mnist_accuracy: float | None
    limits: Limits = field(default_factory=Limits)
    events: EventLog = field(default_factory=lambda: EventLog(EVENTS_KEPT, DASHBOARDS,
                                                              "dashboards"))
    network_json: str = ""

    @property
    def prompt(self) -> int | None:
        value = self.store.setting("prompt", "")
        return int(value) if value else None

    @property
    def paused(self) -> bool:
        return self.store.setting("paused", "0") == "1"

    def settings(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "paused": self.paused}

    def check_token(self, request: Request) -> None:
        given = request.query_params.get("token", "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode()):
            raise Forbidden("this is the teacher's page: open it with the teacher URL "
                              "(its token is missing or wrong)")

    def read(self, gray_b64: Any, width: int, height: int, device: str, label: int,
             page_prediction: int | None, prompt: int | None) -> Drawing:
        """Decode, normalise as MNIST was, and read the drawing with the network."""
        gray = v.gray_bytes(gray_b64, width, height)
        pre = preprocess(gray)
        if not pre.has_ink:
            raise DigitlensError("the drawing has no ink: draw a digit first")
        t = read(self.model, pre.centred)
        probs = t.probabilities[0]
        pred = int(t.prediction[0])
        pixels = np.clip(np.rint(pre.centred * 255), 0, 255).astype(np.uint8).tobytes()
        return Drawing(0, time.time(), device, label, pred, page_prediction,
                       float(probs[pred]), float(probs[label]), prompt, width, height,
                       self.run, pixels)

    def summary(self) -> dict[str, Any]:
        cm = self.store.confusion()
        n = int(cm.sum())
        return {"n": n, "confusion": cm.tolist(),
                "accuracy": float(np.trace(cm) / n) if n else None,
                "mnist_accuracy": self.mnist_accuracy, "run": self.run,
                "devices": self.store.n_devices(), **self.settings()}


def origin_ok(request: Request) -> None:
    """A browser's write must come from a page of this server (no other site may post)."""
    if not guard.origin_ok(request.scope):
        raise Forbidden("this request came from a page of another site (Origin refused)")


class Api:
    def __init__(self, lesson: Lesson) -> None:
        self.lesson = lesson

    async def submit(self, request: Request) -> Response:
        """``POST /api/class/drawings``: validated, rate-limited, read by the network,
        committed, then answered 201 (never before the commit)."""
        origin_ok(request)
        data = await v.read_json(request, limit=MAX_BODY)
        v.only(data, FIELDS)
        device = data.get("device")
        if not isinstance(device, str) or not DEVICE_RE.match(device):
            raise bad_param("device", "4 to 64 letters, digits, '_' or '-'",
                            device if isinstance(device, str) and len(device) < 80
                            else type(device).__name__)
        label = whole(data.get("label"), "label", 0, 9)
        width = whole(data.get("width"), "width", MIN_SIDE, MAX_SIDE)
        height = whole(data.get("height"), "height", MIN_SIDE, MAX_SIDE)
        page = data.get("prediction")
        page = None if page is None else whole(page, "prediction", 0, 9)
        lesson = self.lesson
        if lesson.paused:
            raise Paused("the teacher has paused drawing for now")
        prompt = lesson.prompt
        if prompt is not None and label != prompt:
            raise Paused(f"the teacher asks everyone to draw a {prompt} now")
        lesson.limits.enter(device, request.client.host if request.client else "")
        try:
            drawing = await run_in_threadpool(lesson.read, data.get("gray"), width, height,
                                              device, label, page, prompt)
            stored = await asyncio.wrap_future(lesson.store.add(drawing))
        finally:
            lesson.limits.leave()
        lesson.events.append("drawing", stored.to_dict())
        return ok({"id": stored.id, "prediction": stored.prediction,
                   "confidence": round(stored.confidence, 4), "label": stored.label},
                  status=201)

    async def status(self, _request: Request) -> Response:
        return ok({"run": self.lesson.run, **self.lesson.settings(),
                   "limits": {"drawings_per_second": self.lesson.limits.device_rate,
                              "address_drawings_per_second": self.lesson.limits.address_rate,
                              "side": [MIN_SIDE, MAX_SIDE], "body_bytes": MAX_BODY}})

    async def network(self, _request: Request) -> Response:
        return Response(self.lesson.network_json, media_type="application/json",
                        headers={"Cache-Control": "no-cache"})

    async def qr_svg(self, _request: Request) -> Response:
        return Response(qr.svg(self.lesson.student_url), media_type="image/svg+xml")

    async def summary(self, request: Request) -> Response:
        self.lesson.check_token(request)
        return ok(self.lesson.summary())

    async def state(self, request: Request) -> Response:
        """Everything the dashboard draws at once; events keep it current afterwards."""
        self.lesson.check_token(request)
        rows = await run_in_threadpool(self.lesson.store.dashboard, RECENT, HARD, SURE, GALLERY)
        return ok({"summary": self.lesson.summary(), "student_url": self.lesson.student_url,
                   "drawings": [d.to_dict() for d in rows]})

    async def events(self, request: Request) -> Response:
        self.lesson.check_token(request)
        return self.lesson.events.stream(request)

    async def set_prompt(self, request: Request) -> Response:
        self.lesson.check_token(request)
        origin_ok(request)
        data = await v.read_json(request, limit=1024)
        v.only(data, {"digit"})
        digit = data.get("digit")
        digit = None if digit is None else whole(digit, "digit", 0, 9)
        await run_in_threadpool(self.lesson.store.set_setting, "prompt",
                                "" if digit is None else str(digit))
        self.lesson.events.append("settings", self.lesson.settings())
        return ok(self.lesson.settings())

    async def set_pause(self, request: Request) -> Response:
        self.lesson.check_token(request)
        origin_ok(request)
        data = await v.read_json(request, limit=1024)
        v.only(data, {"paused"})
        if not isinstance(data.get("paused"), bool):
            raise bad_param("paused", "true or false", data.get("paused"))
        await run_in_threadpool(self.lesson.store.set_setting, "paused",
                                "1" if data["paused"] else "0")
        self.lesson.events.append("settings", self.lesson.settings())
        return ok(self.lesson.settings())

    async def remove(self, request: Request) -> Response:
        self.lesson.check_token(request)
        origin_ok(request)
        drawing_id = v.integer(request.path_params["id"], "id", 1, 10**9)
        d = await run_in_threadpool(self.lesson.store.remove, drawing_id)
        if d is None:
            raise HTTPException(404)
        self.lesson.events.append("removed", {"id": d.id, "label": d.label,
                                               "prediction": d.prediction})
        return ok({"id": d.id, "removed": True})


def page(name: str) -> Any:
    async def serve(_request: Request) -> Response:
        return FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
    return serve


def network_json(model: MLP | CNN) -> str:
    """The network the student's page runs: the JSON export of an MLP, or a convolutional
    network's page document, its parameters base64 float32 (as the single-file explorer's)."""
    if isinstance(model, CNN):
        import json

        from digitlens.nn.cnn_io import page_network_text
        doc = page_network_text(model, list(model.class_names))
        return json.dumps(doc, separators=(",", ":"))
    from digitlens.export.json_format import to_json_text
    return to_json_text(model)


def create_app(lesson: Lesson, allowed_hosts: list[str] | None = None) -> Starlette:
    """The app; ``allowed_hosts`` guards a loopback server against DNS rebinding."""
    if not lesson.network_json:
        lesson.network_json = network_json(lesson.model)
    api = Api(lesson)
    routes = [
        Route("/", page("student.html")),
        Route("/teacher", page("teacher.html")),
        Mount("/api/class", routes=[
            Route("/drawings", api.submit, methods=["POST"]),
            Route("/drawings/{id}", api.remove, methods=["DELETE"]),
            Route("/status", api.status),
            Route("/network", api.network),
            Route("/qr.svg", api.qr_svg),
            Route("/summary", api.summary),
            Route("/state", api.state),
            Route("/events", api.events),
            Route("/prompt", api.set_prompt, methods=["POST"]),
            Route("/pause", api.set_pause, methods=["POST"]),
        ]),
        Mount("/classroom", StaticFiles(directory=STATIC)),
        Mount("/explorer", StaticFiles(directory=EXPLORER_STATIC)),
    ]
    app = build(routes, allowed_hosts)
    app.state.lesson = lesson
    return app
