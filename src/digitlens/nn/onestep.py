"""One gradient step on one example, to show a learner what a single step of training does.

It is training's own step (``digitlens.nn.step.BatchStepper``: forward, cost, backward,
update through ``digitlens.nn.optim``) on a batch of one, run on a copy, so the model given is
never changed. The page's engine (web/static/js/gradient.js) takes the same step and is tested
against this one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.functions import cost
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import OPTIMIZERS, make_optimizer
from digitlens.nn.step import BatchStepper

LR_MAX = 100.0  # beyond this a step only ever shows overflow (the page uses the same bound)


@dataclass
class OneStep:
    """What one step did: the stepped copy, the cost and probabilities before and after, the
    gradient (flat, laid out like ``model.params``) and its L2 norm per weight layer."""

    model: MLP
    loss_before: float
    loss_after: float
    probabilities_before: np.ndarray
    probabilities_after: np.ndarray
    gradient: np.ndarray
    gradient_norms: list[float]

    @property
    def prediction_before(self) -> int:
        return int(np.argmax(self.probabilities_before))

    @property
    def prediction_after(self) -> int:
        return int(np.argmax(self.probabilities_after))


def check_step(model: MLP, x: np.ndarray, label: int, lr: float, optimizer: str) -> None:
    """One message shape for every bad parameter of a step."""
    n_classes = model.sizes[-1]
    if isinstance(label, bool) or not isinstance(label, int | np.integer) \
            or not 0 <= label < n_classes:
        raise bad_param("label", f"a class in 0..{n_classes - 1}", label)
    if not (isinstance(lr, int | float) and math.isfinite(lr) and 0 < lr <= LR_MAX):
        raise bad_param("lr", f"a float > 0 and at most {LR_MAX:g}", lr)
    if optimizer not in OPTIMIZERS:
        raise bad_param("optimizer", f"one of {', '.join(OPTIMIZERS)}", optimizer)
    if x.shape != (model.sizes[0],) or not np.all((x >= 0) & (x <= 1)):
        raise bad_param("x", f"{model.sizes[0]} pixel values in 0..1", x.shape)
    if not np.any(x > 0):
        raise DigitlensError("the image is blank (no ink): there is nothing to learn from")


def one_step(model: MLP, x: np.ndarray, label: int, lr: float,
             optimizer: str = "sgd") -> OneStep:
    """One ``optimizer`` step with learning rate ``lr`` on image ``x`` (sizes[0] values in
    0..1) taught as class ``label``; ``model`` is left as it was. Adam and momentum start from
    fresh state, as on a run's first batch."""
    x = np.asarray(x, np.float32).ravel()
    check_step(model, x, label, lr, optimizer)
    stepped = model.copy()
    stepper = BatchStepper(stepped, make_optimizer(optimizer, stepped.params.size), 1)
    probs_before = model.trace(x).probabilities[0]
    y = np.array([label], np.int64)
    loss_before = stepper.step(x[None, :], y, np.zeros(1, np.int64), lr)
    if not np.all(np.isfinite(stepped.params)):
        raise DigitlensError(f"a learning rate of {lr:g} makes a weight overflow: try a "
                             "smaller one")
    grad = stepper.ws.grad.copy()
    after = stepped.trace(x)
    loss_after = cost(stepped.cost, stepped.output_activation, after.output, y)
    norms = [float(np.linalg.norm(grad[a:b].astype(np.float64))) for a, b in model.w_slices]
    return OneStep(stepped, float(loss_before), float(loss_after), probs_before,
                   after.probabilities[0], grad, norms)
