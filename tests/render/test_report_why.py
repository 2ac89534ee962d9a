"""The report's "why this answer" section: its rows are the circuits and patches of
digitlens.analysis.patching, for the network's commonest rivalries."""

from __future__ import annotations

import re

from digitlens.analysis.patching import circuit, hidden_means
from digitlens.data.sources import Dataset
from digitlens.nn.mlp import MLP
from digitlens.render.report_why import rivalries, why_section


def test_rows_are_the_circuits(trained_model: MLP, sample: Dataset) -> None:
    x, y = sample.test_images, sample.test_labels
    names = list(sample.class_names)
    body, findings = why_section(trained_model, x, y, names)
    found = rivalries(trained_model, x, y)
    assert 1 <= len(found) <= 6 and body.count("<tr>") == len(found) + 1
    i, target, rival = found[0]
    assert int(y[i]) == target != rival and int(trained_model.predict(x[i])[0]) == target
    c = circuit(trained_model, x[i], hidden_means(trained_model, x), target, rival)
    first = re.search(r"<tbody><tr>(.*?)</tr>", body)
    assert first is not None
    cells = re.findall(r"<td>(.*?)</td>", first.group(1))
    assert cells[:6] == [str(i), names[target], names[rival], f"{c.gap:.2f}",
                         f"{c.restored:.0%}", f"{c.removed:.0%}"]
    assert len(findings) == 1 and "median" in findings[0]


def test_no_hidden_layer_no_section(sample: Dataset) -> None:
    flat = MLP.create([784, 10])
    assert why_section(flat, sample.test_images[:5], sample.test_labels[:5],
                       list(sample.class_names)) == ("", [])

