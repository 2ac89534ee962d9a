"""View 4 (S3): training epoch by epoch from a run's snapshots, as a GIF, WebP or MP4.

Each frame: the first hidden layer's weight images (red +, blue −) with their bias bars
(yellow +, green −); the output neurons' weights laid out on the last hidden layer's grid;
the test-accuracy curve so far; the epoch number. The layout is drawn once and each frame only
pastes its tiles onto a copy, so a frame costs a couple of milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from digitlens import palette as C
from digitlens.errors import ModelError, bad_param
from digitlens.nn.backprop import evaluate
from digitlens.nn.mlp import MLP
from digitlens.nn.run import Run
from digitlens.numbering import layer_name
from digitlens.render.draw import grid_scale, scale_for, vector_tiles, weight_tiles
from digitlens.render.image import Animation
from digitlens.render.tiles import Canvas, colorbar, grid_shape, mosaic, text_width, with_bias_bars

MAX_HIDDEN = 256
CURVE_H, CURVE_W = 150, 400


@dataclass
class Frames:
    """The per-epoch numbers an evolution animation draws."""

    epochs: list[int]
    models: list[MLP]
    accuracy: list[float | None]  # test accuracy after each epoch (epoch 0: if measured)


def story_epochs(epochs: list[int], dense: int = 40) -> list[int]:
    """The snapshots a training video shows: every epoch of the first ``dense`` (where the
    neurons change fastest), then every 2nd up to 100 and every 5th after, and the last."""
    chosen = [e for e in epochs
              if e <= dense or (e <= 100 and e % 2 == 0) or (e > 100 and e % 5 == 0)]
    return chosen + ([epochs[-1]] if epochs and chosen[-1:] != epochs[-1:] else [])


def load_frames(run: Run, every: int = 1, test: tuple[np.ndarray, np.ndarray] | None = None,
                only: list[int] | None = None) -> Frames:
    """Load every ``every``-th snapshot (or those in ``only``; always the last); accuracy from
    the run's history, and for epoch 0 measured on ``test`` (images, labels) when given."""
    epochs = run.snapshot_epochs()
    if not epochs:
        raise ModelError(f"{run.path}: no snapshots to animate (is it a run folder?)")
    if every < 1:
        raise bad_param("every", "an int >= 1", every)
    chosen = epochs[::every] if only is None else [e for e in epochs if e in set(only)]
    if chosen[-1] != epochs[-1]:
        chosen.append(epochs[-1])
    acc_by_epoch: dict[int, float | None] = {int(h["epoch"]): float(h["test_accuracy"])
                                             for h in run.history()}
    models = [run.load_snapshot(e) for e in chosen]
    if test is not None and 0 in chosen:
        m0 = models[chosen.index(0)]
        acc_by_epoch[0] = evaluate(m0, m0.as_input(test[0]), test[1]).accuracy  # as training
    return Frames(chosen, models, [acc_by_epoch.get(e) for e in chosen])


class EvolutionLayout:
    """Positions of every part of a frame, and the static background they sit on."""

    def __init__(self, model: MLP, last_epoch: int, class_names: list[str]) -> None:
        self.n_hidden = min(model.sizes[1], MAX_HIDDEN) if model.n_layers > 1 else 0
        self.last_epoch = max(last_epoch, 1)
        g = grid_shape(self.n_hidden) if self.n_hidden else (1, 1)
        self.hidden_grid = g
        self.shape = model.input_shape
        self.hscale = 2 if self.n_hidden <= 100 else 1  # as for 28×28; scale_for matches it
        px = scale_for(self.shape, self.hscale)
        tile_h, tile_w = self.shape[0] * px, self.shape[1] * px
        self.bar = 3 + self.hscale
        cell_w, cell_h = tile_w + 1 + self.bar + 3, tile_h + 3
        self.mosaic_w = g[1] * cell_w - 3 if self.n_hidden else 0
        self.mosaic_h = g[0] * cell_h - 3 if self.n_hidden else 0
        top, left = 52, 16
        self.hidden_at = (top + 22, left)
        # output neurons: weights over the last hidden layer (or the input, no hidden layer)
        n_prev = model.sizes[-2]
        self.out_grid = grid_shape(n_prev) if model.n_layers > 1 else self.shape
        self.oscale = grid_scale(self.out_grid, 56)
        ow = self.out_grid[1] * self.oscale + 1 + 5
        oh = self.out_grid[0] * self.oscale
        self.out_cols = 5
        self.out_cell = (oh + 20, ow + 10)
        # the right column starts after the mosaic or its title, whichever is wider
        self.hidden_title = (self._hidden_title(model) if self.n_hidden else "")
        head_w = text_width(self.hidden_title, 12, True) if self.n_hidden else 0
        x_right = left + max(self.mosaic_w, head_w) + (30 if self.n_hidden else 0)
        self.out_at = (top + 22, x_right)
        out_block_w = self.out_cols * self.out_cell[1]
        out_rows = -(-model.sizes[-1] // self.out_cols)
        self.curve_at = (self.out_at[0] + out_rows * self.out_cell[0] + 46, x_right)
        self.curve_w = max(CURVE_W, out_block_w - 10)
        legend_y = max(self.hidden_at[0] + self.mosaic_h, self.curve_at[0] + CURVE_H + 30) + 14
        self.legend_y = legend_y
        width = max(x_right + max(out_block_w, self.curve_w + 50), 760) + 16
        self.height = legend_y + 50 + 10
        self.width = width + (width % 2)
        self.height += self.height % 2
        self.class_names = class_names
        self.base = self._background(model)

    def _hidden_title(self, model: MLP) -> str:
        shown = f" (first {self.n_hidden} of {model.sizes[1]})" \
            if model.sizes[1] > self.n_hidden else ""
        return (f"{layer_name(0).capitalize()}{shown}: each neuron's {model.sizes[0]} input "
                "weights, bias bar at right")

    def output_title(self, model: MLP) -> str:
        """Whose weights the output grids are: the pixels (no hidden layer), the mosaic's neurons
        (one hidden layer) or the last hidden layer's, which the mosaic does not show."""
        if model.n_layers == 1:
            return "Output neurons: one weight per pixel"
        grid = "×".join(map(str, self.out_grid))
        if model.n_layers == 2:
            return f"Output neurons: {grid} weights, one per hidden neuron"
        return f"Output neurons: {grid} weights from {layer_name(model.n_layers - 2)} (not drawn)"

    def _background(self, model: MLP) -> Canvas:
        cv = Canvas(self.height, self.width)
        if self.n_hidden:
            cv.text(self.hidden_at[0] - 20, self.hidden_at[1], self.hidden_title, 12, True)
        y, x = self.out_at
        cv.text(y - 20, x, self.output_title(model), 12, True)
        for i, name in enumerate(self.class_names):
            r, c = divmod(i, self.out_cols)
            cv.text(y + r * self.out_cell[0] + self.out_cell[0] - 18,
                    x + c * self.out_cell[1] + (self.out_cell[1] - 10) // 2, name, 12,
                    align="centre")
        self._axes(cv)
        return cv

    def _axes(self, cv: Canvas) -> None:
        y, x = self.curve_at
        cv.text(y - 22, x, "Test accuracy", 12, True)
        x0 = x + 40
        for pct in (0, 25, 50, 75, 100):
            yy = y + CURVE_H - int(round(pct / 100 * CURVE_H))
            cv.rect(yy, x0, 1, self.curve_w, C.INDEX["panel"] if pct % 50 else C.INDEX["frame"])
            cv.text(yy - 7, x0 - 4, f"{pct}%", 12, colour="muted", align="right")
        cv.rect(y + CURVE_H, x0, 1, self.curve_w, C.INDEX["muted"])
        cv.text(y + CURVE_H + 4, x0, "0", 12, colour="muted")
        cv.text(y + CURVE_H + 4, x0 + self.curve_w, f"{self.last_epoch}", 12, colour="muted",
                align="right")
        cv.text(y + CURVE_H + 4, x0 + self.curve_w // 2, "epoch", 12, colour="muted",
                align="centre")

    def curve_point(self, epoch: int, acc: float) -> tuple[int, int]:
        y, x = self.curve_at
        px = x + 40 + int(round(epoch / self.last_epoch * (self.curve_w - 1)))
        py = y + CURVE_H - int(round(acc * CURVE_H))
        return py, px

    def curve_mask(self, epochs: list[int], acc: list[float | None]) -> np.ndarray:
        """The whole curve rasterised once; each frame reveals it up to its epoch."""
        img = Image.new("L", (self.width, self.height), 0)
        pts = [self.curve_point(e, a)[::-1] for e, a in zip(epochs, acc, strict=True)
               if a is not None]
        if len(pts) > 1:
            ImageDraw.Draw(img).line(pts, fill=255, width=2)
        elif pts:
            ImageDraw.Draw(img).point(pts, fill=255)
        return np.asarray(img) > 0


def evolution(run: Run | str, every: int = 1, fps: float | None = None,
              test: tuple[np.ndarray, np.ndarray] | None = None,
              class_names: list[str] | None = None, only: list[int] | None = None
              ) -> Animation:
    """The training video of a run (see the module docstring) over every ``every``-th snapshot
    or those in ``only``; ``fps`` defaults to 8 for long runs and 2 for short ones, so ten
    epochs do not flash by and the first forty of a long run last five seconds."""
    run = run if isinstance(run, Run) else Run(run)
    fr = load_frames(run, every, test, only)
    fps = fps or (8.0 if len(fr.epochs) > 40 else 2.0)
    first = fr.models[-1]
    names = class_names or list(first.class_names)
    lay = EvolutionLayout(first, fr.epochs[-1], names)
    mask = lay.curve_mask(fr.epochs, fr.accuracy)
    vmax_h = [C.symmetric_limit(m.weights[0][:, :lay.n_hidden]) if lay.n_hidden else 1.0
              for m in fr.models]
    vmax_o = [C.symmetric_limit(m.weights[-1], 100) for m in fr.models]
    vmax_b = [C.symmetric_limit(np.concatenate([m.biases[0], m.biases[-1]]), 100)
              for m in fr.models]

    counts = {int(h["epoch"]): h["neurons"] for h in run.history() if h.get("neurons")}

    def frame(i: int) -> np.ndarray:
        idx = picture(i)
        if not counts:
            return idx
        return np.vstack([idx, neuron_line(counts.get(fr.epochs[i]), lay.width)])

    def picture(i: int) -> np.ndarray:
        m, epoch, acc = fr.models[i], fr.epochs[i], fr.accuracy[i]
        cv = Canvas(1, 1)
        cv.idx = lay.base.idx.copy()
        if lay.n_hidden:
            w = m.weights[0][:, :lay.n_hidden]
            tiles = weight_tiles(w, vmax_h[i], lay.hscale, lay.shape)
            tiles = with_bias_bars(tiles, C.bias(m.biases[0][:lay.n_hidden], vmax_b[i]), lay.bar)
            cv.paste(*lay.hidden_at, mosaic(tiles, lay.hidden_grid[1], 3))
        wo = C.diverging(m.weights[-1].T, vmax_o[i])  # (classes, n_prev)
        otiles = vector_tiles(wo, lay.out_grid, lay.oscale)
        otiles = with_bias_bars(otiles, C.bias(m.biases[-1], vmax_b[i]), 5)
        y, x = lay.out_at
        for k in range(len(otiles)):
            r, c = divmod(k, lay.out_cols)
            cv.paste(y + r * lay.out_cell[0], x + c * lay.out_cell[1], otiles[k])
        cut = lay.curve_point(epoch, 0)[1] + 1
        cv.idx[:, :cut][mask[:, :cut]] = C.INDEX["accent"]
        if acc is not None:
            py, px = lay.curve_point(epoch, acc)
            cv.rect(py - 3, px - 3, 7, 7, C.INDEX["wrong"])
        title = f"Epoch {epoch} of {fr.epochs[-1]}" + (" (initial weights)" if epoch == 0 else "")
        cv.text(12, 16, title, 20, True)
        if acc is not None:
            cv.text(16, 40 + text_width(title, 20, True), f"test accuracy {acc:.2%}", 15)
        ly = lay.legend_y
        if lay.n_hidden:
            cv.paste(ly, 6, colorbar("div", (f"−{vmax_h[i]:.2g}", "0", f"+{vmax_h[i]:.2g}"),
                                     "hidden weights", 160))
        cv.paste(ly, 236, colorbar("bias", (f"−{vmax_b[i]:.2g}", "0", f"+{vmax_b[i]:.2g}"),
                                   "biases", 100))
        cv.paste(ly, 406, colorbar("div", (f"−{vmax_o[i]:.2g}", "0", f"+{vmax_o[i]:.2g}"),
                                   "output weights", 160))
        return cv.idx

    caption = ("Watch the hidden neurons grow, over the epochs, from noise into stroke and "
               f"blob detectors: {C.hue('pos')} pixels excite a neuron, {C.hue('neg')} ones "
               "inhibit it. Neurons that "
               "stay pale are the ones the network barely uses." if lay.n_hidden else
               "Watch each output neuron's weights turn from noise into a blurry template of its "
               f"digit: {C.hue('pos')} pixels vote for the class, {C.hue('neg')} ones against.")
    if only is not None and len(fr.epochs) < len(run.snapshot_epochs()):
        caption += (f" {len(fr.epochs)} of the {len(run.snapshot_epochs())} snapshots are shown: "
                    "every epoch while the weights change fastest, then every 2nd and every "
                    "5th; the epoch counter says which.")
    return Animation(len(fr.epochs), frame, fps, "evolution", caption,
                     {"epochs": fr.epochs, "test_accuracy": fr.accuracy, "vmax_hidden": vmax_h,
                      "vmax_output": vmax_o, "vmax_bias": vmax_b,
                      "hidden_at": lay.hidden_at, "hscale": lay.hscale,
                      "hidden_grid": lay.hidden_grid,
                      "size": (lay.width, lay.height + (LINE_H if counts else 0)),
                      "out_at": lay.out_at, "out_grid": lay.out_grid, "oscale": lay.oscale,
                      "out_cell": lay.out_cell, "out_cols": lay.out_cols,
                      "output_title": lay.output_title(first)})


LINE_H = 24


def neuron_line(layers: list[dict[str, int]] | None, width: int) -> np.ndarray:
    """The strip under a frame: the neuron monitor's counts after this epoch (history.json)."""
    cv = Canvas(LINE_H, width)
    text = ("dead / dim / near-duplicate neurons on 1,000 test digits: " + " · ".join(
        f"{layer_name(n['layer'])}: {n['dead']} / {n['dim']} / {n['duplicates']} of {n['n']}"
        for n in layers) if layers else "dead / dim / near-duplicate neurons: not measured "
        "before the first epoch")
    cv.text(4, 16, text, 12, colour="text" if layers else "muted")
    return cv.idx
