"""PyTorch's ``.pt``/``.pth`` files read without PyTorch, as safely as
``torch.load(weights_only=True)``.

Since PyTorch 1.6 ``torch.save`` writes a zip: ``<archive>/data.pkl`` (a small pickle of the
containers, naming each tensor's storage by key) beside ``<archive>/data/<key>`` (the raw
bytes of each storage). The pickle is read by a restricted unpickler that resolves only what a
state_dict holds (``collections.OrderedDict``, the tensor and parameter rebuilds, the storage
types of plain dtypes); any other global is refused by name before anything is called, so a
pickled module or a ``__reduce__`` payload never runs. Each storage is read from the zip with its
byte length checked against the element count the pickle gives, and each tensor's shape,
strides and offset are checked to lie inside its storage before a view is taken.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from digitlens.errors import ModelError
from digitlens.export.checkpoint import state_dict_of
from digitlens.safeload import MAX_PARAMS

# storage types a state_dict of plain dtypes names; bfloat16 and the integer types are read so
# that the refusal can name the dtype (as PyTorch spells it), never to be used as weights
STORAGES: dict[str, str] = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool",
}
READABLE = ("float16", "float32", "float64")
MAX_DIMS = 8
MAX_PICKLE = 16 << 20  # the containers of a state_dict: a few kB per thousand tensors


class TorchTensor:
    """A tensor as the pickle described it: its dtype's PyTorch name and, for readable dtypes,
    the values (a float array of its own memory)."""

    __slots__ = ("array", "dtype")

    def __init__(self, dtype: str, array: np.ndarray | None) -> None:
        self.dtype = dtype
        self.array = array

    def __setstate__(self, state: object) -> None:  # BUILD on a tensor: not from torch.save
        raise pickle.UnpicklingError("a tensor with pickled state")


class StorageType:
    """A storage type named by the pickle (``torch.FloatStorage``): only its dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: str) -> None:
        self.dtype = dtype

    def __setstate__(self, state: object) -> None:
        raise pickle.UnpicklingError("a storage type with pickled state")


class Storage:
    """One storage's raw bytes from the zip, as a flat array of its dtype."""

    __slots__ = ("dtype", "values")

    def __init__(self, dtype: str, values: np.ndarray | None) -> None:
        self.dtype = dtype
        self.values = values

    def __setstate__(self, state: object) -> None:
        raise pickle.UnpicklingError("a storage with pickled state")


class Refused(Exception):
    """A global outside the state_dict allow-list, named as ``module.name``."""


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rebuild_tensor(storage: object, offset: object, size: object, stride: object,
                   *_rest: object) -> TorchTensor:
    """``torch._utils._rebuild_tensor_v2``: a view of ``storage``, checked to lie inside it."""
    if not isinstance(storage, Storage):
        raise pickle.UnpicklingError("a tensor rebuilt from something other than a storage")
    if not (isinstance(size, tuple) and isinstance(stride, tuple) and len(size) == len(stride)
            and len(size) <= MAX_DIMS and all(is_int(v) for v in (offset, *size, *stride))):
        raise pickle.UnpicklingError("a tensor whose shape, strides or offset are not integers")
    assert isinstance(offset, int)
    if storage.values is None:
        return TorchTensor(storage.dtype, None)
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):  # type: ignore[operator]
        raise pickle.UnpicklingError("a tensor with a negative size, stride or offset")
    count = int(np.prod(size, dtype=np.int64)) if size else 1
    if count > MAX_PARAMS:
        raise pickle.UnpicklingError(f"a tensor of {count} values (more than {MAX_PARAMS})")
    n = len(storage.values)
    if count:
        last = offset + sum((s - 1) * st for s, st in zip(size, stride, strict=True))  # type: ignore[operator]
        if last >= n:
            raise pickle.UnpicklingError(f"a tensor that reaches element {last} of a storage "
                                         f"of {n}")
    elif offset > n:
        raise pickle.UnpicklingError(f"a tensor at offset {offset} of a storage of {n}")
    item = storage.values.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage.values[offset:] if count else storage.values[:0], shape=size,
        strides=tuple(s * item for s in stride), writeable=False)  # type: ignore[misc]
    return TorchTensor(storage.dtype, np.array(view, dtype=view.dtype.newbyteorder("=")))


def rebuild_parameter(data: object, *_rest: object) -> object:
    """``torch._utils._rebuild_parameter``: a Parameter is its tensor."""
    if not isinstance(data, TorchTensor):
        raise pickle.UnpicklingError("a parameter of something other than a tensor")
    return data


def allowed(module: str, name: str) -> object:
    """What a state_dict's pickle may name; anything else is refused by name."""
    if (module, name) == ("collections", "OrderedDict"):
        return OrderedDict
    if module == "torch._utils" and name == "_rebuild_tensor_v2":
        return rebuild_tensor
    if module == "torch._utils" and name == "_rebuild_parameter":
        return rebuild_parameter
    if module == "torch" and name in STORAGES:
        return StorageType(STORAGES[name])
    raise Refused(f"{module}.{name}")


class StateDictUnpickler(pickle.Unpickler):
    """The restricted unpickler: globals from ``allowed`` only, storages from the zip."""

    def __init__(self, data: bytes, storage: Callable[[object], Storage]) -> None:
        super().__init__(io.BytesIO(data))
        self.storage = storage
        self.values = 0

    def find_class(self, module: str, name: str) -> Any:
        found = allowed(module, name)
        return self.counted if found is rebuild_tensor else found

    def counted(self, *args: object) -> TorchTensor:
        """Tensors may view one storage many times (stride 0): their values count in all."""
        tensor = rebuild_tensor(*args)
        self.values += 0 if tensor.array is None else tensor.array.size
        if self.values > MAX_PARAMS:
            raise pickle.UnpicklingError(f"tensors of more than {MAX_PARAMS} values in all")
        return tensor

    def persistent_load(self, pid: Any) -> Any:
        return self.storage(pid)


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, name: str) -> bytes:
    """One member's bytes, stored (torch.save never compresses), at most ``limit`` bytes."""
    if info.compress_type != zipfile.ZIP_STORED:
        raise ModelError(f"{name}: member {info.filename[:80]!r} is compressed; torch.save "
                         "stores every member as it is")
    if info.file_size > limit:
        raise ModelError(f"{name}: member {info.filename[:80]!r} holds {info.file_size} bytes, "
                         f"more than the {limit} a state_dict needs")
    try:
        with archive.open(info) as f:
            return f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise ModelError(f"{name}: member {info.filename[:80]!r} cannot be read ({exc})") \
            from None


def load_torch_file(data: bytes, name: str, notes: list[str] | None = None) -> dict[str, Any]:
    """The tensors of a ``torch.save`` zip file, by key, as float arrays (a checkpoint dict is
    looked into, ``notes`` says how); a clear ModelError for anything else."""
    if not data.startswith(b"PK"):
        raise ModelError(f"{name}: not a PyTorch zip file (torch.save since PyTorch 1.6 "
                         "writes a zip; re-save an older file with a recent torch.save)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = {i.filename: i for i in archive.infolist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise ModelError(f"{name}: not a readable PyTorch zip file ({exc})") from None
    pickles = [n for n in infos if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise ModelError(f"{name}: not a PyTorch file (a torch.save zip holds one "
                         "<archive>/data.pkl; this one holds "
                         f"{len(pickles) or 'none'})")
    root = pickles[0].split("/")[0]
    big = read_member(archive, infos[f"{root}/byteorder"], 8, name).strip() == b"big" \
        if f"{root}/byteorder" in infos else False
    storages: dict[str, Storage] = {}
    total = [0]

    def storage(pid: object) -> Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType) and isinstance(pid[2], str)
                and is_int(pid[4]) and pid[4] >= 0):
            raise pickle.UnpicklingError(f"a persistent id that is not a storage: "
                                         f"{str(pid)[:60]}")
        kind, key, numel = pid[1], pid[2], pid[4]
        if key in storages:
            return storages[key]
        info = infos.get(f"{root}/data/{key}")
        if info is None:
            raise pickle.UnpicklingError(f"storage {key[:40]!r} is not in the file")
        if kind.dtype not in READABLE:  # named in the refusal, never read
            storages[key] = Storage(kind.dtype, None)
            return storages[key]
        dtype = np.dtype(kind.dtype).newbyteorder(">" if big else "<")
        total[0] += numel
        if total[0] > MAX_PARAMS:
            raise pickle.UnpicklingError(f"storages of more than {MAX_PARAMS} values in all")
        need = numel * dtype.itemsize
        if info.file_size != need:
            raise pickle.UnpicklingError(f"storage {key[:40]!r} holds {info.file_size} bytes; "
                                         f"{numel} {kind.dtype} values need {need}")
        raw = read_member(archive, info, need, name)
        if len(raw) != need:
            raise pickle.UnpicklingError(f"storage {key[:40]!r} holds {len(raw)} bytes; "
                                         f"{numel} {kind.dtype} values need {need}")
        storages[key] = Storage(kind.dtype, np.frombuffer(raw, dtype))
        return storages[key]

    pkl = read_member(archive, infos[pickles[0]], MAX_PICKLE, name)
    try:
        obj = StateDictUnpickler(pkl, storage).load()
    except Refused as exc:
        raise ModelError(f"{name}: refused: it needs to unpickle {exc}, and digitlens reads "
                         "only tensors and plain containers (as torch.load(weights_only=True)"
                         "); save model.state_dict() instead") from None
    except ModelError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of a damaged pickle is a refusal
        first = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else ""
        raise ModelError(f"{name}: not a readable PyTorch state_dict ({type(exc).__name__}: "
                         f"{first})") from None
    return tensors_of(obj, name, notes)


def tensors_of(obj: object, name: str, notes: list[str] | None = None) -> dict[str, np.ndarray]:
    """The state_dict inside ``obj`` (``checkpoint.state_dict_of``) as float arrays, or one
    line saying what it is; ``notes`` gets what was chosen."""
    found = state_dict_of(obj, name, lambda v: isinstance(v, TorchTensor),
                          [] if notes is None else notes)
    out: dict[str, np.ndarray] = {}
    for key, value in found.items():
        if value.array is None:
            raise ModelError(f"{name}: tensor {key[:80]!r} holds torch.{value.dtype}; "
                             f"digitlens reads {', '.join(READABLE)} (save float32, e.g. "
                             "model.float())")
        out[key] = value.array
    return out
