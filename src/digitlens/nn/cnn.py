"""A small convolutional network (LeNet-5 and its kin): convolutions and pooling, then the
dense layers the MLP has, in one flat parameter vector the optimisers of ``digitlens.nn.optim``
update as they update an MLP's.

The layers are a list of records: ``Conv`` (kernels, stride, padding, nonlinearity), ``Pool``
(max or average over k×k tiles) and ``Dense``; the first ``Dense`` reads the feature maps
flattened in PyTorch's order (channel, row, column). Every shape is worked out when the network
is made, so a layer that cannot follow the one before is refused there, in one line naming it.
``forward`` and ``backward`` are the textbook passes (``digitlens.nn.conv`` holds the
convolution and pooling arithmetic); the output layer's delta and the cost are the MLP's
(``digitlens.nn.functions``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitlens.errors import ModelError, bad_param
from digitlens.nn import conv as C
from digitlens.nn import functions as F
from digitlens.nn.kernels import activate_step, kernel

Array = np.ndarray
Shape = tuple[int, ...]


@dataclass(frozen=True)
class Conv:
    """``out`` kernels of k×k over every input channel, then the nonlinearity."""

    out: int
    k: int
    stride: int = 1
    pad: int = 0
    activation: str = "relu"

    def describe(self) -> str:
        extra = (f", stride {self.stride}" if self.stride != 1 else "") + \
            (f", pad {self.pad}" if self.pad else "")
        return f"conv {self.out}@{self.k}×{self.k}{extra}, {self.activation}"


@dataclass(frozen=True)
class Pool:
    """The max (``kind`` "max") or mean ("avg") of each k×k tile, tiles not overlapping."""

    k: int
    kind: str = "max"

    def describe(self) -> str:
        return f"{self.kind}-pool {self.k}×{self.k}"


@dataclass(frozen=True)
class Dense:
    """``out`` neurons, each reading every value of the layer below."""

    out: int
    activation: str = "relu"

    def describe(self) -> str:
        return f"dense {self.out}, {self.activation}"


Layer = Conv | Pool | Dense

LENET5_FEATURES: tuple[Layer, ...] = (Conv(6, 5, pad=2), Pool(2), Conv(16, 5), Pool(2))


def short_label(layers: Sequence[Layer]) -> str:
    """'conv 6-16 · 120-84-10': the convolutions' kernels, then the dense layers (the run
    lists' and pictures' name for a convolutional network)."""
    convs = [str(layer.out) for layer in layers if isinstance(layer, Conv)]
    dense = [str(layer.out) for layer in layers if isinstance(layer, Dense)]
    return f"conv {'-'.join(convs)} · {'-'.join(dense)}"


def kernel_images(kernels: Array) -> Array:
    """Kernels (o, c, k, k) as o pictures (k, c·k), a kernel's channels side by side."""
    return kernels.transpose(0, 2, 1, 3).reshape(len(kernels), kernels.shape[2], -1)
LENET5: tuple[Layer, ...] = (*LENET5_FEATURES, Dense(120), Dense(84), Dense(10, "softmax"))


def _positive(value: object) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool) and bool(value >= 1)


def shapes_of(input_shape: Shape, layers: Sequence[Layer]) -> list[Shape]:
    """Each layer's output shape ((c, h, w) for maps, (n,) for dense), the input's first; a
    layer that cannot follow its input is refused naming it (layers counted from 0)."""
    shapes: list[Shape] = [tuple(int(s) for s in input_shape)]
    if len(shapes[0]) != 3 or not all(_positive(s) for s in shapes[0]):
        raise bad_param("input shape", "(channels, height, width), each >= 1", input_shape)
    if not layers or not isinstance(layers[-1], Dense):
        raise bad_param("layers", "a list ending in a dense output layer", list(layers))
    for i, layer in enumerate(layers):
        here = shapes[-1]

        def refuse(why: str) -> ModelError:
            return ModelError(f"layer {i} ({layer.describe()}): {why}")  # noqa: B023

        if isinstance(layer, Dense):
            if not _positive(layer.out):
                raise refuse("it needs at least one neuron")
            kinds = F.OUTPUTS if i == len(layers) - 1 else F.HIDDEN
            if layer.activation not in kinds:
                raise refuse(f"the activation must be one of {', '.join(kinds)}")
            shapes.append((layer.out,))
            continue
        if len(here) != 3:
            raise refuse("it needs feature maps to read, and follows a dense layer")
        c, h, w = here
        if isinstance(layer, Conv):
            if not (_positive(layer.out) and _positive(layer.k) and _positive(layer.stride)
                    and isinstance(layer.pad, int) and layer.pad >= 0):
                raise refuse("kernels, their size and the stride must be >= 1, padding >= 0")
            if layer.activation not in F.HIDDEN:
                raise refuse(f"the activation must be one of {', '.join(F.HIDDEN)}")
            ho, wo = (C.out_size(s, layer.k, layer.stride, layer.pad) for s in (h, w))
            if ho < 1 or wo < 1:
                raise refuse(f"its {layer.k}×{layer.k} kernel is larger than its {h}×{w} "
                             f"input (padding {layer.pad})")
            shapes.append((layer.out, ho, wo))
        else:
            if layer.kind not in ("max", "avg") or not _positive(layer.k):
                raise refuse("a pool is max or avg, with tiles of k >= 1")
            if layer.k > min(h, w):
                raise refuse(f"its {layer.k}×{layer.k} tile is larger than its {h}×{w} input")
            shapes.append((c, h // layer.k, w // layer.k))
    return shapes


def param_shapes(input_shape: Shape, layers: Sequence[Layer]) -> list[tuple[Shape, Shape]]:
    """(weights, bias) shapes of each layer with parameters, in order."""
    shapes = shapes_of(input_shape, layers)
    out: list[tuple[Shape, Shape]] = []
    for layer, before in zip(layers, shapes, strict=False):
        if isinstance(layer, Conv):
            out.append(((layer.out, before[0], layer.k, layer.k), (layer.out,)))
        elif isinstance(layer, Dense):
            out.append(((int(np.prod(before)), layer.out), (layer.out,)))
    return out


@dataclass
class CNN:
    """A convolutional network over ``input_shape`` (channels, height, width) images."""

    input_shape: Shape
    layers: tuple[Layer, ...]
    cost: str = "cross_entropy"
    params: Array = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)
        self.shapes = shapes_of(self.input_shape, self.layers)
        self.input_shape = self.shapes[0]
        if self.cost not in F.COSTS:
            raise bad_param("cost", f"one of {', '.join(F.COSTS)}", self.cost)
        pshapes = param_shapes(self.input_shape, self.layers)
        sizes = [int(np.prod(w)) for w, _ in pshapes] + [int(np.prod(b)) for _, b in pshapes]
        total = sum(sizes)
        if self.params.size == 0:
            self.params = np.zeros(total, np.float32)
        if self.params.shape != (total,) or self.params.dtype != np.float32:
            raise bad_param("params", f"a float32 vector of {total} values",
                            f"{self.params.dtype} {self.params.shape}")
        ends = np.cumsum([0, *sizes])
        n = len(pshapes)
        self.n_weights = int(ends[n])
        self.weights = [self.params[ends[i]:ends[i + 1]].reshape(w)
                        for i, (w, _) in enumerate(pshapes)]
        self.biases = [self.params[ends[n + i]:ends[n + i + 1]] for i in range(n)]

    @classmethod
    def create(cls, input_shape: Shape, layers: Sequence[Layer], seed: int = 0,
               meta: dict[str, Any] | None = None) -> CNN:
        """He-initialised (N(0, 2/fan_in)), biases 0."""
        model = cls(tuple(input_shape), tuple(layers), meta=dict(meta or {}))
        rng = np.random.default_rng(seed)
        for w in model.weights:
            fan_in = int(np.prod(w.shape[1:])) if w.ndim == 4 else w.shape[0]
            w[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=w.shape)
        return model

    @property
    def n_classes(self) -> int:
        return self.shapes[-1][0]

    @property
    def image_shape(self) -> tuple[int, int]:
        """(height, width) of one input image, its channels dropped."""
        return int(self.input_shape[1]), int(self.input_shape[2])

    @property
    def output_activation(self) -> str:
        return self.layers[-1].activation  # type: ignore[union-attr]

    @property
    def class_names(self) -> tuple[str, ...]:
        """One name per output: ``meta["class_names"]``, else "0", "1", …"""
        names = self.meta.get("class_names")
        return tuple(str(n) for n in names) if names else tuple(map(str, range(self.n_classes)))

    def as_input(self, x: Array, dtype: type[np.floating] = np.float32) -> Array:
        """(n, c, h, w) ``dtype`` from any array of c·h·w values per image (uint8 read as
        0..255)."""
        x = np.asarray(x)
        if x.dtype == np.uint8:
            x = x.astype(np.float32) / 255.0
        per = int(np.prod(self.input_shape))
        if x.ndim == 0 or x.size % per:
            raise bad_param("x", f"an array of {per} values per image", x.shape)
        return np.ascontiguousarray(x.reshape(-1, *self.input_shape), dtype)

    def describe(self) -> str:
        c, h, w = self.input_shape
        return f"{c}×{h}×{w} → " + " → ".join(layer.describe() for layer in self.layers)


@dataclass
class Pass:
    """What ``forward`` computed: ``outputs[0]`` is the input, ``outputs[i + 1]`` layer i's
    output after its nonlinearity (feature maps as (n, h, w, c), ``digitlens.nn.conv``'s
    layout); ``saved[i]`` what its backward pass needs (a convolution's patches, a max-pool's
    winners); ``scores`` the output layer's z, before its nonlinearity (the class scores that
    attributions explain)."""

    outputs: list[Array]
    saved: list[Array | None]
    scores: Array | None = None

    @property
    def output(self) -> Array:
        return self.outputs[-1]


def channels_last(x: Array) -> Array:
    """(n, c, h, w) -> (n, h, w, c)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def flatten(a: Array) -> Array:
    """Maps (n, h, w, c) as rows in PyTorch's order (channel, row, column); rows pass as they
    are."""
    return a.transpose(0, 3, 1, 2).reshape(len(a), -1) if a.ndim == 4 else a


@dataclass(frozen=True)
class Moves:
    """How the passes copy windows, fold gradients back, max-pool, sum the bias's gradient and
    add a bias under the nonlinearity: NumPy's forms (``digitlens.nn.conv``, the textbook) or
    the compiled loops of ``conv_kernels`` and ``kernels``, which give the same bits."""

    patches: Any
    fold: Any
    max_pool: Any
    max_pool_backward: Any
    row_sums: Any = None      # None: NumPy's axis-0 sum
    activate: Any = None      # ``kernels.activate_step``; None: z + bias, then f(z) as a new array


TEXTBOOK = Moves(C.patches, C.fold, C.max_pool, C.max_pool_backward)


def _fold(cols: Array, shape: tuple[int, int, int, int], k: int, stride: int, pad: int) -> Array:
    out = np.empty(shape, cols.dtype)
    kernel("fold")(cols, k, stride, pad, out)
    return out


def _max_pool(x: Array, k: int) -> tuple[Array, Array]:
    n, h, w, c = x.shape
    best = np.empty((n, h // k, w // k, c), x.dtype)
    where = np.empty(best.shape, np.uint8)
    kernel("max_pool")(x, k, best, where)
    return best, where


def _max_pool_backward(delta: Array, where: Array, shape: tuple[int, int, int, int],
                       k: int) -> Array:
    out = np.empty(shape, delta.dtype)
    kernel("max_pool_back")(delta, where, k, out)
    return out


def _row_sums(d: Array) -> Array:
    if d.shape[1] < 2:          # NumPy sums a 1-wide column pairwise: keep its form
        return d.sum(axis=0)
    out = np.empty(d.shape[1], d.dtype)
    kernel("row_sums")(d, out)
    return out


FAST = Moves(C.patches, _fold, _max_pool, _max_pool_backward,  # NumPy copies windows faster
             _row_sums, activate_step)


def moves_for(dtype: type[np.floating]) -> Moves:
    """The compiled loops for float32 training, NumPy's forms for a float64 check."""
    return FAST if dtype == np.float32 else TEXTBOOK


def knockout_channels(model: CNN, knockout: Mapping[int, Sequence[int]] | None
                      ) -> dict[int, list[int]]:
    """``{layer: [channels]}`` checked: map layers only (convolutions and poolings, counted in
    ``model.layers``), channels that exist; empty lists dropped."""
    out: dict[int, list[int]] = {}
    for layer, channels in (knockout or {}).items():
        if not (isinstance(layer, int) and not isinstance(layer, bool)
                and 0 <= layer < len(model.layers)
                and not isinstance(model.layers[layer], Dense)):
            raise bad_param("knockout", "layers of feature maps (convolutions, poolings)", layer)
        c = model.shapes[layer + 1][0]
        if not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k < c
                   for k in channels):
            raise bad_param("knockout", f"channels of layer {layer} in 0..{c - 1}",
                            list(channels)[:8])
        if channels:
            out[layer] = sorted(set(channels))
    return out


def forward(model: CNN, x: Array, dtype: type[np.floating] = np.float32,
            moves: Moves | None = None,
            knockout: Mapping[int, Sequence[int]] | None = None) -> Pass:
    """Run ``x`` (n, c, h, w) through every layer; float64 for checking. ``knockout``: whole
    channels switched off ({layer: [channels]}, ``knockout_channels``): their maps are 0 after
    the layer's nonlinearity, as the page's engine does."""
    mv = moves or moves_for(dtype)
    off = knockout_channels(model, knockout)
    a = channels_last(np.asarray(x, dtype))
    outputs, saved = [a], []
    z: Array | None = None
    p = 0  # the next layer with parameters
    for i, layer in enumerate(model.layers):
        keep: Array | None = None
        if isinstance(layer, Conv):
            w, b = (np.asarray(t, dtype) for t in (model.weights[p], model.biases[p]))
            z, keep = C.conv_forward(a, w, None if mv.activate else b, layer.stride, layer.pad,
                                     mv.patches)
            if mv.activate:  # z = f(z + b) in place: the nonlinearity's fused loop if it has one
                mv.activate(layer.activation)(z.reshape(-1, len(b)), b)
                a = z
            else:
                a = F.NONLINEARITIES[layer.activation].function(z)
            p += 1
        elif isinstance(layer, Pool):
            if layer.kind == "max":
                a, keep = mv.max_pool(a, layer.k)
            else:
                a = C.avg_pool(a, layer.k)
        else:
            w, b = (np.asarray(t, dtype) for t in (model.weights[p], model.biases[p]))
            z = flatten(a) @ w + b                  # (n, n_in) @ (n_in, n_out)
            a, p = F.NONLINEARITIES[layer.activation].function(z), p + 1
        if i in off:
            a = a.copy()
            a[..., off[i]] = 0
        outputs.append(a)
        saved.append(keep)
    return Pass(outputs, saved, z)


def _times_derivative(delta: Array, activation: str, a: Array) -> None:
    """delta *= f'(z), written from the outputs a = f(z), in place. Below a max-pool it runs on
    the pooled maps before the gradient goes back to the winners: a winner's output is the
    pooled value, and every other pixel's gradient is 0 either way, so the bits are the same."""
    F.NONLINEARITIES[activation].derivative_(delta, a, np.empty_like(a))  # type: ignore[misc]


def backward(model: CNN, p: Pass, delta: Array, moves: Moves | None = None) -> Array:
    """The cost's gradient for every parameter, one flat vector laid out like ``model.params``,
    from ``delta`` = dCost/dz of the output layer (``functions.output_delta``)."""
    return _backward(model, p, delta, moves, False)[0]


def input_gradient(model: CNN, x: Array, coef: Array, dtype: type[np.floating] = np.float32
                   ) -> tuple[Array, Pass]:
    """d(Σ_j coef_j · z_j)/dx for every image of ``x``, z the class scores (before the output
    nonlinearity): (n, c·h·w) in the input's order, and the forward pass it read. ``coef``:
    (classes,) for every image alike, or (n, classes)."""
    p = forward(model, model.as_input(x, dtype), dtype)
    delta = np.array(np.broadcast_to(np.asarray(coef, dtype), p.output.shape))
    dx = _backward(model, p, delta, None, True)[1]
    return dx.transpose(0, 3, 1, 2).reshape(len(dx), -1), p


def _backward(model: CNN, p: Pass, delta: Array, moves: Moves | None,
              to_input: bool) -> tuple[Array, Array]:
    """``backward``'s walk; with ``to_input`` it carries the delta on to the input too, and
    hands back dCost/dx (n, h, w, c) beside the parameters' gradient."""
    dtype = delta.dtype
    mv = moves or moves_for(dtype.type)
    grads_w: list[Array] = []
    grads_b: list[Array] = []
    k = len(model.weights)
    for i in range(len(model.layers) - 1, -1, -1):
        layer, a_in = model.layers[i], p.outputs[i]
        below_layer = model.layers[i - 1] if i > 0 else None
        activated = isinstance(below_layer, Conv | Dense)
        if isinstance(layer, Pool):
            if layer.kind == "max":
                if activated:  # the winners' derivative, on the pooled maps (a quarter the work)
                    _times_derivative(delta, below_layer.activation,  # type: ignore[union-attr]
                                      p.outputs[i + 1])
                    activated = False
                delta = mv.max_pool_backward(delta, p.saved[i], a_in.shape, layer.k)
            else:
                delta = C.avg_pool_backward(delta, a_in.shape, layer.k)  # type: ignore[arg-type]
        else:
            k -= 1
            w = np.asarray(model.weights[k], dtype)
            if isinstance(layer, Conv):
                dw, db, below = C.conv_backward(delta, p.saved[i], w,  # type: ignore[arg-type]
                                                a_in.shape, layer.stride,  # type: ignore[arg-type]
                                                layer.pad, need_input=i > 0 or to_input,
                                                folding=mv.fold, summing=mv.row_sums)
            else:
                dw, db = flatten(a_in).T @ delta, delta.sum(axis=0)
                below = None
                if i > 0 or to_input:
                    below = delta @ w.T                     # (n, n_in), PyTorch's order
                    if a_in.ndim == 4:
                        n, h, wd, c = a_in.shape
                        below = channels_last(below.reshape(n, c, h, wd))
            grads_w.append(dw)
            grads_b.append(db)
            delta = below  # type: ignore[assignment]
        if activated:  # dCost/da -> dCost/dz of the layer below
            _times_derivative(delta, below_layer.activation, a_in)  # type: ignore[union-attr]
    grads = [g.ravel() for g in grads_w[::-1]] + [g.ravel() for g in grads_b[::-1]]
    return np.concatenate(grads).astype(dtype, copy=False), delta


def loss_and_gradient(model: CNN, x: Array, y: Array, dtype: type[np.floating] = np.float32,
                      moves: Moves | None = None) -> tuple[float, Array]:
    """Mean cost over the batch and its gradient (the output layer's nonlinearity as the
    MLP's: softmax with cross-entropy)."""
    p = forward(model, model.as_input(x, dtype), dtype, moves)
    out = model.layers[-1].activation  # type: ignore[union-attr]
    y = np.asarray(y)
    delta = F.output_delta(model.cost, out, p.output, y, np.empty_like(p.output),
                           np.empty_like(p.output))
    return F.cost(model.cost, out, p.output, y), backward(model, p, delta, moves)


def predict_proba(model: CNN, x: Array, chunk: int = 1024,
                  knockout: Mapping[int, Sequence[int]] | None = None) -> Array:
    x = model.as_input(x)
    parts = [forward(model, x[i:i + chunk], knockout=knockout).output
             for i in range(0, len(x), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, model.n_classes), np.float32)
