"""``digitlens step``: one gradient step on one example, to see what training does.

The run on disk is only read; ``--out`` writes the stepped model as a new run folder.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from digitlens.commands import class_arg, emit, resolve_model, say
from digitlens.commands.ask import add_input, one_input
from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.io import MODEL_FILE, save_model
from digitlens.nn.onestep import LR_MAX, one_step
from digitlens.nn.optim import OPTIMIZERS


def finite_lr(text: str) -> float:
    """--lr as a float (NaN and infinities are refused by ``one_step``'s check)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None


def register(sub: Any) -> None:
    p = sub.add_parser("step", help="one gradient step on one example: what training does "
                       "to the network (the run is left as it is unless --out)")
    add_input(p)
    p.add_argument("--label", required=True, help="the class to teach, by number or name "
                   "(a wrong one shows the network changing its mind)")
    p.add_argument("--lr", type=finite_lr, default=0.01,
                   help=f"learning rate, above 0 and at most {LR_MAX:g} (default 0.01)")
    p.add_argument("--optimizer", default="sgd", choices=OPTIMIZERS)
    p.add_argument("--out", help="save the stepped model as a new run folder")
    p.set_defaults(func=cmd_step)


def rounded(a: np.ndarray) -> list[float]:
    return np.round(a.astype(np.float64), 6).tolist()


def cmd_step(args: argparse.Namespace) -> int:
    model = resolve_model(args.run)
    label = class_arg(model, args.label, "label")
    assert label is not None
    if not (math.isfinite(args.lr) and 0 < args.lr <= LR_MAX):
        raise bad_param("lr", f"a float > 0 and at most {LR_MAX:g}", args.lr)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DigitlensError(f"--out {out}: already exists and is not an empty folder; "
                             "name a new one (the run you step from is never changed)")
    x, where = one_input(args, model)
    true = where.pop("label", None)  # a test digit's own class, beside the one taught
    s = one_step(model, x, label, args.lr, args.optimizer)
    names = model.class_names
    result: dict[str, Any] = {
        **where, "true_label": true, "label": label, "label_name": names[label], "lr": args.lr,
        "optimizer": args.optimizer, "loss_before": s.loss_before, "loss_after": s.loss_after,
        "probabilities_before": rounded(s.probabilities_before),
        "probabilities_after": rounded(s.probabilities_after),
        "prediction_before": s.prediction_before, "prediction_after": s.prediction_after,
        "gradient_norms": s.gradient_norms, "out": None}
    if out is not None:
        s.model.meta["stepped_from"] = {"model": str(args.run), **where, "label": label,
                                        "lr": args.lr, "optimizer": args.optimizer}
        out.mkdir(parents=True, exist_ok=True)
        result["out"] = str(save_model(s.model, out / MODEL_FILE))
        say(f"saved the stepped model in {out}")
    pb, pa = s.probabilities_before, s.probabilities_after
    # the cost of a certain answer rounds to -0.0 (−log(1 + 1e-12)): shown as 0
    text = (f"teaching {names[label]}: loss {max(s.loss_before, 0):.4f} -> "
            f"{max(s.loss_after, 0):.4f}; "
            f"p({names[label]}) {pb[label]:.1%} -> {pa[label]:.1%}; prediction "
            f"{names[s.prediction_before]} -> {names[s.prediction_after]}")
    return emit(args, result, text)
