"""The page's gradient and step (static/js/gradient.js, via engine.js) against the Python
engine: ``backward`` (the training step's own pass), finite differences in float64, and
training's optimizers, on real test digits, with right and wrong labels."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digitlens.data.sources import Dataset
from digitlens.export.json_format import export_json
from digitlens.nn.backprop import backward, forward
from digitlens.nn.functions import cost, output_delta
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import make_optimizer
from digitlens.nn.presets import TrainConfig
from digitlens.nn.step import BatchStepper
from digitlens.nn.train import train
from support import U32, assert_within, backward_bound, forward_bounds, require

pytestmark = pytest.mark.e2e
STATIC = Path(__file__).parents[2] / "src/digitlens/web/static"
ENGINE = STATIC / "js/engine.js"
RUNNER = Path(__file__).with_name("gradient_runner.mjs")


def run_gradients(tmp: Path, model: MLP, x: np.ndarray, labels: list[int],
                  **extra: Any) -> tuple[dict[str, Any], np.ndarray]:
    """engine.js's gradients for rows ``x`` taught as ``labels`` (and ``extra`` job parts):
    the runner's JSON and its float32 numbers."""
    node = require("node")
    import base64
    export_json(model, tmp / "net.json")
    job = {"network": str(tmp / "net.json"), "labels": labels,
           "inputs": base64.b64encode(np.ascontiguousarray(x, np.float32).tobytes()).decode(),
           **extra}
    (tmp / "job.json").write_text(json.dumps(job))
    subprocess.run([node, str(RUNNER), str(ENGINE), str(tmp / "job.json"), str(tmp / "out.json"),
                    str(tmp / "out.bin")], check=True, timeout=600)
    out = dict(json.loads((tmp / "out.json").read_text()))
    return out, np.fromfile(tmp / "out.bin", np.float32)


def export_order(model: MLP, flat: np.ndarray) -> np.ndarray:
    """A vector laid out like ``model.params`` in the runner's order (each layer's weights
    neurons × inputs, then the biases)."""
    parts = [flat[a:b].reshape(w.shape).T.ravel() for (a, b), w in zip(model.w_slices,
                                                                       model.weights, strict=True)]
    return np.concatenate(parts + [flat[a:b] for a, b in model.b_slices])


def python_gradient(model: MLP, x: np.ndarray, label: int) -> tuple[float, np.ndarray]:
    """Training's float32 pass for one example: forward, output delta, ``backward``."""
    y = np.array([label])
    acts = forward(model, x[None, :]).activations
    delta = output_delta(model.cost, model.output_activation, acts[-1], y,
                         np.empty_like(acts[-1]), np.empty_like(acts[-1]))
    return cost(model.cost, model.output_activation, acts[-1], y), backward(model, acts, delta)


def float32_gradient_bound(model: MLP, x: np.ndarray, label: int) -> np.ndarray:
    """How far training's float32 gradient for one example may lie from the float64 one,
    whatever order BLAS sums in (``support.backward_bound``; the output delta moves by at most
    4·Σ|Δa| for every output and cost the page knows)."""
    acts = forward(model, x[None, :].astype(np.float64), dtype=np.float64).activations
    delta = output_delta(model.cost, model.output_activation, acts[-1], np.array([label]),
                         np.empty_like(acts[-1]), np.empty_like(acts[-1]))
    a_err = [np.zeros((1, model.sizes[0])), *forward_bounds(model, x[None, :])[1]]
    d_err = 4 * a_err[-1].sum(axis=1, keepdims=True) + 16 * U32
    return backward_bound(model, acts, delta, a_err, d_err) + 4 * U32 * np.abs(
        model.loss_and_gradient(x, np.array([label]))[1])


class Float64Net:
    """A model's architecture over float64 parameters, for finite differences."""

    def __init__(self, model: MLP) -> None:
        self.sizes, self.activations, self.cost = model.sizes, model.activations, model.cost
        self.params = model.params.astype(np.float64)
        self.w_slices, self.b_slices = model.w_slices, model.b_slices
        self.weights = [self.params[a:b].reshape(w.shape) for (a, b), w
                        in zip(model.w_slices, model.weights, strict=True)]
        self.biases = [self.params[a:b] for a, b in model.b_slices]
        self.n_layers, self.output_activation = model.n_layers, model.output_activation

    def loss(self, x: np.ndarray, label: int) -> float:
        out = forward(self, x[None, :], dtype=np.float64).output  # type: ignore[arg-type]
        return cost(self.cost, self.output_activation, out, np.array([label]))


@pytest.fixture(scope="module")
def nets(sample: Dataset, trained_run: Path,
         tmp_path_factory: pytest.TempPathFactory) -> dict[str, MLP]:
    """Every output/cost pair the page knows: ReLU + softmax + cross-entropy (the shared run),
    tanh + softmax + CE, sigmoid + sigmoid outputs + quadratic (S4's), sigmoid outputs + CE,
    and softmax + quadratic (untrained)."""
    out = {"relu": load_model(trained_run),
           "softmax-quadratic": MLP.create((784, 20, 10), "sigmoid", "softmax", "quadratic",
                                           seed=7)}
    root = tmp_path_factory.mktemp("gradient-nets")
    for name, cfg in {
        "tanh": TrainConfig(layers=(784, 40, 20, 10), activation="tanh", init="xavier",
                            epochs=1, batch_size=32, dataset="mnist-sample", seed=3),
        "sigmoid-quadratic": TrainConfig(layers=(784, 30, 10), activation="sigmoid",
                                         output="sigmoid", cost="quadratic", init="xavier",
                                         optimizer="sgd", lr=3.0, batch_size=10, epochs=1,
                                         dataset="mnist-sample", seed=2),
        "sigmoid-ce": TrainConfig(layers=(784, 24, 10), activation="sigmoid", output="sigmoid",
                                  init="xavier", optimizer="sgd", lr=0.5, batch_size=20,
                                  epochs=1, dataset="mnist-sample", seed=4),
    }.items():
        train(cfg, sample, root / name)
        out[name] = load_model(root / name)
    return out


NAMES = ("relu", "tanh", "sigmoid-quadratic", "sigmoid-ce", "softmax-quadratic")


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_backward_and_finite_differences(name: str, nets: dict[str, MLP],
                                                         sample: Dataset, tmp_path: Path) -> None:
    model = nets[name]
    x = sample.test_images.reshape(-1, 784).astype(np.float32)[:30] / 255
    true = sample.test_labels[:30].astype(int)
    rng = np.random.default_rng(1)
    # the true label for the first half, a wrong one for the rest
    labels = [int(t) if k < 15 else int((t + rng.integers(1, 10)) % 10)
              for k, t in enumerate(true)]
    out, got = run_gradients(tmp_path, model, x, labels)
    assert "error" not in out, out.get("error")
    got = got.reshape(len(labels), model.params.size)
    bounds = [*model.w_slices, *model.b_slices]
    offsets = np.cumsum([0] + [b - a for a, b in bounds])
    worst = 0.0
    for k, label in enumerate(labels):
        # the oracle: backward in float64. engine.js adds in float64 in fixed loops and keeps
        # float32 values (one rounding, u = 6e-8 relative, per stored z, a, delta and
        # gradient): no order chosen by the CPU on either side, so the JS error is ≲ 10u of
        # the products on a path, held to 1e-4 of each layer's largest entry
        loss, grad = model.loss_and_gradient(x[k], np.array([label]))
        _, grad32 = python_gradient(model, x[k], label)
        # float64 losses, the JS one from its float32-stored outputs: ≲ 10u relative
        assert out["losses"][k] == pytest.approx(loss, rel=1e-5, abs=1e-9)
        ref, ref32 = export_order(model, grad), export_order(model, grad32)
        # training's float32 pass sums in BLAS's order, which depends on the CPU: it lies
        # within backward_bound of the float64 gradient (the forward bound carried into the
        # output delta, and the backward sums), so JS against it within that plus 1e-4
        bound32 = export_order(model, float32_gradient_bound(model, x[k], label))
        for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
            scale = float(np.abs(ref[lo:hi]).max())
            err = float(np.abs(got[k, lo:hi] - ref[lo:hi]).max())
            assert err <= 1e-4 * scale + 1e-12, (name, k, lo, err, scale)
            assert_within(got[k, lo:hi], ref32[lo:hi],
                          1e-4 * scale + 1e-12 + bound32[lo:hi], "JS vs float32 pass")
            worst = max(worst, err / max(scale, 1e-30))
    # finite differences in float64 on the largest entries of each layer, for two examples
    f64 = Float64Net(model)
    for k in (0, 20):
        for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
            js = got[k, lo:hi]
            scale = float(np.abs(js).max())
            if scale == 0:
                continue
            for pos in np.argsort(-np.abs(js))[:3]:
                # runner order -> params order
                idx = np.arange(model.params.size)
                flat = int(export_order(model, idx.astype(np.float32))[lo + pos])
                h, keep = 1e-6, f64.params[flat]
                f64.params[flat] = keep + h
                up = f64.loss(x[k].astype(np.float64), labels[k])
                f64.params[flat] = keep - h
                down = f64.loss(x[k].astype(np.float64), labels[k])
                f64.params[flat] = keep
                # central differences in float64, h = 1e-6: truncation h²·|C'''| and
                # rounding 2⁻⁵³·|C|/h ≈ 1e-10: the tolerance is the method's, not the CPU's
                assert js[pos] == pytest.approx((up - down) / (2 * h), rel=1e-3, abs=1e-4 * scale)
    print(f"\n{name}: worst gradient error {worst:.2e} of each layer's largest")


@pytest.mark.parametrize(("name", "optimizer", "lr", "times"), [
    ("relu", "sgd", 0.05, 1), ("relu", "momentum", 0.05, 3), ("relu", "adam", 0.001, 3),
    ("tanh", "adam", 0.002, 2), ("sigmoid-quadratic", "momentum", 1.0, 2),
    ("sigmoid-ce", "sgd", 0.5, 2), ("softmax-quadratic", "sgd", 3.0, 1)])
def test_steps_match_training_optimizers(name: str, optimizer: str, lr: float, times: int,
                                         nets: dict[str, MLP], sample: Dataset,
                                         tmp_path: Path) -> None:
    model = nets[name]
    x = sample.test_images.reshape(-1, 784).astype(np.float32)[:5] / 255
    label = (int(sample.test_labels[2]) + 5) % 10  # a wrong label: the network must change
    out, got = run_gradients(tmp_path, model, x, [], steps=[
        {"k": 2, "label": label, "lr": lr, "optimizer": optimizer, "times": times}])
    assert "error" not in out, out.get("error")
    assert out["original_untouched"] is True
    stepped = model.copy()
    stepper = BatchStepper(stepped, make_optimizer(optimizer, stepped.params.size), 1)
    first = [stepper.step(x[2:3], np.array([label]), np.zeros(1, np.int64), lr)
             for _ in range(times)][0]
    after = cost(model.cost, model.output_activation, stepped.trace(x[2]).output,
                 np.array([label]))
    # the loss before the step, in float64 here and float64-summed in JS: ≲ 10u relative
    before64 = model.loss_and_gradient(x[2], np.array([label]))[0]
    assert out["steps"][0]["loss_before"] == pytest.approx(before64, rel=1e-5, abs=1e-9)
    assert first == pytest.approx(before64, rel=1e-3)  # training's float32 loss, for scale
    # after the step: JS's parameters and training's differ by ≤ 1e-3 of the move (checked
    # below), which moves the float64 loss by ≤ 1e-3 of what the step changed it by, roughly
    after64 = stepped.loss_and_gradient(x[2], np.array([label]))[0]
    assert out["steps"][0]["loss_after"] == pytest.approx(
        after64, rel=1e-3, abs=1e-3 * abs(before64 - after64) + 1e-9)
    assert after < first  # the step taught it something
    moved = np.abs(stepped.params - model.params).max()
    err = np.abs(got - export_order(stepped, stepped.params)).max()
    # each step is lr·(gradient or Adam's ratio), and the two gradients agree to ~1e-4 of the
    # largest (above); 1e-3 of the largest move allows for the optimizers' float32 state
    assert err <= 1e-3 * moved, (err, moved)


def test_bad_steps_are_refused_with_a_sentence(nets: dict[str, MLP], sample: Dataset,
                                               tmp_path: Path) -> None:
    model = nets["relu"]
    x = sample.test_images.reshape(-1, 784).astype(np.float32)[:1] / 255
    bad = [[10, 0.1, "sgd", False], [-1, 0.1, "sgd", False], [2.5, 0.1, "sgd", False],
           [3, "0", "sgd", False], [3, "1e9", "sgd", False], [3, "NaN", "sgd", False],
           [3, "-0.1", "sgd", False], [3, 0.1, "rmsprop", False], [3, 0.1, "sgd", True]]
    out, _ = run_gradients(tmp_path, model, x, [], bad=bad)
    assert "error" not in out, out.get("error")
    for case, message in zip(bad, out["bad"], strict=True):
        assert message and message.startswith("EngineError: "), (case, message)
        assert "NaN" not in message.split(", got")[0], message
    assert "label" in out["bad"][0] and "learning rate" in out["bad"][4]
    assert "blank" in out["bad"][-1]
    # a network whose cost the page does not know
    doc = json.loads(export_json(model, tmp_path / "net.json").read_text())
    doc["cost"] = "hinge"
    (tmp_path / "hinge.json").write_text(json.dumps(doc))
    job = {"network": str(tmp_path / "hinge.json"), "labels": [3],
           "inputs": __import__("base64").b64encode(x.tobytes()).decode()}
    (tmp_path / "job.json").write_text(json.dumps(job))
    subprocess.run([require("node"), str(RUNNER), str(ENGINE), str(tmp_path / "job.json"),
                    str(tmp_path / "out.json"), str(tmp_path / "out.bin")], check=True, timeout=60)
    err = json.loads((tmp_path / "out.json").read_text())["error"]
    assert "does not know the network's cost" in err and "hinge" in err
