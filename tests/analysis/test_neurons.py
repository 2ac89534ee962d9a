"""Neuron importance, flags and ablations, each checked against a second way of computing it."""

from __future__ import annotations

import numpy as np
import pytest

from digitlens.analysis import neurons as N
from digitlens.errors import ParameterError
from digitlens.nn.backprop import forward, layer_activations
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig, training_subset
from digitlens.nn.train import train
from support import assert_within, dense_bound, forward_bounds


def masked_accuracy(model: MLP, x: np.ndarray, y: np.ndarray, layer: int, off: list[int]) -> float:
    mask = np.ones(model.sizes[layer + 1], np.float32)
    mask[off] = 0
    return float(np.mean(model.trace(x, masks={layer: mask}).prediction == y))


@pytest.fixture(scope="module")
def converged_model(sample) -> MLP:
    """A net trained to the end of a cosine schedule (Adam, lr 1e-3 down to 1e-5), as the
    default preset is: its last steps were 100x smaller than its first."""
    config = TrainConfig(layers=(784, 64, 32, 10), epochs=15, batch_size=32, seed=1,
                         schedule="cosine", dataset="mnist-sample", preset="test-cosine")
    return train(config, sample).mlp


@pytest.fixture(scope="module")
def data(sample):
    return sample.test_images[:600], sample.test_labels[:600].astype(np.int64)


@pytest.mark.parametrize("layer", [0, 1])
def test_zero_ablation_matches_trace_masks(trained_model, data, layer) -> None:
    x, y = data
    h = layer_activations(trained_model, trained_model.as_input(x))[layer]
    zeros = np.zeros(h.shape[1], np.float32)
    single = N.single_ablation(trained_model, h, y, layer, zeros)
    for j in range(h.shape[1]):
        assert abs(single[j] - masked_accuracy(trained_model, x, y, layer, [j])) <= 1 / len(y)
    for off in ([0, 3, 5], list(range(h.shape[1] // 2))):
        fast = N.accuracy_off(trained_model, h, y, layer, off, zeros)
        assert abs(fast - masked_accuracy(trained_model, x, y, layer, off)) <= 1 / len(y)


def test_pruning_with_folded_mean_equals_freezing(trained_model, data) -> None:
    x, y = data
    layer = 0
    h = layer_activations(trained_model, trained_model.as_input(x))[layer]
    mean = h.mean(axis=0)
    off = [1, 4, 7, 8]
    small = N.prune(trained_model, layer, off, fold=mean)
    assert small.sizes == (784, 28, 16, 10)
    frozen = h.copy()
    frozen[:, off] = mean[off]
    expected = forward(trained_model, frozen, start=layer + 1).output
    # two float32 passes of the same sums in other groupings (the folded mean's 4 terms sit in
    # the bias): layer 0's 785-term sums, then the forward bound from layer 1 on, the frozen
    # neurons exact constants
    err = dense_bound(trained_model.as_input(x), trained_model.weights[0],
                      trained_model.biases[0])
    err[:, off] = 0
    bound = forward_bounds(trained_model, frozen, start=layer + 1, x_error=err)[1][-1]
    assert_within(small.trace(x).output, expected, bound, "pruned with the mean folded in")
    assert abs(float(np.mean(small.predict(x) == y))
               - N.accuracy_off(trained_model, h, y, layer, off, mean)) <= 1 / len(y)


def test_importance_flags_and_duplicates(trained_model, data) -> None:
    x, y = data
    m = trained_model.copy()
    m.weights[1][:, 2] = 0.0        # hidden-2 neuron 2 hears nothing: constant output
    m.biases[1][2] = 0.5
    m.weights[1][:, 9] = m.weights[1][:, 4]  # neuron 9 copies neuron 4
    m.biases[1][9] = m.biases[1][4]
    rep = N.analyse_neurons(m, x, y, layer=1)
    h = m.trace(x).activations[2].astype(np.float64)
    outgoing = np.linalg.norm(m.weights[2].astype(np.float64), axis=1)
    expected = outgoing * h.std(axis=0)
    # the report's float32 activations may be summed in another order than this trace's; the
    # std (in float64 on both sides) moves by at most the largest change of its samples
    spread = forward_bounds(m, x)[1][1].max(axis=0)
    assert_within(rep.importance, expected, outgoing * spread + 1e-12 * expected, "importance")
    assert rep.dead[2] and not rep.dead[4]
    assert any({i, j} == {4, 9} for i, j, _ in rep.duplicates)
    assert rep.order[0] == 2 or rep.importance[rep.order[0]] <= rep.importance[2]
    assert rep.ks[0] == 0 and rep.dimmest_mean[0] == rep.base_accuracy
    assert rep.base_accuracy == float(np.mean(m.predict(x) == y))


def test_redundant_count_stops_at_first_failure() -> None:
    base = 0.9
    assert N.redundant_count([0, 1, 2, 3, 4], [0.9, 0.899, 0.89, 0.9, 0.9], base) == 1
    assert N.redundant_count([0, 5], [0.9, 0.896], base) == 5


def test_prune_and_finetune_report(trained_model, sample, data) -> None:
    x, y = data
    rep = N.analyse_neurons(trained_model, x, y, layer=0,
                            train=(sample.train_images[:800], sample.train_labels[:800]),
                            prune_ks=[8, 16])
    assert [p["k"] for p in rep.pruning] == [8, 16]
    for p in rep.pruning:
        i = rep.ks.index(int(p["k"]))
        assert abs(p["pruned"] - rep.dimmest_mean[i]) <= 1 / len(y)
        assert 0.0 <= p["finetuned"] <= 1.0


def test_finetune_changes_weights_and_lowers_loss(trained_model, sample) -> None:
    small = N.prune(trained_model, 0, [0, 1, 2, 3, 4, 5, 6, 7])
    x = small.as_input(sample.train_images[:500])
    y = sample.train_labels[:500].astype(np.int64)
    before = small.loss_and_gradient(x, y)[0]
    tuned = N.finetune(small, x, y, epochs=2)
    assert not np.array_equal(tuned.params, small.params)
    assert tuned.loss_and_gradient(x, y)[0] < before


def test_finetune_runs_the_training_loops_epochs(trained_model, sample, monkeypatch) -> None:
    """Fine-tuning after pruning is the one training loop (``nn.train.run_epoch``), its rate
    annealed batch by batch from the run's to zero (``nn.train.annealed_lr``)."""
    import digitlens.nn.train as T
    rates: list[float] = []

    def spy(stepper, x, y, perm, batch_size, lr, on_batch=None):  # type: ignore[no-untyped-def]
        rates.extend(lr(k) for k in range(-(-len(x) // batch_size)))
        return T.run_epoch(stepper, x, y, perm, batch_size, lr, on_batch)
    monkeypatch.setattr(N, "run_epoch", spy)
    small = N.prune(trained_model, 0, [0, 1])
    x = small.as_input(sample.train_images[:300])
    y = sample.train_labels[:300].astype(np.int64)
    s = N.FinetuneSettings("sgd", 0.1, 100)
    tuned = N.finetune(small, x, y, epochs=2, settings=s)
    assert rates == [T.annealed_lr(0.1, t, 6) for t in range(6)]
    assert rates[0] == 0.1 and rates[-1] < 0.01 and rates == sorted(rates, reverse=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(tuned.params, N.finetune(small, x, y, 2, s).params)


def test_finetuning_does_not_undo_a_converged_net(converged_model, sample) -> None:
    # A fresh Adam at 1e-3 knocked this net out of its minimum: 89.4% pruned, 88.1% after
    # "fine-tuning". Continuing the run's own training must not cost accuracy.
    rep = N.analyse_neurons(converged_model, sample.test_images, sample.test_labels,
                            train=(sample.train_images, sample.train_labels))
    assert len(rep.pruning) >= 2
    for p in rep.pruning:
        assert p["finetuned"] >= p["pruned"] - 0.005, p
    assert rep.finetuning["optimizer"] == "adam"
    assert rep.finetuning["lr"] == pytest.approx(1e-5)  # float64 settings both sides
    assert rep.finetuning["digits"] == len(sample.train_labels)


def test_finetune_settings_follow_the_run(converged_model) -> None:
    s = N.FinetuneSettings.of(converged_model)
    assert (s.optimizer, s.batch_size, s.l2) == ("adam", 32, 0.0)
    assert s.lr == pytest.approx(converged_model.meta["history_tail"]["lr"])  # float64 both
    m = converged_model.copy()
    del m.meta["history_tail"]  # no history: the schedule's last rate, lr/100 for cosine
    assert N.FinetuneSettings.of(m).lr == pytest.approx(1e-5)  # float64 both sides
    m.meta["training"] = {**m.meta["training"], "optimizer": "sgd", "lr": 3.0, "l2": 1.5,
                          "schedule": "constant", "batch_size": 10}
    assert N.FinetuneSettings.of(m) == N.FinetuneSettings("sgd", 3.0, 10, 1.5, 0.9, None)
    assert N.FinetuneSettings.of(MLP.create((784, 8, 10))) == N.FinetuneSettings()


def test_finetune_data_is_the_runs_own_training_set(converged_model, sample) -> None:
    m = converged_model.copy()
    x, y, s = N.finetune_data(m, sample.train_images, sample.train_labels, limit=500)
    assert len(x) == 500 and s.n_train == len(sample.train_labels)
    m.meta["training"] = {**m.meta["training"], "train_size": 300, "seed": 4}
    x, y, s = N.finetune_data(m, sample.train_images, sample.train_labels)
    keep = training_subset(len(sample.train_labels), 300, 4)
    assert keep is not None and s.n_train == 300
    np.testing.assert_array_equal(y, sample.train_labels[keep])


def test_bad_layers() -> None:
    single = MLP.create((784, 10), "relu")
    with pytest.raises(ParameterError, match="784-10 network has no hidden layer"):
        N.check_layer(single, None)
    with pytest.raises(ParameterError, match="0..1"):
        N.check_layer(MLP.create((784, 8, 6, 10)), 2)
