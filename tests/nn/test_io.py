"""Model files: exact round trip, no pickle, and every kind of damage a clear ModelError."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from digitlens.errors import ModelError
from digitlens.nn.io import load_model, load_model_bytes, model_bytes, save_model
from digitlens.nn.mlp import MLP


def test_round_trip_is_exact(tmp_path: Path) -> None:
    m = MLP.create((784, 12, 7, 10), "tanh", "sigmoid", "quadratic", seed=2,
                   meta={"training": {"lr": 0.1}})
    path = save_model(m, tmp_path / "m.npz")
    back = load_model(path)
    assert back.sizes == m.sizes and back.activations == m.activations
    assert back.cost == "quadratic" and back.meta["training"] == {"lr": 0.1}
    assert np.array_equal(back.params, m.params)
    assert not list(tmp_path.glob(".*tmp"))


def rewrite(data: bytes, **changes: object) -> bytes:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v  # type: ignore[assignment]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


GOOD = model_bytes(MLP.create((784, 6, 10), seed=0))
META = json.loads(str(np.load(io.BytesIO(GOOD))["meta"]))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "not a readable model file"),
    (b"just some text, not a model", r"not an \.npz archive"),
    (b"PK\x03\x04garbage", "not a readable model file"),
    (GOOD[: len(GOOD) // 2], "not a readable model file"),
    (rewrite(GOOD, meta=None), "no metadata"),
    (rewrite(GOOD, meta=np.array("{not json")), "not valid JSON"),
    (rewrite(GOOD, meta=np.array(json.dumps({**META, "format": "other"}))), "not a digitlens"),
    (rewrite(GOOD, meta=np.array(json.dumps({**META, "version": 99}))), "version"),
    (rewrite(GOOD, W0=np.zeros((784, 5), np.float32)), "layer 0"),
    (rewrite(GOOD, b1=None), "layer 1"),
    (rewrite(GOOD, W1=np.full((6, 10), np.nan, np.float32)), "NaN"),
    (rewrite(GOOD, meta=np.array(json.dumps({**META, "activations": ["relu", "gelu"]}))),
     "'output' parameter"),
    (rewrite(GOOD, W0=np.array([object()] * 3, dtype=object)), "dtype object"),
    (rewrite(GOOD, meta=np.array(json.dumps({**META, "sizes": [784]}))), "1 to 64 weight layers"),
    (rewrite(GOOD, meta=np.array(json.dumps({**META, "sizes": ["x", 10]}))),
     r"sizes\[0\] must be an integer"),
    (rewrite(GOOD, W0=np.zeros((784, 6), np.complex64)), "dtype complex64"),
    (rewrite(GOOD, W0=np.full((784, 6), "a")), "floating-point"),
])
def test_damage(data: bytes, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        load_model_bytes(data, "bad.npz")


def test_missing(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "none.npz")
