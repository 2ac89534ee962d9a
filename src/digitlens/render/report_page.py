"""What the report's sections are given: ``Subject`` (one trained run as they see it) and
``ReportPage`` (the page being written, its figures and findings). Apart from ``report.py``,
which builds the page, so the sections and the builder both look down at them."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.metrics import Evaluation, evaluate_model
from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.presets import TrainConfig
from digitlens.nn.run import MODEL_FILE, Run, is_run
from digitlens.nn.train import train
from digitlens.render.image import Animation, Picture

Log = Callable[[str], None]
TWIN_SIZE = 500


@dataclass
class Subject:
    """One trained run as the sections see it."""

    run: Run
    model: MLP
    config: TrainConfig | None
    history: list[dict[str, Any]]
    ev: Evaluation
    x: np.ndarray
    y: np.ndarray
    names: list[str]

    @classmethod
    def load(cls, path: str | Path, ds: Dataset, model: MLP | None = None) -> Subject:
        """A run folder, or a model file (``model``: as the caller's reader read it, e.g. an
        .onnx, or a run folder's model read already): a file has no history, config or
        snapshots, so the sections that tell the training story say they are left out."""
        run = Run(path)
        x, y = ds.test_images, ds.test_labels
        if run.path.is_file():
            model = model if model is not None else load_model(run.path)
            return cls(run, model, None, [], evaluate_model(model, x, y), x, y,
                       list(ds.class_names))
        if not is_run(run.path):
            raise ModelError(f"{run.path}: not a run folder (no {MODEL_FILE}) or a model file")
        model = model if model is not None else run.model()
        return cls(run, model, run.config(), run.history(), evaluate_model(model, x, y), x, y,
                   list(ds.class_names))

    @property
    def is_file(self) -> bool:
        return self.run.path.is_file()

    @property
    def preset(self) -> str:
        return self.config.preset if self.config else "custom"

    @property
    def accuracy(self) -> float:
        return self.ev.accuracy

    @property
    def label(self) -> str:
        return "-".join(map(str, self.model.sizes))

    def is_twin(self) -> bool:
        """A run on a few hundred images: S2's comparison partner, not a section's subject."""
        return bool(self.config and self.config.train_size
                    and self.config.train_size <= TWIN_SIZE)



def train_twin(s: Subject, ds: Dataset, log: Log) -> MLP | None:
    """The same net trained on only 500 images (S2's comparison), in memory: writing a run
    folder (snapshots, checkpoints) would cost more than the training."""
    config = s.config
    if config is None or (config.train_size or len(ds.train_labels)) <= TWIN_SIZE:
        return None
    twin = config.with_overrides(train_size=TWIN_SIZE, epochs=min(max(config.epochs, 20), 100))
    log(f"training the same net on {TWIN_SIZE} images for the comparison")
    # its per-epoch test accuracy is only bookkeeping here: 1,000 test digits are plenty
    small_test = replace(ds, test_images=ds.test_images[:1000], test_labels=ds.test_labels[:1000])
    return train(twin, small_test).mlp


@dataclass
class ReportPage:
    """The page being written: its folder, the figures saved so far and the findings."""

    folder: Path
    ds: Dataset
    log: Log
    robustness_n: int = 300
    compare: MLP | None = None
    train_twin_run: bool = True
    twins: list[Subject] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # CSS of single figures (no style="")

    def save(self, view: Picture | Animation, name: str) -> str:
        t = time.perf_counter()
        view.save(self.folder / name)
        self.files.append(name)
        self.timings[name] = round(time.perf_counter() - t, 2)
        return name

    def figure(self, view: Picture | Animation, name: str, caption: str = "",
               alt: str = "") -> str:
        """A saved figure with its caption, size and a description of what it shows."""
        src = html.escape(self.save(view, name))
        text = caption or view.caption
        cap = html.escape(text)
        still = view.poster() if isinstance(view, Animation) else view
        w, h = still.size
        alt_text = html.escape(alt or text)  # escaped once: no &amp;#x27; in the alt
        if name.endswith(".mp4"):
            poster = self.save(still, name.replace(".mp4", "-poster.png"))
            # the player's controls overlay the bottom of a video; the frame sits at the top of
            # a box one control band taller (CSS .video), so they never cover its legend
            box = "v-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)
            self.rules.append(f"#{box} {{ --w: {w}; --h: {h}; }}")
            return (f'<figure class="video" id="{box}"><video src="{src}" '
                    f'poster="{html.escape(poster)}" width="{w}" height="{h}" controls loop '
                    f'muted autoplay playsinline aria-label="{alt_text}"></video>'
                    f"<figcaption>{cap}</figcaption></figure>")
        # a link to the picture itself: on a phone the page shrinks it, a tap shows it whole
        media = (f'<a href="{src}"><img src="{src}" width="{w}" height="{h}" alt="{alt_text}" '
                 f'loading="lazy"></a>')
        return f"<figure>{media}<figcaption>{cap}</figcaption></figure>"

    def twin(self, s: Subject) -> MLP | None:
        """S2's partner for ``s``: --compare, a 500-image run of the same net, or one trained
        now."""
        twin = self.compare
        if twin is None:
            twin = next((t.model for t in self.twins if t.model.sizes == s.model.sizes), None)
        if twin is None and self.train_twin_run:
            twin = train_twin(s, self.ds, self.log)
        return twin if twin is not None and twin.sizes == s.model.sizes else None
