"""``digitlens render VIEW`` (one view as PNG, GIF, WebP or MP4), ``render --list`` and
``digitlens report`` (every view as a static HTML page)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitlens import palette as C
from digitlens.commands import (
    add_data,
    add_json,
    class_arg,
    emit,
    load_data,
    resolve_network,
    say,
)
from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.mlp import MLP
from digitlens.render.animate import FORMATS
from digitlens.render.image import STILL_FORMATS, Animation


def register(sub: Any) -> None:
    from digitlens.render.views import VIEWS
    p = sub.add_parser("render", help="draw a view of a run as PNG, GIF, WebP or MP4",
                       description="Views: " + "; ".join(f"{v.name} ({v.seed}): {v.summary}"
                                                         for v in VIEWS.values()))
    p.add_argument("view", nargs="?", help="view name (see --list)")
    p.add_argument("--list", action="store_true", help="list the views")
    p.add_argument("--run", help="run folder (or a model file for views without snapshots)")
    p.add_argument("--out", help="output file: .png/.webp (still) or .gif/.webp/.mp4 (animated)")
    p.add_argument("--animate", action="store_true",
                   help="with .webp: write an animation rather than a still")
    p.add_argument("--index", type=int, help="which matching test digit (0 = first)")
    p.add_argument("--digit", help="use test digits of this class (its number or name)")
    p.add_argument("--frames", type=int, help="digits in an animation")
    p.add_argument("--mode", choices=("example", "classes"), help="fingerprints: one digit or "
                   "every class's mean")
    p.add_argument("--method", choices=("auto", "weights", "composed", "gradient",
                                        "integrated-gradients", "deepfool", "fgsm", "pca",
                                        "umap"),
                   help="evidence: how deeper nets are read; nudge: deepfool or fgsm; map: "
                        "pca (default) or umap (the maps extra)")
    p.add_argument("--target", help="nudge: the class to make it say; dream: the class to "
                   "dream of (number or name)")
    p.add_argument("--neuron", type=int, help="dream: a neuron of --layer (0-based)")
    p.add_argument("--style", choices=("diverging", "grey"), help="weights colouring")
    p.add_argument("--layer", type=int, help="neurons, map: a hidden layer, counted from 0 "
                   "(docs/numbering.md; default: the last)")
    p.add_argument("--compare", help="weights: a run of the same net on fewer images (S2); "
                   "compare: the second run or model")
    p.add_argument("--every", type=int, help="evolution: every k-th snapshot")
    p.add_argument("--epoch", type=int, help="evolution as a still: which epoch (default last)")
    p.add_argument("--fps", type=float, help="frames per second")
    p.add_argument("--n", type=int, help="errors: gallery size; robustness: digits; dream: "
                   "ascent steps; neurons: fine-tuning images")
    p.add_argument("--sweep", help="sweep: the sweep folder (render sweep --sweep DIR --x KEY)")
    p.add_argument("--x", help="sweep: the grid key along the x-axis (default: the first)")
    p.add_argument("--hue", help="sweep: the grid key that gets one line per value")
    add_palette(p)
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("report", help="every view of a run (or of several, each seed's section "
                       "from its own network) as a static HTML page")
    p.add_argument("--run", required=True, action="append",
                   help="run folder; repeat it for a gallery where each section is drawn from "
                        "the run of the preset that first showed it")
    p.add_argument("--out", required=True, help="output folder (index.html and images)")
    p.add_argument("--compare", help="a run of the same net trained on fewer images (default: "
                   "train one on 500 images)")
    p.add_argument("--no-compare", action="store_true", help="skip the few-images comparison")
    p.add_argument("--if-changed", action="store_true", help="leave the report as it is when "
                   "its runs, the code and the options are the same as when it was made")
    p.add_argument("--sweep", help="add a section for this sweep folder (digitlens sweep)")
    add_palette(p)
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_report)


def add_palette(p: Any) -> None:
    p.add_argument("--palette", choices=tuple(C.SCHEMES), default="classic",
                   help="colours: classic red (+) / blue (−), or colourblind: orange / purple "
                        "signs, blue / red-orange right and wrong, apart for every colour vision")


OPTIONS = ("index", "digit", "frames", "mode", "method", "style", "layer", "compare", "every",
           "epoch", "fps", "n", "target", "neuron")


def cmd_render(args: argparse.Namespace) -> int:
    from digitlens.render.views import VIEWS, build, get_view
    if args.list:
        rows = [{"name": v.name, "seed": v.seed, "summary": v.summary, "animated": v.animated}
                for v in VIEWS.values()]
        text = "\n".join(f"{r['name']:<13}{r['seed']:<7}{'anim ' if r['animated'] else '     '}"
                         f"{r['summary']}" for r in rows)
        return emit(args, {"views": rows}, text)
    if args.view == "sweep":
        from digitlens.commands.sweep import cmd_render_sweep
        return cmd_render_sweep(args)
    if not args.view:
        raise bad_param("view", f"one of {', '.join(VIEWS)} (or --list)", None)
    get_view(args.view)
    if not args.run or not args.out:
        raise DigitlensError("render needs --run RUN and --out FILE")
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in set(FORMATS) | set(STILL_FORMATS):
        raise bad_param("out", "a .png, .webp, .gif, .jpg or .mp4 file", str(out))
    animated = fmt in ("gif", "mp4") or (fmt == "webp" and args.animate)
    if fmt == "gif" and not get_view(args.view).animated:
        animated = False
    if fmt == "mp4" and not get_view(args.view).animated:
        raise bad_param("out", f"a still image (.png/.webp) for the {args.view!r} view", str(out))
    check_options(args)
    C.use_palette(args.palette)
    model = resolve_network(args.run)  # a view a CNN does not fit says why (views.build)
    args.digit = class_arg(model, args.digit, "digit")
    args.target = class_arg(model, args.target, "target")
    ds = load_data(args, model)
    t0 = time.perf_counter()
    opts = {k: getattr(args, k) for k in OPTIONS}
    # a run folder is passed as itself (snapshots, map cache); a model file as the model it
    # was read into, so an .onnx or .pt is read once, by the one reader
    view = build(args.view, args.run if Path(args.run).is_dir() and isinstance(model, MLP)
                 else model, ds, animated, **opts)
    if isinstance(view, Animation) and not animated:
        view.poster().save(out)
        frames = 1
    else:
        view.save(out)
        frames = view.n_frames if isinstance(view, Animation) else 1
    seconds = time.perf_counter() - t0
    say(f"{args.view}: {view.caption}")
    result = {"view": args.view, "out": str(out), "format": fmt, "frames": frames,
              "seconds": round(seconds, 3), "caption": view.caption,
              "data": summary_of(view.data)}
    shown = f"{frames} frames, the last one held longer" if frames > 1 else "1 frame"
    return emit(args, result, f"wrote {out} ({shown}, {seconds:.2f} s)")


def check_options(args: argparse.Namespace) -> None:
    """Numeric options, validated before any work, in the one message shape."""
    for name in ("frames", "every", "n"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise bad_param(name, "an int >= 1", v)
    for name in ("index", "epoch", "layer", "neuron"):
        v = getattr(args, name)
        if v is not None and v < 0:
            raise bad_param(name, "an int >= 0", v)
    if args.fps is not None and not 0 < args.fps <= 60:
        raise bad_param("fps", "a number in (0, 60]", args.fps)


def summary_of(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe numbers of a view (arrays as lists, long lists kept)."""
    def clean(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v
    return {k: clean(v) for k, v in data.items() if k != "activations"}


def cmd_report(args: argparse.Namespace) -> int:
    from digitlens.render.report import build_report
    models = {run: resolve_network(run) for run in args.run}  # files read once, here
    model = models[args.run[0]]
    ds = load_data(args, model)
    t0 = time.perf_counter()
    info = build_report(args.run, args.out, ds, compare=args.compare,
                        train_twin_run=not args.no_compare and args.compare is None, log=say,
                        force=not args.if_changed, sweep=args.sweep, palette=args.palette,
                        models={r: m for r, m in models.items() if Path(r).is_file()})
    info["seconds"] = round(time.perf_counter() - t0, 2)
    if info["skipped"]:
        return emit(args, info, f"{info['index']} is up to date: {info['reason']} "
                                "(drop --if-changed to rebuild it)")
    return emit(args, info, f"wrote {info['index']} ({info['seconds']:.1f} s)")
