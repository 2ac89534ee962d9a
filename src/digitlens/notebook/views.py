"""Every view of ``digitlens render`` as a function of a run: ``dl.views.fingerprints(run)``.

Each returns the view module's own object: a ``Picture`` (shown inline as PNG, ``.save()``) or
an ``Animation`` (shown inline as an animated GIF, ``.save()`` as GIF/WebP/MP4). The pictures
are drawn by render/views; this module only finds the model and dataset of a run.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from digitlens.api import RunLike, as_run, input_of
from digitlens.nn.cnn import CNN
from digitlens.render.image import Animation, Picture

View = Picture | Animation


def _build(name: str, run: RunLike, animated: bool = False, **opt: Any) -> View:
    from digitlens.render.views import build
    r = as_run(run)
    # a run folder's snapshots (evolution) and map cache; any other model as it was loaded
    # (an .onnx or .pt file is read once, by dl.load, never again by path)
    folder = r.is_folder and not isinstance(r.model, CNN)
    source: Any = r.path if name in ("evolution", "map") and folder else r.model
    return build(name, source, r.dataset, animated, **opt)


def _names(run: RunLike) -> list[str]:
    return list(as_run(run).dataset.class_names)


def fingerprints(run: RunLike, digit: int | None = 5, index: int = 0, image: Any = None,
                 animated: bool = False, frames: int = 24, mode: str = "example") -> View:
    """S0: a test digit (or ``image``) beside every layer's activations; ``animated``: many
    versions of ``digit``; ``mode="classes"``: every class's mean fingerprint.

    >>> dl.views.fingerprints(run, digit=5)            # doctest: +SKIP
    """
    if image is not None:
        from digitlens.render.views.fingerprints import fingerprint
        r = as_run(run)
        model = r.dense("dl.views.fingerprints")
        x = input_of(image, shape=model.input_shape)[0]
        return fingerprint(model, x, None, r.dataset.test_images[:1000], _names(r))
    return _build("fingerprints", run, animated, digit=digit, index=index, frames=frames,
                  mode=mode)


def evidence(run: RunLike, digit: int | None = None, index: int = 0, image: Any = None,
             method: str = "auto", animated: bool = False, frames: int = 20) -> View:
    """S1: per class, its weights, input × weights and the summed score, for a test digit or
    your own ``image`` (a drawing from ``dl.Explorer``: ``image=widget.pixels``)."""
    if image is not None:
        from digitlens.render.views.evidence import evidence_panel
        r = as_run(run)
        model = r.dense("dl.views.evidence")
        x = input_of(image, shape=model.input_shape)[0]
        return evidence_panel(model, x, None, method, _names(r))
    return _build("evidence", run, animated, digit=digit, index=index, method=method,
                  frames=frames)


def weights(run: RunLike, style: str = "diverging", compare: RunLike | None = None) -> Picture:
    """S2/S3: first-layer weights as images of the input's shape (28×28 for MNIST);
    ``compare``: a run of the same net trained on fewer images (S2's 500 vs 60,000), its
    output neurons beside this run's."""
    if compare is not None:
        from digitlens.render.views import compare_labels
        from digitlens.render.views.weights import compare_training
        small, full = as_run(compare).dense("dl.views.weights"), as_run(run).dense(
            "dl.views.weights")
        return compare_training(small, full, *compare_labels(
            small, full, len(as_run(run).dataset.train_labels)), class_names=_names(run))
    return _still(_build("weights", run, style=style))


def composed(run: RunLike, style: str = "diverging") -> Picture:
    """S2: weights multiplied through the layers, an input-sized picture for every deeper
    neuron."""
    return _still(_build("composed", run, style=style))


def evolution(run: RunLike, every: int = 1, fps: float | None = None,
              epoch: int | None = None) -> View:
    """S3: the training video from a run folder's snapshots; ``epoch``: that epoch as a still.

    >>> dl.views.evolution(run).save("s3.mp4")           # doctest: +SKIP
    """
    anim = _build("evolution", run, every=every, fps=fps, epoch=epoch)
    return anim.poster() if epoch is not None and isinstance(anim, Animation) else anim


def neurons(run: RunLike, layer: int | None = None, n: int | None = None) -> Picture:
    """S3: hidden neurons ranked by importance, dead/dim/duplicates, proved by ablation."""
    return _still(_build("neurons", run, layer=layer, n=n))


def errors(run: RunLike, n: int = 40) -> Picture:
    """Confusion matrix and the most confident mistakes."""
    return _still(_build("errors", run, n=n))


def robustness(run: RunLike, n: int = 500) -> Picture:
    """Accuracy of moved or resized digits, as drawn vs after MNIST preprocessing."""
    return _still(_build("robustness", run, n=n))


def map(run: RunLike, layer: int | None = None, method: str = "pca") -> Picture:  # noqa: A001
    """S0: each hidden layer's test digits on a 2-D map (PCA, or UMAP with the maps extra),
    with how well a linear probe separates the classes in each layer."""
    return _still(_build("map", run, layer=layer, method=method))


def compare(run: RunLike, other: RunLike) -> Picture:
    """S2: two models side by side: accuracy per class, disagreements, matched neurons."""
    return _still(_build("compare", run, compare=str(as_run(other).path)))


def filters(run: RunLike) -> Picture:
    """A convolutional network's kernels, each a small red/blue image, one colour scale per
    layer."""
    return _still(_build("filters", run))


def feature_maps(run: RunLike, digit: int | None = None, index: int = 0) -> Picture:
    """A convolutional network's every feature map for one test digit (the ``index``-th, of
    class ``digit`` when given), layer by layer, and its answer."""
    return _still(_build("feature-maps", run, digit=digit, index=index))


def nudge(run: RunLike, index: int = 0, digit: int | None = None, target: int | None = None,
          method: str = "deepfool") -> Picture:
    """The smallest change that makes the network read test digit ``index`` (of class
    ``digit`` when given) as another class (``target``, or the nearest)."""
    return _still(_build("nudge", run, index=index, digit=digit, target=target, method=method))


def _still(v: View) -> Picture:
    return v.poster() if isinstance(v, Animation) else v


def video_html(anim: Animation, fps: float | None = None) -> str:
    """An ``<video>`` element holding ``anim`` as MP4 (smaller and faster than the GIF shown by
    default); display it with ``IPython.display.HTML``."""
    from digitlens.render.animate import write_animation
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "a.mp4"
        write_animation(anim.frames(), out, fps or anim.fps)
        data = base64.b64encode(out.read_bytes()).decode("ascii")
    return (f'<video controls loop autoplay muted playsinline><source '
            f'src="data:video/mp4;base64,{data}" type="video/mp4"></video>')


NAMES = ("fingerprints", "evidence", "weights", "composed", "evolution", "neurons", "map",
         "compare", "errors", "nudge", "robustness")
__all__ = [*NAMES, "video_html", "View"]
