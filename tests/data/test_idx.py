"""Strict IDX: round trips, and every kind of damage gives a DataError naming the file."""

from __future__ import annotations

import contextlib
import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digitlens.data.idx import (
    check_images,
    check_labels,
    encode_idx,
    parse_idx,
    read_idx,
    write_idx,
)
from digitlens.errors import DataError


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8", "<f4"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip(tmp_path: Path, dtype: str, suffix: str, rng: np.random.Generator) -> None:
    arr = (rng.random((3, 4, 5)) * 100).astype(dtype)
    path = tmp_path / f"x.idx{suffix}"
    write_idx(path, arr)
    back = read_idx(path)
    np.testing.assert_array_equal(back, arr)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if suffix else b"\x00\x00")


def test_header_matches_the_spec() -> None:
    data = encode_idx(np.arange(6, dtype=np.uint8).reshape(2, 3))
    assert data[:4] == b"\x00\x00\x08\x02"
    assert struct.unpack(">II", data[4:12]) == (2, 3)
    assert data[12:] == bytes(range(6))


def test_real_sample_file(sample) -> None:
    assert sample.train_images.shape == (2000, 28, 28)
    assert np.bincount(sample.test_labels).tolist() == [100] * 10


@pytest.mark.parametrize(("data", "message"), [
    (b"\x00\x00", "too short"),
    (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic"),
    (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX dtype"),
    (b"\x00\x00\x08\x00", "unsupported number of dimensions"),
    (b"\x00\x00\x08\x03" + struct.pack(">I", 1), "truncated header"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 5) + b"\x00\x01", "truncated"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 1) + b"\x00\x01", "trailing bytes"),
    (b"\x1f\x8b\x08\x00garbage", "corrupt or truncated gzip"),
])
def test_damage_is_named(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        parse_idx(data, "some-file")
    assert "some-file" in str(info.value)


def test_truncated_gzip_of_a_valid_file() -> None:
    good = gzip.compress(encode_idx(np.zeros((10, 28, 28), np.uint8)))
    with pytest.raises(DataError, match="gzip"):
        parse_idx(good[: len(good) // 2], "cut.gz")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_checks() -> None:
    with pytest.raises(DataError, match="out of range"):
        check_labels(np.array([1, 10], np.uint8), "labels")
    with pytest.raises(DataError, match="expected images of 28×28, got 27×28"):
        check_images(np.zeros((2, 27, 28), np.uint8), "images", (28, 28))  # MNIST: exact
    check_images(np.zeros((2, 28, 28), np.uint8), "images", (28, 28))
    for shape in ((2, 1, 1), (2, 8, 8), (2, 12, 16), (2, 256, 256)):  # a dataset's own size
        assert check_images(np.zeros(shape, np.uint8), "images").shape == shape
    for shape in ((2, 257, 8), (2, 8, 0)):
        with pytest.raises(DataError, match="each side must be 1..256"):
            check_images(np.zeros(shape, np.uint8), "images")
    with pytest.raises(DataError, match=r"\(n, height, width\)"):
        check_images(np.zeros((2, 8, 8), np.int32), "images")


VALID = encode_idx(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=64))
def test_fuzz_random_bytes_never_crash(data: bytes) -> None:
    with contextlib.suppress(DataError):
        parse_idx(data, "fuzz")


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, 255), st.integers(0, len(VALID)),
       st.booleans())
def test_fuzz_mutated_valid_file(pos: int, byte: int, cut: int, zipped: bool) -> None:
    data = bytearray(VALID)
    data[pos] = byte
    blob = bytes(data[:cut])
    if zipped:
        blob = gzip.compress(blob)[: max(1, cut)]
    try:
        arr = parse_idx(blob, "fuzz")
    except DataError:
        return
    assert arr.size * arr.dtype.itemsize + 4 + 4 * arr.ndim <= len(VALID)


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * (70 << 20), 9)  # 70 MB of zeros in ~70 KB
    with pytest.raises(DataError, match="decompresses to more than"):
        parse_idx(bomb, "bomb.gz")


def test_dimensions_that_overflow_int64_are_refused() -> None:
    data = b"\x00\x00\x08\x04" + struct.pack(">4I", *[65536] * 4)
    with pytest.raises(DataError, match="truncated"):
        parse_idx(data, "huge")
