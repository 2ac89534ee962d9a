"""``digitlens report``: every view of one run, or of several runs side by side, on one static
HTML page readable offline.

Given several runs (``make demo`` gives the seeds' networks), each section is drawn from the run
whose preset first showed that picture (``report_sections.SECTIONS``), so S1's panels come from
the 784-10 net and S3's video from the 784-64-10 one. The page is written for a curious
student: each figure has a caption saying what to look at. A stamp beside ``index.html`` records
what the page was made from, so an unchanged report is not rebuilt.
"""

from __future__ import annotations

import hashlib
import html
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitlens import palette as C
from digitlens.data.sources import Dataset
from digitlens.errors import ModelError
from digitlens.fileio import atomic_write_text, make_folder
from digitlens.nn.cnn import CNN
from digitlens.nn.io import MAX_MODEL_BYTES, load_model, load_network
from digitlens.nn.mlp import MLP
from digitlens.nn.run import HISTORY_FILE, MODEL_FILE, is_run
from digitlens.render.report_cnn import build_cnn_report
from digitlens.render.report_html import findings_box, page, section, settings_table, table
from digitlens.render.report_page import Log, ReportPage, Subject
from digitlens.render.report_sections import SECTIONS, Section
from digitlens.safeload import digest_file, parse_json, read_bounded
from digitlens.sweep.table import MAX_TABLE_BYTES
from digitlens.version import __version__
from digitlens.wording import article, count

STAMP = "report-stamp.json"
MAX_STAMP_BYTES = 16 << 20  # the stamp names each run and option; far below this


def pick(sec: Section, subjects: list[Subject]) -> Subject | None:
    """The run a section is drawn from: the first of its presets found, else the first run."""
    for preset in sec.presets:
        for s in subjects:
            if s.preset == preset:
                return s
    return None if sec.only_own else subjects[0]


def stamp_of(runs: Sequence[str | Path], ds: Dataset, options: dict[str, Any]) -> dict[str, Any]:
    """What a report depends on: each run's model and history, the code, the data, options."""
    def digest(paths: list[Path], what: str = "model file") -> str:
        h = hashlib.sha256()
        for p in paths:  # each through the loading boundary: a regular file, bounded
            h.update(p.name.encode())
            h.update(digest_file(p, MAX_MODEL_BYTES, ModelError, what).encode())
        return h.hexdigest()[:20]
    code = sorted(Path(__file__).parent.parent.rglob("*.py"))  # the package's sources
    return {"code": __version__ + ":" + digest(code, "source file"), "dataset": ds.name,
            "n_test": int(len(ds.test_labels)), "options": options,
            "runs": {str(r): digest([Path(r)] if Path(r).is_file() else
                                    [Path(r) / MODEL_FILE, Path(r) / HISTORY_FILE])
                     for r in runs}}


def up_to_date(folder: Path, stamp: dict[str, Any]) -> bool:
    try:
        old = parse_json(read_bounded(folder / STAMP, MAX_STAMP_BYTES, ModelError, "report stamp"),
                         str(folder / STAMP), ModelError)
    except ModelError:
        return False  # missing, damaged or not a file: the report is made again
    return (isinstance(old, dict) and old.get("stamp") == stamp and (folder / "index.html").exists()
            and all((folder / f).exists() for f in old.get("files", [])))


def build_report(run_path: str | Path | Sequence[str | Path], out: str | Path, ds: Dataset,
                 compare: str | None = None, train_twin_run: bool = True,
                 log: Log = lambda _s: None, robustness_n: int = 300,
                 force: bool = True, sweep: str | Path | None = None,
                 models: dict[str, MLP | CNN] | None = None,
                 palette: str = "classic") -> dict[str, Any]:
    """Write ``out/index.html`` and its images for one run folder or several (and a section
    for the sweep folder ``sweep``), coloured in ``palette`` ('colourblind': signs that stay
    apart for colour-blind readers). With ``force=False`` an unchanged report (same runs,
    sweep results, code, data and options) is left as is. ``models``: model files already
    read (by path), so another tool's file is read once, by the caller's reader."""
    before = C.SCHEME
    C.use_palette(palette)
    try:
        return _build_report(run_path, out, ds, compare, train_twin_run, log, robustness_n,
                             force, sweep, models, palette)
    finally:
        C.use_palette(before)


def _build_report(run_path: str | Path | Sequence[str | Path], out: str | Path, ds: Dataset,
                  compare: str | None, train_twin_run: bool, log: Log, robustness_n: int,
                  force: bool, sweep: str | Path | None, models: dict[str, MLP | CNN] | None,
                  palette: str) -> dict[str, Any]:
    runs = [run_path] if isinstance(run_path, str | Path) else list(run_path)
    folder = Path(out)
    results = Path(sweep) / "results.json" if sweep is not None else None
    stamp = stamp_of(runs, ds, {"compare": compare, "twin": train_twin_run,
                                "robustness_n": robustness_n, "sweep": str(sweep),
                                "palette": palette,
                                "sweep_results": digest_file(results, MAX_TABLE_BYTES, ModelError,
                                                             "results table")
                                if results is not None and results.is_file() else None})
    if not force and up_to_date(folder, stamp):
        return {"index": str(folder / "index.html"), "skipped": True,
                "reason": "the runs, the code and the options did not change since it was made"}
    read = {str(r): network_of(r, models) for r in runs}  # each network read once, here
    if any(isinstance(m, CNN) for m in read.values()):
        return cnn_report(runs, folder, ds, log, robustness_n, stamp, read)
    everyone = [Subject.load(r, ds, m if isinstance(m := read[str(r)], MLP) else None)
                for r in runs]
    twins = [s for s in everyone if s.is_twin()] if len(everyone) > 1 else []
    subjects = [s for s in everyone if s not in twins] or everyone
    make_folder(folder)
    p = ReportPage(folder, ds, log, robustness_n, load_model(compare) if compare else None,
                   train_twin_run, twins)
    gallery = len(subjects) > 1
    seeded = ds.name in ("mnist", "mnist-sample")
    sections: list[tuple[str, str, str]] = []
    used: dict[str, list[str]] = {}
    seconds: dict[str, float] = {}
    for sec in SECTIONS:
        s = pick(sec, subjects)
        if s is None:
            continue
        t = time.perf_counter()
        body = sec.build(s, p)
        seconds[sec.anchor] = round(time.perf_counter() - t, 2)
        if not body:
            continue
        log(f"  {len(sections) + 1}. {sec.title}: drawn from {s.label} "
            f"({seconds[sec.anchor]:.1f} s)")
        used.setdefault(str(s.run.path), []).append(sec.title)
        if gallery:
            body = drawn_from(s) + body
        # the seeds (S0–S4) are MNIST's stories: a run on other data shows the sections alone
        sections.append(section(sec.anchor, f"{len(sections) + 1}. {sec.title}", body,
                                sec.seed if seeded else "", s.model.input_shape))
    if sweep is not None:
        from digitlens.render.sweep import sweep_section
        from digitlens.sweep.table import read_results
        sections.append(section("sweep", f"{len(sections) + 1}. Many networks: a sweep",
                                sweep_section(p, read_results(sweep)), "S2, S3"))
    main = subjects[0]
    p.findings.insert(0, accuracy_finding(main))
    shown = next((s for s in subjects if s.preset == "default"), main)
    link = explorer_link(shown, p)
    label = {"mnist": "MNIST", "mnist-sample": "MNIST (embedded sample)",
             "fashion-mnist": "Fashion-MNIST"}.get(ds.name, ds.name)
    subject = ("clothes" if ds.name.startswith("fashion") else "digits"
               if all(n.isdigit() for n in ds.class_names) else "images")
    if gallery:
        title = f"How neural networks read {subject}: {count(len(everyone), 'network')}"
        header = models_table(everyone, used) + link + findings_box(p.findings)
        lead = (f"Each section below is drawn from the network that first showed its picture "
                f"(the S0–S4 tags), all on the {label} test set.")
    else:
        meta = {"model": main.model.describe(), "accuracy": main.accuracy,
                "n_test": int(len(main.y)),
                "epochs": None if main.is_file else len(main.history), "dataset": ds.name,
                "params": int(main.model.params.size)}
        title = f"How a {main.label} network reads {subject}"
        header = (settings_table(main.config.to_dict() if main.config else {}, meta)
                  + link + findings_box(p.findings))
        lead = (f"Everything below was computed from this one trained network and the "
                f"{label} test set.")
    atomic_write_text(folder / "index.html", page(title, header, sections, lead, seeded,
                                                  tuple(p.rules)))
    atomic_write_text(folder / STAMP, json.dumps({"stamp": stamp, "files": p.files}, indent=1))
    return {"index": str(folder / "index.html"), "skipped": False, "files": p.files,
            "accuracy": main.accuracy, "runs": [str(r) for r in runs],
            "sections": seconds, "timings": p.timings}


def network_of(run: str | Path, models: dict[str, MLP | CNN] | None) -> MLP | CNN | None:
    """The network a run folder or model file holds (None: another tool's file, which the
    caller's reader has read when it is one of ``models``)."""
    given = (models or {}).get(str(run))
    if given is not None:
        return given
    p = Path(run)
    if p.is_dir() and not is_run(p):
        return None  # Subject.load says what a run folder needs
    return load_network(p) if p.is_dir() or p.suffix.lower() == ".npz" else None


def cnn_report(runs: list[str | Path], folder: Path, ds: Dataset, log: Log, robustness_n: int,
               stamp: dict[str, Any], models: dict[str, MLP | CNN | None]) -> dict[str, Any]:
    """The report of one convolutional network (``report_cnn``)."""
    if len(runs) > 1:
        raise ModelError("a report of several networks is the seeds' gallery of fully "
                         "connected ones; report a convolutional network on its own "
                         "(digitlens report RUN)")
    model = models[str(runs[0])]
    assert isinstance(model, CNN)
    make_folder(folder)
    p = ReportPage(folder, ds, log, robustness_n)
    text, info = build_cnn_report(Path(runs[0]), model, p)
    atomic_write_text(folder / "index.html", text)
    atomic_write_text(folder / STAMP, json.dumps({"stamp": stamp, "files": p.files}, indent=1))
    return {"index": str(folder / "index.html"), "skipped": False, "files": p.files,
            "accuracy": info["accuracy"], "runs": [str(r) for r in runs],
            "sections": info["sections"], "timings": p.timings}


def explorer_link(s: Subject, p: ReportPage) -> str:
    """Write the single-file explorer of ``s`` beside the report and link to it (nothing for a
    run it cannot show)."""
    from digitlens.export.html_explorer import export_html
    try:
        export_html(s.model, p.ds, p.folder / "explorer.html", s.run.path.name)
    except ModelError:
        return ""
    p.files.append("explorer.html")
    return ('<p class="explorer">Draw your own digits and watch every neuron of the '
            f'{html.escape(s.label)} net: <a href="explorer.html">explorer.html</a>, one file '
            'that works offline in any browser (send it to a friend).</p>')


def drawn_from(s: Subject) -> str:
    preset = f", preset {s.preset}" if s.preset != "custom" else ""
    return (f"<p class='drawn'>Drawn from <code>{html.escape(str(s.run.path))}</code>: the "
            f"{html.escape(s.model.describe())} net{html.escape(preset)}, "
            f"{'a model file' if s.is_file else count(len(s.history), 'epoch')}, "
            f"<b>{s.accuracy:.2%}</b> test accuracy.</p>")


def models_table(subjects: list[Subject], used: dict[str, list[str]]) -> str:
    rows = [[str(s.run.path), s.preset, s.model.describe(), str(len(s.history)),
             f"{s.config.train_size:,}" if s.config and s.config.train_size else "all",
             f"{s.accuracy:.2%}",
             ", ".join(used.get(str(s.run.path), [])) or (
                 "S2's few-images comparison" if s.is_twin() else "-")] for s in subjects]
    return table(["run", "preset", "network", "epochs", "training images", "test accuracy",
                  "drawn here"], rows)


def accuracy_finding(s: Subject) -> str:
    """The overall score and the most common mix-up."""
    off = s.ev.confusion.copy()
    np.fill_diagonal(off, 0)
    t, q = np.unravel_index(int(np.argmax(off)), off.shape)
    if not off[t, q]:  # nothing mixed up: no pair to name
        return (f"<b>{s.accuracy:.2%}</b> of the test digits are read right by the "
                f"{html.escape(s.label)} net: it mixes up no class with another.")
    true, read = html.escape(s.names[t]), html.escape(s.names[q])
    return (f"<b>{s.accuracy:.2%}</b> of the test digits are read right by the "
            f"{html.escape(s.label)} net; its most common mix-up is {article(s.names[t])} "
            f"<b>{true}</b> read as {article(s.names[q])} <b>{read}</b> "
            f"({count(int(off[t, q]), 'time')}).")
