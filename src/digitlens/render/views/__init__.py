"""Every view by name: what it shows, which outputs it makes, and one entry point that builds it
from a run folder and a dataset (used by the CLI and the report)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.data.sources import Dataset
from digitlens.errors import ModelError, NotFoundError, bad_param
from digitlens.nn.cnn import CNN, short_label
from digitlens.nn.io import load_model, load_network
from digitlens.nn.mlp import MLP
from digitlens.nn.run import Run
from digitlens.render.image import Animation, Picture
from digitlens.wording import count


@dataclass(frozen=True)
class ViewInfo:
    name: str
    seed: str
    summary: str
    animated: bool  # can also be written as GIF/WebP/MP4


VIEWS: dict[str, ViewInfo] = {v.name: v for v in [
    ViewInfo("fingerprints", "S0", "a digit beside each layer's activations; --mode classes for "
             "every class's mean fingerprint and how consistent it is", True),
    ViewInfo("evidence", "S1", "per class: weights, input × weights, the summed score; true "
             "class green, wrong prediction orange", True),
    ViewInfo("weights", "S2/S3", "first-layer weights per neuron (--style diverging|grey); "
             "--compare RUN for S2's few-vs-many images comparison", False),
    ViewInfo("composed", "S2", "weights composed through the layers (W0·W1, W0·W1·W2) for every "
             "deeper neuron, output neurons included", False),
    ViewInfo("evolution", "S3", "training epoch by epoch from the run's snapshots: weight mosaic "
             "with bias bars, output weights, accuracy so far", True),
    ViewInfo("neurons", "S3", "hidden neurons ranked by importance, dead/dim/duplicates, proved by "
             "ablation and pruning + fine-tuning", False),
    ViewInfo("map", "S0", "each hidden layer's test digits projected to 2-D (--method pca|umap, "
             "--layer L), with a linear probe's accuracy per layer, input pixels included", False),
    ViewInfo("compare", "S2", "two models side by side (--compare RUN): accuracy per class, "
             "confusion difference, disagreements, matched first-layer neurons", False),
    ViewInfo("errors", "-", "confusion matrix and a gallery of misclassified digits with their "
             "top two classes", False),
    ViewInfo("nudge", "-", "the smallest change that flips a test digit (--method deepfool|fgsm, "
             "--target C): original, nudged, the change in red/blue, both predictions", False),
    ViewInfo("dream", "-", "the input a class or neuron likes most, beside the best training "
             "digit's value (--target C, or --layer L --neuron N)", False),
    ViewInfo("robustness", "S3", "accuracy when digits are moved or resized, as drawn vs after "
             "MNIST preprocessing", False),
    ViewInfo("filters", "CNN", "a convolutional network's kernels, each as a small red/blue "
             "image", False),
    ViewInfo("feature-maps", "CNN", "one test digit (--digit, --index) and every channel's "
             "feature map for it, layer by layer", False),
]}
# the views of a convolutional network, and those that read either kind (through the class
# scores and their gradient, ``analysis.gradients``); the others read fully connected ones
CONVOLUTIONAL = ("filters", "feature-maps")
EITHER = ("nudge", "dream", "errors", "robustness", "fingerprints", "compare")
# why each other view does not apply to a convolutional network, and what answers instead
NOT_CONVOLUTIONAL = {
    "evidence": "it draws each class's weights on the pixels, and a convolutional network's "
                "classes weigh feature maps, not pixels (each pixel's share of a class: "
                "`digitlens attribute`)",
    "weights": "it draws the first layer's weights, one image per neuron; a convolutional "
               "network's first layer is a few small kernels (the filters view)",
    "composed": "it multiplies dense layers' weight matrices back to the pixels, and a "
                "convolution with pooling is not one matrix (the filters view, and `digitlens "
                "attribute` for what each pixel adds)",
    "evolution": "it draws the first layer's weights epoch by epoch as images of the input, "
                 "which a convolutional network's kernels are not",
    "neurons": "it ranks the neurons of fully connected layers by knocking them out; a "
               "convolutional network's units are channels (knock one out in the explorer)",
    "map": "it projects every hidden layer's neurons, and a convolutional network's first "
           "layers hold thousands of map positions per digit (its channel fingerprints: "
           "the fingerprints view)",
}


def get_view(name: str) -> ViewInfo:
    try:
        return VIEWS[name]
    except KeyError:
        raise NotFoundError(f"unknown view {name!r}; choose one of {', '.join(VIEWS)}") from None


def digit_indices(labels: np.ndarray, digit: int | None, count: int, start: int = 0) -> np.ndarray:
    """Indices of the first ``count`` test digits of class ``digit`` (any class if None)."""
    idx = np.arange(len(labels)) if digit is None else np.flatnonzero(labels == digit)
    idx = idx[start:start + count]
    if idx.size == 0:
        raise bad_param("digit", "a class with examples in the test set", digit)
    return idx


def convolutional_view(name: str, run: str | Run | MLP | CNN, ds: Dataset,
                       **opt: Any) -> Picture:
    """``filters`` or ``feature-maps`` of a convolutional network."""
    from digitlens.render.views import convolution as V
    model = run if isinstance(run, MLP | CNN) else load_network(
        run.path if isinstance(run, Run) else run)
    if not isinstance(model, CNN):
        raise ModelError(f"the {name} view shows a convolutional network's kernels and maps; "
                         "this one is fully connected (see the weights and fingerprints views)")
    if name == "filters":
        return V.filters(model)
    idx = digit_indices(ds.test_labels, opt.get("digit"), 1, opt.get("index") or 0)
    return V.feature_maps(model, ds.test_images[idx[0]], int(ds.test_labels[idx[0]]))


def build(name: str, run: str | Path | Run | MLP | CNN, ds: Dataset, animated: bool = False,
          **opt: Any) -> Picture | Animation:
    """Build view ``name`` for a run folder, a model file or a loaded model on dataset ``ds``.
    Options (all optional): index, digit, frames, mode, method, style, layer, compare, every,
    fps, n, target."""
    if isinstance(run, Path):
        run = str(run)
    info = get_view(name)
    if animated and not info.animated:
        raise bad_param("out", f"a still image (.png/.webp) for the {name!r} view", "animation")
    if name in CONVOLUTIONAL:
        return convolutional_view(name, run, ds, **opt)
    if name in EITHER:
        network = run if isinstance(run, MLP | CNN) else load_network(
            run.path if isinstance(run, Run) else run)
        if isinstance(network, CNN) or name != "fingerprints":
            return either_view(name, network, ds, animated, **opt)
        run = network
    if isinstance(run, CNN):
        raise not_convolutional(name)
    return dense_view(name, run, ds, animated, **opt)


def dense_view(name: str, run: str | Run | MLP, ds: Dataset, animated: bool = False,
               **opt: Any) -> Picture | Animation:
    """The views that read a fully connected network's neurons and weights."""
    model: MLP = run if isinstance(run, MLP) else load_model(
        run.path if isinstance(run, Run) else run)
    check_images(model, ds)
    names = list(ds.class_names)
    x, y = ds.test_images, ds.test_labels
    o = {k: v for k, v in opt.items() if v is not None}
    if name == "fingerprints":
        from digitlens.render.views import fingerprints as V
        if o.get("mode", "example") == "classes":
            return V.class_fingerprints_view(model, x, y, names)
        idx = digit_indices(y, o.get("digit", 5 if len(names) > 5 else 0),
                            o.get("frames", 24) if animated else 1,
                            o.get("index", 0))
        if animated:
            return V.fingerprint_animation(model, x[idx], y[idx], x[:1000],
                                           o.get("fps", 3.0), names)
        return V.fingerprint(model, x[idx[0]], int(y[idx[0]]), x[:1000], names)
    if name == "evidence":
        from digitlens.render.views import evidence as E
        idx = digit_indices(y, o.get("digit"), o.get("frames", 20) if animated else 1,
                            o.get("index", 0))
        if animated:
            return E.evidence_animation(model, x[idx], y[idx], o.get("method", "auto"),
                                        o.get("fps", 1.5), names)
        return E.evidence_panel(model, x[idx[0]], int(y[idx[0]]), o.get("method", "auto"), names)
    if name == "weights":
        from digitlens.render.views import weights as W
        if "compare" in o:
            return W.compare_training(load_model(o["compare"]), model, *compare_labels(
                load_model(o["compare"]), model, len(ds.train_labels)), class_names=names)
        return W.first_layer(model, o.get("style", "diverging"))
    if name == "composed":
        from digitlens.render.views import weights as W
        return W.composed(model, o.get("style", "diverging"), class_names=names)
    if name == "evolution":
        from digitlens.render.views.evolution import evolution
        if isinstance(run, MLP):
            raise ModelError("the evolution view needs a run folder with snapshots, not a model")
        r = run if isinstance(run, Run) else Run(run)
        anim = evolution(r, o.get("every", 1), o.get("fps"), (x, y), names)
        if not animated and "epoch" in o:
            epochs = anim.data["epochs"]
            if o["epoch"] not in epochs:
                raise bad_param("epoch", f"one of the snapshot epochs {epochs[0]}..{epochs[-1]}",
                                o["epoch"])
            anim.poster_index = epochs.index(o["epoch"])
        return anim
    if name == "neurons":
        from digitlens.analysis.neurons import FINETUNE_IMAGES, analyse_neurons, finetune_data
        from digitlens.render.views.neurons import neurons_view
        tx, ty, tune = finetune_data(model, ds.train_images, ds.train_labels,
                                     o.get("n", FINETUNE_IMAGES))
        rep = analyse_neurons(model, x, y, o.get("layer"), train=(tx, ty), finetune_with=tune)
        return neurons_view(model, rep, run_counts(run))
    return map_of(run, model, ds, o)  # the last of them


def check_images(model: MLP | CNN, ds: Dataset) -> None:
    h, w = model.image_shape
    if tuple(ds.image_shape) != (h, w):
        raise ModelError(f"the model reads {h}×{w} images but {ds.name}'s are "
                         f"{ds.image_shape[0]}×{ds.image_shape[1]}: give it a dataset of "
                         f"{h}×{w} images (--data-dir or --dataset; dl.load(path, "
                         "dataset=...))")


def not_convolutional(name: str) -> ModelError:
    """One line: why view ``name`` does not apply to a convolutional network."""
    return ModelError(f"the {name} view does not apply to a convolutional network: "
                      f"{NOT_CONVOLUTIONAL[name]}; its views: "
                      f"{', '.join(CONVOLUTIONAL + EITHER)}")


def either_view(name: str, model: MLP | CNN, ds: Dataset, animated: bool = False,
                **opt: Any) -> Picture:
    """``nudge``, ``dream``, ``errors``, ``robustness`` or ``compare`` of either kind of
    network, and a convolutional one's ``fingerprints`` (per channel, for every class)."""
    check_images(model, ds)
    o = {k: v for k, v in opt.items() if v is not None}
    x, y, names = ds.test_images, ds.test_labels, list(ds.class_names)
    if name == "fingerprints":  # a convolutional network's fingerprints are per class
        if o.get("mode", "classes") != "classes":
            raise bad_param("mode", "classes for a convolutional network (one digit's "
                            "fingerprint is its feature maps: the feature-maps view)",
                            o.get("mode", "example"))
        if animated:
            raise bad_param("out", "a still image (.png/.webp): a convolutional network's "
                            "class fingerprints are one picture", "animation")
        from digitlens.render.views.fingerprints import class_fingerprints_view
        return class_fingerprints_view(model, x, y, names)
    if name == "errors":
        from digitlens.render.views.confusion import errors_view
        return errors_view(model, x, y, o.get("n", 40), names)
    if name == "compare":
        return compare_of(model, ds, o)
    if name == "robustness":
        from digitlens.analysis.robustness import robustness
        from digitlens.render.views.robustness import robustness_view
        return robustness_view(robustness(model, x, y, n=o.get("n", 500)))
    if name == "dream":
        return dream_of_view(model, ds, o)
    from digitlens.analysis.nudge import nudge
    from digitlens.render.views.ask import nudge_view
    i = int(digit_indices(y, o.get("digit"), 1, o.get("index", 0))[0])
    res = nudge(model, x[i], o.get("target"), o.get("method", "deepfool"))
    return nudge_view(res, names, int(y[i]))


def run_counts(run: str | Run | MLP) -> dict[str, Any] | None:
    """The neuron monitor's per-epoch counts of a run folder (None for a model)."""
    from digitlens.analysis.monitor import history_counts
    if isinstance(run, MLP):
        return None
    r = run if isinstance(run, Run) else Run(run)
    return history_counts(r.history()) if r.path.is_dir() else None


def map_of(run: str | Run | MLP, model: MLP, ds: Dataset, o: dict[str, Any]) -> Picture:
    from digitlens.analysis.maps import check_map_layer, hidden_maps
    from digitlens.render.views.maps import map_view
    method = o.get("method", "pca")
    if method not in ("pca", "umap"):
        raise bad_param("method", "pca or umap for the map view", method)
    layers = check_map_layer(model, o.get("layer"))
    path = run.path if isinstance(run, Run) else None if isinstance(run, MLP) else Path(run)
    cache = path / "maps" if path is not None and path.is_dir() else None
    maps = hidden_maps(model, ds.test_images, ds.test_labels, layers, method, cache)
    return map_view(maps, ds.test_labels, list(ds.class_names))


def dream_of_view(model: MLP | CNN, ds: Dataset, o: dict[str, Any]) -> Picture:
    """``--target C`` (an output class) or ``--layer L --neuron N`` (any neuron)."""
    from digitlens.analysis.dream import STEPS, dream_of
    from digitlens.render.views.ask import dream_title, dream_view
    if "target" in o:
        if "neuron" in o:
            raise bad_param("target", "a class, or --layer L --neuron N instead, not both",
                            o["target"])
        from digitlens.analysis.gradients import output_layer
        layer, neuron = output_layer(model), int(o["target"])
    elif "layer" in o and "neuron" in o:
        layer, neuron = int(o["layer"]), int(o["neuron"])
    else:
        raise bad_param("target", "a class (--target C), or --layer L --neuron N", None)
    d = dream_of(model, ds.train_images, layer, neuron, 0, o.get("n", STEPS))
    return dream_view(d, dream_title(model, layer, neuron))


def network_label(m: CNN) -> str:
    """'conv 6-16 · 120-84-10', as the explorer names a convolutional network."""
    return short_label(m.layers)


def compare_of(model: MLP | CNN, ds: Dataset, o: dict[str, Any]) -> Picture:
    from digitlens.analysis.compare import compare_models
    from digitlens.render.views.compare import compare_view
    if "compare" not in o:
        raise bad_param("compare", "a second run or model file (--compare RUN)", None)
    other = load_network(o["compare"])
    c = compare_models(model, other, ds.test_images, ds.test_labels)
    return compare_view(c, model, other, ds.test_images, list(ds.class_names),
                        model_label(model, len(ds.train_labels)),
                        model_label(other, len(ds.train_labels)))


def model_label(m: MLP | CNN, n_train: int) -> str:
    """'784-512-256-10, 60,000 images' (or 'conv 6-16 · 120-84-10, …') from a model's shape and
    training settings."""
    shape = "-".join(map(str, m.sizes)) if isinstance(m, MLP) else network_label(m)
    t = m.meta.get("training") or {}
    if not t:
        return f"{shape}, imported" if m.meta.get("imported_from") else shape
    return f"{shape}, {count(int(t.get('train_size') or n_train), 'image')}"


def compare_labels(small: MLP, full: MLP, n_default: int) -> tuple[str, str]:
    """'500 images' / '60,000 images' from each model's training settings."""
    def size(m: MLP) -> int:
        return int(m.meta.get("training", {}).get("train_size") or n_default)
    return count(size(small), "image"), count(size(full), "image")
