"""The folder reader on the real clothing dataset and CCP photos, and on bad files."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, map_to_modanet
from fashionlens.ingest.folder import read_folder

CLOTHING_COUNTS = {
    "dress": 32,
    "hat": 14,
    "longsleeve": 49,
    "outwear": 24,
    "pants": 49,
    "shirt": 29,
    "shoes": 26,
    "shorts": 25,
    "skirt": 12,
    "t-shirt": 81,
}  # fmt: skip  (validation/)
CLOTHING_TRAIN_COUNTS = {
    "dress": 121,
    "hat": 62,
    "longsleeve": 228,
    "outwear": 92,
    "pants": 234,
    "shirt": 145,
    "shoes": 99,
    "shorts": 101,
    "skirt": 56,
    "t-shirt": 398,
}  # fmt: skip  (train/)


@pytest.fixture
def photos(tmp_path: Path, shared_data: Path) -> Path:
    """A plain folder of three real CCP photos, one in a nested folder."""
    root = tmp_path / "street-shots"
    (root / "day2").mkdir(parents=True)
    for name, dest in (("0001.jpg", "a.jpg"), ("0002.jpg", "b.JPG"), ("0003.jpg", "day2/c.jpeg")):
        shutil.copy(shared_data / "ccp" / "photos" / name, root / dest)
    return root


def test_clothing_split_layout_with_labels(shared_data: Path) -> None:
    result = read_folder(
        shared_data / "clothing", source="product", labels_from_subfolders=True, label_scheme="clothing"
    )
    assert result.skipped == []
    total = Counter(CLOTHING_COUNTS) + Counter(CLOTHING_TRAIN_COUNTS)
    assert len(result.images) == 1877 == sum(total.values())
    splits = Counter(r.split for r in result.images)
    assert splits == {"valid": 341, "train": 1536}  # validation/ -> valid, train/ -> train
    by_split = {s: Counter() for s in ("train", "valid")}
    for lab in result.labels:
        by_split["train" if lab.image_filename.startswith("train/") else "valid"][
            lab.attributes["label"]
        ] += 1
    assert by_split["valid"] == CLOTHING_COUNTS and by_split["train"] == CLOTHING_TRAIN_COUNTS
    assert {(r.source, r.original_dataset) for r in result.images} == {("product", "clothing")}
    for lab in result.labels:
        label = lab.attributes["label"]
        assert lab.image_filename.startswith((f"validation/{label}/", f"train/{label}/"))
        assert lab.modanet_categories == map_to_modanet([label], "clothing") != ()
        assert lab.coarse_category == coarse_category(lab.modanet_categories)
        assert lab.label_source == "clothing"
    coarse = Counter(lab.coarse_category for lab in result.labels)
    assert coarse["dress"] == total["dress"] and coarse["footwear"] == total["shoes"]
    assert coarse["outerwear"] == total["outwear"]
    assert coarse["bottoms"] == total["pants"] + total["shorts"] + total["skirt"]


def test_labels_without_scheme_and_no_labels(shared_data: Path) -> None:
    root = shared_data / "clothing"
    labelled = read_folder(root, source="product", labels_from_subfolders=True)
    assert {(lab.modanet_categories, lab.coarse_category) for lab in labelled.labels} == {((), "")}
    plain = read_folder(root, source="product", dataset="clothes")
    assert plain.labels == [] and len(plain.images) == 1877  # train/ 1,536 + validation/ 341
    assert {r.original_dataset for r in plain.images} == {"clothes"}


def test_plain_folder(photos: Path) -> None:
    result = read_folder(photos, source="street", split="test")
    assert [Path(r.image_path).name for r in result.images] == ["a.jpg", "b.JPG", "c.jpeg"]
    assert {(r.split, r.original_dataset) for r in result.images} == {("test", "street-shots")}
    assert all(r.width == 550 and 825 <= r.height <= 835 for r in result.images)
    assert [r.image_id for r in result.images] == [r.content_hash[:16] for r in result.images]


def test_split_layout_in_tmp(tmp_path: Path, photos: Path) -> None:
    root = tmp_path / "shop"
    for split, label, src in (
        ("train", "dress", "a.jpg"),
        ("Validation", "skirt", "b.JPG"),
        ("test", "hat", "day2/c.jpeg"),
    ):
        (root / split / label).mkdir(parents=True)
        shutil.copy(photos / src, root / split / label / Path(src).name)
    result = read_folder(root, source="product", labels_from_subfolders=True, label_scheme="clothing")
    assert [r.split for r in result.images] == ["valid", "test", "train"]  # sorted: Validation < test < train
    assert [lab.attributes["label"] for lab in result.labels] == ["skirt", "hat", "dress"]
    assert [lab.coarse_category for lab in result.labels] == ["bottoms", "accessory", "dress"]
    assert result.labels[0].image_filename == "Validation/skirt/b.JPG"


def test_label_folder_named_like_a_split_is_not_a_split(tmp_path: Path, photos: Path) -> None:
    (tmp_path / "mixed" / "train").mkdir(parents=True)
    (tmp_path / "mixed" / "dress").mkdir()
    shutil.copy(photos / "a.jpg", tmp_path / "mixed" / "train" / "a.jpg")
    shutil.copy(photos / "b.JPG", tmp_path / "mixed" / "dress" / "b.jpg")
    result = read_folder(tmp_path / "mixed", source="street", labels_from_subfolders=True)
    assert {r.split for r in result.images} == {"unsplit"}
    assert sorted(lab.attributes["label"] for lab in result.labels) == ["dress", "train"]


def test_duplicates_hidden_and_unlabelled_files(photos: Path) -> None:
    (photos / "dress").mkdir()
    shutil.copy(photos / "a.jpg", photos / "dress" / "copy-of-a.jpg")
    shutil.copy(photos / "a.jpg", photos / ".hidden.jpg")
    (photos / "notes.txt").write_text("not an image extension: ignored\n")
    result = read_folder(photos, source="street", labels_from_subfolders=True, label_scheme="clothing")
    assert [Path(r.image_path).name for r in result.images] == ["a.jpg", "b.JPG", "c.jpeg"]
    (dup,) = result.skipped
    assert dup.path.endswith("dress/copy-of-a.jpg") and "same bytes as" in dup.reason
    # a.jpg and b.JPG sit at the top (no label folder); c.jpeg is in day2/, not a clothing label
    (label,) = result.labels
    assert (label.attributes["label"], label.modanet_categories, label.coarse_category) == (
        "day2",
        (),
        "other",
    )


def test_corrupt_files_are_skipped_and_good_rows_kept(photos: Path) -> None:
    data = (photos / "a.jpg").read_bytes()
    (photos / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (photos / "text.jpg").write_text("hello, I am a text file\n")
    (photos / "empty.png").write_bytes(b"")
    result = read_folder(photos, source="street")
    assert len(result.images) == 3
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == {"truncated.jpg", "text.jpg", "empty.png"}
    assert "corrupt or truncated" in reasons["truncated.jpg"]
    assert reasons["text.jpg"] == "not an image"
    assert reasons["empty.png"] == "empty file"


@pytest.mark.parametrize("layout", ["missing", "empty", "no-images"])
def test_folder_without_images_is_an_error(tmp_path: Path, layout: str) -> None:
    root = tmp_path / "in"
    if layout != "missing":
        (root / "sub").mkdir(parents=True)
    if layout == "no-images":
        (root / "sub" / "notes.txt").write_text("x")
        (root / ".thumb.jpg").write_bytes(b"x")
    message = "folder not found" if layout == "missing" else "no image files"
    with pytest.raises(InvalidInputError, match=rf"{root}: {message}"):
        read_folder(root, source="street")


def test_bad_arguments(photos: Path) -> None:
    with pytest.raises(InvalidInputError, match="source must be one of"):
        read_folder(photos, source="shop")
    with pytest.raises(InvalidInputError, match="split must be one of"):
        read_folder(photos, source="street", split="validation")
    with pytest.raises(InvalidInputError, match="no label scheme 'nope'"):
        read_folder(photos, source="street", labels_from_subfolders=True, label_scheme="nope")
