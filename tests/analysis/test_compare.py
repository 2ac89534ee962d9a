"""Two models side by side: the one-to-one matching against brute force, the numbers against a
direct count, a pruned net against its parent."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from digitlens.analysis import compare as K
from digitlens.analysis.neurons import prune
from digitlens.errors import ParameterError
from digitlens.nn.mlp import MLP


def brute_force(s: np.ndarray) -> float:
    """Best total similarity over every one-to-one assignment of the smaller side."""
    n_a, n_b = s.shape
    if n_a <= n_b:
        return max(sum(s[i, p[i]] for i in range(n_a))
                   for p in itertools.permutations(range(n_b), n_a))
    return brute_force(s.T)


@pytest.mark.parametrize(("n_a", "n_b"), [(5, 5), (4, 6), (6, 3)])
def test_matching_is_optimal_by_brute_force(rng, n_a, n_b) -> None:
    pytest.importorskip("scipy")
    wa, wb = rng.normal(size=(12, n_a)), rng.normal(size=(12, n_b))
    pairs = K.match_neurons(wa, wb)
    s = K.cosine_similarity(wa, wb)
    assert len(pairs) == min(n_a, n_b)
    assert len({i for i, _, _ in pairs}) == len({j for _, j, _ in pairs}) == len(pairs)
    for i, j, sim in pairs:  # float64 both sides, here and below
        assert sim == pytest.approx(wa[:, i] @ wb[:, j] / np.linalg.norm(wa[:, i]) /
                                    np.linalg.norm(wb[:, j]))
    assert sum(p[2] for p in pairs) == pytest.approx(brute_force(s))
    assert [p[2] for p in pairs] == sorted((p[2] for p in pairs), reverse=True)


def test_a_shuffled_copy_is_matched_back(rng) -> None:
    pytest.importorskip("scipy")
    a = MLP.create((784, 20, 10), seed=3)
    perm = rng.permutation(20)
    b = a.copy()
    b.weights[0][...] = a.weights[0][:, perm]
    pairs = K.match_neurons(a.weights[0], b.weights[0])
    assert {(i, j) for i, j, _ in pairs} == {(int(perm[j]), j) for j in range(20)}
    assert all(s == pytest.approx(1.0) for *_, s in pairs)  # cosines in float64 (rel 1e-6)


def test_numbers_against_a_direct_count(trained_model: MLP, sample) -> None:
    pytest.importorskip("scipy")
    other = MLP.create(trained_model.sizes, seed=7)
    x, y = sample.test_images, sample.test_labels
    d = K.compare_models(trained_model, other, x, y).to_dict()
    pa, pb = trained_model.predict(x), other.predict(x)
    assert d["accuracy_a"] == pytest.approx(np.mean(pa == y))  # counts, float64 means
    assert d["accuracy_b"] == pytest.approx(np.mean(pb == y))
    assert d["disagreements"]["indices"] == np.flatnonzero(pa != pb).tolist()
    assert d["disagreements"]["count"] == int(np.sum(pa != pb))
    for row in d["per_class"]:
        k = row["class"]
        assert row["a"] == pytest.approx(np.mean(pa[y == k] == k), abs=1e-5)  # to 5 decimals
        assert row["n"] == int(np.sum(y == k))
    diff = np.asarray(d["confusion_difference"])
    assert diff.sum() == 0 and diff[3, 5] == (np.sum((y == 3) & (pb == 5)) -
                                              np.sum((y == 3) & (pa == 5)))
    assert len(d["matches"]) == 32


def test_a_pruned_net_matches_its_parent(trained_model: MLP, sample) -> None:
    pytest.importorskip("scipy")
    small = prune(trained_model, 0, [1, 4, 9])
    c = K.compare_models(trained_model, small, sample.test_images, sample.test_labels)
    kept = [j for j in range(32) if j not in (1, 4, 9)]
    assert {(i, j) for i, j, _ in c.matches} == {(kept[j], j) for j in range(29)}
    assert all(s == pytest.approx(1.0) for *_, s in c.matches)  # float64 cosines


def test_different_inputs_or_classes_are_refused() -> None:
    with pytest.raises(ParameterError, match="784 inputs with one reading 100"):
        K.check_comparable(MLP.create((784, 10)), MLP.create((100, 10)))
    with pytest.raises(ParameterError, match="10 classes with one with 5"):
        K.check_comparable(MLP.create((784, 10)), MLP.create((784, 5)))
