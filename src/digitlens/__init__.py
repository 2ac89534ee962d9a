"""digitlens: see how a neural network recognises handwritten digits.

In Python or Jupyter::

    import digitlens as dl
    run = dl.load("runs/default")              # a run folder, or a .npz/.json/.onnx model
    dl.views.fingerprints(run, digit=5)        # shows inline; .save("f.png")
    dl.predict(run, run.dataset.test_images[0]).digit
    dl.Explorer(run)                           # draw a digit (the ``notebook`` extra)
    dl.nudge(run, index=0, target=3)           # and every question the CLI asks

Everything is imported on first use, so ``import digitlens`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from digitlens.version import __version__ as __version__

_LAZY = {
    "load": "digitlens.api", "train": "digitlens.notebook.training", "predict": "digitlens.api",
    "LoadedRun": "digitlens.api", "Prediction": "digitlens.api", "NotARunError": "digitlens.api",
    "views": "digitlens.notebook.views", "analysis": "digitlens.analysis",
    "Explorer": "digitlens.notebook.explorer", "TrainingMonitor": "digitlens.notebook.monitor",
    "DigitlensError": "digitlens.errors",
    "nudge": "digitlens.notebook.questions", "attribute": "digitlens.notebook.questions",
    "dream": "digitlens.notebook.questions", "compare": "digitlens.notebook.questions",
    "map": "digitlens.notebook.questions", "patch": "digitlens.notebook.why",
    "circuit": "digitlens.notebook.why", "features": "digitlens.notebook.why",
    "step": "digitlens.notebook.learning",
}

if TYPE_CHECKING:
    from digitlens import analysis as analysis
    from digitlens.api import LoadedRun as LoadedRun
    from digitlens.api import NotARunError as NotARunError
    from digitlens.api import Prediction as Prediction
    from digitlens.api import load as load
    from digitlens.api import predict as predict
    from digitlens.errors import DigitlensError as DigitlensError
    from digitlens.notebook import views as views
    from digitlens.notebook.explorer import Explorer as Explorer
    from digitlens.notebook.learning import step as step
    from digitlens.notebook.monitor import TrainingMonitor as TrainingMonitor
    from digitlens.notebook.questions import attribute as attribute
    from digitlens.notebook.questions import compare as compare
    from digitlens.notebook.questions import dream as dream
    from digitlens.notebook.questions import map as map  # noqa: A004 - dl.map, as the CLI's
    from digitlens.notebook.questions import nudge as nudge
    from digitlens.notebook.training import train as train
    from digitlens.notebook.why import circuit as circuit
    from digitlens.notebook.why import features as features
    from digitlens.notebook.why import patch as patch


def __getattr__(name: str) -> Any:
    """Import what ``name`` needs the first time it is used."""
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError(f"module 'digitlens' has no attribute {name!r}")
    import importlib
    module = importlib.import_module(where)
    value = module if where.endswith(f".{name}") else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = ["__version__", *_LAZY]
