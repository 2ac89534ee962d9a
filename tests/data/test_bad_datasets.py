"""Damaged, incomplete or inconsistent dataset folders: one row per case, each a DataError of
one line naming the file (in-process) and, through the real CLI, exit 1 with that one line on
stderr and no run folder written. Plus hypothesis fuzzing of the IDX headers of a folder."""

from __future__ import annotations

import gzip
import os
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from datasets_support import FILES, idx_folder, image_folder
from digitlens.data.custom_idx import load_custom_idx
from digitlens.data.dataset import Dataset
from digitlens.data.idx import encode_idx, write_idx
from digitlens.data.sources import load_dataset
from digitlens.errors import DataError


def raw(folder: Path, part: str) -> Path:
    return folder / FILES[part]


def truncate(f: Path) -> None:
    raw(f, "train_images").write_bytes(raw(f, "train_images").read_bytes()[:-10])


def wrong_magic(f: Path) -> None:
    data = bytearray(raw(f, "train_images").read_bytes())
    data[0] = 1
    raw(f, "train_images").write_bytes(bytes(data))


def flat_images(f: Path) -> None:
    write_idx(raw(f, "train_images"), np.zeros((240, 144), np.uint8))


def float_images(f: Path) -> None:
    write_idx(raw(f, "train_images"), np.zeros((240, 12, 12), np.float32))


def fewer_labels(f: Path) -> None:
    labels = np.arange(239, dtype=np.uint8) % 3
    write_idx(raw(f, "train_labels"), labels)


def label_beyond_classes(f: Path) -> None:
    labels = np.arange(240, dtype=np.uint8) % 3
    labels[7] = 3
    write_idx(raw(f, "train_labels"), labels)


def label_beyond_train(f: Path) -> None:  # without classes.txt: class 3..5 have no train images
    (f / "classes.txt").unlink()
    labels = np.arange(60, dtype=np.uint8) % 3
    labels[0] = 5
    write_idx(f / (FILES["test_labels"] + ".gz"), labels)


def sizes_differ(f: Path) -> None:
    write_idx(f / (FILES["test_images"] + ".gz"), np.zeros((60, 10, 10), np.uint8))


def too_big(f: Path) -> None:
    write_idx(raw(f, "train_images"), np.zeros((2, 300, 8), np.uint8))
    write_idx(raw(f, "train_labels"), np.array([0, 1], np.uint8))


def classes(text: str) -> Callable[[Path], None]:
    def write(f: Path) -> None:
        (f / "classes.txt").write_text(text)
    return write


def missing_file(f: Path) -> None:
    (f / (FILES["test_labels"] + ".gz")).unlink()


def corrupt_gzip(f: Path) -> None:
    p = f / (FILES["test_images"] + ".gz")
    p.write_bytes(p.read_bytes()[:-20])


def one_class(f: Path) -> None:
    (f / "classes.txt").unlink()
    write_idx(raw(f, "train_labels"), np.zeros(240, np.uint8))
    write_idx(f / (FILES["test_labels"] + ".gz"), np.zeros(60, np.uint8))


def fifo(f: Path) -> None:
    raw(f, "train_labels").unlink()
    os.mkfifo(raw(f, "train_labels"))


def device(f: Path) -> None:
    raw(f, "train_images").unlink()
    raw(f, "train_images").symlink_to("/dev/zero")


IDX_CASES = [
    ("truncated IDX", truncate, r"train-images-idx3-ubyte: truncated"),
    ("wrong magic", wrong_magic, r"train-images-idx3-ubyte: not an IDX file \(bad magic"),
    ("wrong dims", flat_images, r"train-images-idx3-ubyte: expected uint8 images of shape"),
    ("float images", float_images, r"expected uint8 images of shape \(n, height, width\), "
     "got float32"),
    ("count mismatch", fewer_labels, r"train-labels-idx1-ubyte: 239 labels for 240 images"),
    ("label beyond classes.txt", label_beyond_classes,
     r"train-labels-idx1-ubyte: label 3 is beyond the 3 classes of classes.txt"),
    ("label out of range", label_beyond_train,
     r"train-labels-idx1-ubyte: class 3 \('3'\) has no train images \(3 classes have none; "
     r"every class needs train and test images; the classes are 0\.\.5 because label 5 is at "
     r"index 0 of t10k-labels-idx1-ubyte\.gz\)$"),
    ("train/test sizes differ", sizes_differ,
     r"t10k-images-idx3-ubyte.gz: images of 10×10 but the train images are 12×12"),
    ("images too large", too_big, r"train-images-idx3-ubyte: images of 300×8; each side must "
     "be 1..256"),
    ("classes.txt too few", classes("top\nmiddle\n"),
     r"label 2 is beyond the 2 classes of classes.txt"),
    ("classes.txt too many", classes("top\nmiddle\nbottom\nextra\n"),
     r"train-labels-idx1-ubyte: class 3 \('extra'\) has no train images \(1 class has "
     r"none; every class needs train and test images\)$"),
    ("classes.txt duplicate", classes("top\nmiddle\ntop\n"),
     r"classes.txt: line 3 repeats the class name 'top'"),
    ("classes.txt empty name", classes("top\n\nbottom\n"), r"classes.txt: line 2 is empty"),
    ("classes.txt not UTF-8", lambda f: (f / "classes.txt").write_bytes(b"top\n\xff\nbot\n"),
     r"classes.txt: not UTF-8 text"),
    ("classes.txt escape sequence", classes("top\nmid\x1b[2Jdle\nbottom\n"),
     r"classes.txt: line 2 \('mid\\x1b\[2Jdle'\) is not 1 to 64 printable characters$"),
    ("classes.txt name of 65 characters", classes("top\n" + "m" * 65 + "\nbottom\n"),
     r"classes.txt: line 2 \('m+'\) is not 1 to 64 printable characters$"),
    ("classes.txt bidi override", classes("top\n\u202eelddim\nbottom\n"),
     r"classes.txt: line 2 .* printable"),
    ("a file missing", missing_file, r"no t10k-labels-idx1-ubyte\[\.gz\]"),
    ("corrupt gzip", corrupt_gzip, r"t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"),
    ("one class only", one_class, r"every label is 0; a dataset needs at least 2 classes"),
    ("a FIFO", fifo, r"train-labels-idx1-ubyte: is a FIFO, not a regular file"),
    ("a device", device, r"train-images-idx3-ubyte: is a character device, not a regular"),
]


def no_images(f: Path) -> None:
    for p in (f / "train" / "cross").iterdir():
        p.unlink()


def mixed_sizes(f: Path) -> None:
    Image.new("L", (14, 14), 255).save(f / "train" / "line" / "zz.png")


def corrupt_image(f: Path) -> None:
    (f / "train" / "cross" / "005.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)


def no_test_images(f: Path) -> None:
    for p in (f / "test" / "line").iterdir():
        p.unlink()
    (f / "test" / "line").rmdir()


def empty_test_class(f: Path) -> None:
    for p in (f / "test" / "line").iterdir():
        p.unlink()


def extra_test_class(f: Path) -> None:
    (f / "test" / "star").mkdir()


def image_fifo(f: Path) -> None:
    os.mkfifo(f / "train" / "circle" / "zz.png")


def renamed_class(name: str) -> Callable[[Path], None]:
    def make(f: Path) -> None:
        for split in ("train", "test"):
            (f / split / "line").rename(f / split / name)
    return make


def no_classes(f: Path) -> None:
    import shutil
    for p in (f / "train").iterdir():
        shutil.rmtree(p)


def huge_first(f: Path) -> None:
    Image.new("L", (300, 300), 255).save(f / "train" / "circle" / "000.png")


IMAGE_CASES = [
    ("image folder: class without images", no_images, r"train/cross: no images"),
    ("image folder: mixed sizes", mixed_sizes,
     r"train/line/zz.png: 14×14 pixels but .*000.png is 10×10; pass --image-size HxW"),
    ("image folder: corrupt image", corrupt_image, r"train/cross/005.png: not a readable"),
    ("image folder: class with no test images", no_test_images,
     r"test/line: missing \(class 'line' needs test images\)"),
    ("image folder: empty test class", empty_test_class, r"test/line: no images"),
    ("image folder: test class not in train", extra_test_class,
     r"test/star: a class that train/ does not have"),
    ("image folder: a FIFO", image_fifo, r"train/circle/zz.png: is a FIFO, not a regular file"),
    ("image folder: no class folders", no_classes, r"train: no class folders"),
    ("image folder: a class folder of 65 characters", renamed_class("l" * 65),
     r"train: class folder 3 \('l+'\) is not 1 to 64 printable characters$"),
    ("image folder: a class folder with a newline", renamed_class("li\nne"),
     r"train: class folder 3 \('li\\nne'\) is not 1 to 64 printable"),
    ("image folder: a class folder not UTF-8", renamed_class(os.fsdecode(b"l\xffne")),
     r"train: class folder 3 .* printable"),
    ("image folder: too large without --image-size", huge_first,
     r"000.png: 300×300 pixels; images larger than 256×256 need --image-size"),
]


def damaged(tmp_path: Path, make: Callable[[Path], None], image: bool) -> Path:
    folder = (image_folder if image else idx_folder)(tmp_path / "mydata")
    make(folder)
    return folder


CASES = [(*c, False) for c in IDX_CASES] + [(*c, True) for c in IMAGE_CASES]


@pytest.mark.parametrize(("label", "make", "message", "image"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_dataset_folder(tmp_path: Path, label: str, make: Callable[[Path], None],
                            message: str, image: bool) -> None:
    folder = damaged(tmp_path, make, image)
    with pytest.raises(DataError, match=message) as exc:
        load_dataset(None, folder)
    assert "\n" not in str(exc.value), label


def test_good_folders_load(tmp_path: Path) -> None:
    """The rows above break folders that load: the same builders, undamaged."""
    ds = load_dataset(None, idx_folder(tmp_path / "a"))
    assert (ds.kind, ds.image_shape, ds.class_names) == ("custom", (12, 12), ("top", "middle",
                                                                             "bottom"))
    ds = load_dataset(None, image_folder(tmp_path / "b"))
    assert (ds.kind, ds.image_shape, ds.class_names) == ("custom", (10, 10), ("circle", "cross",
                                                                             "line"))


@pytest.mark.e2e
def test_bad_folders_through_the_cli(tmp_path: Path) -> None:
    """Exit 1, one line on stderr naming the file, no run folder: no fallback to MNIST."""
    for i, (label, make, message, image) in enumerate(CASES[::3]):
        folder = damaged(tmp_path / str(i), make, image)
        out = tmp_path / str(i) / "run"
        proc = subprocess.run([sys.executable, "-m", "digitlens", "train", "--data-dir",
                               str(folder), "--epochs", "1", "--out", str(out), "--json"],
                              capture_output=True, text=True, timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 1, (label, proc.stderr)
        assert len(lines) == 1 and lines[0].startswith("digitlens: error:"), (label, lines)
        assert re.search(message, lines[0]), (label, lines[0])
        assert not out.exists() and proc.stdout == "", label


# --- hypothesis: any header of any of the four files -> a dataset or a DataError -------------

GOOD = {"train_images": np.zeros((6, 4, 5), np.uint8), "train_labels": np.array(
    [0, 1, 2, 0, 1, 2], np.uint8), "test_images": np.zeros((3, 4, 5), np.uint8),
    "test_labels": np.array([2, 1, 0], np.uint8)}


@st.composite
def idx_files(draw: st.DrawFn) -> tuple[str, bytes]:
    part = draw(st.sampled_from(sorted(GOOD)))
    body = encode_idx(GOOD[part])
    code = draw(st.sampled_from([0x08, 0x08, 0x09, 0x0B, 0x0D, 0x0E, 0x00, 0xFF]))
    ndim = draw(st.integers(0, 6))
    dims = draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 8), min_size=ndim,
                         max_size=ndim))
    zero = draw(st.sampled_from([0, 0, 0, 1, 0x0800]))
    header = struct.pack(">HBB", zero, code, ndim) + struct.pack(f">{ndim}I", *dims)
    payload = draw(st.sampled_from([body[4 + 4 * GOOD[part].ndim:], b"", b"\0" * 7]))
    data = header + payload
    if draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
    return part, data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(idx_files(), st.one_of(st.none(), st.text(max_size=30)))
def test_fuzz_idx_headers_only_data_errors(case: tuple[str, bytes], names: str | None) -> None:
    part, data = case
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for p, arr in GOOD.items():
            (folder / FILES[p]).write_bytes(data if p == part else encode_idx(arr))
        if names is not None:
            (folder / "classes.txt").write_bytes(names.encode("utf-8", "surrogatepass"))
        message: str | None = None
        try:
            ds = load_custom_idx(folder)
        except DataError as exc:
            message = str(exc)
        if message is not None:
            assert message and "\n" not in message
            return
        assert isinstance(ds, Dataset) and ds.train_images.ndim == 3
        assert len(ds.class_names) > int(ds.train_labels.max())
