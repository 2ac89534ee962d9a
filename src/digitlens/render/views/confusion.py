"""View 6: where the network goes wrong: a confusion matrix and a gallery of misclassified
digits, each with its top two classes."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.analysis.metrics import Evaluation, evaluate_model
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.render import charts
from digitlens.render.draw import digit_tile
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, fit_size, titled
from digitlens.wording import count, plural


def gallery(images: np.ndarray, labels: np.ndarray, ev: Evaluation, names: list[str],
            n: int = 40, cols: int = 10) -> tuple[np.ndarray, list[dict[str, object]]]:
    """The ``n`` most confident mistakes: the digit, its true class, the top two guesses."""
    wrong = ev.misclassified(labels)[:n]
    cell_w = 106  # room for both guesses in 12-px text
    guesses = [f"{name} 100%" for name in names]
    one_line = max(len(name) for name in names) <= 2  # digits: both guesses on one line
    cell_h = 132 if one_line else 146
    rows = max(1, -(-len(wrong) // cols))
    cv = Canvas(rows * cell_h, cols * cell_w)
    size = fit_size([f"true {n}" for n in names], cell_w - 8, (12, 11, 10, 9))
    guess_size = 12 if one_line else fit_size(guesses, cell_w - 8, (12, 11, 10, 9),
                                                  bold=False)
    items = []
    for k, i in enumerate(wrong):
        r, c = divmod(k, cols)
        y, x = r * cell_h, c * cell_w
        p = ev.probabilities[i]
        top = np.argsort(-p, kind="stable")[:2]
        cv.rect(y, x + 6, 88, 88, C.INDEX["wrong"])
        cv.paste(y + 2, x + 8, digit_tile(images[i], 3))
        cv.text(y + 92, x + 6, f"true {names[int(labels[i])]}", size, True, "true")
        first, second = (f"{names[t]} {p[t]:.0%}" for t in top)
        if one_line:
            cv.text(y + 108, x + 6, f"{first} · {second}", guess_size, colour="muted")
        else:  # long class names (Fashion-MNIST): one guess a line
            cv.text(y + 106, x + 6, first, guess_size, colour="muted")
            cv.text(y + 122, x + 6, second, guess_size, colour="muted")
        items.append({"index": int(i), "true": int(labels[i]), "top": [int(t) for t in top],
                      "probabilities": [float(p[t]) for t in top]})
    return cv.idx, items


def errors_view(model: MLP | CNN, images: np.ndarray, labels: np.ndarray, n: int = 40,
                class_names: list[str] | None = None) -> Picture:
    """Confusion matrix beside the gallery of the most confident mistakes."""
    names = class_names or list(model.class_names)
    ev = evaluate_model(model, images, labels)
    cm = charts.confusion(ev.confusion, names)
    gal, items = gallery(images, labels, ev, names, n)
    title = {0: "No mistakes", 1: "The most confident mistake"}.get(
        len(items), f"The {len(items)} most confident mistakes")
    gal = C.to_rgb(titled(gal, title,
                          subtitle=f"{C.hue('wrong')} frame: misclassified; under each: the true "
                                   f"{'digit' if all(n.isdigit() for n in names) else 'class'}, "
                                   "then the network's top two guesses"))
    h = max(cm.shape[0], gal.shape[0])
    rgb = np.full((h, cm.shape[1] + 20 + gal.shape[1], 3), 255, np.uint8)
    rgb[: cm.shape[0], : cm.shape[1]] = cm
    rgb[: gal.shape[0], cm.shape[1] + 20:] = gal
    wrong = int(ev.confusion.sum() - np.trace(ev.confusion))
    return Picture(rgb, "errors", f"{wrong:,} of {count(len(labels), 'test digit')} "
                   f"{plural(wrong, 'is', 'are')} misclassified ({1 - ev.accuracy:.2%}). Many "
                   "mistakes are digits a person would hesitate over too.",
                   {**ev.to_dict(), "gallery": items})
