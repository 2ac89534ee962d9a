"""View 1 (S0): a digit beside every layer's activations, drawn as brightness grids.

The numbers are ``model.trace``'s activations; one brightness scale per layer (a high
percentile over many digits) is shared by every frame, so a brighter square really is a
stronger response.
"""

from __future__ import annotations

import numpy as np

from digitlens.analysis.fingerprints import activation_scales, class_fingerprints
from digitlens.errors import bad_param
from digitlens.nn.cnn import CNN, Conv, Dense
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name
from digitlens.render.draw import cells_row, digit_tile, layer_grid, outlined
from digitlens.render.image import Animation, Picture
from digitlens.render.tiles import (
    Canvas,
    colorbar,
    fit_size,
    grid_shape,
    stack,
    text_width,
    titled,
)

PANEL = 192  # the longer side of each hidden layer's grid, in pixels
LABEL = 130  # the width of the class fingerprints' row names


def layer_names(model: MLP) -> list[str]:
    return [f"{layer_name(i, model.n_layers)} · {n}" for i, n in enumerate(model.sizes[1:])]


def names_of(model: MLP | CNN, class_names: list[str] | None) -> list[str]:
    return class_names or list(model.class_names)


def layer_image(values: np.ndarray, vmax: float, is_output: bool, panel: int) -> np.ndarray:
    """A layer's activations: a row of cells for a small output layer, else a grid."""
    if is_output and values.size <= 12:
        return cells_row(values, vmax, max(5, min(26, (panel - 2 * values.size) // values.size)))
    g = grid_shape(values.size)
    return outlined(layer_grid(values, vmax, panel, g))


class FingerprintLayout:
    """Fixed positions for the input and each layer's image, so frames line up."""

    def __init__(self, model: MLP, scales: list[float], class_names: list[str]) -> None:
        self.model, self.scales, self.names = model, scales, class_names
        probe = [layer_image(np.zeros(n), 1.0, k == model.n_layers - 1, self.panel(k))
                 for k, n in enumerate(model.sizes[1:])]
        self.x = [20, 20 + 112 + 40]
        for img in probe:
            self.x.append(self.x[-1] + max(img.shape[1], 120) + 36)
        self.top = 34
        self.height = self.top + max(150, *(p.shape[0] for p in probe)) + 60
        self.legend = colorbar("grey", ("0", "", "layer max"), "activation: brighter = the "
                               "neuron fires more (one scale per layer)", 220)
        self.width = max(self.x[-1], self.x[1] + self.legend.shape[1] + 10)

    def panel(self, k: int) -> int:
        return 300 if k == self.model.n_layers - 1 else PANEL

    def draw(self, x: np.ndarray, label: int | None) -> tuple[np.ndarray, dict[str, object]]:
        t = self.model.trace(x)
        pred = int(t.prediction[0])
        cv = Canvas(self.height, self.width)
        cv.text(8, self.x[0], "input", 12, True)
        cv.paste(self.top, self.x[0], digit_tile(t.activations[0][0], 4, self.model.input_shape))
        if label is not None:
            cv.text(self.top + 118, self.x[0], f"true {self.names[label]}", 12, True, "true")
            cv.text(self.top + 134, self.x[0], f"predicted {self.names[pred]}", 12, True,
                    "true" if pred == label else "wrong")
        last = self.model.n_layers - 1
        for k, a in enumerate(t.activations[1:]):
            x0, v = self.x[k + 1], a[0]
            cv.text(8, x0, layer_names(self.model)[k], 12, True)
            img = layer_image(v, self.scales[k], k == last, self.panel(k))
            cv.paste(self.top, x0, img)
            if k == last and v.size <= 12:
                cell = (img.shape[1] - 2 + 2) // v.size
                # long class names (fashion-mnist) do not fit under a cell: number the cells
                short = all(text_width(n, 12, True) <= cell for n in self.names[: v.size])
                labels = self.names if short else [str(c) for c in range(v.size)]
                for c in range(v.size):
                    colour = ("true" if c == label or (c == pred and label is None)
                              else "wrong" if c == pred else "text")
                    cv.text(self.top + img.shape[0] + 4, x0 + 1 + c * cell + (cell - 2) // 2,
                            labels[c], 12, c in (pred, label), colour, "centre")
                said = "" if short else f"{self.names[pred]}, "
                cv.text(self.top + img.shape[0] + 22, x0, f"{said}{float(v[pred]):.0%} sure", 11,
                        colour="muted")
        cv.paste(self.height - 46, self.x[1], self.legend)
        return cv.idx, {"activations": [a[0].tolist() for a in t.activations[1:]],
                        "prediction": pred}


def fingerprint(model: MLP, image: np.ndarray, label: int | None = None,
                reference: np.ndarray | None = None, class_names: list[str] | None = None
                ) -> Picture:
    """One digit and its activations in every layer. ``reference`` digits set the brightness
    scales (default: the digit itself)."""
    ref = image if reference is None else reference
    lay = FingerprintLayout(model, activation_scales(model, ref), names_of(model, class_names))
    idx, data = lay.draw(image, label)
    data["scales"] = lay.scales
    return Picture(idx, "fingerprints", "The same few neurons light up for every version of a "
                   "digit: that pattern is the digit's fingerprint.", data)


def fingerprint_animation(model: MLP, images: np.ndarray, labels: np.ndarray | None = None,
                          reference: np.ndarray | None = None, fps: float = 3.0,
                          class_names: list[str] | None = None) -> Animation:
    """Many versions of a digit, one per frame, with fixed brightness scales."""
    if len(images) == 0:
        raise bad_param("images", "at least one digit", 0)
    ref = images if reference is None else reference
    lay = FingerprintLayout(model, activation_scales(model, ref), names_of(model, class_names))

    def frame(i: int) -> np.ndarray:
        return lay.draw(images[i], None if labels is None else int(labels[i]))[0]

    return Animation(len(images), frame, fps, "fingerprints",
                     "Different handwriting, same fingerprint: watch the last hidden layer "
                     "keep lighting up the same squares.", {"scales": lay.scales}, 0)


def class_fingerprints_view(model: MLP | CNN, images: np.ndarray, labels: np.ndarray,
                            class_names: list[str] | None = None) -> Picture:
    """Mean fingerprint of each class (a column each) in each layer (a row each), with its
    consistency r (mean correlation of single digits with their class mean) against the
    closest other class's mean. A convolutional network's map layers are read per channel."""
    names = names_of(model, class_names)
    fp = class_fingerprints(model, images, labels, len(names))
    x = model.as_input(images).reshape(len(images), -1)
    shape = (int(model.input_shape[-2]), int(model.input_shape[-1]))
    col_w = 104
    rows = []
    label = LABEL if isinstance(model, MLP) else LABEL + 90  # "16 channel means · read-out"
    head = Canvas(24, label + len(names) * col_w)
    size = fit_size(names, col_w - 8, (18, 16, 14, 12, 11, 10))
    for c, name in enumerate(names):
        head.text((18 - size) // 2, label + c * col_w + 48, name, size, True, align="centre")
    rows.append(head.idx)
    digits = [outlined(digit_tile(x[np.asarray(labels) == c].mean(axis=0), 3, shape))
              for c in range(len(names))]
    mean_of = "mean digit" if all(len(n) <= 2 for n in names) else "mean image"
    rows.append(_row(mean_of, "", digits, [""] * len(names), col_w, label))
    for k, m in enumerate(fp.means):
        vmax = float(np.max(m)) or 1.0
        imgs = [layer_image(m[c], vmax, k == len(fp.means) - 1, 96) for c in range(len(names))]
        notes = [f"r {fp.consistency[k, c]:.2f} vs {fp.nearest_other[k, c]:.2f}"
                 for c in range(len(names))]
        title, width = row_title(model, k, m.shape[1])
        rows.append(_row(title, f"{width} · read-out {fp.readout_accuracy[k]:.0%}", imgs, notes,
                         col_w, label))
    legend = colorbar("grey", ("0", "", "layer max"), "mean activation", 160)
    digits_only = all(len(n) <= 2 for n in names)
    img = titled(stack([*rows, legend], gap=14),
                 f"Mean fingerprint of each {'digit' if digits_only else 'class'}",
                 subtitle="r 0.9 vs 0.6: single digits correlate 0.9 on average with their own "
                          "class's mean and 0.6 with the closest other class's (1 = identical); "
                          "read-out: how often the nearest mean names the right digit")
    return Picture(img, "fingerprints-classes", "Each column is one digit's average "
                   f"fingerprint. r near 1 means every handwriting fires the same "
                   f"{'neurons' if isinstance(model, MLP) else 'channels and neurons'}.",
                   fp.to_dict())


def row_title(model: MLP | CNN, k: int, width: int) -> tuple[str, str]:
    """A layer's row: its name, and what its fingerprint counts (neurons, or channels)."""
    if isinstance(model, MLP):
        return layer_name(k, model.n_layers), str(width)
    layer = model.layers[k]
    if k == len(model.layers) - 1:
        return f"output · layer {k}", str(width)
    nth = sum(type(m) is type(layer) for m in model.layers[:k + 1])  # as the explorer counts
    if isinstance(layer, Dense):  # and the layer's number, as filters and feature-maps give it
        return f"dense {nth} · layer {k}", str(width)
    kind = "convolution" if isinstance(layer, Conv) else "pooling"
    return f"{kind} {nth} · layer {k}", f"{width} channel means"


def _row(title: str, sub: str, imgs: list[np.ndarray], notes: list[str], col_w: int,
         label: int) -> np.ndarray:
    # tall enough for the title and the line under it beside a one-row strip (the output layer)
    h = max(max(i.shape[0] for i in imgs) + 16, 40 if sub else 0)
    cv = Canvas(h, label + len(imgs) * col_w)
    cv.text(h // 2 - 14, 0, title, 12, True)
    cv.text(h // 2 + 2, 0, sub, 12, colour="muted")
    for c, (img, note) in enumerate(zip(imgs, notes, strict=True)):
        x = label + c * col_w + (col_w - 8 - img.shape[1]) // 2
        cv.paste(0, x, img)
        if note:
            cv.text(img.shape[0] + 2, label + c * col_w + (col_w - 8) // 2, note, 12,
                    colour="muted", align="centre")
    return cv.idx
