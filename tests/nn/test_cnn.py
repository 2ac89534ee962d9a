"""The convolutional network: its gradient against finite differences and PyTorch's autograd
(float64), the compiled loops' training step bit-equal to the textbook's, and nets whose
layers do not chain refused in one line naming the layer."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.errors import DigitlensError
from digitlens.nn import cnn as K
from digitlens.nn.cnn import CNN, LENET5, Conv, Dense, Pool
from digitlens.nn.functions import EPS
from support import torch_lenet, torch_or_skip

SMALL = (Conv(3, 3, stride=2, pad=1), Pool(2, "avg"), Conv(4, 2, activation="tanh"),
         Dense(5, "sigmoid"), Dense(3, "softmax"))


def float64_twin(model: CNN, params: np.ndarray) -> CNN:
    """``model`` reading float64 ``params`` (a finite difference needs steps finer than
    float32 holds)."""
    twin = CNN(model.input_shape, model.layers)
    n = len(twin.weights)
    ends = np.cumsum([0] + [w.size for w in twin.weights] + [b.size for b in twin.biases])
    twin.weights = [params[ends[i]:ends[i + 1]].reshape(twin.weights[i].shape) for i in range(n)]
    twin.biases = [params[ends[n + i]:ends[n + i + 1]] for i in range(n)]
    return twin


@pytest.mark.parametrize(("shape", "layers"), [((2, 9, 9), SMALL), ((1, 28, 28), LENET5)])
def test_gradient_matches_finite_differences(shape: tuple[int, int, int],
                                             layers: tuple[K.Layer, ...]) -> None:
    model = CNN.create(shape, layers, seed=3)
    model.params += np.random.default_rng(4).normal(0, 0.05, model.params.size).astype(np.float32)
    rng = np.random.default_rng(5)
    x, y = rng.random((3, *shape)), rng.integers(0, model.n_classes, 3)
    p64 = model.params.astype(np.float64)
    _, grad = K.loss_and_gradient(float64_twin(model, p64), x, y, np.float64)
    picks = rng.choice(p64.size, 40, replace=False)
    h = 1e-6
    for i in picks:
        up, down = p64.copy(), p64.copy()
        up[i] += h
        down[i] -= h
        fd = (K.loss_and_gradient(float64_twin(model, up), x, y, np.float64)[0]
              - K.loss_and_gradient(float64_twin(model, down), x, y, np.float64)[0]) / (2 * h)
        # central differences: O(h²) truncation plus ~1e-16/h rounding; a max-pool whose
        # winner changes within ±h would break this, which these inputs do not reach
        assert abs(fd - grad[i]) <= 1e-6 * max(1.0, abs(fd)), (i, fd, grad[i])


def test_lenet5_gradient_matches_pytorch() -> None:
    torch = torch_or_skip()
    model = CNN.create((1, 28, 28), LENET5, seed=0)
    rng = np.random.default_rng(6)
    model.params += rng.normal(0, 0.01, model.params.size).astype(np.float32)
    x, y = rng.random((5, 1, 28, 28)), rng.integers(0, 10, 5)
    nn = torch.nn
    net = torch_lenet(torch, model)
    convs = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)]
    logits = net(torch.tensor(x))
    loss = nn.functional.cross_entropy(logits, torch.tensor(y))
    loss.backward()
    ours_loss, grad = K.loss_and_gradient(model, x, y, np.float64)
    # our cost is the mean of −log(p_y + ε), ε = 1e-12: at most ε / min p_y from −log p_y
    p_y = torch.softmax(logits, 1).detach().numpy()[np.arange(5), y]
    assert abs(ours_loss - loss.item()) <= EPS / p_y.min() + 1e-14
    theirs = [m.weight.grad.numpy() for m in convs]
    theirs = [g if g.ndim == 4 else g.T for g in theirs] + [m.bias.grad.numpy() for m in convs]
    # float64 both sides, sums in different orders: agreement to ~1e-12 of the largest entry
    np.testing.assert_allclose(grad, np.concatenate([g.ravel() for g in theirs]),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("shape", "layers"), [
    ((1, 28, 28), LENET5),
    ((2, 12, 12), (Conv(4, 3, stride=2, pad=1, activation="tanh"), Pool(2, "avg"),
                   Conv(1, 3, pad=1), Pool(3), Dense(6, "sigmoid"), Dense(3, "softmax"))),
    ((1, 9, 9), (Conv(3, 2, activation="sigmoid"), Pool(2), Conv(2, 2), Dense(4, "softmax"))),
])
def test_compiled_step_gives_the_textbook_bits(shape: tuple[int, int, int],
                                               layers: tuple[Conv | Pool | Dense, ...]) -> None:
    """Compiled loops, fused bias + ReLU, one-channel patches stored by column, the derivative
    taken on pooled maps: none of it changes a bit of the loss or the gradient."""
    model = CNN.create(shape, layers, seed=1)
    rng = np.random.default_rng(7)
    n_out = model.n_classes
    x, y = rng.random((16, *shape)).astype(np.float32), rng.integers(0, n_out, 16)
    x[:, :, ::3] = 0  # ties inside pooling tiles
    loss_t, grad_t = K.loss_and_gradient(model, x, y, moves=K.TEXTBOOK)
    loss_f, grad_f = K.loss_and_gradient(model, x, y, moves=K.FAST)
    assert loss_t == loss_f and np.array_equal(grad_t.view(np.uint32), grad_f.view(np.uint32))


@pytest.mark.parametrize(("shape", "layers", "says"), [
    ((1, 4, 4), (Conv(2, 5), Dense(2, "softmax")), "layer 0 (conv 2@5×5, relu)"),
    ((1, 28, 28), (Conv(6, 5), Pool(2), Conv(16, 5), Pool(2), Conv(8, 5), Dense(10, "softmax")),
     "layer 4 (conv 8@5×5, relu): its 5×5 kernel is larger than its 4×4 input"),
    ((1, 28, 28), (Dense(20), Conv(2, 3), Dense(10, "softmax")), "layer 1 (conv 2@3×3"),
    ((1, 3, 3), (Pool(4), Dense(2, "softmax")), "layer 0 (max-pool 4×4)"),
    ((1, 8, 8), (Conv(2, 3, activation="softmax"), Dense(2, "softmax")), "layer 0"),
    ((1, 8, 8), (Conv(2, 3),), "ending in a dense output layer"),
    ((8, 8), (Dense(2, "softmax"),), "input shape"),
])
def test_layers_that_do_not_chain_are_refused_naming_the_layer(
        shape: tuple[int, ...], layers: tuple[K.Layer, ...], says: str) -> None:
    with pytest.raises(DigitlensError) as err:
        CNN(shape, layers)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_lenet5_shapes_and_size() -> None:
    model = CNN((1, 28, 28), LENET5)
    assert model.shapes == [(1, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5),
                            (120,), (84,), (10,)]
    assert model.params.size == 61_706  # LeCun's LeNet-5 with these sizes, as PyTorch counts
