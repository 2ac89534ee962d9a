"""One reader for every model file a person may hand to digitlens: a digitlens ``.npz``, a
digitlens JSON network, ONNX, or a PyTorch state_dict (``.pt``, ``.pth``, ``.safetensors``).

The CLI's commands, ``import``, ``compare``, ``dl.load`` and the views all come through
``read_model``, so a file reads the same everywhere and says once what was assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from digitlens.errors import ModelError, ParameterError
from digitlens.export import IMPORT_SUFFIXES, STATE_DICT_SUFFIXES
from digitlens.export.imported import Imported, Record, parse_classes, parse_shape, with_io

MODEL_SUFFIXES = (".npz", *IMPORT_SUFFIXES)


def read_model(path: str | Path, activation: str | None = None, output: str | None = None,
               classes: str | Sequence[str] | None = None,
               input_shape: str | Sequence[int] | None = None) -> Imported:
    """The model in ``path`` with the record of what was read, given and assumed.

    ``activation``/``output`` apply to state_dicts only (an ONNX or JSON network says them);
    ``classes`` and ``input_shape`` name the outputs and the image of a file that does not."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in MODEL_SUFFIXES:
        raise ModelError(f"{p}: not a model file ({', '.join(MODEL_SUFFIXES)})")
    given = {k: v for k, v in (("activation", activation), ("output", output))
             if v is not None}
    if given and suffix not in STATE_DICT_SUFFIXES:
        raise ParameterError(f"{', '.join(given)} only applies to state_dict files "
                             f"({', '.join(STATE_DICT_SUFFIXES)}); {p.name} says it itself")
    names, shape = parse_classes(classes), parse_shape(input_shape)
    if suffix in STATE_DICT_SUFFIXES:
        from digitlens.export.state_dict import import_state_dict
        return import_state_dict(p, activation, output, names, shape)
    if suffix == ".onnx":
        from digitlens.export.onnx_import import read_onnx
        return read_onnx(p, shape, names)
    if suffix == ".json":
        from digitlens.export.json_format import import_json
        return with_io(import_json(p), str(p), shape, names)
    from digitlens.nn.io import load_model
    model = load_model(p)
    if names is None and shape is None:
        return Record({"format": "digitlens"}).of(model)
    return with_io(model, str(p), shape, names, "npz")


def assumptions(got: Imported) -> list[str]:
    """What an import assumed, one line each, as ``import`` and every command say it."""
    lines = [f"note: {note}" for note in got.notes]
    for key in ("activation", "output", "input_shape"):
        if key in got.assumed:
            value = got.assumed[key]
            shown = "x".join(map(str, value)) if key == "input_shape" else value
            lines.append(f"assumed: {key} {shown} (not in the file)")
    if "class_names" in got.assumed:
        lines.append(f"assumed: class names 0..{len(got.assumed['class_names']) - 1} (not in "
                     "the file)")
    return lines
