"""ONNX external data: the tensors ``torch.onnx.export(dynamo=True)`` keeps in a ``.data`` file
beside the model, read only from the model's own folder and only the bytes their shape needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import ModelError
from digitlens.export import MAX_PARAMS
from digitlens.safeload import beside, read_range


def external_tensor(tensor: Any, name: str, folder: Path | None) -> Any:
    """A copy of ``tensor`` with its bytes read from the data file it names, after checking
    the location stays in the model's folder and the range holds exactly its shape × dtype."""
    from onnx import TensorProto, helper

    label = f"initializer {tensor.name!r}"
    if folder is None:
        raise ModelError(f"{name}: {label} keeps its data in an external file; give the model "
                         "as a file (with its data file beside it), not as bytes")
    fields = {e.key: e.value for e in tensor.external_data}
    if "location" not in fields:
        raise ModelError(f"{name}: {label} is external but names no location")
    try:
        offset = int(fields.get("offset", "0"))
        length = int(fields["length"]) if "length" in fields else None
    except ValueError:
        raise ModelError(f"{name}: {label} has a non-integer offset or length "
                         f"({fields.get('offset', '')[:20]!r}, {fields.get('length', '')[:20]!r})"
                         ) from None
    try:
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize
    except (KeyError, TypeError, ValueError):
        raise ModelError(f"{name}: {label} has unknown data type {tensor.data_type}") from None
    if tensor.data_type not in (TensorProto.FLOAT16, TensorProto.FLOAT, TensorProto.DOUBLE,
                                TensorProto.INT64, TensorProto.INT32):
        raise ModelError(f"{name}: {label} holds {helper.tensor_dtype_to_string(tensor.data_type)}"
                         " values; external data must be float16/32/64 (or int32/64 shapes)")
    need = element_count(tensor, name) * itemsize
    if length is not None and length != need:
        raise ModelError(f"{name}: {label} says its external data is {length} bytes, but shape "
                         f"{list(tensor.dims)} of "
                         f"{helper.tensor_dtype_to_string(tensor.data_type)} needs {need}")
    if offset < 0:
        raise ModelError(f"{name}: {label} has a negative offset {offset}")
    path = beside(folder, fields["location"], name, ModelError)
    raw = read_range(path, offset, need, ModelError, "external data file")
    copy = TensorProto()
    copy.CopyFrom(tensor)
    del copy.external_data[:]
    copy.data_location = TensorProto.DEFAULT
    copy.raw_data = raw
    return copy


def element_count(tensor: Any, name: str) -> int:
    """How many values an initializer's dims declare, refused before anything is allocated."""
    count = 1
    for d in tensor.dims:
        if d < 0:
            raise ModelError(f"{name}: initializer {tensor.name!r} has a negative dimension")
        count *= d
    if count > MAX_PARAMS:
        raise ModelError(f"{name}: initializer {tensor.name!r} claims {count} values, more than "
                         f"the {MAX_PARAMS} allowed")
    return count
