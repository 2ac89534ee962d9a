"""Custom datasets in-process: names, defaults, the sklearn split against scikit-learn itself,
MNIST's drawing rule scaled to other sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from datasets_support import idx_folder, image_folder
from digitlens.data.custom_idx import dataset_name
from digitlens.data.image_folder import parse_size
from digitlens.data.preprocess import box_for, centre_of_mass, preprocess
from digitlens.data.sources import load_dataset
from digitlens.errors import DataError


def test_names_and_default_class_names(tmp_path: Path) -> None:
    assert dataset_name(tmp_path / "My Symbols (v2)") == "my-symbols-v2"
    assert dataset_name(tmp_path / "2024") == "data-2024"
    assert dataset_name(tmp_path / "MNIST") == "mnist-custom"
    ds = load_dataset(None, idx_folder(tmp_path / "x", names=None))
    assert ds.class_names == ("0", "1", "2")  # n = largest label + 1
    assert ds.record()["kind"] == "custom" and "classes" not in ds.checksums


def test_image_folder_pixels(tmp_path: Path) -> None:
    """Without --normalise the pixels are the files' own grey levels; --image-size resizes."""
    folder = image_folder(tmp_path / "s")
    ds = load_dataset(None, folder)
    first = np.asarray(Image.open(folder / "train" / "circle" / "000.png"))
    assert np.array_equal(ds.train_images[0], first) and ds.train_labels[0] == 0
    small = load_dataset(None, folder, image_size=(5, 7))
    assert small.image_shape == (5, 7) and small.checksums == ds.checksums
    inked = load_dataset(None, folder, normalise="mnist")
    assert inked.train_images[:, 0, :].max() == 0  # dark ink on white became bright on black
    assert parse_size("16x12") == (16, 12) and parse_size("8") == (8, 8)
    with pytest.raises(DataError, match="expected HxW"):
        parse_size("0x9")


def test_sklearn_digits_against_scikit_learn() -> None:
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    ds = load_dataset("sklearn-digits")
    scaled = np.round(d.images * 255 / 16).astype(np.uint8)
    both = np.concatenate([ds.train_images, ds.test_images])
    labels = np.concatenate([ds.train_labels, ds.test_labels])
    order = np.lexsort(both.reshape(len(both), -1).T[::-1])  # as multisets, the same images
    ref = np.lexsort(scaled.reshape(len(scaled), -1).T[::-1])
    assert np.array_equal(both[order], scaled[ref]) and np.array_equal(labels[order],
                                                                      d.target[ref])
    assert len(ds.test_labels) == sum(round(0.2 * n) for n in np.bincount(d.target))
    assert load_dataset("sklearn-digits").checksums == ds.checksums  # a fixed split


@pytest.mark.parametrize(("shape", "box"), [((28, 28), (20, 20)), ((16, 16), (11, 11)),
                                            ((8, 8), (6, 6)), ((12, 20), (9, 14))])
def test_drawing_box_scaled(shape: tuple[int, int], box: tuple[int, int]) -> None:
    assert box_for(shape) == box
    drawing = np.zeros((100, 60), np.float32)
    drawing[10:90, 25:35] = 1.0  # a tall stroke
    pre = preprocess(drawing, shape)
    assert pre.centred.shape == shape and pre.fitted.shape[0] == box[0]
    cy, cx = centre_of_mass(pre.centred)
    assert abs(cy - shape[0] / 2) <= 0.5 and abs(cx - shape[1] / 2) <= 0.5


def test_python_api_trains_on_a_folder_and_finds_it_again(tmp_path: Path) -> None:
    import digitlens as dl
    folder = idx_folder(tmp_path / "bars", size=8)
    run = dl.train("s1-single-layer", epochs=2, out=tmp_path / "run", data_dir=folder,
                   progress=False)
    assert run.mlp.sizes == (64, 3) and run.mlp.class_names == ("top", "middle", "bottom")
    again = dl.load(tmp_path / "run").dataset
    assert again.name == "bars" and again.checksums == run.dataset.checksums
    with pytest.raises(DataError, match="layers 784-10 do not fit dataset 'bars'"):
        dl.train("s1-single-layer", epochs=1, out=tmp_path / "bad", data_dir=folder,
                 layers=(784, 10), progress=False)
    assert not (tmp_path / "bad").exists()
