"""Every question the CLI asks, from Python: ``dl.nudge``, ``dl.attribute``, ``dl.dream``,
``dl.compare``, ``dl.map`` (``dl.patch`` and ``dl.circuit`` in ``notebook.why``, ``dl.step`` in
``notebook.learning``).

Each takes a loaded run, a path or an ``MLP`` and one input (an image, an array, a widget's
pixels, or ``index=`` a test digit), computes with the same analysis functions as the CLI
(the same answers), and returns the analysis's own dataclass of NumPy arrays, extended with a
short ``repr`` and an inline picture (``.picture()``; Jupyter shows it by itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.compare import Comparison
from digitlens.analysis.dream import Dream
from digitlens.analysis.gradients import output_layer
from digitlens.analysis.integrated import STEPS, Attribution
from digitlens.analysis.maps import LayerMap
from digitlens.analysis.nudge import Nudge
from digitlens.api import LoadedRun, as_run, input_of
from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.render.image import Picture

Model = LoadedRun | MLP | CNN | str | Path


def _run(run: Any) -> LoadedRun:
    if isinstance(run, LoadedRun | MLP | CNN | str | Path):
        return as_run(run)
    raise bad_param("run", "a loaded run (dl.load), a path or a network", type(run).__name__)


def _class(model: MLP | CNN, value: Any, name: str) -> int | None:
    """A class by number or by name, as ``--target`` takes it on the command line."""
    if value is None:
        return None
    names = list(model.class_names)
    if isinstance(value, str) and value in names:
        return names.index(value)
    if isinstance(value, int | np.integer) and not isinstance(value, bool) \
            and 0 <= int(value) < len(names):
        return int(value)
    raise bad_param(name, f"a class of this model (0..{len(names) - 1} or a name)", value)


def _input(r: LoadedRun, image: Any, index: int | None) -> tuple[np.ndarray, int | None]:
    """(flat input in 0..1, the test label) from exactly one of ``image`` and ``index``."""
    if (image is None) == (index is None):
        raise DigitlensError("give exactly one of an image or index= (a test digit)")
    if index is not None:
        n = len(r.dataset.test_labels)
        if not (isinstance(index, int | np.integer) and not isinstance(index, bool)
                and 0 <= index < n):
            raise bad_param("index", f"an int in 0..{n - 1}", index)
        x = r.dataset.test_images[int(index)].astype(np.float32).ravel() / 255
        return x, int(r.dataset.test_labels[int(index)])
    x, has_ink = input_of(image, shape=r.model.image_shape)
    if not has_ink:
        raise DigitlensError("the drawing is blank (no ink found)")
    return x, None


class Pictured:
    """An answer that shows itself as its picture: Jupyter calls ``_repr_png_``."""

    def picture(self) -> Picture:
        raise NotImplementedError

    def _repr_png_(self) -> bytes:
        return self.picture()._repr_png_()


def _copy(cls: type, base: Any, **extra: Any) -> Any:
    return cls(**{f.name: getattr(base, f.name) for f in fields(base)}, **extra)


@dataclass(repr=False)
class NudgeAnswer(Nudge, Pictured):
    """``Nudge`` with the class names, a one-line repr and its picture."""

    class_names: list[str] = field(default_factory=list)
    label: int | None = None

    def __repr__(self) -> str:
        n = self.class_names
        return (f"<nudge {self.method}: {n[self.source]} -> {n[self.to]} "
                f"({self.probabilities[self.to]:.0%} sure), L2 {self.l2:.3f}, "
                f"{self.changed_pixels} pixels changed>")

    def picture(self) -> Picture:
        from digitlens.render.views.ask import nudge_view
        return nudge_view(self, self.class_names, self.label)


@dataclass(repr=False)
class AttributionAnswer(Attribution, Pictured):
    """``Attribution`` with the input it explains, a one-line repr and its picture."""

    input: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shape: tuple[int, int] = (28, 28)
    class_names: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"<attribution {self.method} for {self.class_names[self.target]}: score "
                f"{self.score:.3f}, baseline {self.baseline_score:.3f}, sum "
                f"{self.attributions.sum():.3f} (completeness error "
                f"{self.completeness_error:.2%})>")

    def picture(self) -> Picture:
        from digitlens.render.views.ask import attribution_view
        return attribution_view(self, self.input, self.shape, self.class_names)


@dataclass(repr=False)
class DreamAnswer(Dream, Pictured):
    """``Dream`` with the neuron's name, a one-line repr and its picture."""

    title: str = ""

    def __repr__(self) -> str:
        best = (f"; best training digit {self.max_train_activation:.3f}"
                if self.max_train_activation is not None else "")
        return (f"<dream of {self.title}: {self.activation:.3f} (from "
                f"{self.start_activation:.3f} at the mean digit{best})>")

    def picture(self) -> Picture:
        from digitlens.render.views.ask import dream_view
        return dream_view(self, self.title)


@dataclass(repr=False)
class ComparisonAnswer(Comparison, Pictured):
    """``Comparison`` of two models on one test set, with its picture."""

    models: tuple[MLP | CNN, MLP | CNN] | None = None
    images: np.ndarray | None = None
    class_names: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"<comparison: {self.a.accuracy:.2%} vs {self.b.accuracy:.2%} on "
                f"{len(self.labels):,} test digits; they disagree on "
                f"{self.disagreements.size:,}>")

    def picture(self) -> Picture:
        from digitlens.render.views.compare import compare_view
        assert self.models is not None and self.images is not None
        a, b = self.models
        return compare_view(self, a, b, self.images, self.class_names, "a", "b")


@dataclass(repr=False)
class MapAnswer(Pictured):
    """Each chosen hidden layer's test digits on a 2-D map, with a linear probe's accuracy;
    ``maps[0]`` is the only one when a layer was asked for."""

    maps: list[LayerMap]
    labels: np.ndarray
    class_names: list[str]

    def __repr__(self) -> str:
        parts = ", ".join(f"{m.name}: {m.separation:.1%}" for m in self.maps)
        return f"<map ({self.maps[0].method}) separation by a linear probe: {parts}>"

    def picture(self) -> Picture:
        from digitlens.render.views.maps import map_view
        return map_view(self.maps, self.labels, self.class_names)


def nudge(run: Model, image: Any = None, *, index: int | None = None, target: Any = None,
          method: str = "deepfool") -> NudgeAnswer:
    """The smallest change that makes the network read another class (``target``: a class by
    number or name; default any other), as ``digitlens nudge``.

    >>> dl.nudge(run, index=0, target=3)        # doctest: +SKIP
    <nudge deepfool: 7 -> 3 (50% sure), L2 1.284, 312 pixels changed>
    """
    from digitlens.analysis.nudge import nudge as nudge_of
    r = _run(run)
    x, label = _input(r, image, index)
    res = nudge_of(r.model, x, _class(r.model, target, "target"), method)
    return _copy(NudgeAnswer, res, class_names=list(r.model.class_names), label=label)


def attribute(run: Model, image: Any = None, *, index: int | None = None, target: Any = None,
              method: str = "integrated-gradients", steps: int = STEPS,
              baseline: str = "black") -> AttributionAnswer:
    """Each pixel's share of a class score (default: the prediction's), as ``digitlens
    attribute``: integrated gradients (Captum's) or gradient × input."""
    from digitlens.analysis.integrated import attribute as attribute_of
    r = _run(run)
    x, _label = _input(r, image, index)
    a = attribute_of(r.model, x, method, _class(r.model, target, "target"), steps, baseline)
    return _copy(AttributionAnswer, a, input=x, shape=r.model.image_shape,
                 class_names=list(r.model.class_names))


def dream(run: Model, *, layer: int | None = None, neuron: int | None = None,
          target: Any = None, seed: int = 0, steps: int | None = None) -> DreamAnswer:
    """The input a neuron (``layer``, ``neuron``) or an output class (``target``) likes most,
    from the mean training digit, beside the best value a training digit reaches, as
    ``digitlens dream``."""
    from digitlens.analysis import dream as D
    r = _run(run)
    model = r.model
    if target is not None:
        if layer is not None or neuron is not None:
            raise DigitlensError("give target=, or layer= and neuron=, not both")
        layer, neuron = output_layer(model), _class(model, target, "target")
    elif layer is None or neuron is None:
        raise DigitlensError("give layer= and neuron=, or target= (an output class)")
    assert layer is not None and neuron is not None
    if steps is not None and not (isinstance(steps, int) and 1 <= steps <= 10000):
        raise bad_param("steps", "an int in 1..10000", steps)
    d = D.dream_of(model, r.dataset.train_images, layer, neuron, seed, steps or D.STEPS)
    from digitlens.render.views.ask import dream_title
    return _copy(DreamAnswer, d, title=dream_title(model, layer, neuron))


def compare(run_a: Model, run_b: Model) -> ComparisonAnswer:
    """Two models of the same shape on the first one's test set: accuracy per class, where
    they disagree, and their first-layer neurons matched, as ``digitlens compare``."""
    from digitlens.analysis.compare import compare_models
    a, b = _run(run_a), _run(run_b)
    ds = a.dataset
    ma, mb = a.model, b.model
    c = compare_models(ma, mb, ds.test_images, ds.test_labels)
    return _copy(ComparisonAnswer, c, models=(ma, mb), images=ds.test_images,
                 class_names=list(ds.class_names))


def map(run: Model, layer: int | None = None, method: str = "pca") -> MapAnswer:  # noqa: A001
    """Each hidden layer's test digits projected to 2-D (PCA, or UMAP with the maps extra)
    with a linear probe's accuracy; ``layer``: that layer only (input pixels are
    ``layer=-1``)."""
    from digitlens.analysis.maps import check_map_layer, hidden_maps
    if method not in ("pca", "umap"):
        raise bad_param("method", "pca or umap", method)
    r = _run(run)
    model = r.dense("dl.map")
    layers = check_map_layer(model, layer)
    cache = r.path / "maps" if r.is_folder else None
    maps = hidden_maps(model, r.dataset.test_images, r.dataset.test_labels, layers, method,
                       cache)
    return MapAnswer(maps, r.dataset.test_labels, list(r.dataset.class_names))
