"""Bad input is a 4xx with a clear message in the JSON envelope, never a 500, and no request
path reaches the file system."""

from __future__ import annotations

import base64
import io
import json

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from .helpers import data_url

GOOD = [0.0] * 784


def png(w: int, h: int) -> str:
    return data_url(np.zeros((h, w), np.uint8))


BAD_PREDICTS = [
    ({}, 400, "exactly one input"),
    ({"pixels": GOOD, "image": png(28, 28)}, 400, "exactly one input"),
    ({"pixels": [0.5] * 783}, 400, "'pixels' parameter must be a list of 784"),
    ({"pixels": [2.0] * 784}, 400, "in 0..1"),
    ({"pixels": [-0.1] + [0.0] * 783}, 400, "in 0..1"),
    ({"pixels": ["0"] * 784}, 400, "numbers only"),
    ({"pixels": [True] * 784}, 400, "numbers only"),
    ({"pixels": "0" * 784}, 400, "'pixels'"),
    ({"pixels": [0.0] * 16, "width": 4, "height": 4}, 400, "'width' parameter must be an int"),
    ({"pixels": [0.0] * 1_200_000, "width": 1200, "height": 1000}, 413, "too large"),
    ({"image": "http://example.com/a.png"}, 400, "data URL"),
    ({"image": "data:image/png;base64,!!!"}, 400, "base64"),
    ({"image": "data:image/png;base64," + base64.b64encode(b"not a png").decode()}, 400,
     "readable PNG"),
    ({"image": png(600, 40)}, 400, "at most 512×512"),
    ({"test_index": 10**6}, 400, "'test_index' parameter must be an int in 0..999"),
    ({"test_index": "3; rm -rf /"}, 400, "test_index"),
    ({"pixels": GOOD, "mode": "sideways"}, 400, "'mode' parameter must be one of centred, raw"),
    ({"pixels": GOOD, "include": ["everything"]}, 400, "'include'"),
    ({"pixels": GOOD, "knockout": {"7": [1]}}, 400, "knockout layer"),
    ({"pixels": GOOD, "knockout": {"0": [99]}}, 400, "knockout neuron"),
    ({"pixels": GOOD, "knockout": [1, 2]}, 400, "knockout"),
    ({"pixels": GOOD, "inspect": {"layer": 9, "neuron": 0}}, 400, "'layer'"),
    ({"pixels": GOOD, "surprise": 1}, 400, "unknown field 'surprise'"),
    ({"pixels": GOOD, "run": "../../etc/passwd"}, 400, "'run' parameter must be a name"),
    ({"pixels": GOOD, "run": "nosuchrun"}, 404, "unknown run 'nosuchrun'"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_PREDICTS)
def test_bad_predict_requests(client: httpx.Client, body: dict, status: int,
                              message: str) -> None:
    body = {"run": "small", **body}
    r = client.post("/api/predict", json=body)
    assert r.status_code == status, r.text[:300]
    assert r.json() == {"ok": False, "error": r.json()["error"]}
    assert message in r.json()["error"]


@pytest.mark.parametrize(("content", "ctype", "status", "message"), [
    (b"{", "application/json", 400, "not valid JSON"),
    (b"[1, 2]", "application/json", 400, "must be a JSON object"),
    (b'{"pixels": [NaN]}', "application/json", 400, "NaN is not a number"),
    (b"\xff\xfe", "application/json", 400, "not UTF-8 text"),
    (b"pixels=1", "application/x-www-form-urlencoded", 415, "application/json"),
    (b" " * (5 * 1024 * 1024), "application/json", 413, "too large"),
])
def test_bad_bodies(client: httpx.Client, content: bytes, ctype: str, status: int,
                    message: str) -> None:
    r = client.post("/api/predict", content=content, headers={"content-type": ctype})
    assert r.status_code == status
    assert r.json()["ok"] is False and message in r.json()["error"]


def test_chunked_body_over_the_limit(client: httpx.Client) -> None:
    """No content-length (chunked upload): the limit still holds while reading."""
    def chunks():  # noqa: ANN202
        for _ in range(6):
            yield b" " * (1024 * 1024)
    r = client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/api/predict", 405, "method GET not allowed"),
    ("GET", "/api/nothing", 404, "no such page"),
    ("GET", "/api/runs/..%2F..%2Fetc", 404, "no such page"),
    ("GET", "/api/runs/.ssh", 400, "'run' parameter"),
    ("GET", "/api/runs/..", 404, "no such page"),
    ("GET", "/api/runs/nosuch/model.npz", 404, "unknown run"),
    ("GET", "/api/test?run=small&label=12", 400, "'label' parameter must be an int in 0..9"),
    ("GET", "/api/test?run=small&limit=100000", 400, "'limit'"),
    ("GET", "/api/test?run=small&misclassified=maybe", 400, "'misclassified'"),
    ("GET", "/api/test?run=small&path=/etc/passwd", 400, "unknown field 'path'"),
    ("GET", "/api/train/nojob/events", 404, "unknown training job"),
    ("GET", "/../../etc/passwd", 404, "no such page"),
])
def test_bad_routes_and_queries(client: httpx.Client, method: str, path: str, status: int,
                                message: str) -> None:
    r = client.request(method, path)
    assert r.status_code == status, r.text[:300]
    assert r.json()["ok"] is False and message in r.json()["error"]


def test_neuron_bad_address(client: httpx.Client) -> None:
    r = client.post("/api/neuron", json={"run": "small", "layer": 0, "neuron": 32})
    assert r.status_code == 400 and "'neuron' parameter must be an int in 0..31" in r.text
    r = client.post("/api/neuron", json={"run": "small", "layer": "0; drop", "neuron": 1})
    assert r.status_code == 400


def test_foreign_host_header_is_refused(api_url: str) -> None:
    r = httpx.get(api_url + "/api/info", headers={"host": "attacker.example"})
    assert r.status_code == 400 and r.json()["ok"] is False


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda kids: st.lists(kids, max_size=5)
                    | st.dictionaries(st.text(max_size=10), kids, max_size=5), max_leaves=20)
FIELDS = st.sampled_from(["pixels", "image", "test_index", "mode", "run", "knockout", "include",
                          "inspect", "width", "height", "layer", "neuron"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(FIELDS, JSON, max_size=4))
def test_fuzzed_bodies_never_500(client: httpx.Client, body: dict) -> None:
    for path in ("/api/predict", "/api/neuron"):
        r = client.post(path, content=json.dumps(body),
                        headers={"content-type": "application/json"})
        assert r.status_code < 500, r.text[:300]
        assert r.json()["ok"] is (r.status_code == 200)


def test_jpeg_and_rgba_drawings_work(client: httpx.Client) -> None:
    img = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    img.paste((20, 20, 20, 255), (90, 30, 110, 170))  # a dark "1" on a transparent background
    buf = io.BytesIO()
    img.save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    d = client.post("/api/predict", json={"run": "small", "image": url}).json()
    assert d["ok"] and d["preprocessing"]["inverted"] is True and d["has_ink"]
    jpg = data_url(np.asarray(img.convert("L")), "JPEG")
    assert client.post("/api/predict", json={"run": "small", "image": jpg}).json()["ok"]


def test_only_the_named_image_format_is_decoded(client: httpx.Client) -> None:
    """PostScript behind a PNG prefix must never reach Ghostscript; the server stays up."""
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 28 28\n{ } loop\nshowpage\n"
    for prefix in ("data:image/png;base64,", "data:image/jpeg;base64,"):
        r = client.post("/api/predict", json={"run": "small", "image": prefix +
                                              base64.b64encode(eps).decode()}, timeout=10)
        fmt = prefix.split("/")[1].split(";")[0].upper()
        assert r.status_code == 400 and f"not a readable {fmt} image" in r.json()["error"]
    buf = io.BytesIO()
    Image.new("L", (28, 28)).save(buf, "BMP")
    bmp = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    assert client.post("/api/predict", json={"run": "small", "image": bmp}).status_code == 400
    assert client.get("/api/info").json()["ok"]


@pytest.mark.parametrize("body", [
    '{"run": "small", "pixels": [' + ",".join(["0"] * 783) + ",1" + "0" * 400 + "]}",
    '{"run": "small", "test_index": 1' + "0" * 5000 + "}",
])
def test_huge_numbers_are_a_400(client: httpx.Client, body: str) -> None:
    r = client.post("/api/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["ok"] is False


def test_names_with_a_trailing_newline_are_refused(client: httpx.Client) -> None:
    r = client.post("/api/predict", json={"run": "small\n", "test_index": 0})
    assert r.status_code in (400, 404) and r.json()["ok"] is False
