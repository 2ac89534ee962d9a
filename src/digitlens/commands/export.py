"""Export and import commands: a model or run to JSON, ONNX or Excel, and JSON/ONNX back."""

from __future__ import annotations

import argparse
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlens.commands import (
    add_data,
    add_json,
    class_arg,
    emit,
    load_data,
    resolve_network,
    say,
)
from digitlens.errors import DataError, ModelError, ParameterError, bad_param
from digitlens.export import IMPORT_SUFFIXES, STATE_DICT_SUFFIXES
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.numbering import parse_neuron, spell
from digitlens.safeload import open_regular

if TYPE_CHECKING:
    from digitlens.export.imported import Imported

FORMATS = ("json", "onnx", "xlsx", "html")


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="write a model as JSON, ONNX, an Excel workbook or a "
                       "single-file HTML explorer")
    p.add_argument("model", metavar="RUN_OR_MODEL", help="model file or run folder")
    p.add_argument("--format", choices=FORMATS, help="default: from the --out extension")
    p.add_argument("--out", required=True, help="file to write")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--digit", help="xlsx: show the first test image of this class (its "
                      "number or name)")
    pick.add_argument("--image", help="xlsx: show this drawing (PNG/JPEG, MNIST preprocessing)")
    p.add_argument("--neuron", help="xlsx: neuron for the walkthrough sheet, LAYER:NEURON, "
                   "both counted from 0 as on every surface (docs/numbering.md): 0:5 is neuron 5 "
                   "of the first hidden layer; on the output layer NEURON is the digit "
                   "(default: the most active neuron of layer 0)")
    p.add_argument("--max-maps", type=int, default=32,
                   help="xlsx: weight maps drawn per layer (default 32)")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="read a JSON, ONNX or PyTorch state_dict network into a "
                       "digitlens model file")
    p.add_argument("file", metavar="FILE", help="a .json (digitlens schema) or .onnx MLP, or a "
                   "PyTorch state_dict of Linear layers (.pt, .pth, .safetensors)")
    p.add_argument("--out", required=True, help="model file to write (.npz)")
    p.add_argument("--activation", choices=("relu", "sigmoid", "tanh"),
                   help="state_dict: the hidden layers' activation (default relu)")
    p.add_argument("--output", choices=("softmax", "sigmoid"),
                   help="state_dict: the output layer (default softmax over the logits)")
    p.add_argument("--classes", help="class names, one per output: comma-separated, or "
                   "@FILE with one per line (default: the file's own, else 0..n-1)")
    p.add_argument("--arch", choices=("lenet5",),
                   help="state_dict of a convolutional network: its architecture, which the "
                        "file cannot say (docs/cnn.md)")
    p.add_argument("--input-shape", metavar="HxW", help="the image the first layer reads, "
                   "e.g. 8x8 (default: what the file says, else 28x28 for 784 inputs, a "
                   "square for a square number, else 1xN)")
    add_json(p)
    p.set_defaults(func=cmd_import)


def pick_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    suffix = Path(args.out).suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise bad_param("format", f"one of {', '.join(FORMATS)} (or an --out ending in one)",
                    args.format or suffix or None)


def shown_image(args: argparse.Namespace, model: MLP) -> tuple[np.ndarray, str, int | None]:
    """The image the workbook opens with: (the model's input shape in 0..1, caption, true
    label or None)."""
    if args.image:
        from digitlens.data.preprocess import load_image, preprocess

        pre = preprocess(load_image(args.image), model.input_shape)
        if not pre.has_ink:
            raise DataError(f"{args.image}: no ink found in the drawing")
        return pre.centred, f"Your drawing {Path(args.image).name}, normalised like MNIST", None
    ds = load_data(args, model)
    index = 0
    digit = class_arg(model, args.digit, "digit")
    if digit is not None:
        found = np.flatnonzero(ds.test_labels == digit)
        if not found.size:
            raise bad_param("digit", "a class with examples in the test set", args.digit)
        index = int(found[0])
    label = int(ds.test_labels[index])
    name = model.class_names[label]
    said = f"label {label}" + ("" if name == str(label) else f", {name}")
    return ds.test_images[index] / 255.0, f"{ds.name} test image #{index} ({said})", label


def run_name(model: str) -> str:
    """What the single-file explorer calls the network: the run folder's or file's name."""
    return (Path(model).stem if Path(model).is_file() else Path(model).name) or "model"


def onnx_facts() -> dict[str, Any]:
    """What an ONNX export's summary adds: the graph's conventions (``onnx_format``)."""
    from digitlens.export.onnx_format import INPUT, IR_VERSION, OPSET, OUTPUT, PROBS
    return {"opset": OPSET, "ir_version": IR_VERSION, "input": INPUT, "outputs": [OUTPUT, PROBS]}


def export_mlp(args: argparse.Namespace, fmt: str, model: MLP) -> tuple[Path, dict[str, Any]]:
    """Write a fully connected network in ``fmt``; the file and what the summary adds."""
    extra: dict[str, Any] = {}
    if fmt == "json":
        from digitlens.export.json_format import export_json
        path = export_json(model, args.out)
    elif fmt == "onnx":
        from digitlens.export.onnx_format import export_onnx
        path, extra = export_onnx(model, args.out), onnx_facts()
    elif fmt == "html":
        from digitlens.export.html_explorer import export_html
        path = export_html(model, load_data(args, model), args.out, run_name(args.model))
    else:
        from digitlens.export.xlsx import export_xlsx
        from digitlens.export.xlsx_book import forward64
        if args.max_maps < 0:
            raise bad_param("max_maps", "an int >= 0", args.max_maps)
        image, caption, label = shown_image(args, model)
        neuron = None if args.neuron is None else parse_neuron(args.neuron, model.sizes)
        path = export_xlsx(model, args.out, image, caption, neuron, args.max_maps)
        extra = {"shows": caption, "label": label,
                 "predicted_digit": forward64(model, image).prediction,
                 "neuron": None if neuron is None else spell(*neuron)}
    return path, extra


def cmd_export(args: argparse.Namespace) -> int:
    fmt = pick_format(args)
    workbook_only = [flag for flag, given in (("--digit", args.digit is not None),
                                              ("--image", args.image is not None),
                                              ("--neuron", args.neuron is not None),
                                              ("--max-maps", args.max_maps != 32)) if given]
    if fmt != "xlsx" and workbook_only:
        raise ParameterError(f"{', '.join(workbook_only)} only applies to the xlsx export "
                             f"(this one writes {fmt})")
    network = resolve_network(args.model)
    t0 = time.perf_counter()
    if isinstance(network, CNN):
        if fmt not in ("onnx", "html"):
            raise ModelError(f"{args.model}: a convolutional network exports to ONNX and the "
                             f"single-file explorer (html); the {fmt} export is for fully "
                             "connected networks (one sheet or record per dense layer)")
        if fmt == "html":
            from digitlens.export.html_explorer import export_html
            path, extra = export_html(network, load_data(args, network), args.out,
                                      run_name(args.model)), {}
        else:
            from digitlens.export.onnx_cnn import export_cnn_onnx
            path, extra = export_cnn_onnx(network, args.out), onnx_facts()
    else:
        path, extra = export_mlp(args, fmt, network)
    seconds = time.perf_counter() - t0
    size = path.stat().st_size
    result = {"format": fmt, "out": str(path), "bytes": size, "seconds": round(seconds, 3),
              "model": network.describe(), **extra}
    return emit(args, result, f"wrote {path} ({fmt}, {size / 1e6:.2f} MB) in {seconds:.2f} s")


def cmd_import(args: argparse.Namespace) -> int:
    """Any supported network file to a model file, saying what was read, given and assumed."""
    from digitlens.export.imported import parse_classes, parse_shape
    from digitlens.nn.io import save_model

    path = Path(args.file)
    kind = path.suffix.lower().lstrip(".")
    shape, classes = parse_shape(args.input_shape), parse_classes(args.classes)
    given = [f"--{k}" for k in ("activation", "output") if getattr(args, k)]
    if given and path.suffix.lower() not in STATE_DICT_SUFFIXES:
        raise ParameterError(f"{', '.join(given)} only applies to state_dict files (.pt, "
                             f".pth, .safetensors); a {kind or 'json/onnx'} network says "
                             "it itself")
    from digitlens.export.onnx_cnn_import import cnn_in_file
    if args.arch is not None:
        from digitlens.export.cnn_state_dict import import_cnn_state_dict
        if args.output:
            raise ParameterError("--output does not apply with --arch (its output is softmax)")
        return save_cnn(args, path, import_cnn_state_dict(path, args.arch, args.activation,
                                                          classes, shape))
    cnn = cnn_in_file(path) if path.suffix.lower() == ".onnx" and path.is_file() else None
    if cnn is not None:
        return import_cnn(args, path, cnn, classes)
    if path.suffix.lower() in IMPORT_SUFFIXES:
        from digitlens.export.reader import read_model
        got = read_model(path, args.activation, args.output, classes, shape)
    else:
        got = import_network(path, kind, shape, classes)
    for note in got.notes:
        say(f"note: {note}")
    flags = {"input_shape": "input-shape"}
    if got.read["format"] in ("pytorch", "safetensors"):
        flags.update(activation="activation", output="output")
    for key, flag in flags.items():
        if key in got.assumed:
            value = got.assumed[key]
            shown = "x".join(map(str, value)) if key == "input_shape" else value
            say(f"assumed: {key} {shown} (not in the file; give --{flag} to choose)")
    if "class_names" in got.assumed:
        say(f"assumed: class names 0..{len(got.assumed['class_names']) - 1} (not in the file; "
            "give --classes to name them)")
    out = save_model(got.model, args.out)
    model = got.model
    result = {"format": got.read["format"], "file": str(path), "out": str(out),
              "sizes": list(model.sizes), "activations": list(model.activations),
              "cost": model.cost, "input_shape": list(model.input_shape),
              "class_names": list(model.class_names), "read": got.read, "given": got.given,
              "assumed": got.assumed, "notes": got.notes}
    return emit(args, result, f"imported {model.describe()} from {path} into {out}")


def import_cnn(args: argparse.Namespace, path: Path, model: CNN,
               classes: list[str] | None) -> int:
    """A convolutional network read from ONNX to a model file (its graph says its shapes)."""
    if classes is not None:
        if len(classes) != model.n_classes:
            raise ParameterError(f"--classes names {len(classes)} classes; the network has "
                                 f"{model.n_classes} outputs")
        model.meta["class_names"] = classes
    return save_cnn(args, path, model)


def save_cnn(args: argparse.Namespace, path: Path, model: CNN) -> int:
    """Write an imported convolutional network where ``--out`` says, and say what it is."""
    from digitlens.fileio import atomic_write_bytes
    from digitlens.nn.io import load_network_bytes, network_bytes
    data = network_bytes(model)
    load_network_bytes(data, str(args.out))  # what every command will read back
    atomic_write_bytes(Path(args.out), data)
    result = {"format": path.suffix.lower().lstrip("."), "file": str(path), "out": str(args.out),
              "model": model.describe(), "input_shape": list(model.input_shape),
              "class_names": list(model.class_names), "convolutional": True}
    return emit(args, result, f"imported {model.describe()} from {path} into {args.out}")


def import_network(path: Path, kind: str, shape: tuple[int, int] | None,
                   classes: list[str] | None) -> Imported:
    """A .json or .onnx network (or a file without a telling suffix, told by its content)."""
    guessed = kind not in ("json", "onnx")  # no telling suffix: the content decides
    if guessed:
        from digitlens.safeload import read_head
        head = read_head(path, 64, ModelError, "network file")
        if kind == "npz" or head[:2] == b"PK":
            raise ModelError(f"{path}: {zip_kind(path)}; import reads networks saved as .json "
                             "(digitlens schema) or .onnx (and state_dicts named "
                             ".pt, .pth or .safetensors)")
        kind = "json" if head.lstrip()[:1] == b"{" else "onnx"
    if kind == "json":
        from digitlens.export.imported import with_io
        from digitlens.export.json_format import import_json
        return with_io(import_json(path), str(path), shape, classes)
    from digitlens.export.onnx_import import read_onnx
    try:
        return read_onnx(path, shape, classes)
    except ModelError as exc:
        if not guessed or "not a readable ONNX file" not in str(exc):
            raise
        raise ModelError(f"{path}: import reads .json (digitlens schema) or .onnx networks, "
                         f"and this file is neither ({exc})") from None


def zip_kind(path: Path) -> str:
    """What a zip archive handed to ``import`` is, from its member names (never unpickled)."""
    try:  # through the loading boundary: a regular file, never a FIFO or a device
        with open_regular(path, ModelError, "network file") as fh, zipfile.ZipFile(fh) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return "a damaged or unreadable zip archive"
    if any(n.startswith("xl/") for n in names):
        return ("an Excel workbook (.xlsx), such as `digitlens export --format xlsx` writes; "
                "it shows a network but is not read back")
    if any(n.startswith(("word/", "ppt/")) for n in names) or "content.xml" in names:
        return "an office document, not a network"
    if any(n.endswith("/data.pkl") or n == "data.pkl" for n in names):
        return ("a PyTorch file (torch.save); name it .pt to import it as a state_dict "
                "(read without PyTorch, tensors only)")
    if names and all(n.endswith(".npy") for n in names):
        return ("a digitlens model file already (a NumPy .npz archive): give it to the other "
                "commands as it is")
    return f"a zip archive of {len(names)} files that is not a network"
