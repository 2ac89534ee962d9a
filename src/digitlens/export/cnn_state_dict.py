"""A PyTorch ``state_dict`` of a LeNet-style network, whose architecture the file cannot say:
given on the command line (``digitlens import lenet.pt --arch lenet5``).

``lenet5``: the file's layers, in name order (``conv1, conv2, fc1, fc2, fc3`` or a Sequential's
``0, 3, 7, 9, 11``), are two convolutions with kernels (6, 1, 5, 5) and (16, 6, 5, 5), read as
``nn.cnn.LENET5_FEATURES`` (padding 2 on the first, ReLU and 2×2 max-pooling after each), then
any chain of Linear layers on the 16×5×5 maps flattened PyTorch's way. Read without PyTorch as
``state_dict`` reads an MLP's (no unpickling), and checked as a model file is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from digitlens.errors import DigitlensError, ModelError, bad_param
from digitlens.export import STATE_DICT_SUFFIXES
from digitlens.export.onnx_cnn_import import check_shapes
from digitlens.export.state_dict import DTYPES, KEY, order_key, read_tensors
from digitlens.nn.cnn import CNN, LENET5_FEATURES, Conv, Dense
from digitlens.nn.io import load_network_bytes, network_bytes
from digitlens.safeload import finite_as

ARCHITECTURES = ("lenet5",)


def import_cnn_state_dict(path: str | Path, arch: str, activation: str | None = None,
                          class_names: list[str] | None = None,
                          input_shape: tuple[int, int] | None = None) -> CNN:
    """The network ``arch`` names with the weights of the state_dict at ``path``."""
    name = str(path)
    if arch not in ARCHITECTURES:
        raise bad_param("arch", f"one of {', '.join(ARCHITECTURES)}", arch)
    if Path(path).suffix.lower() not in STATE_DICT_SUFFIXES:
        raise ModelError(f"{name}: --arch reads a state_dict (.pt, .pth, .safetensors)")
    tensors, found = read_tensors(path)
    parts: dict[str, dict[str, np.ndarray]] = {}
    for key, array in tensors.items():
        m = KEY.match(key)
        if m is None or np.asarray(array).dtype.name not in DTYPES:
            raise ModelError(f"{name}: tensor {key[:80]!r} is not a layer's float weight or "
                             "bias")
        parts.setdefault(m["layer"], {})[m["part"]] = np.asarray(array)
    names = sorted(parts, key=order_key)
    if len(names) < 3 or any("weight" not in parts[n] for n in names):
        raise ModelError(f"{name}: {arch} needs two convolutions and at least one Linear "
                         f"layer, each with a weight (found {', '.join(names) or 'none'})")
    act = activation or "relu"
    layers: list[Conv | Dense] = []
    weights, biases = [], []
    for i, layer in enumerate(names):
        w = finite_as(parts[layer]["weight"], np.float32, f"{layer}.weight", name, ModelError)
        n_out = int(w.shape[0])
        b = parts[layer].get("bias", np.zeros(n_out, np.float32))
        if b.shape != (n_out,):
            raise ModelError(f"{name}: {layer}.bias has shape {list(b.shape)}, expected "
                             f"[{n_out}]")
        if i < 2:
            want = LENET5_FEATURES[2 * i]
            assert isinstance(want, Conv)
            if w.ndim != 4 or w.shape[0] != want.out or w.shape[2:] != (want.k, want.k):
                raise ModelError(f"{name}: {layer}.weight has shape {list(w.shape)}; {arch}'s "
                                 f"convolution {i + 1} has kernels [{want.out}, in, {want.k}, "
                                 f"{want.k}]")
            weights.append(w)
        else:
            if w.ndim != 2:
                raise ModelError(f"{name}: {layer}.weight has shape {list(w.shape)}; a Linear "
                                 "layer's weight is (out, in)")
            layers.append(Dense(n_out, act if i < len(names) - 1 else "softmax"))
            weights.append(np.ascontiguousarray(w.T))
        biases.append(finite_as(b, np.float32, f"{layer}.bias", name, ModelError))
    h, w_ = input_shape or (28, 28)
    channels = int(weights[0].shape[1])
    meta: dict[str, Any] = {"imported_from": {"format": "pytorch", "arch": arch,
                                                 "layers": names, "notes": found}}
    if class_names is not None:
        meta["class_names"] = class_names
    convs = tuple(Conv(c.out, c.k, c.stride, c.pad, act) if isinstance(c, Conv) else c
                  for c in LENET5_FEATURES)
    try:
        check_shapes(name, (channels, h, w_), [*convs, *layers],
                     list(zip(weights, biases, strict=True)), names)
    except ModelError as exc:
        raise ModelError(f"{name}: the weights do not fit {arch} on {h}×{w_} images "
                         f"({str(exc).removeprefix(name + ': ')})") from None
    try:
        model = CNN((channels, h, w_), (*convs, *layers),
                    params=np.concatenate([a.ravel() for a in weights] + biases),
                    meta=meta)
    except DigitlensError as exc:
        raise ModelError(f"{name}: the weights do not fit {arch} on {h}×{w_} images ({exc})") \
            from None
    return load_network_bytes(network_bytes(model), name)  # type: ignore[return-value]
