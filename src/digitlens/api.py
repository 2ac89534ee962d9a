"""A run as one object, for the Python API: ``dl.load``, ``dl.predict``, ``as_run``.

A thin layer over nn/, data/ and export/: it finds the model, the history and the dataset that
belong together, so a view or an analysis needs one argument instead of four imports. It sits
below analysis/ (whose whole-run functions take a run) and above export/ (whose reader it uses);
``dl.train``, which shows a notebook's progress bar, is ``digitlens.notebook.training``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlens.errors import ModelError, ParameterError, bad_param
from digitlens.export.reader import MODEL_SUFFIXES
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP

if TYPE_CHECKING:
    from digitlens.data.sources import Dataset


CNN_QUESTIONS = ("dl.predict, dl.attribute, dl.nudge, dl.dream(target=…), "
                 "dl.views.filters, dl.views.feature_maps")
FORMAT_NAMES = {"onnx": "ONNX", "pytorch": "a PyTorch state_dict",
                "safetensors": "safetensors", "json": "JSON"}


class NotARunError(ModelError):
    """The path given to ``dl.load`` is neither a run folder nor a model file."""

    status = 404


@dataclass
class LoadedRun:
    """A trained network with its history and dataset, as ``dl.load`` and ``dl.train`` return.

    >>> run = dl.load("runs/s3")          # doctest: +SKIP
    >>> run.model.sizes, run.history[-1]["test_accuracy"], run.dataset.name   # doctest: +SKIP
    ((784, 64, 10), 0.925, 'mnist')
    """

    path: Path
    model: MLP | CNN
    history: list[dict[str, Any]] = field(default_factory=list)
    is_folder: bool = False
    dataset_name: str | None = None
    _dataset: Dataset | None = field(default=None, repr=False)

    def dense(self, what: str) -> MLP:
        """The model, for ``what``, which reads a fully connected network's neurons and
        weights; a convolutional network is refused in one line saying why, and what it
        answers instead."""
        if isinstance(self.model, CNN):
            raise ModelError(f"{what} reads the neurons and weights of a fully connected "
                             f"network; {self.path} is convolutional, its units are positions in "
                             f"feature maps (ask it {CNN_QUESTIONS})")
        return self.model

    @property
    def mlp(self) -> MLP:
        """The model, known to be fully connected (``dense``: one line if it is not)."""
        return self.dense("run.mlp")

    @property
    def dataset(self) -> Dataset:
        """The dataset the model was trained on (loaded once; the embedded sample when MNIST
        cannot be had)."""
        if self._dataset is None:
            from digitlens.data.recorded import dataset_for
            record = self.model.meta.get("dataset")
            self._dataset = dataset_for({"name": self.dataset_name} if self.dataset_name
                                        else record)
        return self._dataset

    @property
    def accuracy(self) -> float | None:
        """Test accuracy after the last epoch (None for a model file without history)."""
        return float(self.history[-1]["test_accuracy"]) if self.history else None

    def __repr__(self) -> str:
        acc = f", test accuracy {self.accuracy:.2%}" if self.accuracy is not None else ""
        kind = "run" if self.is_folder else "model"
        source = self.model.meta.get("imported_from")
        fmt = source.get("format") if isinstance(source, dict) else None
        made = (f"imported from {FORMAT_NAMES.get(str(fmt), str(fmt))}" if fmt
                else f"{len(self.history)} epochs")  # an import was not trained here
        m = self.model
        shape = m.describe() if isinstance(m, CNN) else "-".join(map(str, m.sizes))
        return f"<digitlens {kind} {self.path}: {shape}, {made}{acc}>"


def load_any_model(path: Path, activation: str | None = None, output: str | None = None,
                   classes: str | Sequence[str] | None = None,
                   input_shape: str | Sequence[int] | None = None,
                   arch: str | None = None) -> MLP | CNN:
    """A model file by suffix, through the one reader (``export.reader.read_model``); a
    convolutional network's own file or ONNX graph as that network; a state_dict of the
    convolutional architecture ``arch`` names (``lenet5``)."""
    from digitlens.export.reader import read_model
    suffix = path.suffix.lower()
    if arch is not None:
        from digitlens.export.cnn_state_dict import import_cnn_state_dict
        from digitlens.export.imported import parse_classes, parse_shape
        if output is not None:
            raise ParameterError("output does not apply with arch (its output is softmax)")
        return import_cnn_state_dict(path, arch, activation, parse_classes(classes),
                                     parse_shape(input_shape))
    if suffix in (".npz", ".onnx") and activation is None and output is None \
            and input_shape is None:
        from digitlens.export.onnx_cnn_import import cnn_in_file
        from digitlens.nn.io import load_network
        cnn = load_network(path) if suffix == ".npz" else cnn_in_file(path)
        if isinstance(cnn, CNN):
            if classes is not None:
                from digitlens.export.imported import parse_classes
                names = parse_classes(classes)
                if names is None or len(names) != cnn.n_classes:
                    raise bad_param("classes", f"{cnn.n_classes} class names", classes)
                cnn.meta["class_names"] = names
            return cnn
        if isinstance(cnn, MLP) and classes is None:
            return cnn
    return read_model(path, activation, output, classes, input_shape).model


def load(path: str | Path, dataset: str | Dataset | None = None, *,
         activation: str | None = None, output: str | None = None,
         classes: str | Sequence[str] | None = None,
         input_shape: str | Sequence[int] | None = None,
         arch: str | None = None) -> LoadedRun:
    """Load a run folder (model, history, snapshots) or a model file: .npz, .json, .onnx (its
    ``.data`` file beside it), or a PyTorch state_dict (.pt, .pth, .safetensors).

    ``dataset``: a dataset name ("mnist", "mnist-sample", "fashion-mnist") or a loaded
    ``Dataset``; default the one the model was trained on. A state_dict does not say its
    activations: ``activation`` ("relu", default; "sigmoid", "tanh") and ``output``
    ("softmax", default; "sigmoid"). ``classes`` (a list, "a,b,c" or "@classes.txt") and
    ``input_shape`` ((8, 8) or "8x8") name what a file does not say; ``arch`` ("lenet5") reads
    a state_dict as that convolutional network. Raises ``NotARunError``
    when ``path`` is neither, ``ModelError`` for a file it cannot read, ``ParameterError`` for
    a keyword that does not fit.

    >>> run = dl.load("runs/default")       # doctest: +SKIP
    >>> run.model.sizes                      # doctest: +SKIP
    (784, 512, 256, 10)
    >>> dl.load("mlp.safetensors", activation="tanh", classes="a,b,c").model.class_names
    ... # doctest: +SKIP
    ('a', 'b', 'c')
    """
    p = as_path(path)
    mode = mode_of(p)
    if dataset is not None and not isinstance(dataset, str):
        from digitlens.data.dataset import Dataset as LoadedDataset
        if not isinstance(dataset, LoadedDataset):
            raise bad_param("dataset", "a dataset name or a loaded Dataset",
                            type(dataset).__name__)
    if stat.S_ISDIR(mode):
        from digitlens.nn.run import MODEL_FILE, Run, is_run
        if not is_run(p):
            raise NotARunError(f"{p}: not a run folder (no {MODEL_FILE} in it)")
        if any(v is not None for v in (activation, output, classes, input_shape, arch)):
            raise ParameterError(f"{p}: activation, output, classes, input_shape and arch apply "
                                 "to a model file being imported, not to a run folder")
        from digitlens.nn.io import load_network
        run = Run(p)
        model, history, folder = load_network(p), run.history(), True
    elif stat.S_ISREG(mode):
        if p.suffix.lower() not in MODEL_SUFFIXES:
            raise NotARunError(f"{p}: not a run folder or a model file "
                               f"({', '.join(MODEL_SUFFIXES)})")
        model = load_any_model(p, activation, output, classes, input_shape, arch)
        history, folder = [], False
    else:
        raise NotARunError(f"{p}: no such run folder or model file")
    loaded = LoadedRun(p, model, history, folder)
    if isinstance(dataset, str):
        loaded.dataset_name = dataset
    elif dataset is not None:
        loaded._dataset = dataset
    return loaded


RunLike = LoadedRun | str | Path


def as_path(path: object) -> Path:
    """``path`` as a ``Path``, or the one-line error a notebook user can act on."""
    if not isinstance(path, str | os.PathLike):
        raise bad_param("path", "a run folder or model file path (str or Path)",
                        type(path).__name__)
    try:
        return Path(path)
    except TypeError:  # a PathLike that answers bytes
        raise bad_param("path", "a run folder or model file path (str or Path)",
                        type(path).__name__) from None


def mode_of(p: Path) -> int:
    """The file type bits of ``p`` (0: nothing there); a name too long for the filesystem or
    holding a NUL byte is a ``NotARunError``, not an ``OSError``."""
    shown = str(p) if len(str(p)) <= 80 else f"{str(p)[:80]}…"
    try:
        return p.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return 0
    except ValueError:
        raise NotARunError(f"{shown!r}: not a path (it holds a NUL byte)") from None
    except OSError as exc:
        raise NotARunError(f"{shown}: cannot read ({exc.strerror or exc})") from None


def as_run(run: RunLike | MLP | CNN) -> LoadedRun:
    """A ``LoadedRun`` from one, a path or a network in memory (a stepped copy, a model built
    in Python), so every function takes any of them."""
    if isinstance(run, MLP | CNN):
        return LoadedRun(path=Path("<model>"), model=run)
    return run if isinstance(run, LoadedRun) else load(run)


def predict(run: RunLike | MLP | CNN, image: Any, raw: bool = False) -> Prediction:
    """The digit in ``image``: an array of the model's input shape (28×28 for MNIST) in 0..1
    or uint8 (used as is; also a widget's ``pixels``), any other grayscale array, a PIL image
    or an image file path (MNIST preprocessing, scaled to the model's size, first unless
    ``raw``).

    >>> p = dl.predict(run, run.dataset.test_images[0])     # doctest: +SKIP
    >>> p.digit, p.probabilities.round(2)                    # doctest: +SKIP
    """
    if not isinstance(raw, bool):
        raise bad_param("raw", "True or False", raw)
    r = as_run(run)
    shape = r.model.image_shape
    x, has_ink = input_of(image, raw, shape)
    if isinstance(r.model, CNN):
        from digitlens.nn.backprop import probabilities
        from digitlens.nn.cnn import predict_proba
        out = probabilities(r.model, predict_proba(r.model, x.reshape(1, -1)))[0]
    else:
        out = r.model.trace(x.reshape(1, -1)).probabilities[0]
    probs = out.astype(np.float64)
    return Prediction(int(np.argmax(probs)) if has_ink else None, probs, x.reshape(shape),
                      list(r.model.class_names))


@dataclass
class Prediction:
    """What ``dl.predict`` returns: the digit (None without ink), its probabilities and the
    input the network saw, at its input shape (28×28 for MNIST)."""

    digit: int | None
    probabilities: np.ndarray  # (n_classes,)
    input: np.ndarray          # (h, w) float32 in 0..1, the model's input shape
    class_names: list[str]

    def __repr__(self) -> str:
        if self.digit is None:
            return "<prediction: no ink>"
        return (f"<prediction: {self.class_names[self.digit]} "
                f"({self.probabilities[self.digit]:.1%} sure)>")


def input_of(image: Any, raw: bool = False,
             shape: tuple[int, int] = (28, 28)) -> tuple[np.ndarray, bool]:
    """(flat float32 input of ``shape``, has ink) from an array, a PIL image or a path."""
    h, w = shape
    from digitlens.data.preprocess import load_image, preprocess
    if isinstance(image, str | Path):
        image = load_image(str(image))
    if isinstance(image, list | tuple):  # a widget's pixels
        try:
            image = np.asarray(image)
        except ValueError:
            raise bad_param("image", "a grid of numbers (rows of equal length)",
                            "rows of different lengths") from None
    if isinstance(image, np.ndarray):
        a = np.asarray(image)
        if a.dtype.kind not in "fiu":  # no text, booleans, complex numbers, dates or objects
            raise bad_param("image", "an array of real numbers (float or integer)",
                            str(a.dtype))
        if a.size == h * w and a.ndim in (1, 2):
            a = a.reshape(h, w)
            x = a.astype(np.float32) / (255 if a.dtype == np.uint8 else 1)
            if x.min() < 0 or x.max() > 1 or not np.all(np.isfinite(x)):
                raise bad_param("image", f"{h}×{w} values in 0..1 (or uint8 0..255)",
                                f"values in {x.min():.3g}..{x.max():.3g}")
            return x.ravel(), bool(x.max() > 0)
    elif not _is_pil(image):
        raise bad_param("image", "a NumPy array, a PIL image or an image file path",
                        type(image).__name__)
    pre = preprocess(image, shape)
    x = pre.raw28 if raw else pre.centred
    return np.asarray(x, np.float32).ravel(), pre.has_ink


def _is_pil(obj: Any) -> bool:
    from PIL import Image
    return isinstance(obj, Image.Image)


__all__ = ["LoadedRun", "NotARunError", "Prediction", "load", "predict", "as_run"]
