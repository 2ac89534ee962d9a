"""Numbers about a model: metrics, fingerprints, composed weights, neuron importance, ablation.

``dl.analysis.evaluate(run)`` and its siblings (analysis/of_run.py) take a whole run; they load
on first use so that ``import digitlens`` stays light."""

from __future__ import annotations

from typing import Any

RUN_FUNCTIONS = ("Composed", "arithmetic", "class_fingerprints", "composed", "evaluate",
                 "evidence", "neuron_report", "robustness_sweep", "trace")


def __getattr__(name: str) -> Any:
    if name in RUN_FUNCTIONS:
        from digitlens.analysis import of_run
        return getattr(of_run, name)
    raise AttributeError(f"module 'digitlens.analysis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *RUN_FUNCTIONS])
