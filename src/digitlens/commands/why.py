"""Why this answer and not that one: ``patch`` (carry one drawing's hidden activations into
another's) and ``circuit`` (the few neurons behind one answer, measured by mean-ablation).

Layers are numbered as on every surface: layer 0 is the first hidden layer.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from digitlens import numbering
from digitlens.commands import (
    add_data,
    add_json,
    class_arg,
    emit,
    load_data,
    resolve_model,
    say,
)
from digitlens.errors import DigitlensError, bad_param
from digitlens.nn.mlp import MLP

if TYPE_CHECKING:
    from digitlens.analysis.feature_gap import FeatureGap


def register(sub: Any) -> None:
    from digitlens.analysis.patching import MAX_NODES
    p = sub.add_parser("patch", help="run one digit with another's activations at a hidden "
                       "layer: does the answer follow them?")
    p.add_argument("run", help="run folder or model file")
    for role, what in (("source", "whose activations are carried"),
                       ("into", "the digit that receives them")):
        p.add_argument(f"--{role}-index", type=int, help=f"a test digit {what}")
        p.add_argument(f"--{role}-image", help=f"a PNG/JPEG {what}")
    p.add_argument("--layer", type=int, required=True, help="a hidden layer, 0 = the first")
    p.add_argument("--neurons", help="comma-separated neurons of that layer (default: all)")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_patch)

    p = sub.add_parser("circuit", help="the hidden neurons that make one answer beat another "
                       "(mean-ablation)")
    p.add_argument("run", help="run folder or model file")
    p.add_argument("--test-index", type=int, required=True, help="a test digit")
    p.add_argument("--target", help="the answer to explain (default: the prediction)")
    p.add_argument("--contrast", help="the answer it beats (default: the runner-up)")
    p.add_argument("--max-nodes", type=int, default=MAX_NODES,
                   help=f"at most this many neurons (default {MAX_NODES})")
    p.add_argument("--atlas", help="a features.npz of the last hidden layer: the gap split "
                   "over its features (default: the run folder's, when it has one)")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_circuit)

    from digitlens.analysis import sae as S
    p = sub.add_parser("features", help="a feature atlas of a hidden layer: a sparse "
                       "autoencoder trained on its activations, with feature cards")
    p.add_argument("run", help="run folder or model file")
    p.add_argument("--layer", type=int, required=True, help="a hidden layer, 0 = the first")
    p.add_argument("--features", type=int, default=S.FEATURES,
                   help=f"how many features (default {S.FEATURES})")
    p.add_argument("--k", type=int, default=S.K, help=f"features kept per digit (default {S.K})")
    p.add_argument("--epochs", type=int, default=S.EPOCHS,
                   help=f"passes over the training set (default {S.EPOCHS})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="a new folder for features.npz and features.png (default: "
                   "RUN/features/layer-L, where the explorer finds it)")
    add_data(p)
    add_json(p)
    p.set_defaults(func=cmd_features)


def image_of(args: argparse.Namespace, model: MLP, role: str,
             test: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The drawing given as --ROLE-index or --ROLE-image (exactly one)."""
    index, path = getattr(args, f"{role}_index"), getattr(args, f"{role}_image")
    if (index is None) == (path is None):
        raise DigitlensError(f"give exactly one of --{role}-index I or --{role}-image PNG")
    if path is not None:
        from digitlens.data.preprocess import load_image, preprocess
        pre = preprocess(load_image(path), model.input_shape)
        if not pre.has_ink:
            raise DigitlensError(f"{path}: the drawing is blank (no ink found)")
        return pre.centred.astype(np.float32).ravel(), {f"{role}_image": path}
    assert test is not None
    images, labels = test
    if not 0 <= index < len(labels):
        raise bad_param(f"{role}-index", f"an int in 0..{len(labels) - 1}", index)
    return (images[index].astype(np.float32).ravel() / 255,
            {f"{role}_index": index, f"{role}_label": int(labels[index])})


def parse_neurons(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise bad_param("neurons", "comma-separated neuron numbers, e.g. 3,17,40", text) \
            from None


def cmd_patch(args: argparse.Namespace) -> int:
    from digitlens.analysis.patching import patch
    model = resolve_model(args.run)
    numbering.check_hidden_layer(model.sizes, args.layer)
    needs_data = args.source_image is None or args.into_image is None
    ds = load_data(args, model) if needs_data else None
    test = (ds.test_images, ds.test_labels) if ds is not None else None
    src, where_src = image_of(args, model, "source", test)
    into, where_into = image_of(args, model, "into", test)
    if where_src.get("source_index") is not None \
            and where_src.get("source_index") == where_into.get("into_index"):
        raise DigitlensError("--source-index and --into-index name the same digit: patching "
                             "a digit into itself changes nothing")
    p = patch(model, src, into, args.layer, parse_neurons(args.neurons))
    names = model.class_names
    which = ("all its" if len(p.patched) == model.sizes[args.layer + 1]
             else f"{len(p.patched)} of its")
    text = (f"read as {names[p.prediction_before]} ({p.probabilities_before.max():.0%}); with "
            f"{which} layer-{args.layer} activations from the other digit (read as "
            f"{names[p.source_prediction]}): {names[p.prediction_after]} "
            f"({p.probabilities_after.max():.0%})")
    return emit(args, {**p.to_dict(), **where_src, **where_into}, text)


def cmd_circuit(args: argparse.Namespace) -> int:
    from digitlens.analysis.patching import circuit, hidden_means
    model = resolve_model(args.run)
    if args.max_nodes < 1:
        raise bad_param("max-nodes", "an int >= 1", args.max_nodes)
    ds = load_data(args, model)
    n = len(ds.test_labels)
    if not 0 <= args.test_index < n:
        raise bad_param("test-index", f"an int in 0..{n - 1}", args.test_index)
    c = circuit(model, ds.test_images[args.test_index], hidden_means(model, ds.test_images),
                class_arg(model, args.target, "target"),
                class_arg(model, args.contrast, "contrast"), args.max_nodes)
    names = model.class_names
    top = ", ".join(f"{numbering.neuron_name(layer, j)} ({e:+.2f})"
                    for layer, j, e in c.nodes[:5])
    text = (f"{names[c.target]} beats {names[c.contrast]} by {c.gap:.2f} (scores before the "
            f"softmax); {len(c.nodes)} neurons, led by {top}: alone they restore "
            f"{c.restored:.0%} of the gap, and removing them removes {c.removed:.0%}")
    result = {**c.to_dict(), "test_index": args.test_index,
              "label": int(ds.test_labels[args.test_index]), "features": None}
    from digitlens.analysis.feature_gap import gap_in_features, last_layer_atlas
    folder = args.run if Path(args.run).is_dir() else None
    found, note = last_layer_atlas(model, args.atlas, folder)
    if note is not None:
        say(f"note: {note}")
        result["features_note"] = note
    if found is not None:
        g = gap_in_features(model, found, ds.test_images[args.test_index], c.target,
                            c.contrast)
        result["features"] = g.to_dict()
        text += "\n" + features_sentence(g, names[c.target], names[c.contrast])
    return emit(args, result, text)


def features_sentence(g: FeatureGap, target: str, contrast: str) -> str:
    """The gap in the atlas's words: the strongest pushes each way, and what is left."""
    up = [t for t in g.terms if t[2] > 0][:3]
    down = [t for t in g.terms if t[2] < 0][-2:][::-1]
    text = (f"In the {len(g.terms)} features of {numbering.layer_name(g.layer)} that fire: "
            f"{listed(up) or 'none'} push towards {target}")
    if down:
        text += f"; {listed(down)} towards {contrast}"
    return (text + f"; together {g.features_sum:+.2f}, the atlas's bias {g.decoder_bias:+.2f}, "
            f"what it misses {g.missed:+.2f}, the output biases {g.bias_difference:+.2f}: "
            f"{g.gap:.2f}")


def listed(terms: list[tuple[int, float, float]]) -> str:
    return ", ".join(f"feature {j} ({e:+.2f})" for j, _, e in terms)


def cmd_features(args: argparse.Namespace) -> int:
    from digitlens.analysis.atlas import atlas_of, check_settings
    from digitlens.analysis.sae_file import FILE, network_digest, run_atlas, save_features
    from digitlens.fileio import check_folder
    from digitlens.render.views.features import feature_cards
    model = resolve_model(args.run)
    check_settings(model, args.layer, args.features, args.k, args.epochs)
    if args.out is None and not Path(args.run).is_dir():
        raise DigitlensError(f"{args.run} is a model file, not a run folder: give --out")
    out = Path(args.out) if args.out is not None else run_atlas(args.run, args.layer)
    check_folder(out)
    if (out / FILE).exists():
        raise DigitlensError(f"{out / FILE} exists: choose a new --out folder"
                             + ("" if args.out else " (or remove it to make a new atlas)"))
    ds = load_data(args, model)
    fs = atlas_of(model, args.layer, ds.train_images, ds.test_images, ds.test_labels,
                  n_features=args.features, k=args.k, epochs=args.epochs, seed=args.seed,
                  on_epoch=lambda e, loss: say(f"epoch {e}/{args.epochs}: reconstruction "
                                               f"error {loss:.4f}"))
    atlas, seconds = fs.atlas, fs.seconds or 0.0
    out.mkdir(parents=True, exist_ok=True)
    save_features(fs.sae, out / FILE, {"layer": args.layer, "run": str(args.run),
                                                 "sizes": list(model.sizes),
                                                 "network": network_digest(model),
                                                 "epochs": args.epochs, "seed": args.seed,
                                                 "seconds": round(seconds, 1)})
    feature_cards(model, args.layer, fs.sae, fs.codes, ds.test_images, ds.test_labels,
                  list(model.class_names)).save(out / "features.png")
    result = {"layer": args.layer, "features": args.features, "k": args.k,
              "l0": atlas.l0, "dead_fraction": atlas.dead_fraction,
              "explained_variance": atlas.explained_variance, "accuracy": atlas.accuracy,
              "accuracy_spliced": atlas.accuracy_spliced, "seconds": round(seconds, 1),
              "out": str(out)}
    text = (f"{args.features} features of layer {args.layer}, {atlas.l0:.1f} active per digit; "
            f"they explain {atlas.explained_variance:.1%} of its variance, "
            f"{atlas.dead_fraction:.1%} never fire; accuracy {atlas.accuracy:.2%}, "
            f"{atlas.accuracy_spliced:.2%} with the layer rebuilt from them "
            f"({seconds:.0f} s of training); cards in {out / 'features.png'}")
    return emit(args, result, text)
