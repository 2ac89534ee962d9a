"""``dl.step``: one gradient step from Python, the same step as ``digitlens step`` and the
page's "Teach it" card, returned with a one-line repr and its picture."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlens.errors import bad_param
from digitlens.nn.onestep import OneStep, one_step
from digitlens.notebook.questions import Model, Pictured, _class, _copy, _input, _run
from digitlens.render.image import Picture


@dataclass(repr=False)
class StepAnswer(OneStep, Pictured):
    """``OneStep`` (``.model`` is the stepped copy) with what was taught, its repr and picture."""

    input: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shape: tuple[int, int] = (28, 28)
    class_names: list[str] = field(default_factory=list)
    label: int = 0
    lr: float = 0.0
    optimizer: str = "sgd"

    def __repr__(self) -> str:
        n, c = self.class_names, self.label
        return (f"<step teaching {n[c]} ({self.optimizer}, lr {self.lr:g}): loss "
                f"{max(self.loss_before, 0):.4f} -> {max(self.loss_after, 0):.4f}, "
                f"p({n[c]}) {self.probabilities_before[c]:.1%} -> "
                f"{self.probabilities_after[c]:.1%}, reads {n[self.prediction_before]} -> "
                f"{n[self.prediction_after]}>")

    def picture(self) -> Picture:
        from digitlens.render.views.step import step_view
        return step_view(self, self.input, self.shape, self.class_names, self.label, self.lr,
                         self.optimizer)


def step(run: Model, image: Any = None, *, index: int | None = None, label: Any,
         lr: float = 0.01, optimizer: str = "sgd") -> StepAnswer:
    """One ``optimizer`` step teaching ``label`` (a class number or name) on one drawing or test
    digit ``index``; the run is left as it was (``.model`` is the stepped copy)."""
    r = _run(run)
    model = r.dense("dl.step")
    x, _ = _input(r, image, index)
    c = _class(model, label, "label")
    if c is None:
        raise bad_param("label", "the class to teach (a number or a name)", None)
    s = one_step(model, x, c, lr, optimizer)
    return _copy(StepAnswer, s, input=x, shape=model.input_shape,
                 class_names=list(model.class_names), label=c, lr=float(lr),
                 optimizer=optimizer)
