"""The nudge view, the dreams figure and integrated gradients in the evidence panels."""

from __future__ import annotations

import numpy as np

from digitlens.analysis import dream as D
from digitlens.analysis.attribution import evidence
from digitlens.analysis.nudge import nudge
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP
from digitlens.render.views.ask import dreams_view, nudge_view
from digitlens.render.views.evidence import evidence_panel


def test_nudge_view_shows_the_nudge(trained_model: MLP, sample) -> None:
    res = nudge(trained_model, sample.test_images[0], target=3)
    pic = nudge_view(res, [str(i) for i in range(10)], int(sample.test_labels[0]))
    assert pic.data["to"] == 3 and pic.data["l2"] == res.l2
    rgb = pic.rgb()
    assert rgb.shape[1] > 3 * 168 and len(np.unique(rgb.reshape(-1, 3), axis=0)) > 20


def test_integrated_gradients_evidence_is_complete(trained_model: MLP, sample) -> None:
    x = sample.test_images[9].astype(np.float64).ravel() / 255
    ev = evidence(trained_model, x, "integrated-gradients")
    black = trained_model.trace(np.zeros(784)).zs[-1][0]
    gain = ev.scores - black
    # completeness of integrated gradients: the trapezoid rule's error along the path, 1%
    np.testing.assert_allclose(ev.contributions.sum(axis=0), gain,
                               rtol=0.01, atol=0.01 * np.abs(gain).max())
    pic = evidence_panel(trained_model, x, None, "integrated-gradients")
    assert pic.data["method"] == "integrated-gradients"


def test_dreams_view(trained_model: MLP, sample) -> None:
    start = sample.train_images.reshape(-1, 784).mean(0) / 255
    dreams = [D.dream(trained_model, 2, c, start, steps=30, max_train=1.0) for c in range(3)]
    pic = dreams_view(dreams, composed_weights(trained_model, 2)[:, :3], ["0", "1", "2"], "t")
    assert pic.data["activations"] == [d.activation for d in dreams]
    assert pic.rgb().shape[0] > 100
