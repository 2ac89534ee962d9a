"""One numbering for layers and neurons on every surface: CLI, API, page, report and workbook
(docs/numbering.md).

Layers are the network's weight layers counted from 0: layer 0 is the first hidden layer (it
reads the input pixels), layer ``n_layers - 1`` the output. Neurons count from 0 within their
layer; output neuron ``k`` is class ``k``. A neuron is written ``LAYER:NEURON`` (``0:5``), the
same spelling the CLI reads and the page, report and workbook show. The page's copy of the
display names is web/static/js/numbering.js, tested against this module.
"""

from __future__ import annotations

import re

from digitlens.errors import bad_param

SPELLING = "LAYER:NEURON, both counted from 0 (0:5 = neuron 5 of the first hidden layer)"
_ADDRESS = re.compile(r"\s*(\d+)\s*:\s*(\d+)\s*")


def parse_neuron(text: str, sizes: tuple[int, ...] | list[int] | None = None) -> tuple[int, int]:
    """``"L:N"`` -> ``(L, N)``; with the network's ``sizes``, also checked to exist."""
    m = _ADDRESS.fullmatch(text)
    if m is None:
        raise bad_param("neuron", SPELLING, text)
    layer, neuron = int(m.group(1)), int(m.group(2))
    if sizes is not None:
        check_address(sizes, layer, neuron)
    return layer, neuron


def layer_rule(n_layers: int) -> str:
    """What a layer number must be, for errors: ``an int in 0..2 (0 = first hidden layer, 2 =
    output)``."""
    return f"an int in 0..{n_layers - 1} (0 = first hidden layer, {n_layers - 1} = output)"


def check_layer(sizes: tuple[int, ...] | list[int], layer: int) -> None:
    """One message shape for a layer the network does not have."""
    n_layers = len(sizes) - 1
    if not 0 <= layer < n_layers:
        raise bad_param("layer", layer_rule(n_layers), layer)


def check_hidden_layer(sizes: tuple[int, ...] | list[int], layer: int) -> None:
    """One message shape for a hidden layer the network does not have (``sizes`` with at least
    one hidden layer)."""
    n_hidden = len(sizes) - 2
    if not 0 <= layer < n_hidden:
        raise bad_param("layer", f"a hidden layer, an int in 0..{n_hidden - 1} (0 = first "
                        f"hidden layer; {n_hidden} is the output)", layer)


def check_address(sizes: tuple[int, ...] | list[int], layer: int, neuron: int) -> None:
    """One message shape for a layer or neuron the network does not have."""
    check_layer(sizes, layer)
    if not 0 <= neuron < sizes[layer + 1]:
        raise bad_param("neuron", f"an int in 0..{sizes[layer + 1] - 1} (counted from 0)", neuron)


def spell(layer: int, neuron: int) -> str:
    """The address as the CLI reads it: ``0:5``."""
    return f"{layer}:{neuron}"


def layer_name(layer: int, n_layers: int | None = None) -> str:
    """``layer 0 (hidden)`` or ``layer 2 (output)`` (without ``n_layers``: a hidden layer)."""
    return f"layer {layer} ({'output' if layer == (n_layers or 0) - 1 else 'hidden'})"


def neuron_name(layer: int, neuron: int) -> str:
    """``neuron 0:5``: one neuron, by the address the CLI reads."""
    return f"neuron {spell(layer, neuron)}"


def weights_name(layer: int) -> str:
    """The weight matrix into layer ``layer``: ``W0`` reads the pixels."""
    return f"W{layer}"
