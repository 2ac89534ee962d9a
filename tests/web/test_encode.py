"""The packed answer and the ``gray`` input: the packed form decodes to the JSON answer's
numbers (JSON rounds, packed does not), the fast JSON writer writes what ``json.dumps`` of the
rounded numbers would, and ``gray`` bytes are the same input as a PNG of them."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.web.encode import PACKED_TYPE, Numbers, from_packed, plain, to_json, to_packed

from .helpers import canvas_of, data_url


def close(packed: Any, plain_: Any, path: str = "") -> None:
    """Every number of the JSON answer within its rounding of the packed one; the rest equal."""
    if isinstance(packed, np.ndarray):  # JSON to 3 decimals at least: half a digit, 5e-4
        np.testing.assert_allclose(packed, np.asarray(plain_, dtype=np.float64), atol=5.1e-4,
                                   err_msg=path)
    elif isinstance(packed, dict):
        assert set(packed) == set(plain_), path
        for k in packed:
            close(packed[k], plain_[k], f"{path}.{k}")
    elif isinstance(packed, list):
        assert len(packed) == len(plain_), path
        for i, (a, b) in enumerate(zip(packed, plain_, strict=True)):
            close(a, b, f"{path}[{i}]")
    else:
        assert packed == plain_, path


@pytest.mark.parametrize("body", [
    {"test_index": 4, "inspect": {"layer": 0, "neuron": 3}},
    {"test_index": 9, "knockout": {"0": [1, 2]}, "include": ["activations", "flow"]},
])
def test_packed_answer_is_the_json_answer(client: httpx.Client, body: dict[str, Any]) -> None:
    body = {"run": "small", **body}
    as_json = client.post("/api/predict", json=body)
    packed = client.post("/api/predict", json={**body, "format": "packed"})
    assert packed.status_code == 200 and packed.headers["content-type"] == PACKED_TYPE
    assert "compute;dur=" in packed.headers["server-timing"]
    close(from_packed(packed.content), as_json.json())


def test_packed_drawing_keeps_shapes(client: httpx.Client, sample: Dataset) -> None:
    gray = canvas_of(sample.test_images[2], size=140)
    d = from_packed(client.post("/api/predict", json={
        "run": "small", "image": data_url(gray), "format": "packed"}).content)
    assert d["ok"] is True and d["input"].shape == (784,)
    assert d["preprocessing"]["centred"].shape == (28, 28)
    assert max(d["preprocessing"]["fitted"].shape) == 20
    assert d["evidence"]["contributions"].shape == (10, 784)
    assert [a.shape for a in d["activations"]] == [(32,), (16,), (10,)]


def test_gray_bytes_are_the_same_input_as_a_png(client: httpx.Client, sample: Dataset) -> None:
    gray = canvas_of(sample.test_images[5], size=140, scale=0.6, at=(20, 50))
    b64 = base64.b64encode(gray.tobytes()).decode()
    for mode in ("centred", "raw"):
        from_png = client.post("/api/predict", json={"run": "small", "image": data_url(gray),
                                                     "mode": mode}).json()
        from_gray = client.post("/api/predict", json={"run": "small", "gray": b64, "mode": mode,
                                                      "width": 140, "height": 140}).json()
        assert from_gray == from_png


@pytest.mark.parametrize(("body", "says"), [
    ({"gray": "AAAA", "width": 140, "height": 140}, "base64 of 19600 bytes"),
    ({"gray": "!" * 1048}, "valid base64"),
    ({"gray": 7}, "base64 of 784 bytes"),
    ({"gray": "A" * 1048, "pixels": [0] * 784}, "exactly one input"),
    ({"test_index": 1, "format": "msgpack"}, "'format'"),
])
def test_bad_gray_and_format_are_clear_errors(client: httpx.Client, body: dict[str, Any],
                                              says: str) -> None:
    r = client.post("/api/predict", json={"run": "small", **body})
    assert r.status_code == 400 and says in r.json()["error"]
    assert r.headers["content-type"].startswith("application/json")


def test_fast_json_writes_what_json_dumps_writes() -> None:
    rng = np.random.default_rng(3)
    unit = rng.random((28, 28)).astype(np.float32)
    unit[rng.random((28, 28)) < 0.6] = 0
    unit[0, :3] = [1.0, 0.0005, 0.9995]  # the table's ends and rounding half-way
    wide = (rng.standard_normal(50) * 30).astype(np.float32)
    body: dict[str, Any] = {
            "ok": True, "a": Numbers(unit, 3, True), "b": [Numbers(unit[0], 4, True)],
            "c": {"d": Numbers(wide), "e": "text", "f": [[1, 2, 0.5]]}, "g": None,
            "h": Numbers(wide, 3, True)}  # said to be in 0..1 but is not: written the slow way
    assert json.loads(to_json(body)) == plain(body)  # plain fields first: same object
    for n in (body["a"], body["b"][0], body["c"]["d"], body["h"]):
        assert n.json() == json.dumps(n.rounded(), separators=(",", ":"))
    packed = from_packed(to_packed(body))
    np.testing.assert_array_equal(packed["a"], unit)
    np.testing.assert_array_equal(packed["c"]["d"], wide)
    assert packed["c"]["f"] == [[1, 2, 0.5]] and packed["g"] is None


def test_packed_data_is_aligned() -> None:
    for n in range(6):
        blob = to_packed({"x": "y" * n, "v": Numbers(np.arange(3, dtype=np.float32))})
        head = int.from_bytes(blob[4:8], "little")
        assert (8 + head) % 4 == 0 and len(blob) == 8 + head + 12
