"""The report's section on asking the net: how far each digit is from being misread (DeepFool
beside FGSM, per class) and what the output classes and the most important hidden neurons
dream of."""

from __future__ import annotations

import html
from collections.abc import Callable

import numpy as np

from digitlens.analysis import dream as D
from digitlens.analysis import nudge as N
from digitlens.analysis.gradients import output_layer, pixels, read
from digitlens.data.sources import Dataset
from digitlens.nn.cnn import CNN
from digitlens.nn.compose import composed_weights
from digitlens.nn.mlp import MLP
from digitlens.nn.threads import blas_threads
from digitlens.numbering import layer_name
from digitlens.render.image import Picture
from digitlens.render.report_html import table
from digitlens.render.views.ask import dreams_view, nudge_view
from digitlens.wording import count

Figure = Callable[[Picture, str, str], str]
N_DIGITS = 200
N_NEURONS = 10


def flipped_of(results: list[N.Nudge | None], indices: np.ndarray) -> list[N.Nudge]:
    return [r for r in (results[i] for i in indices) if r is not None and r.flipped]


def fragility_rows(df: list[N.Nudge | None], fg: list[N.Nudge | None], labels: np.ndarray,
                   names: list[str]) -> list[list[str]]:
    """Per true class: digits, DeepFool and FGSM median L2, and the class it most often
    flips into."""
    rows = []
    for c in range(len(names)):
        mine = np.flatnonzero(labels == c)
        if not mine.size:
            continue
        d, f = flipped_of(df, mine), flipped_of(fg, mine)
        into = np.bincount([r.to for r in d], minlength=len(names)) if d else None
        rows.append([names[c], str(mine.size),
                     f"{np.median([r.l2 for r in d]):.2f}" if d else "–",
                     f"{np.median([r.l2 for r in f]):.2f}" if f else "–",
                     names[int(np.argmax(into))] if into is not None else "–"])
    return rows


def ask_section(model: MLP, ds: Dataset, figure: Figure,
                n: int = N_DIGITS) -> tuple[str, list[str]]:
    """The section's HTML body and its findings. ``figure(picture, file name, caption)``
    saves a figure and returns its HTML (the report's ``Writer.figure``)."""
    body, findings = fragility_section(model, ds, figure, n)
    return body + dream_figures(model, ds, figure), findings


def fragility_section(model: MLP | CNN, ds: Dataset, figure: Figure,
                      n: int = N_DIGITS) -> tuple[str, list[str]]:
    """How far the first ``n`` test digits are from being misread, DeepFool beside FGSM, per
    class, with the most fragile digit read right (either kind of network)."""
    names = list(ds.class_names)
    x, y = ds.test_images[:n], ds.test_labels[:n]
    df, fg = N.nudge_many(model, x), N.nudge_many(model, x, "fgsm")
    l2 = {m: [r.l2 for r in res if r is not None and r.flipped] for m, res in
          (("deepfool", df), ("fgsm", fg))}
    med = {m: float(np.median(v)) if v else float("nan") for m, v in l2.items()}
    rows = fragility_rows(df, fg, y, names)
    body = (f"<p>For each of the first {count(len(y), 'test digit')}: the smallest change that "
            f"makes the network read another class. DeepFool (the minimal L2 change, pixels "
            f"kept in 0..1) flipped <b>{len(l2['deepfool'])}</b> of them with a median L2 "
            f"change of <b>{med['deepfool']:.2f}</b> (pixel units: a single pixel moved from "
            f"black to white is 1); FGSM's one signed step, at its smallest flipping size, "
            f"needed <b>{med['fgsm']:.2f}</b>. A small number means a fragile class.</p>")
    body += table(["true class", "digits", "DeepFool median L2", "FGSM median L2",
                   "most often flips into"], rows)
    flipped = flipped_of(df, np.arange(len(df)))
    right = [i for i, r in enumerate(df) if r is not None and r.flipped and r.source == y[i]]
    if right:  # the most fragile digit that was read right: fooled, not corrected
        i = min(right, key=lambda k: df[k].l2)  # type: ignore[union-attr]
        res = df[i]
        assert res is not None
        body += figure(nudge_view(res, names, int(y[i])), "nudge.png",
                       "The most fragile of these digits that the network read right: the "
                       "change that fools it is spread thinly over many pixels, too faint to "
                       "see in the nudged digit.")
    findings = []
    if rows and flipped:
        fragile = min((r for r in rows if r[2] != "–"), key=lambda r: float(r[2]))
        findings.append(f"The most fragile class is <b>{html.escape(fragile[0])}</b> (median "
                        f"L2 {fragile[2]} to flip it, most often into a "
                        f"<b>{html.escape(fragile[4])}</b>); DeepFool's changes are "
                        f"<b>{med['fgsm'] / med['deepfool']:.1f}×</b> smaller than FGSM's.")
    return body, findings


def class_dreams(model: MLP | CNN, ds: Dataset, figure: Figure) -> str:
    """What each class wants to see, without the composed weights (a convolutional network
    has none): each dream beside the best score a training digit reaches."""
    train = pixels(model, ds.train_images)
    scores = np.concatenate([read(model, train[i:i + 4096]).z
                             for i in range(0, len(train), 4096)])
    top = output_layer(model)
    start = train.mean(axis=0)
    with blas_threads(1):  # one image at a time: too small to share among threads
        dreams = [D.dream(model, top, c, start, max_train=float(scores[:, c].max()))
                  for c in range(scores.shape[1])]
    beat = sum(d.activation > (d.max_train_activation or np.inf) for d in dreams)
    body = (f"<p>What does each class want to see? Gradient ascent from the mean training "
            f"digit finds the input that gives its score the highest value (pixels in 0..1, "
            f"smoothed so strokes stay connected). <b>{beat}</b> of the {len(dreams)} class "
            f"dreams score higher than any real training digit.</p>")
    return body + figure(dreams_view(dreams, None, list(ds.class_names), "classes"),
                         "dreams-classes.png", "")


def important_hidden(model: MLP, x: np.ndarray, k: int) -> tuple[int, np.ndarray]:
    """The last hidden layer's ``k`` most important neurons, ranked as the neurons section
    ranks them (activation spread × outgoing weight norm)."""
    layer = model.n_layers - 2
    h = model.trace(x).activations[layer + 1].astype(np.float64)
    importance = h.std(axis=0) * np.linalg.norm(model.weights[layer + 1], axis=1)
    return layer, np.argsort(-importance, kind="stable")[:k]


def dream_figures(model: MLP, ds: Dataset, figure: Figure) -> str:
    train = model.as_input(ds.train_images)
    start = train.mean(axis=0)
    maxima = D.train_maxima(model, train)
    out = model.n_layers - 1
    with blas_threads(1):  # one image at a time: too small to share among threads
        dreams = [D.dream(model, out, c, start, max_train=float(maxima[out][c]))
                  for c in range(model.sizes[-1])]
    beat = sum(d.activation > (d.max_train_activation or np.inf) for d in dreams)
    body = (f"<p>What does each output neuron want to see? Gradient ascent from the mean "
            f"training digit finds the input that gives its score the highest value (pixels "
            f"in 0..1, with a little smoothing so strokes stay connected). "
            f"<b>{beat}</b> of the {len(dreams)} class dreams score higher than any real "
            f"training digit. The composed weights underneath are a linear approximation of "
            f"the same wish that ignores the activations; the dream is the network's real "
            f"optimum.</p>")
    body += figure(dreams_view(dreams, composed_weights(model, out), list(ds.class_names),
                               "classes"), "dreams-classes.png", "")
    if model.n_layers > 1:
        layer, top = important_hidden(model, ds.test_images[:2000], N_NEURONS)
        with blas_threads(1):
            hd = [D.dream(model, layer, int(j), start, max_train=float(maxima[layer][j]))
                  for j in top]
        body += figure(dreams_view(hd, composed_weights(model, layer)[:, top],
                                   [f"#{j}" for j in top], "hidden"), "dreams-hidden.png",
                       f"The {len(top)} most important neurons of {layer_name(layer)} and their "
                       f"dreams, beside their "
                       f"composed weights.")
    return body
