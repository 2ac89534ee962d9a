"""An image-folder dataset: ``train/<class>/*.png`` and ``test/<class>/*.png``.

Class names are the sub-folder names, sorted; train and test must have the same classes and
every class images in both. Each image is decoded through the loading boundary
(``safeload.load_image_file``: allowlisted decoders, bounded sizes), made grayscale and brought
to one size: the first train image's, or ``image_size``. ``normalise="mnist"`` makes each image
the way MNIST was made (ink bright on dark, ink fitted in the scaled 20-in-28 box, centre of
mass at the centre; ``data.preprocess``); ``"none"`` keeps the pixels (bright = ink).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from digitlens.data.dataset import Dataset
from digitlens.data.idx import MAX_SIDE
from digitlens.errors import DataError
from digitlens.safeload import check_class_names

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
NORMALISE = ("none", "mnist")
MAX_IMAGES = 500_000
SPLITS = ("train", "test")


def is_image_folder(folder: str | Path) -> bool:
    """The layout's mark: a ``train`` sub-folder and no IDX files."""
    folder = Path(folder)
    return (folder / "train").is_dir() and not any(folder.glob("*-idx?-ubyte*"))


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` (or one number for a square) -> (height, width), each 1..MAX_SIDE."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        h, w = (int(parts[0]), int(parts[-1])) if len(parts) <= 2 else (0, 0)
    except ValueError:
        h = w = 0
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise DataError(f"--image-size {text!r}: expected HxW with each side 1..{MAX_SIDE}, "
                        "e.g. 16x16")
    return h, w


def class_folders(folder: Path, split: str) -> dict[str, Path]:
    """The class sub-folders of a split, by name."""
    base = folder / split
    if not base.is_dir():
        raise DataError(f"{base}: no such folder (an image folder has train/<class>/ and "
                        "test/<class>/)")
    found = {p.name: p for p in sorted(base.iterdir())
             if not p.name.startswith(".") and p.is_dir()}
    if not found:
        raise DataError(f"{base}: no class folders (expected {split}/<class>/*.png)")
    return found


def image_files(class_dir: Path) -> list[Path]:
    """The image files of a class folder, sorted by name (hidden and other files ignored);
    anything that is not a regular file is refused by the reader (``read_bounded``)."""
    files = [p for p in sorted(class_dir.iterdir())
             if not p.name.startswith(".") and p.suffix.lower() in SUFFIXES]
    if not files:
        raise DataError(f"{class_dir}: no images ({', '.join(SUFFIXES)})")
    return files


def convert(path: Path, raw: bytes, size: tuple[int, int] | None, normalise: str,
            first: list[tuple[Path, tuple[int, int]]]) -> np.ndarray:
    """One file -> uint8 (h, w) at the dataset's size (fixed by the first image if not given)."""
    from digitlens.data.preprocess import preprocess, resize, to_gray
    from digitlens.safeload import decode_image
    im = decode_image(raw, str(path))
    own = (im.height, im.width)
    if size is None:
        if not first:
            if not (own[0] <= MAX_SIDE and own[1] <= MAX_SIDE):
                raise DataError(f"{path}: {own[0]}×{own[1]} pixels; images larger than "
                                f"{MAX_SIDE}×{MAX_SIDE} need --image-size HxW")
            first.append((path, own))
        elif own != first[0][1] and normalise == "none":
            fh, fw = first[0][1]
            raise DataError(f"{path}: {own[0]}×{own[1]} pixels but {first[0][0]} is {fh}×{fw}; "
                            "pass --image-size HxW to resize every image to one size")
        size = first[0][1]
    if normalise == "mnist":
        out = preprocess(im, size).centred
    else:
        gray = to_gray(im)
        out = gray if gray.shape == size else resize(gray, *size)
    return np.round(out * 255).astype(np.uint8)


def load_split(folder: Path, split: str, classes: list[str], size: tuple[int, int] | None,
               normalise: str, first: list[tuple[Path, tuple[int, int]]]
               ) -> tuple[np.ndarray, np.ndarray, str]:
    """Images, labels and the SHA-256 of the split's files (names and bytes, in order)."""
    from digitlens.safeload import MAX_IMAGE_FILE, read_bounded
    found = class_folders(folder, split)
    extra = sorted(set(found) - set(classes))
    if extra:
        raise DataError(f"{folder / split / extra[0]}: a class that train/ does not have")
    images: list[np.ndarray] = []
    labels: list[int] = []
    digest = hashlib.sha256()
    for c, name in enumerate(classes):
        if name not in found:
            raise DataError(f"{folder / split / name}: missing (class {name!r} needs {split} "
                            "images)")
        for path in image_files(found[name]):
            if len(images) >= MAX_IMAGES:
                raise DataError(f"{folder / split}: more than {MAX_IMAGES} images")
            raw = read_bounded(path, MAX_IMAGE_FILE, DataError, "image")
            images.append(convert(path, raw, size, normalise, first))
            labels.append(c)
            digest.update(f"{name}/{path.name}\0{hashlib.sha256(raw).hexdigest()}\n".encode())
    return np.stack(images), np.array(labels, np.uint8), digest.hexdigest()


def load_image_folder(folder: str | Path, image_size: tuple[int, int] | None = None,
                      normalise: str = "none") -> Dataset:
    """The folder's dataset; ``DataError`` naming the file or folder that is wrong."""
    from digitlens.data.custom_idx import MAX_CLASSES, dataset_name
    folder = Path(folder)
    if normalise not in NORMALISE:
        raise DataError(f"--normalise {normalise!r}: choose one of {', '.join(NORMALISE)}")
    classes = list(check_class_names(list(class_folders(folder, "train")), str(folder / "train"),
                                     item="class folder"))
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise DataError(f"{folder / 'train'}: {len(classes)} class folders; a dataset needs "
                        f"2..{MAX_CLASSES}")
    first: list[tuple[Path, tuple[int, int]]] = []
    arrays, sums = {}, {}
    for split in SPLITS:
        images, labels, sums[split] = load_split(folder, split, classes, image_size, normalise,
                                                 first)
        arrays[split] = (images, labels)
    shape = image_size or first[0][1]
    origin = {"format": "image-folder", "path": str(folder.resolve()),
              "image_size": list(shape), "normalise": normalise}
    return Dataset(dataset_name(folder), *arrays["train"], *arrays["test"],
                   f"{folder} (image folder)", sums, tuple(classes), "custom", origin)
