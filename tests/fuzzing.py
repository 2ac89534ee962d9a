"""Seeded byte-mutation and structure-mutation fuzzers for every loader, shared by the tests
(thousands of cases) and ``benchmarks/bench_fuzz.py`` (the figures, and more with ``make fuzz``).

Each case feeds damaged bytes to a real loader and classifies the outcome: ``clean`` (a
``DigitlensError``), ``ok`` (loaded, and the answer checked: finite probabilities summing to 1,
the right shapes), or a failure: ``internal`` (any other exception), ``nan`` (a loaded thing
that answers NaN/inf) or ``hang`` (a case over ``HANG_S`` seconds, stopped by SIGALRM).
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import signal
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError

HANG_S = 10.0
INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
               b"\xff\xff\xff\x7f", b"9999999999", b"-1", b"1e309", b"NaN", b"[[[[", b"{", b"\""]
ODD_VALUES: list[Any] = ["x", "", -1, 0, 1, 2**70, 1e308, -1e308, 1.5, None, True, [], {},
                         [1, 2, 3], {"a": 1}, "5", [[[[[]]]]], "sigmoid", [784, 10],
                         False, "0.5", "<img src=x onerror=window.__pwned=1>",
                         '=HYPERLINK("http://x","y")', "a\x1b[31mb", "x" * 65,
                         [f"<b>{d}</b>" for d in range(10)], ["a\nb"] + list("123456789")]


class Hang(Exception):
    """A case ran past ``HANG_S``."""


@dataclass
class Tally:
    """Outcomes of one fuzzer; ``failures`` keeps a few examples of each failing kind."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    slowest: float = 0.0

    @property
    def cases(self) -> int:
        return sum(self.counts.values())

    def bad(self) -> int:
        return self.counts["internal"] + self.counts["nan"] + self.counts["hang"]

    def line(self) -> str:
        return (f"{self.name:8s} {self.cases:6d} cases: {self.counts['clean']:6d} clean errors, "
                f"{self.counts['ok']:5d} loaded and correct, {self.counts['internal']} internal "
                f"errors, {self.counts['hang']} hangs, {self.counts['nan']} NaN answers "
                f"(slowest case {self.slowest * 1000:.0f} ms)")


def mutate(data: bytes, rng: np.random.Generator, protect: int = 0) -> bytes:
    """One to four random byte-level damages (flips, overwrites with interesting values,
    truncation, insertion, duplication, deletion) after the first ``protect`` bytes."""
    b = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        if len(b) <= protect + 1:
            b += bytes(rng.integers(0, 256, 8, dtype=np.uint8))
        pos = int(rng.integers(protect, len(b)))
        kind = int(rng.integers(0, 9))
        if kind == 0:
            b[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:
            val = INTERESTING[int(rng.integers(0, len(INTERESTING)))]
            b[pos:pos + len(val)] = val
        elif kind == 2:
            del b[pos:]
        elif kind == 3:
            b[pos:pos] = bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
        elif kind == 4:
            n = int(rng.integers(1, 256))
            b[pos:pos] = b[pos:pos + n] * int(rng.integers(1, 4))
        elif kind == 5:
            del b[pos:pos + int(rng.integers(1, 64))]
        else:
            b[pos] = int(rng.integers(0, 256))
    return bytes(b)


def mutate_json(doc: Any, rng: np.random.Generator) -> Any:
    """A copy of a parsed document with one random value (at any depth) replaced by an odd
    one, or one key removed."""
    doc = json.loads(json.dumps(doc))  # a deep copy, faster than copy.deepcopy
    paths: list[tuple[Any, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            keys: Any = list(node)
        elif isinstance(node, list):  # long lists (weight rows): a few random places
            keys = range(len(node)) if len(node) <= 50 else rng.integers(0, len(node), 3)
        else:
            continue
        for k in keys:
            k = int(k) if isinstance(node, list) else k
            paths.append((node, k))
            if isinstance(node[k], dict | list):
                stack.append(node[k])
    if not paths:
        return ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))]
    node, key = paths[int(rng.integers(0, len(paths)))]
    if isinstance(node, dict) and rng.random() < 0.2:
        del node[key]
    else:
        node[key] = copy.deepcopy(ODD_VALUES[int(rng.integers(0, len(ODD_VALUES)))])
    return doc


def npz_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def zip_members(members: dict[str, bytes], deflate: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return buf.getvalue()


def mutate_npz(data: bytes, rng: np.random.Generator) -> bytes:
    """Damage an .npz the three ways that reach different code: raw bytes (zip structure),
    one member's bytes re-zipped (the .npy header and data), or the metadata JSON re-zipped
    (types and values), now and then as a deflate bomb."""
    choice = rng.random()
    if choice < 0.25:
        return mutate(data, rng)
    members = npz_members(data)
    if choice < 0.7:
        key = sorted(members)[int(rng.integers(0, len(members)))]
        members[key] = mutate(members[key], rng)
    else:  # a JSON string member: the model's metadata, a checkpoint's history or rng state
        texts = [k for k in sorted(members) if k in ("meta.npy", "rng.npy", "history.npy")]
        key = texts[int(rng.integers(0, len(texts)))]
        text = np.load(io.BytesIO(members[key]), allow_pickle=False)
        doc = mutate_json(json.loads(str(text)), rng)
        buf = io.BytesIO()
        np.save(buf, np.array(json.dumps(doc)))
        members[key] = buf.getvalue()
    if rng.random() < 0.03:  # a bomb: a header declaring 2^40 elements, or 64 MiB of zeros
        if rng.random() < 0.5:
            return bomb_npz(members)
        members["W0.npy"] = BOMB_HEADER
    return zip_members(members, deflate=rng.random() < 0.5)


BOMB_HEADER = (b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, "
               b"'shape': (1099511627776,), }" + b" " * 52 + b"\n")
_BOMB: list[bytes] = []


def bomb_npz(members: dict[str, bytes]) -> bytes:
    """The archive with W0 replaced by a valid .npy of 64 MiB of zeros, deflated (~64 KiB);
    built once (deflating it is slow)."""
    if not _BOMB:
        header = BOMB_HEADER.replace(b"1099511627776", b"16777216     ")
        _BOMB.append(zip_members({**members, "W0.npy": header + b"\x00" * (64 << 20)}, True))
    return _BOMB[0]


def _alarm(_signum: int, _frame: Any) -> None:
    raise Hang()


def run_cases(name: str, cases: Iterator[bytes], check: Callable[[bytes], str]) -> Tally:
    """Feed every case to ``check`` (which returns "ok" after verifying an answer, or raises);
    classify the outcomes. SIGALRM stops a case that hangs (main thread only)."""
    tally = Tally(name)
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for i, data in enumerate(cases):
            t0 = time.perf_counter()
            signal.setitimer(signal.ITIMER_REAL, HANG_S)
            try:
                outcome = check(data)
            except Hang:
                outcome = "hang"
            except DigitlensError:
                outcome = "clean"
            except Exception as exc:  # noqa: BLE001 - what a fuzzer is for
                outcome = "internal"
                if len(tally.failures) < 5:
                    tally.failures.append(f"case {i}: {type(exc).__name__}: {str(exc)[:200]}")
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if outcome == "nan" and len(tally.failures) < 5:
                tally.failures.append(f"case {i}: answered NaN or infinity")
            tally.counts[outcome] += 1
            tally.slowest = max(tally.slowest, time.perf_counter() - t0)
    finally:
        signal.signal(signal.SIGALRM, old)
    return tally


def model_answers(model: Any) -> str:
    """"ok" when a loaded model is usable as every command uses it (any input size and class
    count, its image shape and class names fitting them), "nan" otherwise."""
    n = model.sizes[0]
    h, w = model.input_shape
    if h * w != n or len(model.class_names) != model.sizes[-1] or model.sizes[-1] < 2:
        return "nan"
    if not all(isinstance(c, str) and 1 <= len(c) <= 64 and c.isprintable()
               for c in model.class_names):
        return "nan"  # a name no page, caption or cell could show as one line of text
    probe = np.linspace(0, 1, n, dtype=np.float32).reshape(1, n)
    trace = model.trace(np.vstack([probe, np.ones((1, n), np.float32),
                                   np.zeros((1, n), np.float32)]))
    p = trace.probabilities
    if not (np.all(np.isfinite(model.params)) and np.all(np.isfinite(p))
            # normalised in float32: n terms ≤ 1 sum to 1 within ~(n + 4)·u; 1e-3 only
            # tells a usable model from a broken one, whatever the (fuzzed) size
            and np.allclose(p.sum(axis=1), 1, atol=1e-3)):
        return "nan"
    json.dumps(model.meta, allow_nan=False)  # metadata must be plain finite JSON
    return "ok"


def base_model(hidden: int = 8) -> Any:
    from digitlens.nn.mlp import MLP
    m = MLP.create((784, hidden, 10), "relu", seed=3)
    m.meta = {"training": {"preset": "fuzz"}, "dataset": {"name": "mnist-sample", "sha256": {}},
              "class_names": [str(d) for d in range(10)],
              "history_tail": {"epoch": 1, "test_accuracy": 0.5, "loss": 1.0}}
    return m


def model_cases(n: int, seed: int) -> Tally:
    from digitlens.nn.io import load_model_bytes, model_bytes
    good = model_bytes(base_model())
    rng = np.random.default_rng(seed)
    return run_cases("model", (mutate_npz(good, rng) for _ in range(n)),
                     lambda d: model_answers(load_model_bytes(d, "fuzz.npz")))


def run_folder_cases(n: int, seed: int, run: Path) -> Tally:
    """Damage one file of a real run folder at a time; read it as the commands do."""
    from digitlens.nn.run import Run
    rng = np.random.default_rng(seed)
    files = {p.relative_to(run).as_posix(): p.read_bytes() for p in run.rglob("*") if p.is_file()}
    names = sorted(k for k in files if k.endswith((".json", ".npz")))
    work = Path(tempfile.mkdtemp(prefix="fuzz-run-"))
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    state = {"last": names[0]}

    def cases() -> Iterator[bytes]:
        for i in range(n):
            rel = names[i % len(names)]
            state["last"] = rel
            data = files[rel]
            if rel.endswith(".npz"):
                yield mutate_npz(data, rng)
            elif rng.random() < 0.6:
                yield json.dumps(mutate_json(json.loads(data), rng)).encode()
            else:
                yield mutate(data, rng)

    def check(data: bytes) -> str:
        rel = state["last"]
        target = work / rel
        target.write_bytes(data)
        try:
            r = Run(work)
            if rel == "config.json":
                r.config()
            elif rel == "history.json":
                json.dumps(r.history(), allow_nan=False)
            elif rel == "checkpoint.npz":
                ck = r.read_checkpoint()
                r.recorded_threads()
                if ck is not None:
                    return model_answers(ck["model"])
            else:
                return model_answers(r.model() if rel == "model.npz"
                                     else r.load_snapshot(int(rel[-8:-4])))
            return "ok"
        finally:
            target.write_bytes(files[rel])

    return run_cases("run", cases(), check)


def json_cases(n: int, seed: int) -> Tally:
    from digitlens.export.json_format import import_json_bytes, to_json_text
    m = base_model(hidden=2)
    text = to_json_text(m)
    doc = json.loads(text)
    rng = np.random.default_rng(seed)

    def cases() -> Iterator[bytes]:
        for _ in range(n):
            if rng.random() < 0.6:
                yield json.dumps(mutate_json(doc, rng)).encode()
            else:
                yield mutate(text.encode(), rng)

    def check(data: bytes) -> str:
        model = import_json_bytes(data, "fuzz.json")
        if data == text.encode():
            return model_answers(model)
        # metadata never sets the architecture: what loaded is what the layers say
        layers = json.loads(data)["layers"]
        if list(model.activations) != [layer["activation"] for layer in layers]:
            return "nan"
        values = [v for layer in layers for row in layer["weights"] for v in row]
        values += [v for layer in layers for v in layer["biases"]]
        if any(type(v) not in (int, float) for v in values):
            return "nan"  # a string or a boolean read as a weight
        return model_answers(model)

    return run_cases("json", cases(), check)


def onnx_cases(n: int, seed: int) -> Tally:
    import onnx
    from onnx import helper, numpy_helper

    from digitlens.export.onnx_format import to_onnx
    from digitlens.export.onnx_import import import_onnx_bytes
    proto = to_onnx(base_model())
    good = proto.SerializeToString()
    rng = np.random.default_rng(seed)

    def structural() -> bytes:
        p = copy.deepcopy(proto)
        nodes, inits = p.graph.node, p.graph.initializer
        kind = int(rng.integers(0, 7))
        if kind == 0 and inits:
            t = inits[int(rng.integers(0, len(inits)))]
            t.data_type = int(rng.choice([0, 2, 7, 8, 9, 11, 16, 99]))
        elif kind == 1 and inits:
            t = inits[int(rng.integers(0, len(inits)))]
            t.dims[int(rng.integers(0, len(t.dims)))] = int(rng.choice([0, -1, 3, 2**40]))
        elif kind == 2:
            node = nodes[int(rng.integers(0, len(nodes)))]
            attr = node.attribute.add()
            attr.name = str(rng.choice(["alpha", "beta", "perm", "axis", "transB"]))
            attr.type = int(rng.choice([0, 1, 2, 6, 7, 13]))
            attr.f = float(rng.choice([np.inf, np.nan, 1e30, -1.0]))
            attr.ints.extend([int(v) for v in rng.integers(-3, 5, 2)])
        elif kind == 3:
            node = nodes[int(rng.integers(0, len(nodes)))]
            del node.output[:]
        elif kind == 4:
            node = nodes[int(rng.integers(0, len(nodes)))]
            node.op_type = str(rng.choice(["Transpose", "Conv", "Relu", "Softmax", "Gemm"]))
        elif kind == 5 and inits:
            t = inits[int(rng.integers(0, len(inits)))]
            raw = bytearray(t.raw_data)
            if raw:
                raw[int(rng.integers(0, len(raw)))] = int(rng.integers(0, 256))
                t.raw_data = bytes(raw)
        elif kind == 6 and inits:  # integer weights: no trained network's, refused
            t = inits[int(rng.integers(0, len(inits)))]
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.int64), t.name))
        elif kind == 7:  # a Transpose of nothing, off the chain
            nodes.append(helper.make_node("Transpose", [], ["nothing_transposed"]))
        else:
            meta = p.metadata_props.add()
            meta.key = "digitlens"
            meta.value = json.dumps({"activations": ["sigmoid", "sigmoid"], "cost": "quadratic",
                                     "sizes": [4, 10]})
        return p.SerializeToString()

    def cases() -> Iterator[bytes]:
        for _ in range(n):
            yield structural() if rng.random() < 0.5 else mutate(good, rng)

    def check(data: bytes) -> str:
        model, _ = import_onnx_bytes(data, "fuzz.onnx")
        loaded = onnx.load_from_string(data)
        if any(t.data_type not in FLOAT_TYPES and len(t.dims) == 2
               for t in loaded.graph.initializer):
            return "nan"  # a weight matrix that is not floats was accepted
        return model_answers(model)

    return run_cases("onnx", cases(), check)


FLOAT_TYPES = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def idx_cases(n: int, seed: int) -> Tally:
    from digitlens.data.idx import encode_idx, parse_idx
    rng = np.random.default_rng(seed)
    images = encode_idx(rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    labels = encode_idx(rng.integers(0, 10, 20, dtype=np.uint8))
    bases = [images, labels, gzip.compress(images, mtime=0), gzip.compress(labels, mtime=0)]

    def check(data: bytes) -> str:
        arr = parse_idx(data, "fuzz-idx")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            return "ok"  # raw float IDX may hold NaN; datasets take uint8 only (checked later)
        return "ok" if arr.ndim >= 1 else "nan"

    return run_cases("idx", (mutate(bases[i % 4], rng) for i in range(n)), check)


def image_cases(n: int, seed: int) -> Tally:
    from PIL import Image

    from digitlens.data.preprocess import preprocess, to_gray
    from digitlens.safeload import decode_image
    rng = np.random.default_rng(seed)
    digit = Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8))
    bases = []
    for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP"):
        buf = io.BytesIO()
        digit.save(buf, fmt)
        bases.append(buf.getvalue())

    def check(data: bytes) -> str:
        im = decode_image(data, "fuzz-image")
        pre = preprocess(to_gray(im))
        return "ok" if np.all(np.isfinite(pre.centred)) and np.all(np.isfinite(pre.raw28)) \
            else "nan"

    return run_cases("image", (mutate(bases[i % len(bases)], rng, protect=4)
                               for i in range(n)), check)
