"""``digitlens report`` of a convolutional network: the questions that fit it, on one static
page as the fully connected report is (its HTML kit, figures and findings), in the order a
student meets them: the kernels, one digit through every layer, each class's fingerprint
channel by channel, which pixels made the answer, the smallest change that fools it and what
each class dreams of, its mistakes, and moved or resized digits.

A fully connected network's sections that read neurons and weights on the pixels (evidence,
composed weights, neuron ranking, maps, the workbook, circuits) have no counterpart here; the
page says so under its title rather than leaving the reader to wonder.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.integrated import attribute
from digitlens.analysis.metrics import evaluate_model
from digitlens.data.sources import Dataset
from digitlens.nn.cnn import CNN
from digitlens.nn.run import Run
from digitlens.render import charts
from digitlens.render.image import Picture
from digitlens.render.report_ask import class_dreams, fragility_section
from digitlens.render.report_html import findings_box, page, section, settings_table
from digitlens.render.report_page import ReportPage
from digitlens.render.report_sections import robustness_body
from digitlens.render.views import network_label
from digitlens.render.views.ask import attribution_view
from digitlens.render.views.confusion import errors_view
from digitlens.render.views.convolution import feature_maps, filters
from digitlens.render.views.fingerprints import class_fingerprints_view
from digitlens.wording import count

FINGERPRINT_DIGITS = 2000
NUDGED_DIGITS = 100
LEFT_OUT = ("The sections of a fully connected network that read its neurons and their weights "
            "on the pixels (evidence, composed weights, neuron ranking, maps, the workbook, "
            "circuits) have no counterpart in a convolutional one: its units are positions in "
            "feature maps, and its classes weigh those maps, not pixels.")


def shown_digit(ds: Dataset) -> int:
    """The test digit the one-digit sections follow: the first 7 (the explorer's example)."""
    sevens = np.flatnonzero(ds.test_labels == 7)
    return int(sevens[0]) if len(ds.class_names) > 7 and sevens.size else 0


def build_cnn_report(path: Path, model: CNN, p: ReportPage) -> tuple[str, dict[str, Any]]:
    """The page's HTML and what it reports (accuracy, sections)."""
    ds, names = p.ds, list(p.ds.class_names)
    ev = evaluate_model(model, ds.test_images, ds.test_labels)
    label = network_label(model)
    run = Run(path)
    history = run.history() if path.is_dir() else []
    i = shown_digit(ds)
    x = ds.test_images[i].astype(np.float64).ravel() / 255
    sections: list[tuple[str, str, str]] = []

    def add(anchor: str, title: str, body: str) -> None:
        p.log(f"  {len(sections) + 1}. {title}")
        sections.append(section(anchor, f"{len(sections) + 1}. {title}", body, "",
                                (int(model.input_shape[1]), int(model.input_shape[2]))))

    if history:
        add("training", "Watching it learn", p.figure(
            Picture(charts.accuracy_curve(history), "accuracy"), "accuracy.png",
            "Test accuracy after each epoch; the dashed line is the training loss.",
            alt=f"Line chart: test accuracy of the {label} net after each of its "
                f"{count(len(history), 'epoch')}, ending at {ev.accuracy:.2%}"))
    add("kernels", "What the first layers look for", p.figure(
        filters(model), "filters.png", alt=f"Every kernel of the {label} net, red and blue"))
    add("maps", "One digit through every layer", p.figure(
        feature_maps(model, ds.test_images[i], int(ds.test_labels[i])), "feature-maps.png",
        alt=f"Test digit #{i} and every channel's feature map for it, layer by layer"))
    n = min(FINGERPRINT_DIGITS, len(ds.test_labels))
    fp = class_fingerprints_view(model, ds.test_images[:n], ds.test_labels[:n], names)
    readout = fp.data["readout_accuracy"]
    p.findings.append(f"A digit's class can be read off the mean of each of its first "
                      f"convolution's channels <b>{readout[0]:.0%}</b> of the time, and off its "
                      f"last hidden layer <b>{readout[-2]:.0%}</b>: the layers build the answer "
                      "up.")
    add("fingerprints", "Every digit has a fingerprint, channel by channel",
        p.figure(fp, "fingerprints-classes.png",
                 alt="Each class's mean channel activations per layer, with consistency"))
    a = attribute(model, x)
    add("pixels", "Which pixels made the answer", p.figure(
        attribution_view(a, x, (int(model.input_shape[1]), int(model.input_shape[2])), names),
        "attribution.png", alt=f"Test digit #{i} beside each pixel's share of its class score"))
    body, findings = fragility_section(model, ds, p.figure, NUDGED_DIGITS)
    p.findings.extend(findings)
    add("ask", "The smallest change that fools it, and what each class dreams of",
        body + class_dreams(model, ds, p.figure))
    add("errors", "Where it goes wrong", p.figure(
        errors_view(model, ds.test_images, ds.test_labels, 40, names), "errors.png",
        alt=f"Confusion matrix of the {label} net and the test digits it gets wrong"))
    add("robustness", "Why your own drawing fails (until it is centred)",
        robustness_body(model, label, ev.accuracy, p))
    config = run.config() if path.is_dir() else None
    meta = {"model": model.describe(), "accuracy": ev.accuracy, "n_test": len(ds.test_labels),
            "epochs": len(history) if path.is_dir() else None, "dataset": ds.name,
            "params": int(model.params.size)}
    # a fully connected network's settings (its layer sizes, activations) do not describe this
    settings = {k: v for k, v in (config.to_dict() if config else {}).items()
                if k not in ("layers", "activation", "output")}
    header = (settings_table(settings, meta) + f"<p>{html.escape(model.describe())}</p>"
              + findings_box(p.findings) + f"<p class='left-out'>{html.escape(LEFT_OUT)}</p>")
    title = f"How a convolutional network ({label}) reads " + (
        "digits" if all(c.isdigit() for c in names) else "images")
    text = page(title, header, sections, "Everything below was computed from this one trained "
                "convolutional network and the test set.", False, tuple(p.rules))
    return text, {"accuracy": ev.accuracy, "sections": [a for a, _, _ in sections]}
