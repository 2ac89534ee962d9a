"""What a neuron dreams of: the input that excites it most (activation maximisation).

Gradient ascent in input space, starting from the mean training digit (plus a little seeded
noise, so the run is deterministic for a seed and neurons that see a flat start still move),
pixels projected back into 0..1 after every step. The objective is

    J(x) = z(x)/s − λ₂/2 · Σ x²  − λ_s/2 · Σ (neighbouring pixel differences)²

z being the neuron's pre-activation (an output neuron's score before the softmax) and s the RMS
of its input gradient at the start, so one pair λ₂ = 3, λ_s = 8 (fading to a quarter over the
steps) suits every neuron. The L2 term
spends ink only where it pays; the smoothness term (a squared total variation) keeps strokes
connected rather than salt-and-pepper. Steps are Adam's, so a neuron whose gradient is tiny
still moves. The composed weights of the report are a linear approximation of what a neuron
wants; the dream is the network's real optimum within the pixel box.

Layers are numbered as in ``digitlens.analysis.inspector``: layer 0 is the first hidden layer,
``n_layers - 1`` the output. A convolutional network dreams of its classes (its output layer,
``len(model.layers) - 1``), through the class scores' gradient (``analysis.gradients``). The
``activation`` reported is the neuron's value, f(z), for a
hidden neuron and the score z for an output neuron; ``max_train_activation`` is the same
quantity's highest value over the training digits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitlens.analysis.gradients import (
    Network,
    input_gradient,
    pixels,
    read,
    score_gradient,
)
from digitlens.analysis.inspector import check_neuron
from digitlens.errors import bad_param
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP

STEPS = 200
LR = 0.05
L2 = 3.0
SMOOTH = 8.0
NOISE = 0.01
FADE = 0.75


@dataclass
class Dream:
    layer: int
    neuron: int
    image: np.ndarray          # (pixels,) 0..1
    activation: float
    start_activation: float
    max_train_activation: float | None
    steps: int
    seed: int
    shape: tuple[int, int] = (28, 28)  # the model's input image
    best_train_image: np.ndarray | None = None  # (pixels,) the training digit that reaches max

    def to_dict(self) -> dict[str, Any]:
        return {"layer": self.layer, "neuron": self.neuron, "activation": self.activation,
                "start_activation": self.start_activation,
                "max_train_activation": self.max_train_activation,
                "steps": self.steps, "seed": self.seed,
                "regularisers": {"l2": L2, "smoothness": SMOOTH},
                "image": np.round(self.image, 5).tolist()}


def smoothness(x: np.ndarray, shape: tuple[int, int] = (28, 28)) -> tuple[float, np.ndarray]:
    """½ Σ squared differences of horizontal and vertical neighbours in an image of ``shape``,
    and its gradient."""
    a = x.reshape(shape)
    dy, dx = np.diff(a, axis=0), np.diff(a, axis=1)
    g = np.zeros_like(a)
    g[1:] += dy
    g[:-1] -= dy
    g[:, 1:] += dx
    g[:, :-1] -= dx
    return 0.5 * float((dy * dy).sum() + (dx * dx).sum()), g.ravel()


def check_unit(model: Network, layer: int, neuron: int) -> None:
    """A neuron of an MLP (``check_neuron``), or a class of a convolutional network."""
    if not isinstance(model, CNN):
        check_neuron(model, layer, neuron)
        return
    top = len(model.layers) - 1
    if layer != top:
        raise bad_param("layer", f"{top}, the output: a convolutional network dreams of its "
                        "classes (--class C); its layers below are feature maps and the dense "
                        "layers reading them, which `render feature-maps` and the "
                        "fingerprints view show", layer)
    if not (isinstance(neuron, int) and 0 <= neuron < model.n_classes):
        raise bad_param("class", f"an int in 0..{model.n_classes - 1}", neuron)


def pre_activation(model: Network, x: np.ndarray, layer: int, neuron: int
                   ) -> tuple[float, np.ndarray]:
    """z of the neuron (a class's score) for one image, and its gradient."""
    if isinstance(model, CNN):
        g, r = score_gradient(model, x[None], np.eye(model.n_classes)[neuron])
        return float(r.z[0, neuron]), g[0]
    t = model.trace(x)
    coef = np.zeros(model.sizes[layer + 1])
    coef[neuron] = 1.0
    return float(t.zs[layer][0, neuron]), input_gradient(model, x, layer, coef, t)[0]


def objective(model: Network, x: np.ndarray, layer: int, neuron: int, l2: float = L2,
              smooth: float = SMOOTH, scale: float = 1.0) -> tuple[float, np.ndarray]:
    """J(x) and dJ/dx for one image (see the module docstring); z is divided by ``scale``."""
    z, g = pre_activation(model, x, layer, neuron)
    s, gs = smoothness(x, model.image_shape)
    value = z / scale - 0.5 * l2 * float(x @ x) - smooth * s
    return value, g / scale - l2 * x - smooth * gs


def neuron_value(model: Network, x: np.ndarray, layer: int, neuron: int) -> np.ndarray:
    """The reported quantity for many images: f(z) of a hidden neuron, z of an output one."""
    if isinstance(model, CNN):
        return read(model, x).z[:, neuron]
    t = model.trace(x)
    if layer == model.n_layers - 1:
        return t.zs[layer][:, neuron].astype(np.float64)
    return t.activations[layer + 1][:, neuron].astype(np.float64)


def train_maxima(model: MLP, images: np.ndarray, chunk: int = 4096) -> list[np.ndarray]:
    """Per layer, every neuron's highest value over ``images`` (as ``neuron_value``): one
    forward pass over the training set answers every neuron's ``max_train_activation``."""
    x = model.as_input(images)
    out = [np.full(n, -np.inf) for n in model.sizes[1:]]
    for i in range(0, len(x), chunk):
        t = model.trace(x[i:i + chunk])
        for layer in range(model.n_layers):
            vals = t.zs[layer] if layer == model.n_layers - 1 else t.activations[layer + 1]
            out[layer] = np.maximum(out[layer], vals.max(axis=0))
    return out


def dream(model: Network, layer: int, neuron: int, start: np.ndarray, seed: int = 0,
          steps: int = STEPS, max_train: float | None = None, l2: float = L2,
          smooth: float = SMOOTH) -> Dream:
    """Projected Adam ascent on J from ``start`` (the mean training digit); the regularisers
    fade to a quarter of their weight over the steps: strong early, they shape the strokes;
    weaker late, they let the neuron reach its optimum."""
    check_unit(model, layer, neuron)
    rng = np.random.default_rng(seed)
    x0 = pixels(model, start)[0].astype(np.float64)
    x = np.clip(x0 + rng.normal(0.0, NOISE, x0.shape), 0.0, 1.0)
    # z in units of its start gradient's RMS: one set of weights suits every neuron and layer
    scale = float(np.sqrt(np.mean(pre_activation(model, x, layer, neuron)[1] ** 2))) or 1.0
    m, v = np.zeros_like(x), np.zeros_like(x)
    b1, b2 = 0.9, 0.999
    for k in range(1, steps + 1):
        fade = 1.0 - FADE * (k - 1) / max(steps - 1, 1)  # regularisers ease off as it goes
        g = objective(model, x, layer, neuron, l2 * fade, smooth * fade, scale)[1]
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        step = LR * (m / (1 - b1 ** k)) / (np.sqrt(v / (1 - b2 ** k)) + 1e-8)
        x = np.clip(x + step, 0.0, 1.0)
    start_val = float(neuron_value(model, x0, layer, neuron)[0])
    act = float(neuron_value(model, x, layer, neuron)[0])
    return Dream(layer, neuron, x, act, start_val, max_train, steps, seed, model.image_shape)


def dream_of(model: Network, train_images: np.ndarray, layer: int, neuron: int, seed: int = 0,
             steps: int = STEPS, chunk: int = 4096) -> Dream:
    """A neuron's dream as every surface asks for it: from the mean training digit, with the
    training digit that excites it most (and its value) beside it."""
    check_unit(model, layer, neuron)
    train = pixels(model, train_images)
    values = np.concatenate([neuron_value(model, train[i:i + chunk], layer, neuron)
                             for i in range(0, len(train), chunk)])
    top = int(np.argmax(values))
    d = dream(model, layer, neuron, train.mean(axis=0), seed, steps, float(values[top]))
    d.best_train_image = train[top].astype(np.float64)
    return d
