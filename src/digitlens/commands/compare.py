"""``digitlens compare RUN_A RUN_B``: two models side by side on the same test digits."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from digitlens.commands import add_data, add_json, emit, load_data, resolve_network, say
from digitlens.errors import bad_param
from digitlens.nn.cnn import CNN
from digitlens.nn.mlp import MLP


def register(sub: Any) -> None:
    p = sub.add_parser("compare", help="two models side by side: accuracy, disagreements, "
                       "confusion difference, matched first-layer neurons",
                       description="RUN_A and RUN_B are run folders, model files (.npz) or "
                       "networks to import (.onnx, .json, .pt, .pth, .safetensors).")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--out", help="also draw the comparison as a PNG")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_compare)


def sizes(m: MLP | CNN) -> list[int] | None:
    """A fully connected network's layer sizes (None for a convolutional one)."""
    return list(m.sizes) if isinstance(m, MLP) else None


def cmd_compare(args: argparse.Namespace) -> int:
    from digitlens.analysis.compare import check_comparable, compare_models
    a, b = resolve_network(args.run_a), resolve_network(args.run_b)
    check_comparable(a, b)
    if args.out and Path(args.out).suffix.lower() != ".png":
        raise bad_param("out", "a .png file", args.out)
    ds = load_data(args, a)
    t0 = time.perf_counter()
    c = compare_models(a, b, ds.test_images, ds.test_labels)
    seconds = time.perf_counter() - t0
    result: dict[str, Any] = {"a": args.run_a, "b": args.run_b,
                              "sizes_a": sizes(a), "sizes_b": sizes(b),
                              "model_a": a.describe(), "model_b": b.describe(),
                              **c.to_dict(), "seconds": round(seconds, 3)}
    if args.out:
        from digitlens.render.views import model_label
        from digitlens.render.views.compare import compare_view
        n = len(ds.train_labels)
        compare_view(c, a, b, ds.test_images, list(ds.class_names), model_label(a, n),
                     model_label(b, n)).save(args.out)
        result["out"] = args.out
        say(f"wrote {args.out}")
    d = result["disagreements"]
    text = (f"A {args.run_a}: {c.a.accuracy:.2%}   B {args.run_b}: {c.b.accuracy:.2%}\n"
            f"they disagree on {d['count']:,} of {result['n']:,} test digits "
            f"(A alone right on {d['only_a_right']:,}, B alone on {d['only_b_right']:,})\n"
            + (f"first-layer {c.matched} matched: {len(c.matches)}, mean similarity "
               f"{result['mean_similarity']:+.3f}" if c.matches else
               f"first layers not matched: {c.unmatched}"))
    return emit(args, result, text)
