"""A feature atlas of the default net's last hidden layer (layer 1, 256 neurons -> 2,048 TopK
features, k = 16), measured on the real MNIST test set. Goals: accuracy with the layer rebuilt
from the features within 0.5 points of the network's; l0 <= k; at most 10% of the features
dead (never firing on a test digit); and the median purity of the features (the share of a
unit's 50 most-activating test digits that belong to its commonest class) at least 15 points
above the median purity of the layer's neurons.

Usage: python benchmarks/bench_features.py [--run runs/default] [--layer 1] [--features 2048]
       [--k 16] [--epochs 10] [--seed 0]
   or: python benchmarks/bench_features.py --run runs/default --atlas DIR/features.npz
       (measure the features ``digitlens features`` trained, instead of training again)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from digitlens.analysis import sae as S
from digitlens.analysis.sae_file import load_features
from digitlens.data.sources import load_dataset
from digitlens.nn.backprop import forward, layer_activations
from digitlens.nn.io import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/default")
    ap.add_argument("--layer", type=int, default=1)
    ap.add_argument("--features", type=int, default=S.FEATURES)
    ap.add_argument("--k", type=int, default=S.K)
    ap.add_argument("--epochs", type=int, default=S.EPOCHS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--atlas", help="a features.npz to measure instead of training one")
    args = ap.parse_args()
    model = load_model(f"{args.run}/model.npz" if not args.run.endswith(".npz") else args.run)
    ds = load_dataset("mnist", fallback=False)
    train = layer_activations(model, model.as_input(ds.train_images))[args.layer]
    test_in = model.as_input(ds.test_images)
    test = layer_activations(model, test_in)[args.layer]
    labels = ds.test_labels
    t0 = time.perf_counter()
    if args.atlas:
        sae, meta = load_features(args.atlas, model, args.layer)
        args.features, args.k = sae.n_features, sae.k
        took = meta.get("seconds")
        trained = (f"read from {args.atlas}, " + (f"trained in {took} s" if took is not None
                   else "the time is digitlens features' `seconds`"))
    else:
        sae = S.train_sae(train, args.features, args.k, args.epochs, args.seed)
        trained = f"{time.perf_counter() - t0:.0f} s ({len(train)} digits)"
    spliced = forward(model, sae.reconstruct(test), start=args.layer + 1).output
    accuracy = float(np.mean(np.argmax(forward(model, test_in).output, axis=1) == labels))
    atlas = S.assess(sae, test, float(np.mean(np.argmax(spliced, axis=1) == labels)), accuracy)
    f = np.concatenate([sae.encode(test[i:i + 4096]) for i in range(0, len(test), 4096)])
    f_train = np.concatenate([sae.encode(train[i:i + 4096]) > 0
                              for i in range(0, len(train), 4096)])
    p_feat, p_neur = S.purity(f, labels), S.purity(test, labels)
    print(f"default net {'-'.join(map(str, model.sizes))}, layer {args.layer} "
          f"({model.sizes[args.layer + 1]} neurons) -> {args.features} features, "
          f"k = {args.k}" + ("" if args.atlas else f", {args.epochs} epochs, seed {args.seed}"))
    print(f"  training            {trained}")
    print(f"  l0                  {atlas.l0:.2f}   (goal <= {args.k})")
    print(f"  dead (test set)     {atlas.dead_fraction:.1%}   (goal <= 10%; never fire on any "
          f"of {len(test)} test digits)")
    print(f"  dead (training set) {np.mean(~f_train.any(axis=0)):.1%}   (never fire on any "
          f"of {len(train)} training digits)")
    print(f"  explained variance  {atlas.explained_variance:.3f}")
    print(f"  accuracy            {accuracy:.2%} -> {atlas.accuracy_spliced:.2%} with the layer "
          f"rebuilt from the features (goal: within 0.5 points)")
    print(f"  purity, median      features {np.nanmedian(p_feat):.1%} "
          f"({int(np.sum(~np.isnan(p_feat)))} that fire) vs neurons {np.nanmedian(p_neur):.1%} "
          f"({int(np.sum(~np.isnan(p_neur)))} that fire): "
          f"{100 * (np.nanmedian(p_feat) - np.nanmedian(p_neur)):+.1f} points (goal >= +15)")
    # a unit is judged on the test digits it fires on, at most 50: a rare one on a handful
    fires = np.count_nonzero(f, axis=0)
    for lo, hi in ((1, 10), (10, 50), (50, len(test) + 1)):
        band = (fires >= lo) & (fires < hi)
        median = f"{np.nanmedian(p_feat[band]):.1%}" if band.any() else "-"
        print(f"    features firing on {lo}..{min(hi, len(test)) - 1} test digits: "
              f"{int(band.sum()):>4}, median purity {median}")


if __name__ == "__main__":
    main()
