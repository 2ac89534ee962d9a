"""CLI subcommands, one module per group; shared helpers for output and loading."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.data.sources import DATASETS, Dataset, io_sizes, load_dataset
from digitlens.errors import DataError, ModelError, ParameterError
from digitlens.export import IMPORT_SUFFIXES
from digitlens.nn.cnn import CNN
from digitlens.nn.io import load_model, load_network
from digitlens.nn.mlp import MLP
from digitlens.safeload import check_fits, finite_json


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, choices=DATASETS,
                   help="dataset (default: the model's, else mnist)")
    p.add_argument("--data-dir", help="a dataset folder: the four IDX files (raw or .gz, "
                   "optional classes.txt) or train/<class>/*.png + test/<class>/*.png")
    p.add_argument("--image-size", help="image folders: resize every image to HxW "
                   "(default: the first image's size)")
    p.add_argument("--normalise", choices=("none", "mnist"), help="image folders: 'mnist' "
                   "makes each image as MNIST was made (default none)")
    p.add_argument("--no-fetch", action="store_true", help="never download")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def resolve_network(path: str) -> MLP | CNN:
    """``resolve_model``, or a convolutional network's run folder or model file."""
    p = Path(path)
    if p.exists() and (p.is_dir() or p.suffix.lower() == ".npz"):
        return load_network(p)
    if p.is_file() and p.suffix.lower() == ".onnx":
        from digitlens.export.onnx_cnn_import import cnn_in_file
        cnn = cnn_in_file(p)
        if cnn is not None:
            return cnn
    return resolve_model(path)


def load_data(args: argparse.Namespace, model: MLP | CNN | None = None,
              default: str | None = None) -> Dataset:
    """The dataset the flags name (a ``--data-dir`` is read as what it holds), else the one
    the model was trained on (found again from its metadata), else ``default`` or MNIST."""
    from digitlens.data.image_folder import parse_size
    from digitlens.data.recorded import dataset_for
    size, normalise = getattr(args, "image_size", None), getattr(args, "normalise", None)
    if (size or normalise) and not args.data_dir:
        raise DataError("--image-size and --normalise apply to an image folder named with "
                        "--data-dir")
    guessed = model is not None and args.dataset is None and args.data_dir is None \
        and not model.meta.get("dataset")
    if guessed and model is not None:
        # an imported model records no data: the MNIST guess is judged by the model's shape
        # before anything is read or downloaded
        fits = io_sizes(default or "mnist")
        if fits is not None and fits != ends(model):
            raise no_data_recorded(model, default or "mnist")
    if args.dataset is None and args.data_dir is None and model is not None:
        ds = dataset_for(model.meta.get("dataset"), fetch=not args.no_fetch, log=say)
    else:
        name = args.dataset or (None if args.data_dir else default)
        ds = load_dataset(name, args.data_dir, fetch=not args.no_fetch, log=say,
                          image_size=parse_size(size) if size else None,
                          normalise=normalise)
    if args.data_dir and ds.origin.get("normalise") == "none" \
            and float(ds.train_images.mean()) > 127:  # a photo or scan as it was drawn
        say(f"note: {ds.name}'s images are mostly bright (mean grey "
            f"{ds.train_images.mean():.0f} of 255) and digitlens reads bright as ink; for dark "
            "drawings on a light background pass --normalise mnist")
    if model is not None:
        try:
            where = getattr(args, "run", None) or getattr(args, "model", None)
            check_fits(ends(model), int(np.prod(ds.test_images.shape[1:])), ds.class_names,
                       str(where or "the model"), f"dataset {ds.name!r}", ModelError)
        except ModelError:
            if not guessed:
                raise
            raise no_data_recorded(model, ds.name) from None
    return ds


def ends(model: MLP | CNN) -> tuple[int, int]:
    """How many values a model reads per image, and how many classes it answers."""
    if isinstance(model, CNN):
        return int(np.prod(model.input_shape)), model.n_classes
    return model.sizes[0], model.sizes[-1]


def no_data_recorded(model: MLP | CNN, name: str) -> ModelError:
    """An imported model records no data: say so rather than blame the MNIST guess."""
    (h, w), n = model.input_shape[-2:], len(model.class_names)
    return ModelError(f"the model reads {h}×{w} images into {n} classes and records no "
                      f"dataset, and {name!r} does not fit it: pass --data-dir FOLDER or "
                      "--dataset NAME")


def class_arg(model: MLP | CNN, value: str | None, flag: str) -> int | None:
    """A class given on the command line by its number or by its name (``--target three``),
    so a dataset's own names work wherever a class is asked for."""
    if value is None:
        return None
    names = model.class_names
    if value in names:  # a name first: "3" names class 3 in a digit model either way
        return names.index(value)
    try:
        index = int(value)
    except ValueError:
        index = -1
    if 0 <= index < len(names):
        return index
    listed = ", ".join(names) if len(names) <= 12 else f"{', '.join(names[:12])}, ..."
    raise ParameterError(f"--{flag} {value}: not a class of this model (0..{len(names) - 1} "
                         f"or a name: {listed})")


def emit(args: argparse.Namespace, result: dict[str, Any], text: str = "") -> int:
    """Human text normally; with --json one JSON object as the last stdout line."""
    if getattr(args, "json", False):
        print(json.dumps(finite_json(result), separators=(",", ":"), allow_nan=False))
    elif text:
        print(text)
    return 0


def resolve_model(path: str) -> MLP:
    """A run folder (its latest model) or any model file: another tool's file (.onnx, .pt,
    .safetensors, .json) goes through the one reader, which says once what it assumed (run
    `digitlens import` to give what it could not read: --activation, --classes, ...)."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{path}: no such model file or run folder")
    if p.is_file() and p.suffix.lower() in IMPORT_SUFFIXES:
        from digitlens.export.reader import assumptions, read_model
        got = read_model(p)
        for line in assumptions(got):  # said once; `import` with flags records the answer
            say(line if line.startswith("note") else
                f"{line}; to give it: digitlens import {path} --out model.npz --help")
        return got.model
    return load_model(p)
