"""``dl.train``: train a preset from a notebook, with a progress bar and a live monitor.

It sits in the notebook layer because the bar (tqdm's) and the monitor (a widget) are the
notebook's; the loop itself is ``digitlens.nn.train``, the run it returns ``digitlens.api``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitlens.analysis.monitor import watch
from digitlens.api import LoadedRun
from digitlens.data.sources import load_dataset
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import get_preset, validate_config
from digitlens.nn.run import Run
from digitlens.nn.train import train as train_loop
from digitlens.notebook.progress import epoch_bar


def train(preset: str = "default", epochs: int | None = None, out: str | Path | None = None,
          dataset: str | None = None, progress: bool = True, monitor: Any = None,
          threads: int | None = None, data_dir: str | Path | None = None,
          **overrides: Any) -> LoadedRun:
    """Train a preset (keyword arguments override its settings, as the CLI's flags do) into the
    run folder ``out`` (default ``runs/PRESET``); an interrupted run resumes.

    ``dataset``: a dataset's name (default: the preset's, MNIST); ``data_dir``: a dataset
    folder (IDX or image folder, docs/datasets.md) instead. The preset's first and last layer
    sizes follow the dataset (``layers`` given here must already fit it).

    ``progress``: a progress bar (tqdm's notebook bar in Jupyter). ``monitor``: a
    ``dl.TrainingMonitor`` (or True for a new one, displayed) that draws the accuracy curve and
    the weight mosaic (a convolutional network's kernels) after every epoch.

    >>> run = dl.train(preset="s3-machine-academy", epochs=5, out="runs/s3-short",
    ...                dataset="mnist-sample")     # doctest: +SKIP
    """
    config = get_preset(preset).config.with_overrides(epochs=epochs, dataset=dataset,
                                                      **overrides)
    if isinstance(config.layers, list):
        config = config.with_overrides(layers=tuple(config.layers))
    validate_config(config)  # the overrides, by the one set of rules, before any data is read
    ds = load_dataset(dataset if dataset or data_dir else config.dataset, data_dir)
    config = config.with_overrides(
        layers=ds.fit_layers(config.layers, "layers" in overrides)[0])
    if ds.name != config.dataset:
        config = config.with_overrides(dataset=ds.name)
    folder = Path(out) if out is not None else Path("runs") / preset
    done = len(Run(folder).history()) if folder.is_dir() else 0
    callbacks: list[Callable[[dict[str, Any], MLP | CNN], None]] = []
    bar = None
    if progress:
        bar = epoch_bar(config.epochs, done)
        if bar is not None:
            callbacks.append(bar.on_epoch)
    if monitor is True:  # anywidget (the ``notebook`` extra) loads only for a monitor
        from digitlens.notebook.monitor import TrainingMonitor
        monitor = TrainingMonitor()
        from IPython.display import display
        display(monitor)
    if monitor:
        monitor.start(config.epochs, Run(folder).history() if folder.is_dir() else [])
        callbacks.append(monitor.on_epoch)

    def on_epoch(row: dict[str, Any], model: MLP | CNN) -> None:
        for cb in callbacks:
            cb(row, model)
    try:
        result = train_loop(config, ds, folder, on_epoch=on_epoch, threads=threads,
                            monitor=watch)
    finally:
        if bar is not None:
            bar.close()
    return LoadedRun(folder, result.model, result.history, True, _dataset=ds)
