"""The report's sections, one function each: ``(subject, page) -> HTML body`` ("" to leave the
section out). A section names the presets whose network it is best drawn from, so that in a
gallery of several runs each seed's pictures come from the seed's own network.

To add a section: write a function here and append a ``Section`` to ``SECTIONS``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlens import palette as C
from digitlens.analysis.neurons import NeuronReport, analyse_neurons, finetune_data
from digitlens.analysis.robustness import robustness
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name
from digitlens.render import charts
from digitlens.render.animate import ffmpeg_exe
from digitlens.render.image import Picture
from digitlens.render.report_html import table
from digitlens.render.report_network import maps_section, monitor_figure, twin_comparison
from digitlens.render.views import digit_indices
from digitlens.render.views import evidence as EV
from digitlens.render.views import fingerprints as FP
from digitlens.render.views import weights as WV
from digitlens.render.views.confusion import errors_view
from digitlens.render.views.evolution import evolution, story_epochs
from digitlens.render.views.neurons import neurons_view, redundancy_sentence
from digitlens.render.views.robustness import robustness_view
from digitlens.wording import count

if TYPE_CHECKING:
    from digitlens.render.report_page import ReportPage, Subject


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    seed: str                    # the seeds whose picture this is ("" for none)
    presets: tuple[str, ...]     # runs of these presets draw it in a gallery, first found wins
    build: Callable[[Subject, ReportPage], str]
    only_own: bool = False       # drawn only from a run of ``presets``, never a stand-in


def side(model: MLP) -> str:
    """'28×28': the model's input image in words."""
    return "×".join(map(str, model.input_shape))


def count_word(n: int) -> str:
    return "ten" if n == 10 else str(n)


def training(s: Subject, p: ReportPage) -> str:
    if s.is_file:  # a model file keeps no history or snapshots
        return ("<p class='left-out'>Left out: this section shows training epoch by epoch, "
                f"and <code>{html.escape(s.run.path.name)}</code> is a model file without "
                "its run's history and snapshots. A run folder made by "
                "<code>digitlens train</code> has them.</p>")
    body = ""
    if s.history:
        body = p.figure(Picture(charts.accuracy_curve(s.history), "accuracy"),
                        "accuracy.png",
                        "Test accuracy climbs fast in the first epochs, then creeps up; the "
                        "left y-axis runs from 0 to 100%; the right panel zooms into the "
                        "later epochs and says where its axis starts. "
                        "The dashed line is the training loss.",
                        alt=f"Line chart: test accuracy of the {s.label} net after each of its "
                            f"{count(len(s.history), 'epoch')}, ending at {s.accuracy:.2%}")
    epochs = s.run.snapshot_epochs()
    video = "evolution." + ("mp4" if ffmpeg_exe() else "gif")
    anim = evolution(s.run, 1, None, (s.x, s.y), s.names, story_epochs(epochs))
    body += p.figure(anim, video, alt=f"Video: the {s.label} net's weights epoch by epoch")
    return body + monitor_figure(p, s.history, s.model)


def fingerprints(s: Subject, p: ReportPage) -> str:
    x, y, model = s.x, s.y, s.model
    five = 5 if len(s.names) > 5 else 0  # MNIST's story follows the 5s; else the first class
    fives = digit_indices(y, five, 24)
    name = s.names[five]
    body = p.figure(FP.fingerprint(model, x[fives[0]], int(y[fives[0]]), x[:1000], s.names),
                    "fingerprint.png", alt=f"A test digit {name} beside the activations of every "
                    f"layer of the {s.label} net, drawn as brightness grids")
    body += p.figure(FP.fingerprint_animation(model, x[fives], y[fives], x[:1000], 3.0, s.names),
                     "fingerprint-fives.gif", alt=f"Animation: {len(fives)} different "
                     f"handwritten {name}s and the activations they cause in each layer")
    classes = FP.class_fingerprints_view(model, x, y, s.names)
    which = (f"digit {s.names[0]} to {s.names[-1]}" if all(n.isdigit() for n in s.names)
             else f"class ({s.names[0]} to {s.names[-1]})")
    body += p.figure(classes, "fingerprint-classes.png", alt=f"For each {which}, its mean "
                     "activation pattern in every layer, with how consistent it is")
    p.findings.append(fingerprint_finding(classes.data, model))
    return body


def evidence(s: Subject, p: ReportPage) -> str:
    x, y, model = s.x, s.y, s.model
    body = p.figure(EV.evidence_panel(model, x[0], int(y[0]), "auto", s.names), "evidence.png",
                    alt=f"For a test digit {s.names[int(y[0])]}: each class's weights, the "
                        "digit times those weights, and each class's output score as a bar")
    wrong = s.ev.misclassified(y)
    if wrong.size:
        i = int(wrong[0])
        body += p.figure(EV.evidence_panel(model, x[i], int(y[i]), "auto", s.names),
                         "evidence-wrong.png", f"A mistake: the {C.hue('wrong')} class out-scored "
                         f"the {C.hue('true')} true class. Which pixels pushed it there?",
                         alt=f"A test digit {s.names[int(y[i])]} the net gets wrong, with "
                             "every class's evidence")
    # its own caption: the animation's default repeats the first panel's
    body += p.figure(EV.evidence_animation(model, x[:12], y[:12], "auto", 1.0, s.names),
                     "evidence.gif", "The same panels for 12 test digits in turn: the tallest "
                     "bar is the answer, and the pixels that raised it change with each digit.",
                     alt="Animation: the evidence panels for 12 test digits in turn")
    return body


def weights(s: Subject, p: ReportPage) -> str:
    model = s.model
    body = p.figure(WV.first_layer(model, "diverging"), "weights.png",
                    alt=f"The first-layer weights of the {s.label} net, one {side(model)} "
                        f"{C.hue('pos')}/{C.hue('neg')} image per neuron")
    body += p.figure(WV.first_layer(model, "grey"), "weights-grey.png",
                     "The same weights in S2's style: every tile stretched from black (its "
                     "lowest weight) to white (its highest).",
                     alt="The same first-layer weights in grey, each tile min-max normalised")
    if model.n_layers > 1:
        body += p.figure(WV.composed(model, class_names=s.names), "composed.png",
                         alt=f"Deeper neurons drawn as {side(model)} images through their "
                             f"composed weights, the {count_word(model.sizes[-1])} output neurons "
                             "last")
    twin = p.twin(s)
    if twin is not None:
        from digitlens.render.views import compare_labels
        small, full = compare_labels(twin, model, len(p.ds.train_labels))
        body += p.figure(WV.compare_training(twin, model, small, full, class_names=s.names),
                         "weights-compare.png",
                         alt=f"Output neurons' composed weights after training on {small} "
                             f"(top) and {full} (bottom)")
        body += twin_comparison(p, twin, model, p.ds)
    return body


def neurons(s: Subject, p: ReportPage) -> str:
    model = s.model
    if model.n_layers < 2:
        return ""
    tx, ty, tune = finetune_data(model, p.ds.train_images, p.ds.train_labels)
    rep = analyse_neurons(model, s.x, s.y, train=(tx, ty), finetune_with=tune)
    body = p.figure(neurons_view(model, rep), "neurons.png",
                    alt=f"The {rep.n} neurons of {layer_name(rep.layer)} ranked by how "
                        "much accuracy drops without each, with the accuracy as the least "
                        "important are removed")
    p.findings.append(f"{layer_name(rep.layer).capitalize()} of the {s.label} net: "
                      f"{redundancy_sentence(rep, bold=True)}")
    return body + neuron_table(rep, model.input_shape == (28, 28))


def maps(s: Subject, p: ReportPage) -> str:
    """Each hidden layer's test digits on a 2-D map, and how well each layer separates them."""
    if s.model.n_layers < 2:
        return ""
    body, finding = maps_section(p, s.model, p.ds)
    p.findings.append(finding)
    return body


def ask(s: Subject, p: ReportPage) -> str:
    """Nudges, DeepFool beside FGSM, and dreams (digitlens.render.report_ask)."""
    from digitlens.render.report_ask import ask_section
    body, more = ask_section(s.model, p.ds, p.figure)
    p.findings.extend(more)
    return body


def why(s: Subject, p: ReportPage) -> str:
    """Circuits and patching for the net's commonest rivalries (digitlens.render.report_why),
    and the run folder's feature atlases (report_features)."""
    from digitlens.render.report_features import atlas_section, run_atlases
    from digitlens.render.report_why import why_section
    folder = s.run.path.is_dir()
    atlases, notes = run_atlases(s.model, s.run.path if folder else None)
    body, more = why_section(s.model, s.x, s.y, s.names, atlases)
    if not body:
        return ""
    p.findings.extend(more)
    if not folder:  # a model file: an atlas lives in a run folder
        return body
    cards, more = atlas_section(s.model, p.ds, s.names, atlases, notes, p.figure)
    p.findings.extend(more)
    heading = "Feature atlases" if len(atlases) > 1 else "A feature atlas"
    return body + f"<h3>{heading}</h3>" + cards


def errors(s: Subject, p: ReportPage) -> str:
    return p.figure(errors_view(s.model, s.x, s.y, 40, s.names), "errors.png",
                    alt=f"Confusion matrix of the {s.label} net and 40 test digits it gets "
                        "wrong, each with its top two guesses")


def robustness_section(s: Subject, p: ReportPage) -> str:
    return robustness_body(s.model, s.label, s.accuracy, p)


def robustness_body(model: MLP | CNN, label: str, accuracy: float, p: ReportPage) -> str:
    """Accuracy of moved and resized digits, as drawn and centred: the chart, its tables and a
    finding (for either kind of network)."""
    x, y = p.ds.test_images, p.ds.test_labels
    res = robustness(model, x, y, n=p.robustness_n)
    i = len(res.shifts) - 1
    p.findings.append(f"Moved {count(res.shifts[i], 'pixel', fmt='g')} off-centre, digits are "
                      f"recognised <b>{res.shift_raw[i]:.0%}</b> of the time by the {label} "
                      f"net; centred first as MNIST was, <b>{res.shift_preprocessed[i]:.0%}</b>.")
    n = count(res.n, "test digit")
    body = p.figure(robustness_view(res), "robustness.png",
                    alt="Line chart of accuracy as digits are moved and resized, as drawn and "
                        "after centring, with one example digit at each setting")
    body += (f"<p class='note'>These accuracies are measured on the first {n} only, so the "
             f"0 px column ({res.shift_raw[0]:.1%}) is that subset's score and differs a little "
             f"from the {accuracy:.2%} on all {count(len(y), 'test digit')}.</p>")
    body += table(["shift (px)", *[f"{v:g}" for v in res.shifts]],
                  [["as drawn", *[f"{a:.1%}" for a in res.shift_raw]],
                   ["preprocessed", *[f"{a:.1%}" for a in res.shift_preprocessed]]])
    body += table(["scale", *[f"×{v:g}" for v in res.scales]],
                  [["as drawn", *[f"{a:.1%}" for a in res.scale_raw]],
                   ["preprocessed", *[f"{a:.1%}" for a in res.scale_preprocessed]]])
    return body


def workbook(s: Subject, p: ReportPage) -> str:
    """S4's spreadsheet: the net exported as a workbook beside the page, and its hidden
    neurons' weights (the same numbers the Parameters sheet holds)."""
    from digitlens.export.xlsx import export_xlsx
    name = f"{s.run.path.name}.xlsx"
    i = int(digit_indices(s.y, 7, 1)[0])
    export_xlsx(s.model, p.folder / name,
                s.x[i].reshape(s.model.input_shape).astype(np.float64),
                f"test digit {s.names[int(s.y[i])]}")
    p.files.append(name)
    body = (f'<p><a class="download" href="{html.escape(name)}" download>Download the '
            f"workbook ({html.escape(name)})</a>: every weight, bias and neuron value of the "
            f"{html.escape(s.label)} net as formulas (SUMPRODUCT + sigmoid), a test digit 7 "
            "on the Draw sheet; type your own pixels and the prediction recalculates. It opens "
            "in Excel and LibreOffice.</p>")
    return body + p.figure(WV.first_layer(model := s.model, "diverging"), "workbook-weights.png",
                           f"The {count(model.sizes[1], 'hidden neuron')} whose weights fill "
                           "the workbook's Parameters sheet, drawn as images.",
                           alt=f"The {model.sizes[1]} hidden neurons' weights of the workbook "
                               f"net as {C.hue('pos')}/{C.hue('neg')} {side(model)} images")


SECTIONS: list[Section] = [
    Section("training", "Watching it learn", "S3", ("s3-machine-academy",), training),
    Section("fingerprints", "Every digit has a fingerprint", "S0", ("s0-fingerprints",),
            fingerprints),
    Section("evidence", "How each class collects evidence", "S1", ("s1-single-layer",),
            evidence),
    Section("weights", "What the neurons look for", "S2", ("s2-weight-images", "default"),
            weights),
    Section("neurons", "Neurons that matter", "S3", ("s3-machine-academy",), neurons),
    Section("maps", "The layers untangle the digits", "S0", ("s0-fingerprints", "default"),
            maps),
    Section("errors", "Where it goes wrong", "", ("default",), errors),
    Section("robustness", "Why your own drawing fails (until it is centred)", "S3",
            ("s3-machine-academy",), robustness_section),
    Section("ask", "The smallest change that fools it, and what it dreams of", "",
            ("default",), ask),
    Section("workbook", "The network as a spreadsheet", "S4", ("s4-excel",), workbook,
            only_own=True),
    Section("why", "Why this answer and not that one", "", ("default",), why),
]


def fingerprint_finding(data: dict[str, Any], model: MLP) -> str:
    consistency = np.asarray(data["consistency"])
    readout = np.asarray(data["readout_accuracy"])
    k = len(consistency) - 2 if model.n_layers > 1 else 0
    r = float(np.mean(consistency[k]))
    where = layer_name(k, model.n_layers)
    return (f"In {where} of the {model.describe()} net, a single digit's activations correlate "
            f"<b>r = {r:.2f}</b> on average with its class's mean fingerprint; the nearest "
            f"mean alone names <b>{readout[k]:.0%}</b> of the digits.")


def neuron_table(rep: NeuronReport, seeded: bool = True) -> str:
    """The S3 claim as a measured table."""
    rows = []
    for q in rep.pruning:
        k = int(q["k"])
        i = rep.ks.index(k) if k in rep.ks else int(np.argmin(np.abs(np.array(rep.ks) - k)))
        rows.append([str(k), str(q["kept"]), f"{rep.dimmest_zero[i]:.2%}",
                     f"{rep.dimmest_mean[i]:.2%}", f"{q['pruned']:.2%}", f"{q['finetuned']:.2%}"])
    share = (3 * rep.n) // 16
    s3 = ("S3 guessed by eye that about 12 of its 64 hidden neurons were redundant"
          + (f"; the row k = {share} removes the same share of this layer" if
             any(q["k"] == share for q in rep.pruning) else "") + ".")
    if not seeded:  # S3's guess was about an MNIST net
        s3 = ""
    head = (f"<p>All {count(rep.n, 'neuron')}: <b>{rep.base_accuracy:.2%}</b>. "
            f"{redundancy_sentence(rep, bold=True)}{f' ({s3})' if s3 else ''}</p>")
    if not rows:
        return head
    tune = rep.finetuning
    epochs = int(tune.get("epochs", 1))
    note = (f"<p>Fine-tuning continues the run's own training: {count(epochs, 'epoch')} over "
            f"{count(int(tune.get('digits', 0)), 'training digit')} with its optimizer "
            f"({html.escape(str(tune.get('optimizer')))}, batch {tune.get('batch_size')}), "
            f"the learning rate falling from its last epoch's {tune.get('lr', 0):g} to zero.</p>")
    return head + table(["k least important removed", "neurons kept", "switched off (output 0)",
                         "frozen at their mean", "pruned (mean folded into bias)",
                         f"pruned + {count(epochs, 'epoch')} fine-tuning"], rows) + note
