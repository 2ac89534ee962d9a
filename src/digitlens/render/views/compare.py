"""Two models side by side (``digitlens.analysis.compare``): per-class accuracy, the confusion
difference, the digits they disagree on, and matched first-layer neurons as pairs of weight
images with their similarity."""

from __future__ import annotations

import numpy as np

from digitlens import palette as C
from digitlens.analysis.compare import Comparison
from digitlens.nn.cnn import CNN, kernel_images
from digitlens.nn.mlp import MLP
from digitlens.render import charts
from digitlens.render.draw import digit_tile, weight_tiles
from digitlens.render.image import Picture
from digitlens.render.tiles import Canvas, titled

GALLERY = 30
PAIRS = 12


def summary_charts(c: Comparison, names: list[str], label_a: str, label_b: str) -> np.ndarray:
    """Per-class accuracy bars for both, and the confusion difference (B − A) off the diagonal."""
    from matplotlib.colors import TwoSlopeNorm
    fig = charts.figure(1000, 360)
    ax, ax2 = fig.subplots(1, 2, width_ratios=[1.4, 1])
    k = np.arange(len(names))
    ax.bar(k - 0.2, c.a.per_class, 0.4, color=charts.MUTED, label=f"A: {label_a} "
           f"({c.a.accuracy:.2%})")
    ax.bar(k + 0.2, c.b.per_class, 0.4, color=charts.ACCENT, label=f"B: {label_b} "
           f"({c.b.accuracy:.2%})")
    lo = min(min(c.a.per_class), min(c.b.per_class))
    ax.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax.set_xticks(k, charts.as_text(names))
    charts.style(ax, "Accuracy per class", "class", "test accuracy")
    charts.percent_axis(ax)
    ax.legend(fontsize=8, loc="lower left")
    diff = (c.b.confusion - c.a.confusion).astype(np.float64)
    np.fill_diagonal(diff, 0)
    lim = max(1.0, float(np.abs(diff).max()))
    im = ax2.imshow(diff, cmap="RdBu_r", norm=TwoSlopeNorm(0, -lim, lim))
    for i, j in zip(*np.nonzero(diff), strict=True):
        ax2.text(j, i, f"{int(diff[i, j]):+d}", ha="center", va="center", fontsize=7)
    ax2.set_xticks(k, names)
    ax2.set_yticks(k, names)
    ax2.tick_params(labelsize=8, length=0)
    ax2.set_xlabel("predicted", fontsize=9)
    ax2.set_ylabel("true class", fontsize=9)
    ax2.set_title(f"Mistakes B − A ({C.hue('pos')}: B makes it more)", fontsize=11, loc="left",
                  fontweight="bold")
    fig.colorbar(im, ax=ax2, shrink=0.8).ax.tick_params(labelsize=7)
    return charts.to_rgb(fig)


def disagreement_gallery(c: Comparison, images: np.ndarray, names: list[str],
                         n: int = GALLERY, cols: int = 10) -> np.ndarray:
    """The first ``n`` digits the two classify differently: true class, A's and B's answer
    (green when right, orange when wrong)."""
    idx = c.disagreements[:n]
    cell_w, cell_h = 96, 124
    cv = Canvas(max(1, -(-len(idx) // cols)) * cell_h, cols * cell_w)
    for k, i in enumerate(idx):
        r, col = divmod(k, cols)
        y, x = r * cell_h, col * cell_w
        cv.paste(y, x + 8, digit_tile(images[i], 3))
        cv.text(y + 88, x + 6, f"true {names[int(c.labels[i])]}", 10, True)
        for row, (tag, ev) in enumerate((("A", c.a), ("B", c.b))):
            p = int(ev.predictions[i])
            cv.text(y + 100 + 11 * row, x + 6, f"{tag}: {names[p]}", 10,
                    colour="true" if p == c.labels[i] else "wrong")
    if not len(idx):
        cv.text(4, 4, "They agree on every test digit.", 13)
    return cv.idx


def tiles_of(m: MLP | CNN) -> tuple[np.ndarray, tuple[int, int]]:
    """A first layer as columns to draw and the image each column is: an MLP's neurons as
    input images, a convolutional network's kernels (channels side by side)."""
    if isinstance(m, MLP):
        return m.weights[0], m.input_shape
    imgs = kernel_images(m.weights[0])
    return imgs.reshape(len(imgs), -1).T, (imgs.shape[1], imgs.shape[2])


def matched_pairs(c: Comparison, a: MLP | CNN, b: MLP | CNN, n: int = PAIRS) -> np.ndarray:
    """The ``n`` most and ``n`` least similar matched pairs: A's neuron, B's neuron, similarity."""
    pairs = c.matches
    chosen = pairs[:n] + (pairs[max(n, len(pairs) - n):] if len(pairs) > n else [])
    (wa, sa), (wb, sb) = tiles_of(a), tiles_of(b)
    va, vb = C.symmetric_limit(wa), C.symmetric_limit(wb)
    cols, cell_w, cell_h = 6, 150, 92
    cv = Canvas(max(1, -(-len(chosen) // cols)) * cell_h, cols * cell_w)
    for k, (i, j, s) in enumerate(chosen):
        r, col = divmod(k, cols)
        y, x = r * cell_h, col * cell_w
        cv.paste(y, x, weight_tiles(wa[:, [i]], va, 2, sa)[0])
        cv.paste(y, x + 60, weight_tiles(wb[:, [j]], vb, 2, sb)[0])
        cv.text(y + 59, x, f"A{i} ↔ B{j}", 10, colour="muted")
        cv.text(y + 71, x, f"similarity {s:+.2f}", 10, True)
    return cv.idx


def compare_view(c: Comparison, a: MLP | CNN, b: MLP | CNN, images: np.ndarray, names: list[str],
                 label_a: str = "A", label_b: str = "B") -> Picture:
    """Charts on top, then the disagreement gallery and the matched neuron pairs."""
    top = summary_charts(c, names, label_a, label_b)
    d = c.to_dict()
    dis = d["disagreements"]
    gallery = titled(disagreement_gallery(c, images, names),
                     f"They disagree on {dis['count']:,} test digits",
                     subtitle=f"A alone is right on {dis['only_a_right']:,}, B alone on "
                              f"{dis['only_b_right']:,}; the first {min(GALLERY, dis['count'])} "
                              f"shown ({C.hue('true')}: right, {C.hue('wrong')}: wrong)")
    sims = [s for _, _, s in c.matches]
    more = (f"the {PAIRS} most similar pairs, then the {PAIRS} least"
            if len(c.matches) > PAIRS else "every pair")
    if sims:
        pairs = titled(matched_pairs(c, a, b), f"First-layer {c.matched} matched one to one",
                       subtitle=f"cosine similarity of {'incoming ' * (c.matched == 'neurons')}"
                                f"weights, mean {np.mean(sims):+.2f}; {more} ({C.hue('pos')} +, "
                                f"{C.hue('neg')} −)")
    else:
        pairs = titled(np.full((1, 1), C.WHITE, np.uint8), "First layers not matched",
                       subtitle=c.unmatched)
    lower = C.to_rgb(np.concatenate([pad_to(gallery, max(gallery.shape[1], pairs.shape[1])),
                                     np.full((16, max(gallery.shape[1], pairs.shape[1])),
                                             C.WHITE, np.uint8),
                                     pad_to(pairs, max(gallery.shape[1], pairs.shape[1]))]))
    width = max(top.shape[1], lower.shape[1])
    rgb = np.full((top.shape[0] + 12 + lower.shape[0], width, 3), 255, np.uint8)
    rgb[:top.shape[0], :top.shape[1]] = top
    rgb[top.shape[0] + 12:, 8:8 + lower.shape[1]] = lower[:, :width - 8]
    caption = (f"A ({label_a}) reads {c.a.accuracy:.2%} of the test digits right, B ({label_b}) "
               f"{c.b.accuracy:.2%}; they disagree on {dis['count']:,}."
               + (f" Matched first-layer {c.matched} have a mean weight similarity of "
                  f"{np.mean(sims):+.2f}." if sims else ""))
    return Picture(rgb, "compare", caption, {k: v for k, v in d.items()
                                             if k not in ("matches",)})


def pad_to(img: np.ndarray, width: int) -> np.ndarray:
    out = np.full((img.shape[0], width), C.WHITE, np.uint8)
    out[:, :img.shape[1]] = img
    return out
