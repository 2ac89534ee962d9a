"""Finding the state_dict in the files people save: a bare ``model.state_dict()``, a
checkpoint dict in the PyTorch tutorials' layout (``{'epoch', 'model_state_dict',
'optimizer_state_dict', ...}``), a model wrapped in ``DataParallel`` (``module.`` before every
key). Whatever was chosen is said in a note; what cannot be imported says what to do next.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from digitlens.errors import ModelError

# checkpoint entries that name the model's weights, most telling first
PREFERRED = ("model_state_dict", "state_dict", "model", "net", "network", "weights")
BATCHNORM = (".running_mean", ".running_var", ".num_batches_tracked")
WRAPPER = "module."


def is_state_dict(value: object, is_tensor: Callable[[object], bool]) -> bool:
    return (isinstance(value, Mapping) and bool(value)
            and all(isinstance(k, str) and is_tensor(v) for k, v in value.items()))


def state_dict_of(obj: object, name: str, is_tensor: Callable[[object], bool],
                  notes: list[str]) -> dict[str, Any]:
    """The mapping of names to tensors inside ``obj``, unwrapped and checked; ``notes`` gets a
    line for each choice made."""
    if not isinstance(obj, Mapping):
        raise ModelError(f"{name}: holds a {type(obj).__name__}, not a state_dict (a mapping "
                         "of names to tensors; save model.state_dict())")
    if not is_state_dict(obj, is_tensor):
        inner = [k for k, v in obj.items() if is_state_dict(v, is_tensor)]
        if not inner:
            key, value = next(((k, v) for k, v in obj.items() if not is_tensor(v)),
                              (None, None))
            hint = ("" if any(isinstance(v, Mapping) for v in obj.values()) or len(obj) < 2
                    else "; a checkpoint dict should hold model.state_dict() under a key "
                    "such as 'model_state_dict'")
            raise ModelError(f"{name}: entry {str(key)[:80]!r} is a {type(value).__name__}, "
                             f"not a tensor{hint}")
        chosen = next((k for k in PREFERRED if k in inner), inner[0] if len(inner) == 1
                      else None)
        if chosen is None:
            raise ModelError(f"{name}: a checkpoint with several state_dicts "
                             f"({', '.join(repr(k)[:40] for k in inner[:6])}); save the "
                             "model's alone (torch.save(model.state_dict(), path))")
        others = [str(k)[:40] for k in obj if k != chosen]
        notes.append(f"read the checkpoint's {chosen!r} entry"
                     + (f" (also in it: {', '.join(others[:6])})" if others else ""))
        obj = obj[chosen]
    assert isinstance(obj, Mapping)
    tensors = {str(k): v for k, v in obj.items()}
    norm = sorted({k.rsplit(".", 1)[0] for k in tensors if k.endswith(BATCHNORM)})
    if norm:
        raise ModelError(f"{name}: layer {norm[0]!r} is a BatchNorm layer; digitlens imports "
                         "Linear layers only: export the model in eval mode with "
                         "torch.onnx.export(model.eval(), x, 'm.onnx', dynamo=True), which folds "
                         "BatchNorm into the Linear layers, and import the .onnx")
    if all(k.startswith(WRAPPER) for k in tensors):
        tensors = {k[len(WRAPPER):]: v for k, v in tensors.items()}
        notes.append("removed the 'module.' prefix DataParallel puts before every key")
    return tensors
