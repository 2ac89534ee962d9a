"""Core commands: data, presets, train, evaluate, predict."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.analysis.metrics import evaluate_model
from digitlens.analysis.monitor import watch
from digitlens.commands import (
    add_data,
    add_json,
    emit,
    load_data,
    resolve_model,
    resolve_network,
    say,
)
from digitlens.data.preprocess import load_image, preprocess
from digitlens.data.sources import cache_dir, load_dataset
from digitlens.errors import bad_param
from digitlens.nn.cnn import predict_proba
from digitlens.nn.functions import HIDDEN
from digitlens.nn.mlp import MLP
from digitlens.nn.optim import OPTIMIZERS
from digitlens.nn.presets import PRESETS, default_preset, get_preset, validate_config
from digitlens.nn.run import Run
from digitlens.nn.train import train
from digitlens.wording import count


def register(sub: Any) -> None:
    data = sub.add_parser("data", help="get MNIST and describe it")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION")
    for name, func, helptext in (("fetch", cmd_data, "fetch, verify and cache MNIST"),
                                 ("info", cmd_data, "source, counts per class, checksums")):
        p = dsub.add_parser(name, help=helptext)
        add_data(p)
        add_json(p)
        p.set_defaults(func=func, action=name)

    p = sub.add_parser("presets", help="list the networks of the seeds and the default")
    add_json(p)
    p.set_defaults(func=cmd_presets)

    p = sub.add_parser("train", help="train a preset (flags override it); resumes a run folder")
    p.add_argument("--preset", default=default_preset().name, help="preset name")
    p.add_argument("--epochs", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--l2", type=float)
    p.add_argument("--layers", help="sizes, e.g. 784-128-10")
    p.add_argument("--activation", choices=HIDDEN)
    p.add_argument("--train-size", type=int, help="train on the first N of a seeded shuffle")
    p.add_argument("--out", help="run folder (default runs/PRESET)")
    p.add_argument("--threads", type=int, help="BLAS threads (default: all cores, 1 when busy)")
    p.add_argument("--init", help="start from this run's or model file's weights (fine-tune; "
                   "its architecture replaces the preset's)")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy, confusion matrix")
    p.add_argument("model", help="model file or run folder")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict the digit in image files")
    p.add_argument("model", help="model file or run folder")
    p.add_argument("images", nargs="+", help="PNG/JPEG files, any size, any polarity")
    p.add_argument("--raw", action="store_true", help="skip MNIST preprocessing (squash to 28×28)")
    add_json(p)
    p.set_defaults(func=cmd_predict)


def cmd_data(args: argparse.Namespace) -> int:
    if args.action == "fetch" and args.dataset in (None, "mnist"):
        ds = load_dataset("mnist", args.data_dir, fetch=not args.no_fetch, fallback=False, log=say)
    else:
        ds = load_data(args)
    info: dict[str, Any] = ds.info()
    info["cache"] = str(cache_dir())
    h, w = ds.image_shape
    text = (f"{info['dataset']} ({ds.kind}): {info['train']} train + {info['test']} test "
            f"images of {h}×{w} from {info['source']}\n"
            f"  classes ({len(ds.class_names)}): {', '.join(ds.class_names)}\n"
            f"  train per class: {info['train_per_class']}\n"
            f"  test per class:  {info['test_per_class']}\n"
            + "\n".join(f"  sha256 {k}: {v}" for k, v in info["sha256"].items()))
    return emit(args, info, text)


def cmd_presets(args: argparse.Namespace) -> int:
    rows = [p.to_dict() for p in PRESETS.values()]
    text = "\n".join(f"{p['name']:<20}{'*' if p['default'] else ' '} {p['summary']}"
                     for p in rows)
    if args.json:  # the contract's one JSON value: here the list of presets itself
        print(json.dumps(rows))
        return 0
    print(text)
    return 0


class Progress:
    """A one-line progress bar on a terminal; silent otherwise."""

    def __init__(self, epochs: int) -> None:
        self.epochs, self.epoch, self.tty = epochs, 1, sys.stderr.isatty()

    def batch(self, k: int, n: int) -> None:
        if self.tty:
            filled = int(30 * k / n)
            sys.stderr.write(f"\repoch {self.epoch}/{self.epochs} [{'#' * filled:<30}] "
                             f"{100 * k // n:3d}%")
            sys.stderr.flush()

    def done(self, row: dict[str, Any], _model: Any) -> None:
        self.epoch = row["epoch"] + 1
        # a loss is never below 0; rounding can leave a learned-by-heart one at -1e-9 ("-0.0000")
        msg = (f"epoch {row['epoch']}/{self.epochs}: test accuracy {row['test_accuracy']:.2%}, "
               f"loss {max(row['loss'], 0.0):.4f}, {row['seconds']:.2f} s")
        sys.stderr.write(("\r" + " " * 60 + "\r" if self.tty else "") + msg + "\n")
        sys.stderr.flush()


def cmd_train(args: argparse.Namespace) -> int:
    preset = get_preset(args.preset)
    layers = None
    if args.layers is not None:
        try:
            layers = tuple(int(s) for s in args.layers.replace(",", "-").split("-"))
        except ValueError:
            raise bad_param("layers", "sizes joined by '-', e.g. 784-128-10", args.layers) from None
    config = preset.config.with_overrides(
        epochs=args.epochs, seed=args.seed, optimizer=args.optimizer, lr=args.lr,
        batch_size=args.batch_size, l2=args.l2, layers=layers, activation=args.activation,
        train_size=args.train_size, dataset=args.dataset)
    validate_config(config)  # the flags, by the one set of rules, before any data is read
    init = resolve_model(args.init) if args.init else None
    if init is not None:  # fine-tuning: the model's architecture, the preset's training
        config = config.with_overrides(layers=init.sizes, output=init.activations[-1],
                                       cost=init.cost, activation=init.activations[0]
                                       if init.n_layers > 1 else None)
    ds = load_data(args, default=config.dataset)
    fitted, said = ds.fit_layers(config.layers, explicit=layers is not None or init is not None)
    config = config.with_overrides(layers=fitted)
    assumed = {"layers": said} if said else {}
    if ds.name != config.dataset:
        config = config.with_overrides(dataset=ds.name)
    out = args.out or f"runs/{preset.name}"
    progress = Progress(config.epochs)
    progress.epoch = len(Run(out).history()) + 1 if Path(out).is_dir() else 1
    t0 = time.perf_counter()
    result = train(config, ds, out, on_epoch=progress.done, on_batch=progress.batch,
                   threads=args.threads, init=init, monitor=watch)
    last = result.history[-1] if result.history else {}
    summary = {
        "run_dir": str(result.run_dir), "preset": preset.name, "config": config.to_dict(),
        "dataset": ds.name, "dataset_record": ds.record(), "assumed": assumed,
        "epochs": len(result.history), "resumed_from": result.resumed_from,
        "init": args.init,
        "test_accuracy": last.get("test_accuracy"), "seconds_per_epoch": result.seconds_per_epoch,
        "seconds": time.perf_counter() - t0, "threads": last.get("threads"),
        "history": [{k: h[k] for k in ("epoch", "test_accuracy", "loss", "test_loss")}
                    for h in result.history],
    }
    acc = last.get("test_accuracy")
    what = f"{preset.name} ({'-'.join(map(str, config.layers))})" \
        if isinstance(result.model, MLP) else f"{preset.name} ({result.model.describe()})"
    epochs = count(len(result.history), "epoch")
    if acc is None:
        text = "no epochs run"
    elif result.resumed_from == len(result.history):
        text = f"{what} already has its {epochs}: nothing to train; test accuracy {acc:.2%}"
    else:
        text = f"trained {what} for {epochs} on {ds.name}: test accuracy {acc:.2%}"
    text += f"\nrun folder: {out}" + (f"\nassumed layers {said}" if said else "")
    return emit(args, summary, text)


def cmd_evaluate(args: argparse.Namespace) -> int:
    model = resolve_network(args.model)
    ds = load_data(args, model)
    ev = evaluate_model(model, ds.test_images, ds.test_labels)
    result = {"model": args.model, "dataset": ds.name, **ev.to_dict(),
              "class_names": list(model.class_names)}  # beside per_class_accuracy's rows
    lines = [f"accuracy {ev.accuracy:.2%} on {len(ds.test_labels):,} {ds.name} test images"]
    names = [f"class {c}" + ("" if n == str(c) else f" ({n})") for c, n in
             enumerate(ds.class_names)]
    totals = ev.confusion.sum(axis=1)  # a class without test images has no accuracy, not 0%
    lines += [f"  {names[c]}: {a:.2%}" if totals[c] else f"  {names[c]}: no test images"
              for c, a in enumerate(ev.per_class)]
    return emit(args, result, "\n".join(lines))


def cmd_predict(args: argparse.Namespace) -> int:
    model = resolve_network(args.model)
    rows = []
    for path in args.images:
        h, w = model.input_shape[-2:]
        pre = preprocess(load_image(path), (h, w))
        x = pre.raw28 if args.raw else pre.centred
        row: dict[str, Any] = {"image": path, "has_ink": pre.has_ink}
        if pre.has_ink or args.raw:
            probs = model.trace(x).probabilities[0] if isinstance(model, MLP) else \
                predict_proba(model, x)[0]
            best = int(np.argmax(probs))
            row.update(digit=best, class_name=model.class_names[best],
                       probabilities=np.round(probs.astype(np.float64), 6).tolist())
        else:
            row.update(digit=None, class_name=None, probabilities=None)
        rows.append(row)
    # the class's name where it says more than its number (Fashion-MNIST, custom data)
    text = "\n".join(f"{r['image']}: " + (
        "no ink" if r["digit"] is None else f"{r['digit']} ({max(r['probabilities']):.1%})"
        if r["class_name"] == str(r["digit"]) else
        f"{r['class_name']} (class {r['digit']}, {max(r['probabilities']):.1%})") for r in rows)
    return emit(args, {"predictions": rows, "preprocessing": "raw" if args.raw else "mnist"}, text)
