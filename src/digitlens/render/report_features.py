"""The report's feature atlases: the run folder's atlases (``digitlens features``), each with
its cards, its measures on the test set and the purity of its features against the layer's
neurons. It never trains one (minutes): without one it says how to make one, and an atlas
that does not fit the network (stale or foreign) is said, never skipped in silence."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np

from digitlens.analysis import sae as S
from digitlens.analysis.sae_file import read_run_atlas
from digitlens.data.dataset import Dataset
from digitlens.nn.mlp import MLP
from digitlens.numbering import layer_name
from digitlens.render.image import Picture


def run_atlases(model: MLP, run_dir: Path | None) -> tuple[dict[int, S.SAE], list[str]]:
    """The run folder's feature atlases by hidden layer, and a sentence for each one found
    that does not fit this network."""
    found: dict[int, S.SAE] = {}
    notes: list[str] = []
    if run_dir is None or not run_dir.is_dir():
        return found, notes
    for layer in range(model.n_layers - 1):
        sae, note = read_run_atlas(run_dir, model, layer)
        if sae is not None:
            found[layer] = sae
        if note is not None:
            notes.append(f"{note[0].upper()}{note[1:]}.")
    return found, notes


def atlas_section(model: MLP, ds: Dataset, names: list[str], atlases: dict[int, S.SAE],
                  notes: list[str], figure: Callable[[Picture, str, str, str], str]
                  ) -> tuple[str, list[str]]:
    """Each atlas's cards and measures on the test set, with the purity of its features
    against the layer's neurons; without one, how to make one."""
    from digitlens.analysis.atlas import atlas_of
    from digitlens.nn.backprop import layer_activations
    from digitlens.render.views.features import feature_cards
    body = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
    findings: list[str] = []
    if not atlases:
        return body + ("<p class='note'>No feature atlas in the run folder: "
                       "<code>digitlens features RUN --layer L</code> makes one (minutes), "
                       "and the report then shows its cards.</p>"), findings
    for layer, sae in sorted(atlases.items()):
        fs = atlas_of(model, layer, ds.train_images, ds.test_images, ds.test_labels, sae=sae)
        a = fs.atlas
        purity_f = float(np.nanmedian(S.purity(fs.codes, ds.test_labels)))
        acts = layer_activations(model, model.as_input(ds.test_images))[layer]
        purity_n = float(np.nanmedian(S.purity(acts, ds.test_labels)))
        name = layer_name(layer)
        body += (f"<p>{sae.n_features:,} features of {html.escape(name)}, {a.l0:.1f} firing "
                 f"per test digit: they rebuild {a.explained_variance:.1%} of the layer's "
                 f"variance, and with the layer rebuilt from them the network scores "
                 f"{a.accuracy_spliced:.2%} (as it is: {a.accuracy:.2%}); "
                 f"{a.dead_fraction:.1%} fire on no test digit. Purity (the share of a unit's "
                 f"50 strongest test digits of its commonest class), median: features "
                 f"{purity_f:.0%}, neurons {purity_n:.0%}.</p>")
        body += figure(feature_cards(model, layer, sae, fs.codes, ds.test_images,
                                     ds.test_labels, names),
                       f"features-layer-{layer}.png", "",
                       f"Cards of the 24 most frequent features of {name}: each feature's "
                       "direction carried back to the pixels and the test digits that make it "
                       "fire most")
        findings.append(f"A sparse autoencoder rewrites {html.escape(name)} as "
                        f"{sae.n_features:,} features, {a.l0:.0f} per digit: the median "
                        f"feature's strongest digits are <b>{purity_f:.0%}</b> one class, the "
                        f"median neuron's <b>{purity_n:.0%}</b>.")
    return body, findings
