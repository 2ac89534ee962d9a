"""The live WebSocket channel against a real server: the same answers as ``POST /api/predict``
for the same body, errors as JSON messages on a socket that stays usable, and the same guards
(message size, Host, Origin)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.http import validate as v
from digitlens.web.app import create_app
from digitlens.web.encode import from_packed
from digitlens.web.runs import Registry

from .conftest import ThreadServer
from .helpers import canvas_of, data_url

pytest.importorskip("websockets")
from websockets.exceptions import InvalidStatus  # noqa: E402
from websockets.sync.client import ClientConnection, connect  # noqa: E402


def ws_url(api_url: str) -> str:
    return api_url.replace("http://", "ws://") + "/api/live"


def gray_body(sample: Dataset, index: int = 7) -> dict[str, Any]:
    canvas = canvas_of(sample.test_images[index], size=140)
    return {"run": "small", "gray": base64.b64encode(canvas.tobytes()).decode(), "width": 140,
            "height": 140, "format": "packed", "knockout": {"0": [1, 2]},
            "inspect": {"layer": 0, "neuron": 3}}


def ask(ws: ClientConnection, body: dict[str, Any] | str) -> str | bytes:
    ws.send(body if isinstance(body, str) else json.dumps(body))
    return ws.recv(timeout=30)


def same(a: Any, b: Any) -> None:
    """Decoded packed answers are equal: every array bit for bit, every other field."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.shape == b.shape and a.tobytes() == b.tobytes()
    else:
        assert a == b


def test_packed_answer_equals_http(api_url: str, client: httpx.Client, sample: Dataset) -> None:
    body = gray_body(sample)
    http = client.post("/api/predict", json=body)
    assert http.status_code == 200, http.text[:300]
    with connect(ws_url(api_url)) as ws:
        for _ in range(2):  # the socket answers again and again
            answer = ask(ws, body)
            assert isinstance(answer, bytes)
            got = from_packed(answer)
            compute = got.pop("compute_ms")
            assert isinstance(compute, float) and 0 < compute < 10_000
            same(got, from_packed(http.content))
        assert got["ok"] is True and len(got["evidence"]["contributions"]) == 10


def test_json_format_and_image_input(api_url: str, client: httpx.Client,
                                     sample: Dataset) -> None:
    """``format: "json"`` answers a text message, the same text as HTTP; an uploaded image
    (decoded in a worker thread) answers as HTTP does."""
    body = {"run": "small", "image": data_url(canvas_of(sample.test_images[3])),
            "include": ["activations"]}
    with connect(ws_url(api_url)) as ws:
        answer = ask(ws, body)
    assert isinstance(answer, str)
    assert answer == client.post("/api/predict", json=body).text


@pytest.mark.parametrize(("message", "error"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"run": "small", "pixels": [0], "colour": 1}', "unknown field 'colour'"),
    ('{"run": "small", "pixels": [2]}', "'pixels'"),
    ('{"run": "nope", "test_index": 0}', "nope"),
    ('{"run": "small", "pixels": [NaN]}', "NaN is not a number"),
    (b"\x00binary", "text message of JSON"),
    ("x" * (v.MAX_BODY + 1), "too large"),
])
def test_bad_messages_answer_errors_and_the_socket_goes_on(
        api_url: str, sample: Dataset, message: str | bytes, error: str) -> None:
    with connect(ws_url(api_url), max_size=None) as ws:
        ws.send(message)
        answer = json.loads(ws.recv(timeout=30))
        assert answer["ok"] is False and error in answer["error"], answer
        good = ask(ws, gray_body(sample))
        assert isinstance(good, bytes) and from_packed(good)["ok"] is True


def test_same_origin_accepted_foreign_origin_and_host_refused(api_url: str) -> None:
    with connect(ws_url(api_url), origin=api_url) as ws:  # type: ignore[call-overload]
        assert json.loads(ask(ws, {"run": "small", "test_index": 0, "include": []}))["ok"]
    for kwargs in ({"origin": "http://evil.example"},
                   {"origin": api_url.replace("127.0.0.1", "localhost")},  # another site
                   {"additional_headers": {"Host": "evil.example"}}):
        with pytest.raises(InvalidStatus) as info:
            connect(ws_url(api_url), **kwargs).close()  # type: ignore[arg-type]
        assert info.value.response.status_code == 403


def test_plain_get_explains_the_channel(client: httpx.Client) -> None:
    r = client.get("/api/live")
    assert r.status_code == 426 and "WebSocket" in r.json()["error"]


def test_read_only_servers_offer_the_channel(served_runs: Path, sample: Dataset) -> None:
    app = create_app(Registry(served_runs), allow_training=False)
    with ThreadServer(app) as url, connect(ws_url(url)) as ws:
        answer = ask(ws, gray_body(sample))
        assert isinstance(answer, bytes) and from_packed(answer)["ok"] is True
