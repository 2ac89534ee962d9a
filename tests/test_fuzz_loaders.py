"""Fuzzing as tests: every loader gets thousands of seeded damaged inputs (byte mutations and
structure mutations) and must answer each with a clean ``DigitlensError`` or a correct result.

``DIGITLENS_FUZZ_SCALE`` multiplies the case counts (``make fuzz`` runs 10×).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzing
from digitlens.errors import DigitlensError, ModelError
from digitlens.export.json_format import plain
from digitlens.safeload import check_schema, parse_json, parse_npy

SCALE = float(os.environ.get("DIGITLENS_FUZZ_SCALE", "1"))


def cases(n: int) -> int:
    return max(1, int(n * SCALE))


def assert_clean(tally: fuzzing.Tally) -> None:
    print(tally.line())
    assert tally.bad() == 0, "\n".join([tally.line(), *tally.failures])
    assert tally.counts["clean"] > 0 and tally.counts["ok"] > 0  # both paths were exercised


def test_model_files_fuzz() -> None:
    assert_clean(fuzzing.model_cases(cases(2000), seed=10))


def test_run_folder_files_fuzz(trained_run: Path) -> None:
    assert_clean(fuzzing.run_folder_cases(cases(1000), seed=11, run=trained_run))


def test_json_imports_fuzz() -> None:
    assert_clean(fuzzing.json_cases(cases(1500), seed=12))


def test_onnx_imports_fuzz() -> None:
    assert_clean(fuzzing.onnx_cases(cases(2000), seed=13))


def test_idx_files_fuzz() -> None:
    assert_clean(fuzzing.idx_cases(cases(3000), seed=14))


def test_images_fuzz() -> None:
    assert_clean(fuzzing.image_cases(cases(1500), seed=15))


# --- hypothesis: generated inputs for the boundary's parsers --------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4), max_leaves=20)


@settings(max_examples=cases(400), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | st.text(alphabet=string.printable, max_size=300).map(str.encode))
def test_parse_json_is_total(data: bytes) -> None:
    try:
        doc = parse_json(data, "x")
    except DigitlensError:
        return
    assert fuzzing.json.dumps(doc, allow_nan=False)  # whatever parses is finite JSON


@settings(max_examples=cases(400), deadline=None, derandomize=True)
@given(JSONISH)
def test_a_packed_parse_is_the_plain_parse(value: object) -> None:
    """Floats put back in document order: a packed parse holds the same numbers, in arrays
    wherever a list has a float among only numbers (the same values: both run Python's float()).
    """
    try:
        text = fuzzing.json.dumps(value, allow_nan=False)
    except ValueError:
        return
    unpacked = parse_json(text, "x")
    packed = parse_json(text, "x", packed=True)  # dumps never repeats a key: nothing refused
    assert plain(packed) == unpacked  # equal numbers (an int among floats becomes a float)


def test_a_packed_parse_makes_arrays_and_refuses_repeated_keys() -> None:
    doc = parse_json('{"w": [[0.5, 1, -2e-3], [1.5, true]], "a": 0.25, "n": [1, 2]}', "x",
                     packed=True)
    assert isinstance(doc["w"][0], np.ndarray) and doc["w"][0].tolist() == [0.5, 1.0, -0.002]
    assert doc["w"][1] == [1.5, True] and doc["a"] == 0.25 and doc["n"] == [1, 2]
    with pytest.raises(DigitlensError, match="twice"):
        parse_json('{"w": [0.5], "w": [1.5]}', "x", packed=True)


@settings(max_examples=cases(400), deadline=None, derandomize=True)
@given(JSONISH)
def test_model_metadata_schema_is_total(value: object) -> None:
    """Any metadata value either passes the schema (and then has the declared types) or is a
    clean ModelError."""
    from digitlens.nn.io import META_SCHEMA
    meta = {"format": "digitlens-mlp", "version": 1, "sizes": [784, 10],
            "activations": ["softmax"], "cost": "cross_entropy", "dataset": value}
    try:
        check_schema(meta, META_SCHEMA, "m.npz", "metadata", ModelError)
    except ModelError:
        return
    assert isinstance(value, dict)
    assert isinstance(value.get("name", ""), str)


@settings(max_examples=cases(400), deadline=None, derandomize=True)
@given(st.text(max_size=120), st.binary(max_size=64))
def test_npy_headers_are_checked_before_allocation(header: str, body: bytes) -> None:
    raw = b"\x93NUMPY\x01\x00" + len(header.encode("latin-1", "replace")).to_bytes(2, "little") \
        + header.encode("latin-1", "replace") + body
    try:
        arr = parse_npy(raw, "m")
    except DigitlensError:
        return
    assert arr.nbytes == len(body)  # exactly the bytes present, never more


@settings(max_examples=cases(300), deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 2**45), min_size=0, max_size=4),
       st.sampled_from(["<f4", "<f8", "|u1", "<i8", "<U5", "|O", "<c8", "V8", ",f4", ",",
                        "f4,f4", "a", "(2,)f4", "<f4\n"]))
def test_npy_shapes_never_allocate_what_is_not_there(shape: list[int], descr: str) -> None:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {tuple(shape)}, }}"
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 40
    try:
        arr = parse_npy(raw, "m")
    except DigitlensError:
        return
    assert arr.nbytes == 40 and arr.dtype.kind in "fiubU"
    assert np.prod(shape) * arr.dtype.itemsize == 40


@pytest.mark.parametrize("seed", range(3))
def test_fuzzers_are_deterministic(seed: int) -> None:
    """Seeded: the same seed gives the same cases (a failure found once is found again)."""
    rng1, rng2 = np.random.default_rng(seed), np.random.default_rng(seed)
    data = bytes(range(256)) * 4
    assert [fuzzing.mutate(data, rng1) for _ in range(20)] == \
        [fuzzing.mutate(data, rng2) for _ in range(20)]


def depth_of(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


TRICKY = st.text(alphabet='"\\[]{}aé\n', max_size=6)
NESTED = st.recursive(st.none() | TRICKY, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TRICKY, inner, max_size=3), max_leaves=25)


@settings(max_examples=cases(400), deadline=None, derandomize=True)
@given(NESTED, st.booleans(), st.sampled_from([1, 3, 1 << 20]))
def test_nesting_is_the_depth_of_the_document(value: object, ascii_only: bool, chunk: int
                                              ) -> None:
    """The one-pass check counts exactly the brackets outside strings (escaped quotes and
    backslashes included), however its megabyte chunks fall."""
    import digitlens.safeload as sl
    text = fuzzing.json.dumps(value, ensure_ascii=ascii_only)
    old, sl.CHUNK = sl.CHUNK, chunk
    try:
        assert sl.nesting(text) == sl.nesting(text.encode()) == depth_of(value)
    finally:
        sl.CHUNK = old
