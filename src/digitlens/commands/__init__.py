"""CLI subcommands, one module per group; shared helpers for output and loading."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.data.sources import DATASETS, Dataset, load_dataset
from digitlens.errors import ModelError
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.safeload import check_fits, finite_json


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")


def add_data(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, choices=DATASETS,
                   help="dataset (default: the model's, else mnist)")
    p.add_argument("--data-dir", help="folder with the four IDX files (raw or .gz)")
    p.add_argument("--no-fetch", action="store_true", help="never download")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_data(args: argparse.Namespace, model: MLP | None = None) -> Dataset:
    """The dataset named by the flags, else the model's, else MNIST (sample if unavailable)."""
    name = args.dataset
    if name is None and model is not None:
        name = model.meta.get("dataset", {}).get("name")
    ds = load_dataset(name or "mnist", args.data_dir, fetch=not args.no_fetch, log=say)
    if model is not None:
        check_fits(model.sizes, int(np.prod(ds.test_images.shape[1:])), ds.class_names,
                   "the model", f"dataset {ds.name!r}", ModelError)
    return ds


def emit(args: argparse.Namespace, result: dict[str, Any], text: str = "") -> int:
    """Human text normally; with --json one JSON object as the last stdout line."""
    if getattr(args, "json", False):
        print(json.dumps(finite_json(result), separators=(",", ":"), allow_nan=False))
    elif text:
        print(text)
    return 0


def resolve_model(path: str) -> MLP:
    """A model file or a run folder (its latest model)."""
    p = Path(path)
    if not p.exists():
        raise ModelError(f"{path}: no such model file or run folder")
    return load_model(p)
