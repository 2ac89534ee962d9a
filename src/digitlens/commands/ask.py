"""Asking the net about one drawing: ``nudge`` (the smallest change that flips it),
``attribute`` (integrated gradients or gradient × input) and ``dream`` (what a neuron wants).

Layers are numbered as in the web API and ``digitlens.analysis.inspector``: layer 0 is the first
hidden layer, the last layer the output; ``--class C`` is the output layer's neuron C.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.gradients import Network, output_layer
from digitlens.commands import add_data, add_json, class_arg, emit, load_data, resolve_network
from digitlens.errors import DigitlensError, bad_param


def add_input(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="run folder or model file")
    p.add_argument("--test-index", type=int, help="a test digit, by its index in the test set")
    p.add_argument("--image", help="a PNG/JPEG of a digit (MNIST-preprocessed, as predict does)")
    add_data(p)
    add_json(p)


def register(sub: Any) -> None:
    from digitlens.analysis.integrated import BASELINES, METHODS, STEPS
    from digitlens.analysis.nudge import METHODS as NUDGE_METHODS
    p = sub.add_parser("nudge", help="the smallest pixel change that flips the prediction "
                       "(DeepFool, FGSM)")
    add_input(p)
    p.add_argument("--target", help="the class to make it say, by number or name "
                   "(default: any other)")
    p.add_argument("--method", default="deepfool", choices=NUDGE_METHODS)
    p.add_argument("--test-count", type=int, help="nudge the first N test digits: the "
                   "robustness table")
    p.set_defaults(func=cmd_nudge)

    p = sub.add_parser("attribute", help="each pixel's share of a class score (integrated "
                       "gradients, gradient × input)")
    add_input(p)
    p.add_argument("--method", default="integrated-gradients", choices=METHODS)
    p.add_argument("--target", help="the class to explain, by number or name "
                   "(default: the prediction)")
    p.add_argument("--steps", type=int, default=STEPS, help=f"integral steps (default {STEPS})")
    p.add_argument("--baseline", default="black", choices=BASELINES)
    p.set_defaults(func=cmd_attribute)

    p = sub.add_parser("dream", help="the input a neuron or class likes most (activation "
                       "maximisation)")
    p.add_argument("run", help="run folder or model file")
    p.add_argument("--layer", type=int, help="0 = first hidden layer; the last is the output")
    p.add_argument("--neuron", type=int)
    p.add_argument("--class", dest="cls", help="an output class, by number or name (the "
                   "last layer's neuron)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="ascent steps (default 200)")
    p.add_argument("--out", help="also draw the dream as a PNG")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_dream)


def one_input(args: argparse.Namespace, model: Network) -> tuple[np.ndarray, dict[str, Any]]:
    """The image named by --test-index or --image, and what to say about where it came from."""
    if (args.test_index is None) == (args.image is None):
        raise DigitlensError("give exactly one of --test-index I or --image PNG")
    if args.image is not None:
        from digitlens.data.preprocess import load_image, preprocess
        pre = preprocess(load_image(args.image), model.image_shape)
        if not pre.has_ink:
            raise DigitlensError(f"{args.image}: the drawing is blank (no ink found)")
        return pre.centred.astype(np.float32).ravel(), {"image": args.image}
    ds = load_data(args, model)
    n = len(ds.test_labels)
    if not 0 <= args.test_index < n:
        raise bad_param("test-index", f"an int in 0..{n - 1}", args.test_index)
    i = args.test_index
    return (ds.test_images[i].astype(np.float32).ravel() / 255,
            {"test_index": i, "label": int(ds.test_labels[i])})


def cmd_nudge(args: argparse.Namespace) -> int:
    from digitlens.analysis import nudge as N
    model = resolve_network(args.run)
    if args.test_count is not None:
        if args.test_index is not None or args.image is not None or args.target is not None:
            raise DigitlensError("--test-count takes no --test-index, --image or --target")
        ds = load_data(args, model)
        if not 1 <= args.test_count <= len(ds.test_labels):
            raise bad_param("test-count", f"an int in 1..{len(ds.test_labels)}", args.test_count)
        idx = np.arange(args.test_count)
        table = N.summary(N.nudge_many(model, ds.test_images[idx], args.method), idx)
        med = table["median_l2"]
        text = (f"{args.method}: flipped {table['flipped']} of {table['n']} test digits; "
                f"median L2 change {med:.3f}" if med is not None else "no digit flipped")
        return emit(args, {"method": args.method, **table}, text)
    x, where = one_input(args, model)
    res = N.nudge(model, x, class_arg(model, args.target, "target"), args.method)
    out = {**res.to_dict(), **where}
    names = model.class_names
    text = (f"{names[res.source]} -> {names[res.to]} ({res.probabilities[res.to]:.0%} sure) "
            f"by {args.method}: "
            f"L2 {res.l2:.3f}, largest pixel change {res.linf:.3f}, "
            f"{res.changed_pixels} pixels changed")
    return emit(args, out, text)


def cmd_attribute(args: argparse.Namespace) -> int:
    from digitlens.analysis.integrated import attribute
    model = resolve_network(args.run)
    x, where = one_input(args, model)
    if not np.any(x > 0):
        raise DigitlensError("the drawing is blank: there is nothing to attribute")
    a = attribute(model, x, args.method, class_arg(model, args.target, "target"),
                  args.steps, args.baseline)
    text = (f"{a.method} for class {model.class_names[a.target]}: score {a.score:.3f}, "
            f"baseline ({a.baseline}) "
            f"{a.baseline_score:.3f}, attributions sum to {a.attributions.sum():.3f} "
            f"(completeness error {a.completeness_error:.2%})")
    return emit(args, {**a.to_dict(), **where}, text)


def cmd_dream(args: argparse.Namespace) -> int:
    from digitlens.analysis import dream as D
    model = resolve_network(args.run)
    if args.cls is not None:
        if args.layer is not None or args.neuron is not None:
            raise DigitlensError("give --class C, or --layer L --neuron N, not both")
        layer, neuron = output_layer(model), int(class_arg(model, args.cls, "class") or 0)
    elif args.layer is None or args.neuron is None:
        raise DigitlensError("give --layer L --neuron N, or --class C")
    else:
        layer, neuron = args.layer, args.neuron
    if args.steps is not None and not 1 <= args.steps <= 10000:
        raise bad_param("steps", "an int in 1..10000", args.steps)
    D.check_unit(model, layer, neuron)
    if args.out is not None and Path(args.out).suffix.lower() != ".png":
        raise bad_param("out", "a .png file", args.out)
    ds = load_data(args, model)
    d = D.dream_of(model, ds.train_images, layer, neuron, args.seed, args.steps or D.STEPS)
    from digitlens.render.views.ask import dream_title
    kind = dream_title(model, layer, neuron)
    best = d.max_train_activation or 0.0
    text = (f"{kind}: dream {d.activation:.3f} (from {d.start_activation:.3f} at the "
            f"mean digit; best training digit {best:.3f})")
    if d.activation < best:
        text += "; below the best training digit: try --steps 1000 or another --seed"
    result = d.to_dict()
    if args.out is not None:
        from digitlens.render.views.ask import dream_view
        result["out"] = str(dream_view(d, kind).save(args.out))
    return emit(args, result, text)

