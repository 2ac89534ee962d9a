"""The one numbering (digitlens.numbering, docs/numbering.md): spellings read, mistakes named,
names written. The page's names are checked against these in tests/web/test_page_parity.py and
one neuron is followed through CLI, API and workbook in tests/web/test_numbering_surfaces.py."""

from __future__ import annotations

import pytest

from digitlens.analysis.maps import check_map_layer
from digitlens.analysis.neurons import check_layer
from digitlens.errors import ParameterError
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP
from digitlens.numbering import (
    check_address,
    check_hidden_layer,
    layer_name,
    neuron_name,
    parse_neuron,
    spell,
    weights_name,
)

SIZES = (784, 32, 16, 10)  # layers 0 (32), 1 (16), 2 (the 10 outputs)


@pytest.mark.parametrize(("text", "address"), [("0:5", (0, 5)), ("2:9", (2, 9)),
                                               (" 1 : 15 ", (1, 15)), ("0:0", (0, 0))])
def test_spellings_read_back(text: str, address: tuple[int, int]) -> None:
    assert parse_neuron(text, SIZES) == address
    assert parse_neuron(spell(*address), SIZES) == address


@pytest.mark.parametrize(("text", "message"), [
    ("x", r"'neuron' parameter must be LAYER:NEURON, both counted from 0"),
    ("1", r"'neuron' parameter must be LAYER:NEURON"),
    ("1:2:3", r"'neuron' parameter must be LAYER:NEURON"),
    ("-1:2", r"'neuron' parameter must be LAYER:NEURON"),
    ("3:0", r"'layer' parameter must be an int in 0\.\.2 \(0 = first hidden layer, 2 = output\)"),
    ("0:32", r"'neuron' parameter must be an int in 0\.\.31 \(counted from 0\)\. Got 32"),
    ("2:10", r"'neuron' parameter must be an int in 0\.\.9"),
])
def test_mistakes_are_named(text: str, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        parse_neuron(text, SIZES)


def test_without_sizes_only_the_spelling_is_checked() -> None:
    assert parse_neuron("7:700") == (7, 700)
    with pytest.raises(ParameterError, match="'layer'"):
        check_address(SIZES, 7, 700)


def test_names() -> None:
    assert [layer_name(k, 3) for k in range(3)] == ["layer 0 (hidden)", "layer 1 (hidden)",
                                                    "layer 2 (output)"]
    assert layer_name(4) == "layer 4 (hidden)"
    assert layer_name(0, 1) == "layer 0 (output)"  # 784-10: the only layer is the output
    assert neuron_name(1, 7) == "neuron 1:7" and spell(2, 3) == "2:3"
    assert weights_name(0) == "W0"


def test_every_layer_check_names_the_rule() -> None:
    """A layer out of range reads the same wherever it is checked: any layer (composed weights,
    the inspector) or a hidden one (neuron ranking, hidden-space maps)."""
    model = MLP.create((16, 4, 3, 2), "relu", seed=0)
    with pytest.raises(ParameterError, match=r"an int in 0\.\.2 \(0 = first hidden layer, "
                                             r"2 = output\)\. Got 3"):
        composed_weights(model, 3)
    hidden = r"a hidden layer, an int in 0\.\.1 \(0 = first hidden layer; 2 is the output\)\. Got 2"
    for check in (check_map_layer, check_layer):
        with pytest.raises(ParameterError, match=hidden):
            check(model, 2)
    check_hidden_layer((16, 4, 3, 2), 1)
