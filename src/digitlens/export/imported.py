"""What an import read and what it assumed, the same for every format it reads.

An imported file says some things itself (layer weights always; activations, the image shape
and class names only in some formats); the rest is given (``--activation``, ``--input-shape``,
``--classes``, or the API's keywords) or assumed, and ``--json`` reports which was which. The
image shape and class names end up in the model's metadata either way, so every later command
draws and names the model's inputs and outputs as the import decided.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError, ParameterError, bad_param
from digitlens.export import check_architecture
from digitlens.nn.io import verified
from digitlens.nn.mlp import MLP, default_input_shape
from digitlens.safeload import check_class_names, read_bounded

MAX_CLASSES_FILE = 1 << 20
SHAPE = re.compile(r"^\s*(\d{1,6})\s*[x×X]\s*(\d{1,6})\s*$")
PIXELS = "pixels scaled to 0..1, flattened row by row (as digitlens feeds)"


@dataclass
class Record:
    """The ``--json`` record of an import: ``read`` from the file, ``given`` by the caller,
    ``assumed`` (neither), and notes on how the file was read."""

    read: dict[str, Any]
    assumed: dict[str, Any] = field(default_factory=dict)
    given: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def of(self, model: MLP) -> Imported:
        return Imported(model, self.read, self.assumed, self.given, self.notes)


@dataclass
class Imported:
    """An imported model and its record (the ``--json`` fields)."""

    model: MLP
    read: dict[str, Any]
    assumed: dict[str, Any]
    given: dict[str, Any]
    notes: list[str]


def parse_shape(value: str | Sequence[int] | None) -> tuple[int, int] | None:
    """``"8x8"`` (or ``8×8``, or a pair of ints) as (height, width)."""
    if value is None:
        return None
    if isinstance(value, str):
        m = SHAPE.match(value)
        if m is None:
            raise bad_param("input_shape", "HEIGHTxWIDTH, e.g. 8x8", value[:40])
        h, w = int(m[1]), int(m[2])
    else:
        if not isinstance(value, Sequence | np.ndarray):
            raise bad_param("input_shape", "HEIGHTxWIDTH or (height, width)", value)
        pair: list[Any] = list(value)
        if len(pair) != 2 or not all(isinstance(v, int | np.integer) and not isinstance(v, bool)
                                     for v in pair):
            raise bad_param("input_shape", "(height, width), two ints", pair[:4])
        h, w = int(pair[0]), int(pair[1])
    if h < 1 or w < 1:
        raise bad_param("input_shape", "a height and width of at least 1", f"{h}x{w}")
    return h, w


def parse_classes(value: str | Sequence[str] | None) -> list[str] | None:
    """Class names: a list, ``"a,b,c"`` or ``"@classes.txt"`` (one name per line, blank lines
    skipped). Names are stripped, unique, and pass the loading boundary's
    ``check_class_names`` (1 to 64 printable characters)."""
    if value is None:
        return None
    if isinstance(value, str) and value.startswith("@"):
        try:
            raw = read_bounded(value[1:], MAX_CLASSES_FILE, ModelError, "class names file")
            text = raw.decode("utf-8-sig")
        except ModelError as exc:
            raise ModelError(f"class names {exc}") from None
        except UnicodeDecodeError:
            raise ModelError(f"class names {value[1:]}: not UTF-8 text") from None
        names = [line.strip() for line in text.splitlines() if line.strip()]
        where = value[1:]
    elif isinstance(value, str):
        names, where = [c.strip() for c in value.split(",")], "--classes"
    else:
        if not isinstance(value, Sequence) or not all(isinstance(c, str) for c in value):
            raise bad_param("classes", "a list of names, \"a,b,c\" or \"@FILE\"",
                            str(value)[:60])
        names, where = [c.strip() for c in value], "classes"
    if not names or not all(names):
        raise bad_param("classes", "non-empty names (comma-separated, or @FILE one per line)",
                        f"{where}: {str(names)[:60]}")
    check_class_names(names, where, ParameterError)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise bad_param("classes", "distinct names", f"{twice[0][:40]} given twice")
    return names


def settle(name: str, sizes: Sequence[int], rec: Record, meta: dict[str, Any],
           input_shape: tuple[int, int] | None, class_names: list[str] | None,
           declared: tuple[int, int] | None = None) -> None:
    """Decide the image shape and class names into ``meta``, saying in ``rec`` where each came
    from. ``declared``: the shape the graph itself declares (a given one must agree);
    ``rec.read`` may hold ``input_shape``/``class_names`` from the file's own metadata, which a
    given value replaces (they are labels, not structure)."""
    n_in, n_out = sizes[0], sizes[-1]
    if input_shape is not None:
        h, w = input_shape
        if h * w != n_in:
            raise ModelError(f"{name}: --input-shape {h}x{w} is {h * w} pixels but the first "
                             f"layer reads {n_in}")
        if declared is not None and tuple(declared) != (h, w):
            raise ModelError(f"{name}: --input-shape {h}x{w} differs from the "
                             f"{declared[0]}x{declared[1]} image the graph's input declares")
        rec.given["input_shape"] = [h, w]
        shape = [h, w]
    elif declared is not None:
        shape = list(declared)
        rec.read["input_shape"] = shape
    elif rec.read.get("input_shape") is not None:
        shape = list(rec.read["input_shape"])
    else:
        shape = list(default_input_shape(n_in))
        rec.assumed["input_shape"] = shape
    if class_names is not None:
        if len(class_names) != n_out:
            raise ModelError(f"{name}: {len(class_names)} class names given for {n_out} outputs")
        rec.given["class_names"] = list(class_names)
        classes = list(class_names)
    elif rec.read.get("class_names") is not None:
        classes = list(rec.read["class_names"])
    else:
        classes = [str(i) for i in range(n_out)]
        rec.assumed["class_names"] = classes
    rec.read.setdefault("input_shape", None)
    rec.read.setdefault("class_names", None)
    meta["input_shape"], meta["class_names"] = shape, classes


def assemble(name: str, layers: Sequence[tuple[np.ndarray, np.ndarray, str]], cost: str,
             meta: dict[str, Any]) -> MLP:
    """The MLP of (weights (n_in, n_out), biases, activation) layers, as the model loader would
    accept it (so no import writes a file that is refused afterwards)."""
    sizes = [int(layers[0][0].shape[0])] + [int(w.shape[1]) for w, _, _ in layers]
    check_architecture(sizes, name)
    params = np.concatenate([w.ravel() for w, _, _ in layers] +
                            [b for _, b, _ in layers]).astype(np.float32)
    try:
        model = MLP(tuple(sizes), tuple(a for _, _, a in layers), cost, params, meta)
    except DigitlensError as exc:
        raise ModelError(f"{name}: {exc}") from None
    return verified(model, name)


def with_io(model: MLP, name: str, input_shape: tuple[int, int] | None,
            class_names: list[str] | None, fmt: str = "json") -> Imported:
    """A model read from a format that names its image and classes itself (digitlens JSON or
    a model file), with the caller's shape or names put in their place."""
    meta = dict(model.meta)
    rec = Record({"format": fmt, "layers": [str(i) for i in range(model.n_layers)],
                  "sizes": list(model.sizes),
                  "activations": list(model.activations), "external_data": [],
                  "input_shape": list(model.input_shape),
                  "class_names": list(model.class_names)})
    settle(name, model.sizes, rec, meta, input_shape, class_names)
    layers = list(zip(model.weights, model.biases, model.activations, strict=True))
    return rec.of(assemble(name, layers, model.cost, meta))
