"""View 2 (S1): class evidence panels: for every class its weights, input × weights, and the
summed score as a bar; the true class in green, a wrong prediction in orange.

For a 784-10 net the panels are exact (score = Σ input × weight + bias). For deeper nets the
"weights" row is the composed weights or the input gradient, and the picture says which.
"""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.analysis.attribution import Evidence, evidence
from digitlens.errors import bad_param
from digitlens.nn.mlp import MLP
from digitlens.render.draw import as_image28, digit_tile, scale_for
from digitlens.render.image import Animation, Picture
from digitlens.render.tiles import Canvas, colorbar, fit_size, upscale

TILE = 84   # each class's images drawn 84 px wide (28×28 3× larger)
GAP = 12
BAR_H = 70
LEFT = 150
TOP = 50          # y of the first row of tiles
ROW_STEP = TILE + 20


PRODUCT = {"weights": "input × weights", "composed": "input × composed weights",
           "gradient": "input × gradient", "integrated-gradients": "integrated gradients"}


# the bars are the output layer's z; only for a 784-10 net is that the sum of the maps above
Z_LABEL = {"weights": "output z = sum of the map above + bias",
           "composed": "output z (the net's own score, not the map's sum)",
           "gradient": "output z (the net's own score, not the map's sum)",
           "integrated-gradients": "output z (the map sums to z(x) − z(black))"}


def row_label(method: str) -> str:
    return {"weights": "weights", "composed": "composed weights",
            "gradient": "input gradient", "integrated-gradients": "path-averaged gradient"}[method]


class EvidenceLayout:
    """Positions and fixed colour scales shared by every frame of an animation."""

    def __init__(self, model: MLP, method: str, ev_ref: list[Evidence],
                 names: list[str]) -> None:
        self.model, self.method, self.names = model, method, names
        self.n = model.sizes[-1]
        self.vmax_w = max(C.symmetric_limit(e.class_weights) for e in ev_ref)
        self.vmax_c = max(C.symmetric_limit(e.contributions, 99.9) for e in ev_ref)
        self.vmax_s = max(float(np.max(np.abs(e.scores))) for e in ev_ref) * 1.1 or 1.0
        # at least ten classes wide: the row titles and the legend's notes need the room
        self.width = LEFT + max(self.n, 10) * (TILE + GAP) + 10
        self.rows_y = [TOP, TOP + ROW_STEP, TOP + 2 * ROW_STEP]
        self.height = self.rows_y[2] + 2 * BAR_H + 40 + 70

    def draw(self, ev: Evidence, x: np.ndarray, label: int | None) -> np.ndarray:
        cv = Canvas(self.height, self.width)
        cv.text(self.rows_y[0] - 44, 10, "input", 12, True)
        cv.paste(self.rows_y[0], 10, digit_tile(x, 4, self.model.input_shape))
        if label is not None:
            cv.text(self.rows_y[0] + 118, 10, f"true {self.names[label]}", 12, True, "true")
        ok = label is None or ev.prediction == label
        cv.text(self.rows_y[0] + 134, 10, f"predicted {self.names[ev.prediction]}", 12, True,
                "true" if ok else "wrong")
        cv.text(self.rows_y[0] + 150, 10, f"{ev.probabilities[ev.prediction]:.0%} sure", 11,
                colour="muted")
        shape = self.model.input_shape
        s_up = scale_for(shape, 3)
        w = upscale(C.diverging(ev.class_weights.T.reshape(-1, *shape), self.vmax_w), s_up)
        c = upscale(C.diverging(ev.contributions.T.reshape(-1, *shape), self.vmax_c), s_up)
        pad_y, pad_x = (TILE - w.shape[1]) // 2, (TILE - w.shape[2]) // 2  # centred in TILE
        labels = [row_label(ev.method), PRODUCT[ev.method], Z_LABEL[ev.method]]
        for r, text in enumerate(labels):
            cv.text(self.rows_y[r] - 19, LEFT, text, 12, True)
        zero_y = self.rows_y[2] + BAR_H + 4
        head = fit_size(self.names[: self.n], TILE + GAP - 2)
        for k in range(self.n):
            x0 = LEFT + k * (TILE + GAP)
            highlight = "true" if k == label else ("wrong" if k == ev.prediction and not ok
                                                   else None)
            cv.text(6 + (16 - head) // 2, x0 + TILE // 2, self.names[k], head, True,
                    highlight or "text", "centre")
            cv.paste(self.rows_y[0] + pad_y, x0 + pad_x, w[k])
            cv.paste(self.rows_y[1] + pad_y, x0 + pad_x, c[k])
            if highlight:
                for y in self.rows_y[:2]:
                    cv.rect(y - 3, x0 - 3, TILE + 6, TILE + 6, C.INDEX[highlight], 3)
            s = float(ev.scores[k])
            h = int(round(min(abs(s) / self.vmax_s, 1.0) * BAR_H))
            colour = C.INDEX[highlight] if highlight else C.INDEX["muted"]
            if s >= 0:
                cv.rect(zero_y - h, x0 + 20, h, TILE - 40, colour)
            else:
                cv.rect(zero_y + 1, x0 + 20, h, TILE - 40, colour)
            cv.text(zero_y + BAR_H + 6, x0 + TILE // 2, f"{s:+.1f}", 11, k == ev.prediction,
                    align="centre")
        cv.rect(zero_y, LEFT - 4, 1, self.n * (TILE + GAP) - GAP + 8, C.INDEX["text"])
        ly = self.height - 56
        cv.paste(ly, LEFT - 30, colorbar("div", (f"−{self.vmax_w:.2g}", "0",
                                                 f"+{self.vmax_w:.2g}"), labels[0], 150))
        cv.paste(ly, LEFT + 220, colorbar("div", (f"−{self.vmax_c:.2g}", "0",
                                                  f"+{self.vmax_c:.2g}"), labels[1], 150))
        cv.text(ly + 4, LEFT + 460, ev.note, 12, colour="muted")
        cv.text(ly + 22, LEFT + 460, "bars: each class's output z before its activation; the "
                "largest wins", 12, colour="muted")
        return cv.idx


def _names(model: MLP, class_names: list[str] | None) -> list[str]:
    return class_names or list(model.class_names)


def evidence_panel(model: MLP, image: np.ndarray, label: int | None = None,
                   method: str = "auto", class_names: list[str] | None = None) -> Picture:
    """The panels for one digit."""
    ev = evidence(model, image, method)
    lay = EvidenceLayout(model, ev.method, [ev], _names(model, class_names))
    return Picture(lay.draw(ev, as_image28(model.as_input(image)[0], model.input_shape), label),
                   "evidence",
                   caption(ev.method), {"method": ev.method, "scores": ev.scores.tolist(),
                                        "prediction": ev.prediction,
                                        "vmax_weights": lay.vmax_w,
                                        "vmax_contributions": lay.vmax_c})


def caption(method: str) -> str:
    base = (f"{C.hue('pos').capitalize()} pixels push a class's score up, {C.hue('neg')} ones "
            "push it down; the class with the "
            "tallest bar wins. ")
    if method == "weights":
        return base + "In a network without hidden layers you can see the digits in the weights."
    if method == "composed":
        return base + "This deep net is read through its composed weights (a linear picture)."
    if method == "integrated-gradients":
        return base + ("This deep net is read by integrated gradients: each pixel's share of the "
                       "score gained on the way from a black image to this digit.")
    return base + ("This deep net is read through the gradient of each score: what each pixel "
                   "would change, for this digit.")


def evidence_animation(model: MLP, images: np.ndarray, labels: np.ndarray | None = None,
                       method: str = "auto", fps: float = 1.5,
                       class_names: list[str] | None = None) -> Animation:
    """The panels over a sequence of test digits, on colour scales fixed for all frames."""
    if len(images) == 0:
        raise bad_param("images", "at least one digit", 0)
    evs = [evidence(model, im, method) for im in images]
    lay = EvidenceLayout(model, evs[0].method, evs, _names(model, class_names))
    xs = model.as_input(images)

    def frame(i: int) -> np.ndarray:
        return lay.draw(evs[i], as_image28(xs[i], model.input_shape),
                        None if labels is None else int(labels[i]))

    return Animation(len(images), frame, fps, "evidence", caption(evs[0].method),
                     {"method": evs[0].method, "scores": [e.scores.tolist() for e in evs],
                      "predictions": [e.prediction for e in evs]}, 0)
