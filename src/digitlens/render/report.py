"""``digitlens report``: every view of a run on one static HTML page, readable offline.

The page is written for a curious student: each figure has a short caption saying what to look
at. Images sit beside ``index.html``; nothing is fetched from the network.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.metrics import evaluate_model
from digitlens.analysis.neurons import NeuronReport, analyse_neurons, finetune_data
from digitlens.analysis.robustness import robustness
from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.fileio import atomic_write_text
from digitlens.nn.io import load_model
from digitlens.nn.mlp import MLP
from digitlens.nn.train import Run, train
from digitlens.render import charts
from digitlens.render.animate import ffmpeg_exe
from digitlens.render.image import Animation, Picture
from digitlens.render.report_html import page, section, settings_table, table
from digitlens.render.views import digit_indices
from digitlens.render.views import evidence as EV
from digitlens.render.views import fingerprints as FP
from digitlens.render.views import weights as WV
from digitlens.render.views.errors import errors_view
from digitlens.render.views.evolution import evolution
from digitlens.render.views.neurons import neurons_view, redundancy_sentence
from digitlens.render.views.robustness import robustness_view
from digitlens.wording import count

Log = Callable[[str], None]
TWIN_SIZE = 500


def train_twin(run: Run, ds: Dataset, log: Log) -> MLP | None:
    """The same net trained on only 500 images (S2's comparison), in memory: writing a run
    folder (snapshots, checkpoints) would cost more than the training."""
    config = run.config()
    if config is None or (config.train_size or len(ds.train_labels)) <= TWIN_SIZE:
        return None
    twin = config.with_overrides(train_size=TWIN_SIZE, epochs=min(max(config.epochs, 20), 100))
    log(f"training the same net on {TWIN_SIZE} images for the comparison")
    # its per-epoch test accuracy is only bookkeeping here: 1,000 test digits are plenty
    small_test = replace(ds, test_images=ds.test_images[:1000], test_labels=ds.test_labels[:1000])
    return train(twin, small_test).model


class Writer:
    """Saves figures into the report folder and remembers what it wrote."""

    def __init__(self, folder: Path, log: Log) -> None:
        self.folder, self.log = folder, log
        self.files: list[str] = []
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def save(self, view: Picture | Animation, name: str) -> str:
        view.save(self.folder / name)
        self.files.append(name)
        now = time.perf_counter()
        self.timings[name] = round(now - self._t, 2)
        self._t = now
        self.log(f"  {name}")
        return name

    def figure(self, view: Picture | Animation, name: str, caption: str = "",
               alt: str = "") -> str:
        src = html.escape(self.save(view, name))
        cap = html.escape(caption or view.caption)
        if name.endswith(".mp4"):
            still = view.poster() if isinstance(view, Animation) else view
            poster = self.save(still, name.replace(".mp4", "-poster.png"))
            h, w = still.rgb().shape[:2]
            # the player's controls overlay the bottom of a video; the frame sits at the top of
            # a box one control band taller (CSS .video), so they never cover its legend
            return (f'<figure class="video" style="--w: {w}; --h: {h}"><video src="{src}" '
                    f'poster="{html.escape(poster)}" width="{w}" height="{h}" controls loop '
                    f"muted autoplay playsinline></video><figcaption>{cap}</figcaption></figure>")
        media = f'<img src="{src}" alt="{html.escape(alt or view.name)}" loading="lazy">'
        return f"<figure>{media}<figcaption>{cap}</figcaption></figure>"


def build_report(run_path: str | Path, out: str | Path, ds: Dataset,
                 compare: str | None = None, train_twin_run: bool = True,
                 log: Log = lambda s: None, robustness_n: int = 300) -> dict[str, Any]:
    """Write ``out/index.html`` and its images for the run in ``run_path``."""
    run = Run(run_path)
    if not (run.path / "model.npz").exists():
        raise ModelError(f"{run.path}: not a run folder (no model.npz)")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    model = run.model()
    names = list(ds.class_names)
    x, y = ds.test_images, ds.test_labels
    history = run.history()
    ev = evaluate_model(model, x, y)
    w = Writer(folder, log)
    sections = []
    config = run.config()

    # 1. training
    body = w.figure(Picture(charts.accuracy_curve(history), "accuracy"), "accuracy.png",
                    "Test accuracy climbs fast in the first epochs, then creeps up. The dashed "
                    "line is the training loss.") if history else ""
    video = "evolution.mp4" if ffmpeg_exe() else "evolution.gif"
    every = max(1, len(run.snapshot_epochs()) // 240)
    body += w.figure(evolution(run, every, None, (x, y), names), video)
    sections.append(section("training", "1. Watching it learn", body, "S3"))

    # 2. fingerprints
    fives = digit_indices(y, 5, 24)
    body = w.figure(FP.fingerprint(model, x[fives[0]], int(y[fives[0]]), x[:1000], names),
                    "fingerprint.png")
    body += w.figure(FP.fingerprint_animation(model, x[fives], y[fives], x[:1000], 3.0, names),
                     "fingerprint-fives.gif")
    classes = FP.class_fingerprints_view(model, x, y, names)
    body += w.figure(classes, "fingerprint-classes.png")
    findings = [accuracy_finding(ev, names), fingerprint_finding(classes.data, model)]
    sections.append(section("fingerprints", "2. Every digit has a fingerprint", body, "S0"))

    # 3. evidence
    wrong = ev.misclassified(y)
    body = w.figure(EV.evidence_panel(model, x[0], int(y[0]), "auto", names), "evidence.png")
    if wrong.size:
        i = int(wrong[0])
        body += w.figure(EV.evidence_panel(model, x[i], int(y[i]), "auto", names),
                         "evidence-wrong.png", "A mistake: the orange class out-scored the "
                         "green true class. Which pixels pushed it there?")
    body += w.figure(EV.evidence_animation(model, x[:12], y[:12], "auto", 1.0, names),
                     "evidence.gif")
    sections.append(section("evidence", "3. How each class collects evidence", body, "S1"))

    # 4. weights
    body = w.figure(WV.first_layer(model, "diverging"), "weights.png")
    body += w.figure(WV.first_layer(model, "grey"), "weights-grey.png",
                     "The same weights in S2's style: every tile stretched from black (its "
                     "lowest weight) to white (its highest).")
    body += w.figure(WV.composed(model, class_names=names), "composed.png")
    twin = load_model(compare) if compare else (
        train_twin(run, ds, log) if train_twin_run else None)
    if twin is not None and twin.sizes == model.sizes:
        from digitlens.render.views import compare_labels
        body += w.figure(WV.compare_training(twin, model, *compare_labels(
            twin, model, len(ds.train_labels)), class_names=names), "weights-compare.png")
    sections.append(section("weights", "4. What the neurons look for", body, "S2, S3"))

    # 5. neurons
    if model.n_layers > 1:
        tx, ty, tune = finetune_data(model, ds.train_images, ds.train_labels)
        rep = analyse_neurons(model, x, y, train=(tx, ty), finetune_with=tune)
        body = w.figure(neurons_view(model, rep), "neurons.png")
        body += neuron_table(rep)
        sections.append(section("neurons", "5. Neurons that matter", body, "S3"))
        findings.append(f"Hidden layer {rep.layer + 1}: {redundancy_sentence(rep, bold=True)}")

    # 6. errors
    sections.append(section("errors", "6. Where it goes wrong",
                            w.figure(errors_view(model, x, y, 40, names), "errors.png"), ""))

    # 7. robustness
    res = robustness(model, x, y, n=robustness_n)
    i = len(res.shifts) - 1
    findings.append(f"Moved {count(res.shifts[i], 'pixel', fmt='g')} off-centre, digits are "
                    f"recognised "
                    f"<b>{res.shift_raw[i]:.0%}</b> of the time; centred first as MNIST was, "
                    f"<b>{res.shift_preprocessed[i]:.0%}</b>.")
    body = w.figure(robustness_view(res), "robustness.png")
    body += table(["shift (px)", *[f"{v:g}" for v in res.shifts]],
                  [["as drawn", *[f"{a:.1%}" for a in res.shift_raw]],
                   ["preprocessed", *[f"{a:.1%}" for a in res.shift_preprocessed]]])
    body += table(["scale", *[f"×{v:g}" for v in res.scales]],
                  [["as drawn", *[f"{a:.1%}" for a in res.scale_raw]],
                   ["preprocessed", *[f"{a:.1%}" for a in res.scale_preprocessed]]])
    sections.append(section("robustness", "7. Why your own drawing fails (until it is centred)",
                            body, "S3"))

    meta = {"model": model.describe(), "accuracy": ev.accuracy, "n_test": int(len(y)),
            "epochs": len(history), "dataset": ds.name, "params": int(model.params.size)}
    subject = "clothes" if ds.name.startswith("fashion") else "digits"
    label = {"mnist": "MNIST", "mnist-sample": "MNIST (embedded sample)",
             "fashion-mnist": "Fashion-MNIST"}.get(ds.name, ds.name)
    doc = page(f"How a {'-'.join(map(str, model.sizes))} network reads {subject}",
               settings_table(config.to_dict() if config else {}, meta)
               + explorer_link(model, ds, run.path.name, folder) + findings_box(findings),
               sections, label)
    atomic_write_text(folder / "index.html", doc)
    return {"index": str(folder / "index.html"), "files": w.files, "accuracy": ev.accuracy,
            "timings": w.timings}


def explorer_link(model: MLP, ds: Dataset, name: str, folder: Path) -> str:
    """Write the single-file explorer beside the report and link to it (nothing for a run
    it cannot show)."""
    from digitlens.export.html_explorer import export_html
    try:
        export_html(model, ds, folder / "explorer.html", name)
    except ModelError:
        return ""
    return ('<p class="explorer">Draw your own digits and watch every neuron: '
            '<a href="explorer.html">explorer.html</a>, one file that works offline in any '
            'browser (send it to a friend).</p>')


def accuracy_finding(ev: Any, names: list[str]) -> str:
    """The overall score and the most common mix-up."""
    off = ev.confusion.copy()
    np.fill_diagonal(off, 0)
    t, p = np.unravel_index(int(np.argmax(off)), off.shape)
    return (f"<b>{ev.accuracy:.2%}</b> of the test digits are read right; the most common "
            f"mix-up is a <b>{names[t]}</b> read as a <b>{names[p]}</b> "
            f"({count(int(off[t, p]), 'time')}).")


def fingerprint_finding(data: dict[str, Any], model: MLP) -> str:
    k = len(data["consistency"]) - 2 if model.n_layers > 1 else 0
    r = float(np.mean(data["consistency"][k]))
    where = f"hidden layer {k + 1}" if model.n_layers > 1 else "the output layer"
    return (f"In {where}, a single digit's activations correlate <b>r = {r:.2f}</b> on average "
            f"with its class's mean fingerprint; the nearest mean alone names "
            f"<b>{data['readout_accuracy'][k]:.0%}</b> of the digits.")


def findings_box(findings: list[str]) -> str:
    items = "".join(f"<li>{f}</li>" for f in findings)
    return f'<div class="findings"><b>What this page shows, in numbers</b><ul>{items}</ul></div>'


def neuron_table(rep: NeuronReport) -> str:
    """The S3 claim as a measured table."""
    rows = []
    for p in rep.pruning:
        k = int(p["k"])
        i = rep.ks.index(k) if k in rep.ks else int(np.argmin(np.abs(np.array(rep.ks) - k)))
        rows.append([str(k), str(p["kept"]), f"{rep.dimmest_zero[i]:.2%}",
                     f"{rep.dimmest_mean[i]:.2%}", f"{p['pruned']:.2%}", f"{p['finetuned']:.2%}"])
    share = (3 * rep.n) // 16
    s3 = ("S3 guessed by eye that about 12 of its 64 hidden neurons were redundant"
          + (f"; the row k = {share} removes the same share of this layer" if
             any(p["k"] == share for p in rep.pruning) else "") + ".")
    head = (f"<p>All {count(rep.n, 'neuron')}: <b>{rep.base_accuracy:.2%}</b>. "
            f"{redundancy_sentence(rep, bold=True)} ({s3})</p>")
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
