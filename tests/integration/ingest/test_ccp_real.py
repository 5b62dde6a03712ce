"""The CCP reader on the real shared dataset (2,098 photos), plus bad annotations built in tmp_path."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import IngestResult
from fashionlens.ingest.ccp import ccp_label_names, load_ccp_mask, read_ccp, read_ccp_labels

# photo 0001's pixel map holds these labels (besides null); ccp_to_modanet maps them as below
LABELS_0001 = ("blouse", "hair", "shoes", "skin", "skirt", "stockings", "sunglasses", "vest")
MODANET_0001 = ("footwear", "outer", "skirt", "sunglasses", "top")  # vest -> outer
# measured over all 2,098 photos (2,097 registered; 1707.jpg repeats 0025.jpg's bytes)
EXPECTED_COARSE = {
    "outerwear": 931,
    "top+bottom": 617,
    "dress": 507,
    "footwear": 34,
    "bottoms": 4,
    "bag": 2,
    "other": 2,
}


@pytest.fixture(scope="module")
def ccp(shared_data: Path) -> IngestResult:
    """One full read per module: 2,098 photos and 2,098 .mat files (~7 s)."""
    return read_ccp(shared_data / "ccp")


def test_label_names(shared_data: Path) -> None:
    names = ccp_label_names(shared_data / "ccp")
    assert len(names) == 59
    assert names[0] == "null"
    assert {"skin", "hair", "dress", "jeans", "shoes", "bag", "coat", "skirt"} <= set(names)
    assert len(set(names)) == 59


def test_photo_0001_pixel_labels(shared_data: Path) -> None:
    path = shared_data / "ccp" / "annotations" / "pixel-level" / "0001.mat"
    assert read_ccp_labels(path) == LABELS_0001
    mask = load_ccp_mask(path)
    assert mask.dtype == np.uint8 and mask.shape == (832, 550)
    names = ccp_label_names(shared_data / "ccp")
    assert tuple(names[i] for i in np.unique(mask) if i) == LABELS_0001
    assert (mask == 0).mean() < 0.9  # a person is there: not all background


def test_photo_1005_tag_labels(shared_data: Path) -> None:
    path = shared_data / "ccp" / "annotations" / "image-level" / "1005.mat"
    assert read_ccp_labels(path) == (
        "blouse", "bracelet", "earrings", "hair", "heels", "skin", "skirt", "sunglasses"
    )  # fmt: skip


def test_full_read(ccp: IngestResult) -> None:
    assert len(ccp.images) == 2097
    assert len(ccp.labels) == 2097
    assert [(Path(s.path).name, s.reason) for s in ccp.skipped] == [
        ("1707.jpg", "same image bytes as photos/0025.jpg; first kept")
    ]
    assert {(r.source, r.original_dataset, r.split) for r in ccp.images} == {("street", "ccp", "unsplit")}
    sources = Counter(lab.label_source for lab in ccp.labels)
    assert sources == {"ccp-pixel": 1004, "ccp-tags": 1093}
    first = ccp.labels[0]
    assert first.image_filename == "photos/0001.jpg"
    assert first.attributes == {"ccp_labels": "|".join(LABELS_0001)}
    assert first.modanet_categories == MODANET_0001
    assert first.coarse_category == "outerwear"
    assert [lab.image_id for lab in ccp.labels] == [r.image_id for r in ccp.images]
    assert all("null" not in lab.attributes["ccp_labels"].split("|") for lab in ccp.labels)


def test_coarse_distribution(ccp: IngestResult) -> None:
    assert dict(Counter(lab.coarse_category for lab in ccp.labels)) == EXPECTED_COARSE


def test_limit(shared_data: Path) -> None:
    result = read_ccp(shared_data / "ccp", limit=3, split="test")
    assert [lab.image_filename for lab in result.labels] == [
        "photos/0001.jpg",
        "photos/0002.jpg",
        "photos/0003.jpg",
    ]
    assert {r.split for r in result.images} == {"test"}


@pytest.fixture
def small_ccp(tmp_path: Path, shared_data: Path) -> Path:
    """Five real photos with real label_list.mat; annotations are set per test."""
    src = shared_data / "ccp"
    root = tmp_path / "ccp"
    (root / "photos").mkdir(parents=True)
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    (root / "annotations" / "image-level").mkdir(parents=True)
    shutil.copy(src / "label_list.mat", root)
    for stem in ("0001", "0002", "0003", "0004", "0005", "1005"):
        shutil.copy(src / "photos" / f"{stem}.jpg", root / "photos")
    return root


def test_bad_annotations_skip_labels_keep_photos(small_ccp: Path, shared_data: Path) -> None:
    pixel = small_ccp / "annotations" / "pixel-level"
    shutil.copy(shared_data / "ccp" / "annotations" / "pixel-level" / "0001.mat", pixel)  # good
    (pixel / "0002.mat").write_text("this is not a MAT file")
    savemat(str(pixel / "0003.mat"), {"something_else": np.zeros((2, 2), dtype=np.uint8)})
    gt = load_ccp_mask(shared_data / "ccp" / "annotations" / "pixel-level" / "0004.mat").copy()
    gt[0, 0] = 59
    savemat(str(pixel / "0004.mat"), {"groundtruth": gt})
    # 0005: no annotation at all; 1005: a good tag file
    shutil.copy(
        shared_data / "ccp" / "annotations" / "image-level" / "1005.mat",
        small_ccp / "annotations/image-level",
    )

    result = read_ccp(small_ccp)
    assert len(result.images) == 6  # every readable photo is registered
    assert [lab.image_filename for lab in result.labels] == ["photos/0001.jpg", "photos/1005.jpg"]
    assert result.labels[0].attributes == {"ccp_labels": "|".join(LABELS_0001)}
    assert result.labels[1].label_source == "ccp-tags"
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons == {
        "0002.mat": reasons["0002.mat"],
        "0003.mat": "no variable 'groundtruth' or 'tags' (found something_else)",
        "0004.mat": "label index out of range: got 0..59, expected 0..58",
        "0005.jpg": "registered without labels: neither annotations/pixel-level/0005.mat "
        "nor annotations/image-level/0005.mat exists",
    }
    assert reasons["0002.mat"].startswith("not a readable MAT file")
    assert str(small_ccp / "photos" / "0005.jpg") in {s.path for s in result.skipped}


def test_mask_size_must_match_photo(small_ccp: Path) -> None:
    savemat(
        str(small_ccp / "annotations" / "pixel-level" / "0001.mat"),
        {"groundtruth": np.zeros((10, 20), dtype=np.uint8)},
    )
    result = read_ccp(small_ccp, limit=1)
    assert len(result.images) == 1 and not result.labels
    assert "label map is 20x10 but photos/0001.jpg is 550x832" in result.skipped[0].reason


def test_corrupt_photo_is_skipped(small_ccp: Path, shared_data: Path) -> None:
    photo = small_ccp / "photos" / "0001.jpg"
    photo.write_bytes(photo.read_bytes()[:3000])
    shutil.copy(
        shared_data / "ccp" / "annotations" / "pixel-level" / "0001.mat",
        small_ccp / "annotations/pixel-level",
    )
    result = read_ccp(small_ccp, limit=1)
    assert not result.images and not result.labels
    assert result.skipped[0].path == str(photo)
    assert result.skipped[0].reason.startswith("corrupt or truncated image")


@pytest.mark.parametrize("missing", ["photos", "label_list.mat"])
def test_unusable_dataset_raises(small_ccp: Path, missing: str) -> None:
    target = small_ccp / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(InvalidInputError, match=missing.replace(".", r"\.")):
        read_ccp(small_ccp)
