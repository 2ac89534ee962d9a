"""One config validator (issue #25): the training rules live once (``nn.presets.RULES``), and
presets, the CLI, the web's training form, ``dl.train`` and a sweep's grid all use them."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from digitlens.errors import ParameterError
from digitlens.nn.presets import (
    MAX_SERVER_EPOCHS,
    PRESETS,
    RULES,
    TrainConfig,
    check_field,
    validate_config,
)
from digitlens.safeload import MAX_LAYERS, MAX_NEURONS
from digitlens.sweep import grid as G


def test_every_preset_keeps_the_rules_and_fits_the_server() -> None:
    for p in PRESETS.values():
        validate_config(p.config)
        assert 1 <= p.config.epochs <= MAX_SERVER_EPOCHS


def test_every_rule_is_a_field_of_a_config() -> None:
    assert set(RULES) <= {f.name for f in dataclasses.fields(TrainConfig)}


@pytest.mark.parametrize(("field", "value"), [
    ("momentum", -0.5), ("activation", "swish"), ("init", "zeros"), ("output", "relu"),
    ("cost", "hinge"), ("epochs", 100_001), ("batch_size", True), ("lr", float("nan")),
    ("layers", (784,) + (8,) * MAX_LAYERS + (10,)), ("layers", (784, MAX_NEURONS + 1, 10)),
])
def test_a_config_breaking_a_rule_is_refused_in_its_words(field: str, value: Any) -> None:
    config = dataclasses.replace(TrainConfig(), **{field: value})
    with pytest.raises(ParameterError, match=f"'{field}' parameter must be"):
        validate_config(config)


@pytest.mark.parametrize(("text", "rule"), [
    ("lr=0", "lr"), ("lr=inf", "lr"), ("momentum=-1", "momentum"), ("l2=nan", "l2"),
    ("batch_size=0", "batch_size"), ("batch_size=1.5", "batch_size"),
    ("activation=swish", "activation"), ("optimizer=lbfgs", "optimizer"),
    ("schedule=step", "schedule"), ("init=zeros", "init"),
])
def test_the_grid_says_what_the_rules_say(text: str, rule: str) -> None:
    """The grid reads each value's text and asks the rule: it restates none of them."""
    with pytest.raises(ParameterError,
                       match=re.escape(f"'grid {rule}' parameter must be {RULES[rule][1]}")):
        G.parse_grid(text)
    assert all(rule in RULES for _, rule, _ in G.KEYS.values() if rule)


def test_check_field_returns_a_good_value() -> None:
    assert check_field("train_size", None) is None
    assert check_field("lr", 0.5, "grid lr") == 0.5
    with pytest.raises(ParameterError, match="'grid train_size' parameter must be an int >= 1 "
                       "or 'all'"):
        check_field("train_size", 0, "grid train_size", " or 'all'")
