"""The report's feature atlases: the run folder's atlases read (a stale one said, not
skipped), each one's cards and measures with the purity of its features against the layer's
neurons, and the why section's column of the feature that pushes each gap most."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np

from digitlens.analysis import sae as S
from digitlens.analysis.atlas import atlas_of
from digitlens.analysis.feature_gap import gap_in_features
from digitlens.analysis.sae_file import FILE, network_digest, run_atlas, save_features
from digitlens.data.sources import Dataset
from digitlens.nn.mlp import MLP
from digitlens.render.image import Picture
from digitlens.render.report_features import atlas_section, run_atlases
from digitlens.render.report_why import rivalries, why_section


def test_the_runs_atlases_split_the_gaps_and_show_their_cards(
        trained_run: Path, trained_model: MLP, sample: Dataset, tmp_path: Path) -> None:
    """With an atlas of the last hidden layer in the run folder, each rivalry's row names the
    feature that pushes its gap most (analysis.feature_gap's first term), and the atlas's
    cards and measures follow; a stale atlas is said, not skipped; no atlas: how to make one."""
    x, y, names = sample.test_images, sample.test_labels, list(sample.class_names)
    folder = tmp_path / "small"
    shutil.copytree(trained_run, folder)
    assert run_atlases(trained_model, folder) == ({}, [])
    saved: dict[str, Picture] = {}

    def figure(pic: Picture, name: str, caption: str, alt: str) -> str:
        saved[name] = pic
        return f"<img src='{name}' alt='{alt}' title='{caption}'>"
    body, findings = atlas_section(trained_model, sample, names, {}, [], figure)
    assert "No feature atlas" in body and not findings and not saved
    fs = atlas_of(trained_model, 1, sample.train_images, x, y, n_features=32, k=4, epochs=2)
    for layer, network in ((1, network_digest(trained_model)), (0, "0" * 16)):
        run_atlas(folder, layer).mkdir(parents=True)
        save_features(fs.sae if layer == 1 else atlas_of(
            trained_model, 0, sample.train_images, x, y, n_features=32, k=4, epochs=1).sae,
            run_atlas(folder, layer) / FILE, {"layer": layer, "network": network})
    atlases, notes = run_atlases(trained_model, folder)
    assert list(atlases) == [1] and len(notes) == 1 and "layer 0" in notes[0] \
        and "another network" in notes[0]
    body, _ = why_section(trained_model, x, y, names, atlases)
    assert "<th>in features</th>" in body
    i, target, rival = rivalries(trained_model, x, y)[0]
    g = gap_in_features(trained_model, atlases[1], x[i], target, rival)
    first = re.search(r"<tbody><tr>(.*?)</tr>", body)
    assert first is not None
    cells = re.findall(r"<td>(.*?)</td>", first.group(1))
    j, _, e = g.terms[0]
    assert cells[7] == f"feature {j} ({e:+.2f})"
    body, findings = atlas_section(trained_model, sample, names, atlases, notes, figure)
    assert list(saved) == ["features-layer-1.png"] and "another network" in body
    purity = float(np.nanmedian(S.purity(fs.codes, y)))
    assert f"features {purity:.0%}" in body and len(findings) == 1
