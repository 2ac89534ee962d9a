"""Finding a model's dataset again from the record training left in its metadata.

``meta["dataset"]`` holds the dataset's name, kind and SHA-256 sums; a custom dataset also its
folder (absolute path) and how it was read. Loading it again re-reads that folder and compares
the sums: data that changed since training is an error, never silently used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from digitlens.data.dataset import Dataset
from digitlens.data.sources import load_dataset, load_folder
from digitlens.errors import DataError


def dataset_for(record: Mapping[str, Any] | None, fetch: bool = True,
                log: Callable[[str], None] | None = None) -> Dataset:
    """The dataset ``record`` names: a custom folder re-read and re-verified, a package's by
    name (sklearn-digits), else MNIST and friends as ``load_dataset`` finds them."""
    record = record or {}
    name = str(record.get("name") or "mnist")
    path = record.get("path")
    if record.get("kind") != "custom" or not isinstance(path, str):
        return load_dataset(name, fetch=fetch, log=log)
    if not Path(path).is_dir():
        raise DataError(f"dataset {name!r}: the model was trained on {path}, which is not "
                        "there any more; pass --data-dir FOLDER")
    size = record.get("image_size")
    image_size = (int(size[0]), int(size[1])) if isinstance(size, list) and len(size) == 2 \
        else None
    normalise = record.get("normalise") if isinstance(record.get("normalise"), str) else None
    ds = load_folder(path, image_size if record.get("format") == "image-folder" else None,
                     normalise)
    recorded = record.get("sha256")
    if isinstance(recorded, dict) and recorded != ds.checksums:
        part = next((k for k in sorted(set(recorded) | set(ds.checksums))
                     if recorded.get(k) != ds.checksums.get(k)), "?")
        raise DataError(f"dataset {name!r} in {path} has changed since the model was trained "
                        f"({part}: SHA-256 differs); pass --data-dir to use it anyway")
    return ds
