"""Fashion-MNIST from the real Debian package ``dataset-fashion-mnist``."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.ingest.fashion_mnist import (
    SYSTEM_PATH,
    class_slug,
    fashion_mnist_classes,
    find_fashion_mnist,
    read_fashion_mnist,
    read_idx,
)


@pytest.fixture(scope="module")
def fm_root() -> Path:
    root = find_fashion_mnist()
    if root is None:
        pytest.skip("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist")
    return root


def test_found_in_system_path(fm_root: Path) -> None:
    assert fm_root == SYSTEM_PATH


@pytest.mark.parametrize(("prefix", "n"), [("train", 60000), ("t10k", 10000)])
def test_read_real_idx(fm_root: Path, prefix: str, n: int) -> None:
    images = read_idx(fm_root / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(fm_root / f"{prefix}-labels-idx1-ubyte.gz")
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.uint8
    assert Counter(labels.tolist()) == dict.fromkeys(range(10), n // 10)  # balanced classes
    assert 0 < images.mean() < 255


def test_read_fashion_mnist_subset(fm_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "fm"
    result = read_fashion_mnist(fm_root, out, per_class=5)
    assert len(result.images) == 100 and not result.skipped
    counts = Counter(
        (r.split, lab.attributes["label"]) for r, lab in zip(result.images, result.labels, strict=True)
    )
    assert counts == {(s, c): 5 for s in ("train", "test") for c in fashion_mnist_classes()}
    assert {(r.source, r.original_dataset, r.width, r.height) for r in result.images} == {
        ("product", "fashion-mnist", 28, 28)
    }
    assert len({r.image_id for r in result.images}) == 100

    # pixels on disk are the idx pixels, at the index in the file name, in the right class folder
    train = read_idx(fm_root / "train-images-idx3-ubyte.gz")
    train_labels = read_idx(fm_root / "train-labels-idx1-ubyte.gz")
    classes = fashion_mnist_classes()
    for record, label in zip(result.images, result.labels, strict=True):
        if record.split != "train":
            continue
        index = int(Path(record.image_path).stem)
        assert classes[train_labels[index]] == label.attributes["label"]
        assert Path(record.image_path) == (out / label.image_filename).resolve()
        with Image.open(record.image_path) as im:
            np.testing.assert_array_equal(np.asarray(im), train[index])
    # the first ankle boot of the training set is item 0 (label 9)
    assert (out / "train" / class_slug("Ankle boot") / "00000.png").is_file()
    by_label = {lab.attributes["label"]: lab for lab in result.labels}
    assert by_label["Ankle boot"].modanet_categories == ("boots",)
    assert by_label["Ankle boot"].coarse_category == "footwear"
    assert by_label["Trouser"].coarse_category == "bottoms"
    assert by_label["Coat"].coarse_category == "outerwear"


def test_rerun_does_not_rewrite(fm_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "fm"
    first = read_fashion_mnist(fm_root, out, per_class=2, splits=("test",))
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert len(stamps) == 20
    second = read_fashion_mnist(fm_root, out, per_class=2, splits=("test",))
    assert second.images == first.images and second.labels == first.labels
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamps
