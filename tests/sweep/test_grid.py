"""The grid's parsing, a point's config, the manifest rules and the chart's statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digitlens.errors import DigitlensError, ParameterError
from digitlens.nn.presets import get_preset
from digitlens.render.sweep import summarise, sweep_chart
from digitlens.sweep import grid as G
from digitlens.sweep import table as T


def test_grid_values_are_typed_and_deduplicated() -> None:
    g = G.parse_grid("hidden=16, 32,16;train-size=500,all;lr=0.1;activation=tanh")
    assert g == {"hidden": [16, 32], "train_size": [500, None], "lr": [0.1],
                 "activation": ["tanh"]}
    assert G.parse_grid("hidden=64x32")["hidden"] == ["64x32"]
    assert G.parse_seeds("0-2,5,1") == [0, 1, 2, 5]


@pytest.mark.parametrize(("text", "match"), [
    ("neurons=16", "unknown grid key 'neurons'"),
    ("hidden=sixteen", "'grid hidden' parameter must be a size"),
    ("lr=-1", "'grid lr' parameter must be a float > 0"),
    ("activation=swish", "one of"),
    ("train_size=0", "an int >= 1 or 'all'"),
    ("", "at least one"),
    (" ; ", "at least one"),
    ("hidden", "'key=v1,v2;key2=v3'"),
    ("hidden=8;hidden=16", "given twice"),
    ("hidden=8;layers=784-8-10", "both set the layer sizes"),
])
def test_bad_grids_are_parameter_errors(text: str, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        G.parse_grid(text)


def test_hidden_sets_every_hidden_layer_or_exactly_the_given_ones() -> None:
    s0 = get_preset("s0-fingerprints").config  # 784-256-64-10
    assert G.apply(s0, {"hidden": 32}, 3).layers == (784, 32, 32, 10)
    assert G.apply(s0, {"hidden": "64x32x16"}, 3).layers == (784, 64, 32, 16, 10)
    assert G.apply(s0, {"hidden": 32}, 3).seed == 3
    s1 = get_preset("s1-single-layer").config  # no hidden layer: gets one
    assert G.apply(s1, {"hidden": 20}, 0).layers == (784, 20, 10)
    assert G.apply(s0, {"train_size": None}, 0).train_size is None
    assert G.apply(s0, {"layers": "784-5-10", "lr": 0.5}, 0).layers == (784, 5, 10)


def test_points_are_the_product_times_seeds_and_checked() -> None:
    base = get_preset("s3-machine-academy").config
    pts = G.points(G.parse_grid("hidden=8,16;l2=0,1.5"), [0, 1], base)
    assert len(pts) == 8 and len({p.name for p in pts}) == 8
    assert pts[0].name == "hidden8-l20.0-seed0"
    with pytest.raises(ParameterError, match="layers"):
        G.points(G.parse_grid("layers=100-8-10"), [0], base)


def test_another_grid_is_refused_unless_extended(tmp_path: Path) -> None:
    base = get_preset("s3-machine-academy").config
    a = T.manifest("s3", base, "hidden=8", G.points(G.parse_grid("hidden=8"), [0], base))
    b = T.manifest("s3", base, "hidden=16", G.points(G.parse_grid("hidden=16"), [0], base))
    assert T.merge(a, dict(a), False, tmp_path) is a
    with pytest.raises(DigitlensError, match="another grid.*--extend"):
        T.merge(a, b, False, tmp_path)
    merged = T.merge(a, b, True, tmp_path)
    assert [p["name"] for p in merged["points"]] == ["hidden8-seed0", "hidden16-seed0"]
    other = T.manifest("s3", base.with_overrides(lr=0.5), "hidden=16", [])
    with pytest.raises(DigitlensError, match="other base settings"):
        T.merge(a, other, True, tmp_path)
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "file").write_text("mine")
    with pytest.raises(DigitlensError, match="not a sweep folder"):
        T.merge(None, a, False, tmp_path / "x")


def results(rows: list[tuple[dict, int, float | None, str]]) -> dict:
    return {"points": [{"settings": s, "seed": seed, "test_accuracy": acc, "status": status}
                       for s, seed, acc, status in rows]}


def test_summary_is_mean_and_sample_std_over_finished_seeds() -> None:
    r = results([({"hidden": 8, "n": 5}, 0, 0.5, "done"), ({"hidden": 8, "n": 5}, 1, 0.7, "done"),
                 ({"hidden": 8, "n": 5}, 2, None, "failed"),
                 ({"hidden": 16, "n": 5}, 0, 0.9, "done"), ({"hidden": 8, "n": 9}, 0, 0.2, "done")])
    groups = summarise(r, "hidden", "n")
    assert [g["label"] for g in groups] == ["n=5", "n=9"]
    assert groups[0]["x"] == ["8", "16"]
    assert groups[0]["mean"] == pytest.approx([0.6, 0.9])  # float64 both sides, here and below
    assert groups[0]["std"][0] == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert groups[0]["n"] == [2, 1] and groups[1]["mean"] == [0.2]
    with pytest.raises(ParameterError, match="not a key of this sweep"):
        summarise(r, "lr")
    picture = sweep_chart(r, "hidden", "n")
    assert picture.data["log"] is False  # 8..16 is one doubling: a linear axis
    assert picture.rgb().shape[2] == 3
    wide = results([({"hidden": h}, 0, 0.5, "done") for h in (8, 16, 32, 64)])
    assert sweep_chart(wide, "hidden").data["log"] is True
