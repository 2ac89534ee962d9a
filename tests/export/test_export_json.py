"""JSON schema v1: exact round trip, documented layout, clear refusals of bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digitlens.errors import ModelError
from digitlens.export.json_format import RESERVED_META, export_json, import_json, to_json_text
from digitlens.export.json_format import import_json_bytes as parse
from digitlens.nn.mlp import MLP
from support import dense_bound


def same_model(a: MLP, b: MLP) -> bool:
    meta = {k: v for k, v in a.meta.items() if k not in RESERVED_META}
    return (a.sizes == b.sizes and a.activations == b.activations and a.cost == b.cost
            and np.array_equal(a.params.view(np.uint32), b.params.view(np.uint32))
            and meta == b.meta)


def test_round_trip_is_exact(trained_model: MLP, tmp_path: Path) -> None:
    nets = [trained_model, MLP.create((784, 30, 10), "sigmoid", "sigmoid", "quadratic", seed=1),
            MLP.create((784, 16, 8, 10), "tanh", seed=2), MLP.create((784, 10), seed=3),
            MLP.create((784, 12, 10), "identity", seed=4)]
    for i, model in enumerate(nets):
        path = export_json(model, tmp_path / f"m{i}.json")
        back = import_json(path)
        assert same_model(model, back)
        assert to_json_text(back) == path.read_text()  # stable: a second export is identical


def test_document_follows_the_schema(trained_model: MLP) -> None:
    doc = json.loads(to_json_text(trained_model))
    assert doc["format"] == "digitlens-network" and doc["version"] == 1
    assert doc["sizes"] == [784, 32, 16, 10]
    assert doc["provenance"]["training"]["preset"] == "test-small"
    assert doc["provenance"]["dataset"]["name"] == "mnist-sample"
    assert doc["output"]["classes"] == [str(d) for d in range(10)]
    first = doc["layers"][0]
    assert (first["inputs"], first["neurons"], first["activation"]) == (784, 32, "relu")
    # weights[j][i]: input i -> neuron j, one row per neuron
    w = np.array(first["weights"], np.float32)
    assert w.shape == (32, 784) and np.array_equal(w.T, trained_model.weights[0])
    x = np.random.default_rng(0).random(784)
    z = w.astype(np.float64) @ x + np.array(first["biases"])
    # float64 against the float32 trace (x rounded to float32 too): the 785-term sum's bound
    x32 = trained_model.as_input(x)
    bound = dense_bound(x32, trained_model.weights[0], trained_model.biases[0])[0]
    assert np.all(np.abs(z - trained_model.trace(x).zs[0][0]) <= bound)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-2.0**80,
                          max_value=2.0**80), min_size=80, max_size=80))
def test_any_float32_survives(values: list[float]) -> None:
    """Every float32 a usable model can hold (loading refuses weights whose sums can overflow
    float32, so at most about 1e28 per weight here) reads back bit for bit."""
    model = MLP.create((784, 10))
    model.params[:80] = np.array(values, np.float32)
    back = parse(to_json_text(model).encode())
    assert np.array_equal(back.params.view(np.uint32), model.params.view(np.uint32))


def mutate(model: MLP, fn) -> bytes:  # type: ignore[no-untyped-def]
    doc = json.loads(to_json_text(model))
    fn(doc)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(format="other"), "not a digitlens network JSON file"),
    (lambda d: d.update(version=2), "unsupported schema version 2"),
    (lambda d: d.pop("layers"), "lacks the field 'layers'"),
    (lambda d: d.update(sizes=[784, 10 ** 9, 10]), "layer sizes must be 1..65536"),
    (lambda d: d.update(sizes=[784, 60000, 60000, 10]), "parameters is more than"),
    (lambda d: d.update(sizes=[784, "16", 10]), "sizes must be integers"),
    (lambda d: d["layers"][0]["weights"].pop(), r"layers\[0\].weights has shape 15×784, "
                                                "expected 16×784"),
    (lambda d: d["layers"][1]["biases"].append(1), r"layers\[1\].biases has shape 11"),
    (lambda d: d["layers"][0]["weights"][3].__setitem__(5, "x"), r"layers\[0\].weights must be"),
    (lambda d: d["layers"][0].update(activation="swish"), "'activation' parameter must be one "
                                                           "of"),
    (lambda d: d["layers"][1].update(activation="relu"), "'output' parameter"),
    (lambda d: d.update(cost="hinge"), "'cost' parameter"),
    (lambda d: d["layers"].pop(), "1 layers listed but sizes"),
    (lambda d: d["layers"][0].update(inputs=100), r"layers\[0\] says 100→16"),
    (lambda d: d["layers"][0]["weights"][0].__setitem__(0, 1e300), "too large for float32"),
    (lambda d: d.update(provenance=[1]), "provenance must be an object"),
])
def test_bad_documents_are_refused(change, message: str) -> None:  # type: ignore[no-untyped-def]
    model = MLP.create((784, 16, 10), seed=5)
    with pytest.raises(ModelError, match=message):
        parse(mutate(model, change), "m.json")


def test_corrupt_bytes_are_refused(tmp_path: Path) -> None:
    text = to_json_text(MLP.create((784, 8, 10)))
    i = text.index('"biases": [') + len('"biases": [')
    assert text[i:i + 4] == "0.0,"
    nan = text[:i] + "NaN" + text[i + 3:]
    for data, message in [(text[: len(text) // 2].encode(), "not valid JSON .*truncated"),
                          (b"\xff\xfe", "not UTF-8"), (b"[" * 100000, "nested too deeply|JSON"),
                          (nan.encode(), "NaN is not a number JSON allows"),
                          (b"[]", "not a digitlens")]:
        with pytest.raises(ModelError, match=message):
            parse(data, "m.json")
    with pytest.raises(ModelError, match="cannot read"):
        import_json(tmp_path / "missing.json")


def test_oversized_files_are_refused_before_parsing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from digitlens.export import json_format

    path = export_json(MLP.create((784, 8, 10)), tmp_path / "m.json")
    monkeypatch.setattr(json_format, "MAX_JSON_BYTES", 1000)
    with pytest.raises(ModelError, match="is larger than the 1000 allowed"):
        import_json(path)
    with pytest.raises(ModelError, match="is larger than the 1000 allowed"):
        parse(path.read_bytes())
