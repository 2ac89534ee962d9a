"""A custom IDX folder: four MNIST-shaped IDX files plus a manifest naming them.

MNIST folders are recognised by their published checksums; a folder of one's own digits (a
class's drawings, written by ``digitlens classroom export``) has none, so it carries
``digitlens-dataset.json``: its name and the SHA-256 of each raw file, which are verified on
reading like MNIST's. Only folders with this manifest are read this way.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from digitlens.data.idx import encode_idx
from digitlens.data.parts import FILENAMES, PARTS, from_raw, read_folder, sha256, verify
from digitlens.errors import DataError
from digitlens.fileio import atomic_write_bytes, atomic_write_text
from digitlens.safeload import parse_json, read_bounded

MANIFEST = "digitlens-dataset.json"
FORMAT = "digitlens-idx-folder"
VERSION = 1
NAME_RE = re.compile(r"\A[a-z][a-z0-9-]{0,31}\Z")
RESERVED = ("mnist", "fashion-mnist", "mnist-sample")
MAX_MANIFEST = 64 * 1024


def is_idx_folder(folder: str | Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest, validated: format, version, a name that is not MNIST's, 4 checksums."""
    path = folder / MANIFEST
    doc = parse_json(read_bounded(path, MAX_MANIFEST, what="dataset manifest"), str(path))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataError(f"{path}: not a {FORMAT} manifest")
    if doc.get("version") != VERSION:
        raise DataError(f"{path}: version {doc.get('version')!r} (this digitlens reads {VERSION})")
    name = doc.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name) or name in RESERVED:
        raise DataError(f"{path}: 'name' must be lower-case letters, digits or '-' and not one "
                        f"of {', '.join(RESERVED)}; got {str(name)[:40]!r}")
    sums = doc.get("sha256")
    if not isinstance(sums, dict) or set(sums) != set(PARTS) or not all(
            isinstance(s, str) and re.fullmatch(r"[0-9a-f]{64}", s) for s in sums.values()):
        raise DataError(f"{path}: 'sha256' must give the 64-hex SHA-256 of each of "
                        f"{', '.join(PARTS)}")
    return doc


def load_idx_folder(folder: str | Path) -> Any:
    """The folder's dataset (a ``digitlens.data.sources.Dataset``), checksums verified."""
    folder = Path(folder)
    doc = read_manifest(folder)
    raws = read_folder(folder, doc["name"], verify_sums=False)
    for part in PARTS:
        verify(raws[part], doc["sha256"][part], str(folder / part))
    ds = from_raw(doc["name"], raws, f"{folder} ({doc['name']}, {FORMAT})")
    return replace(ds, kind="custom", origin={"format": "idx-manifest",
                                              "path": str(folder.resolve())})


def write_idx_folder(folder: str | Path, name: str, arrays: dict[str, Any],
                     extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the four raw IDX files and the manifest (last, so a half-written folder is not
    taken for a dataset). ``arrays`` maps each part to its uint8 array."""
    folder = Path(folder)
    sums = {}
    for part in PARTS:
        raw = encode_idx(arrays[part])
        atomic_write_bytes(folder / FILENAMES[part], raw)
        sums[part] = sha256(raw)
    doc = {"format": FORMAT, "version": VERSION, "name": name, "sha256": sums, **(extra or {})}
    atomic_write_text(folder / MANIFEST, json.dumps(doc, indent=1))
    return doc
