"""``dl.patch``, ``dl.circuit`` and ``dl.features``: why this answer and not another, from
Python, with the CLI's answers (``digitlens patch``, ``circuit``, ``features``), a one-line repr
and a picture."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlens import numbering
from digitlens.analysis import sae as S
from digitlens.analysis.atlas import Features, atlas_of, check_settings
from digitlens.analysis.feature_gap import FeatureGap, gap_in_features, last_layer_atlas
from digitlens.analysis.patching import Circuit, Patch, hidden_means
from digitlens.analysis.patching import circuit as circuit_of
from digitlens.analysis.patching import patch as patch_of
from digitlens.notebook.questions import Model, Pictured, _class, _copy, _input, _run
from digitlens.render.image import Picture


@dataclass(repr=False)
class PatchAnswer(Patch, Pictured):
    """``Patch`` with both inputs and the class names, a one-line repr and its picture."""

    source: np.ndarray = field(default_factory=lambda: np.zeros(0))
    into: np.ndarray = field(default_factory=lambda: np.zeros(0))
    shape: tuple[int, int] = (28, 28)
    class_names: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        n = self.class_names
        return (f"<patch of layer {self.layer} ({len(self.patched)} neurons from a "
                f"{n[self.source_prediction]}): {n[self.prediction_before]} -> "
                f"{n[self.prediction_after]} "
                f"({self.probabilities_after[self.prediction_after]:.0%} sure)>")

    def picture(self) -> Picture:
        from digitlens.render.views.why import patch_view
        return patch_view(self, self.source, self.into, self.shape, self.class_names)


@dataclass(repr=False)
class CircuitAnswer(Circuit, Pictured):
    """``Circuit`` with the class names, a one-line repr and its picture; ``features``: the
    gap split over the last hidden layer's atlas, when there is one."""

    class_names: list[str] = field(default_factory=list)
    features: FeatureGap | None = None

    def __repr__(self) -> str:
        n = self.class_names
        top = ", ".join(numbering.spell(ly, k) for ly, k, _ in self.nodes[:3])
        lead = "" if not self.features or not self.features.terms else \
            ", led in features by feature {} ({:+.2f})".format(*self.features.terms[0][::2])
        return (f"<circuit {n[self.target]} over {n[self.contrast]}: gap {self.gap:.3f}, "
                f"{len(self.nodes)} neurons (top {top}) restore {self.restored:.0%}, "
                f"removing them takes {self.removed:.0%}{lead}>")

    def picture(self) -> Picture:
        from digitlens.render.views.why import circuit_view
        return circuit_view(self, self.class_names)


def patch(run: Model, source: Any = None, into: Any = None, *, layer: int,
          neurons: list[int] | None = None, source_index: int | None = None,
          into_index: int | None = None) -> PatchAnswer:
    """Run ``into`` with hidden ``layer``'s ``neurons`` (all when None) taking the values
    ``source`` gives them, as ``digitlens patch``: does the answer follow?"""
    r = _run(run)
    model = r.dense("dl.patch")
    a, _ = _input(r, source, source_index)
    b, _ = _input(r, into, into_index)
    return _copy(PatchAnswer, patch_of(model, a, b, layer, neurons), source=a, into=b,
                 shape=model.input_shape, class_names=list(model.class_names))


def circuit(run: Model, image: Any = None, *, index: int | None = None, target: Any = None,
            contrast: Any = None, max_nodes: int = 30, atlas: str | Path | None = None
            ) -> CircuitAnswer:
    """The hidden neurons that make ``target`` (default: the prediction) beat ``contrast``
    (default: the runner-up), with how much of the gap they restore and remove, as
    ``digitlens circuit``; the gap split over the features of ``atlas`` (a features.npz of
    the last hidden layer; default: the run folder's, when it has one, a stale one left out with
    a warning) as ``.features``."""
    r = _run(run)
    model = r.dense("dl.circuit")
    x, _ = _input(r, image, index)
    c = circuit_of(model, x, hidden_means(model, r.dataset.test_images),
                   _class(model, target, "target"), _class(model, contrast, "contrast"),
                   max_nodes)
    sae, note = last_layer_atlas(model, atlas, r.path if r.is_folder else None)
    if note is not None:
        warnings.warn(note, stacklevel=2)
    gap = None if sae is None else gap_in_features(model, sae, x, c.target, c.contrast)
    return _copy(CircuitAnswer, c, class_names=list(model.class_names), features=gap)


@dataclass(repr=False)
class FeaturesAnswer(Features, Pictured):
    """``Features`` of one hidden layer, with what it needs for its cards and a repr."""

    layer: int = 0
    model: Any = None
    images: np.ndarray = field(default_factory=lambda: np.zeros(0))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __repr__(self) -> str:
        a = self.atlas
        return (f"<features of layer {self.layer}: {self.sae.n_features} (k {self.sae.k}), "
                f"{a.l0:.1f} active per digit, {a.dead_fraction:.1%} never fire, explained "
                f"variance {a.explained_variance:.3f}, accuracy {a.accuracy:.2%} -> "
                f"{a.accuracy_spliced:.2%} rebuilt>")

    def picture(self) -> Picture:
        from digitlens.render.views.features import feature_cards
        return feature_cards(self.model, self.layer, self.sae, self.codes, self.images,
                             self.labels, list(self.model.class_names))


def features(run: Model, *, layer: int, atlas: str | None = None, features: int = S.FEATURES,
             k: int = S.K, epochs: int = S.EPOCHS, seed: int = 0) -> FeaturesAnswer:
    """A TopK sparse autoencoder of hidden ``layer`` trained as ``digitlens features`` trains
    it, or the one in ``atlas`` (a features.npz that command wrote for this network and layer),
    measured on the test digits."""
    from digitlens.analysis.sae_file import load_features
    r = _run(run)
    model = r.dense("dl.features")
    check_settings(model, layer, features, k, epochs)
    sae = load_features(atlas, model, layer)[0] if atlas is not None else None
    ds = r.dataset
    fs = atlas_of(model, layer, ds.train_images, ds.test_images, ds.test_labels, sae,
                  features, k, epochs, seed)
    return _copy(FeaturesAnswer, fs, layer=layer, model=model, images=ds.test_images,
                 labels=ds.test_labels)
