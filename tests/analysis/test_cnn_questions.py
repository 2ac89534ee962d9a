"""The questions that read class scores, asked of a convolutional network: its input gradient
(finite differences; PyTorch's autograd as the oracle), integrated gradients (completeness),
nudges (the engine reads the nudged image as reported), class dreams; and the CLI end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digitlens.analysis import dream as D
from digitlens.analysis import nudge as N
from digitlens.analysis.gradients import read, score_gradient, score_jacobian
from digitlens.analysis.integrated import attribute
from digitlens.errors import ParameterError
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, LENET5, Conv, Dense, Pool
from support import torch_lenet, torch_or_skip


def scores64(model: CNN, x: np.ndarray) -> np.ndarray:
    return K.forward(model, model.as_input(x, np.float64), np.float64).scores  # type: ignore[return-value]


@pytest.mark.parametrize("layers", [
    (Conv(3, 3, pad=1, activation="tanh"), Pool(2, "avg"), Conv(4, 3, stride=2),
     Dense(5, "sigmoid"), Dense(4, "softmax")),
    (Conv(2, 3), Pool(2), Dense(3, "softmax")),
])
def test_input_gradient_matches_finite_differences(layers: tuple) -> None:
    model = CNN.create((1, 10, 10), layers, seed=3)
    rng = np.random.default_rng(4)
    x, coef, d = rng.random((2, 100)), rng.normal(0, 1, 4 if len(layers) == 5 else 3), \
        rng.normal(0, 1, 100)
    g, _ = K.input_gradient(model, x, coef, np.float64)
    assert g.shape == (2, 100)
    h = 1e-6  # float64 throughout; ReLU's and max-pool's kinks are not crossed at this step
    fd = ((scores64(model, x + h * d) - scores64(model, x - h * d)) @ coef) / (2 * h)
    np.testing.assert_allclose(g @ d, fd, rtol=1e-6, atol=1e-8)


def test_lenet_input_gradient_matches_pytorch() -> None:
    torch = torch_or_skip()
    model = CNN.create((1, 28, 28), LENET5, seed=0)
    rng = np.random.default_rng(6)
    model.params += rng.normal(0, 0.01, model.params.size).astype(np.float32)
    x, coef = rng.random((3, 1, 28, 28)), rng.normal(0, 1, (3, 10))
    net = torch_lenet(torch, model)
    tx = torch.tensor(x, requires_grad=True)
    (net(tx) * torch.tensor(coef)).sum().backward()
    ours, _ = K.input_gradient(model, x, coef, np.float64)
    # float64 both sides, sums in different orders
    np.testing.assert_allclose(ours, tx.grad.numpy().reshape(3, -1), rtol=1e-9, atol=1e-12)


def test_integrated_gradients_of_a_cnn_add_up_to_the_score(lenet_model: CNN, sample) -> None:
    x = sample.test_images[3]
    for steps, tol in ((64, 0.02), (512, 0.002)):
        a = attribute(lenet_model, x, steps=steps)
        assert a.target == int(read(lenet_model, x).prediction[0])
        assert a.attributions.shape == (784,) and a.completeness_error < tol
    # gradient × input with the black baseline: the image times its gradient, one point
    gi = attribute(lenet_model, x, "gradient-input", target=2)
    g, _ = score_gradient(lenet_model, x.reshape(1, -1) / 255.0, np.eye(10)[2])
    np.testing.assert_allclose(gi.attributions, x.ravel() / 255.0 * g[0], rtol=1e-6, atol=1e-9)


def test_the_jacobian_is_every_class_gradient(lenet_model: CNN, sample) -> None:
    x = sample.test_images[0].reshape(1, -1) / 255.0
    jac = score_jacobian(lenet_model, x)
    for c in (0, 7):  # float32 passes of 10 rows and of 1: products rounded differently
        one = score_gradient(lenet_model, x, np.eye(10)[c])[0][0]
        np.testing.assert_allclose(jac[:, c], one, rtol=0, atol=1e-5 * np.abs(one).max())


@pytest.mark.parametrize("method", N.METHODS)
def test_nudges_flip_a_cnn_and_the_engine_agrees(method: str, lenet_model: CNN, sample) -> None:
    for i in range(3):
        res = N.nudge(lenet_model, sample.test_images[i], method=method)
        pred = int(K.predict_proba(lenet_model, res.adversarial[None]).argmax())
        assert res.flipped and pred == res.to != res.source
        assert res.adversarial.min() >= 0 and res.adversarial.max() <= 1
    target = (res.source + 3) % 10
    if method == "deepfool":
        aimed = N.nudge(lenet_model, sample.test_images[0], target=target)
        assert aimed.to == target == int(K.predict_proba(lenet_model, aimed.adversarial).argmax())


def test_a_class_dream_beats_the_mean_digit_and_hidden_units_are_refused(
        lenet_model: CNN, sample) -> None:
    top = len(lenet_model.layers) - 1
    d = D.dream_of(lenet_model, sample.train_images[:500], top, 3, steps=60)
    assert d.activation > d.start_activation and d.image.shape == (784,)
    assert d.activation == pytest.approx(float(scores64(lenet_model, d.image)[0, 3]), rel=1e-4)
    with pytest.raises(ParameterError, match="dreams of its classes"):
        D.dream(lenet_model, 2, 0, sample.train_images[0])


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "digitlens", *args], capture_output=True,
                          text=True, timeout=300)


def test_attribute_nudge_and_dream_commands_take_a_cnn(cnn_runs: Path, lenet_model: CNN,
                                                       tmp_path: Path) -> None:
    run = str(cnn_runs / "lenet")
    common = ("--test-index", "5", "--dataset", "mnist-sample", "--json")
    a = cli("attribute", run, *common)
    assert a.returncode == 0, a.stderr
    got = json.loads(a.stdout.strip().splitlines()[-1])
    assert got["completeness_error"] < 0.02 and len(got["attributions"]) == 784
    n = cli("nudge", run, *common)
    assert n.returncode == 0, n.stderr
    got = json.loads(n.stdout.strip().splitlines()[-1])
    adv = np.array(got["adversarial"])
    assert got["flipped"] and int(K.predict_proba(lenet_model, adv).argmax()) == got["to"]
    out = tmp_path / "dream.png"
    d = cli("dream", run, "--class", "4", "--steps", "40", "--dataset", "mnist-sample",
            "--out", str(out), "--json")
    assert d.returncode == 0, d.stderr and out.stat().st_size > 0
    refused = cli("dream", run, "--layer", "1", "--neuron", "0", "--dataset", "mnist-sample")
    assert refused.returncode != 0 and "dreams of its classes (--class C)" in refused.stderr
    top = cli("dream", run, "--layer", "6", "--neuron", "4", "--steps", "20", "--dataset",
              "mnist-sample", "--json")  # the output layer by its number: class 4, as --class
    assert top.returncode == 0, top.stderr
    assert json.loads(top.stdout.strip().splitlines()[-1])["neuron"] == 4
    picture = tmp_path / "nudge.png"
    r = cli("render", "nudge", "--run", run, "--dataset", "mnist-sample", "--out", str(picture))
    assert r.returncode == 0, r.stderr and picture.stat().st_size > 0


def test_compare_matches_a_cnns_kernels_and_any_pair_of_networks(
        lenet_model: CNN, trained_model, cnn_runs: Path, sample, tmp_path: Path) -> None:
    from digitlens.analysis.compare import compare_models
    from digitlens.analysis.metrics import evaluate_model
    shuffled = CNN(lenet_model.input_shape, lenet_model.layers, params=lenet_model.params.copy())
    order = np.array([3, 0, 5, 1, 4, 2])
    shuffled.weights[0][...] = lenet_model.weights[0][order]
    x, y = sample.test_images, sample.test_labels
    c = compare_models(lenet_model, shuffled, x, y)
    assert c.matched == "kernels" and len(c.matches) == 6
    assert all(order[j] == i and s == pytest.approx(1.0) for i, j, s in c.matches)
    mixed = compare_models(lenet_model, trained_model, x, y)
    assert mixed.matched == "" and mixed.matches == [] and "not alike" in mixed.unmatched
    other = CNN.create((1, 28, 28), (Conv(4, 3), Pool(2), Dense(10, "softmax")), seed=0)
    assert "first kernels differ (1×3×3 against 1×5×5" in compare_models(
        other, lenet_model, x, y).unmatched
    assert mixed.a.accuracy == evaluate_model(lenet_model, x, y).accuracy
    assert mixed.b.accuracy == evaluate_model(trained_model, x, y).accuracy
    out = tmp_path / "compare.png"
    got = cli("compare", str(cnn_runs / "lenet"), str(cnn_runs / "small"), "--dataset",
              "mnist-sample", "--out", str(out), "--json")
    assert got.returncode == 0, got.stderr
    d = json.loads(got.stdout.strip().splitlines()[-1])
    assert d["matched"] == "" and d["sizes_a"] is None and d["sizes_b"] == [784, 32, 16, 10]
    assert d["accuracy_a"] == pytest.approx(mixed.a.accuracy) and out.stat().st_size > 0
