"""DeepFashion2 per-image reader and official COCO conversion, on the two real DeepFashion2 photos.

The per-image fixture (tests/fixtures/deepfashion2/annos) is the shared COCO file converted back;
reading either form must give the same images, boxes and categories.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.coco import read_coco
from fashionlens.ingest.deepfashion2 import (
    CATEGORIES,
    COCO_CATEGORIES,
    deepfashion2_to_coco,
    read_deepfashion2,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "deepfashion2"
DF2_COCO = ("deepfashion2-coco", "tests", "data", "deepfasion2")


@pytest.fixture
def coco_json(shared_data: Path) -> Path:
    return shared_data.joinpath(*DF2_COCO, "deepfasion2.json")


@pytest.fixture
def deepfashion2_root(tmp_path: Path, coco_json: Path) -> Path:
    """root/image + root/annos in DeepFashion2's layout: fixture JSONs and the two shared photos."""
    root = tmp_path / "deepfashion2" / "validation"
    shutil.copytree(FIXTURE / "annos", root / "annos")
    (root / "image").mkdir()
    for name in ("000264.jpg", "000265.jpg"):
        shutil.copy(coco_json.parent / name, root / "image" / name)
    return root


def test_read_per_image_format(deepfashion2_root: Path) -> None:
    result = read_deepfashion2(deepfashion2_root, split="valid")
    assert result.skipped == []
    assert [(Path(r.image_path).name, r.width, r.height, r.split, r.source) for r in result.images] == [
        ("000264.jpg", 750, 750, "valid", "street"),
        ("000265.jpg", 750, 750, "valid", "street"),
    ]
    assert [a.category for a in result.annotations] == ["long sleeve dress"] * 2
    assert [a.bbox_xyxy for a in result.annotations] == [
        (103.0, 80.0, 704.0, 749.0),
        (178.0, 62.0, 599.0, 748.0),
    ]
    first = result.annotations[0]
    assert first.area == 601 * 669
    assert len(first.attributes["landmarks"]) == 3 * 37
    assert (first.attributes["pair_id"], first.attributes["style"], first.attributes["df2_source"]) == (
        22,
        1,
        "user",
    )
    assert [len(a.segmentation) for a in result.annotations] == [1, 4]
    assert [(lab.image_filename, lab.modanet_categories, lab.coarse_category) for lab in result.labels] == [
        ("000264.jpg", ("dress",), "dress"),
        ("000265.jpg", ("dress",), "dress"),
    ]
    assert result.labels[1].attributes == {
        "categories": "long sleeve dress",
        "df2_source": "shop",
        "df2_pair_id": "22",
    }


def test_per_image_and_coco_forms_agree(deepfashion2_root: Path, coco_json: Path) -> None:
    per_image = read_deepfashion2(deepfashion2_root)
    coco = read_coco(coco_json, source="street", dataset="deepfashion2", label_scheme="deepfashion2")
    assert [r.image_id for r in per_image.images] == [r.image_id for r in coco.images]  # same bytes, same id
    to_coco_name = dict(zip(CATEGORIES, COCO_CATEGORIES, strict=True))
    assert [(a.image_id, to_coco_name[a.category], a.bbox_xyxy, a.area) for a in per_image.annotations] == [
        (a.image_id, a.category, a.bbox_xyxy, a.area) for a in coco.annotations
    ]
    assert [a.segmentation for a in per_image.annotations] == [a.segmentation for a in coco.annotations]
    assert [(lab.modanet_categories, lab.coarse_category) for lab in per_image.labels] == [
        (lab.modanet_categories, lab.coarse_category) for lab in coco.labels
    ]


def test_deepfashion2_to_coco_matches_the_official_conversion(
    deepfashion2_root: Path, coco_json: Path
) -> None:
    ours = deepfashion2_to_coco(deepfashion2_root)
    official = json.loads(coco_json.read_text())
    keys = ("id", "file_name", "width", "height")
    assert [{k: i[k] for k in keys} for i in ours["images"]] == [
        {k: i[k] for k in keys} for i in official["images"]
    ]
    fields = (
        "bbox",
        "area",
        "category_id",
        "pair_id",
        "image_id",
        "iscrowd",
        "style",
        "num_keypoints",
        "keypoints",
    )
    for mine, theirs in zip(ours["annotations"], official["annotations"], strict=True):
        assert {f: mine[f] for f in fields} == {f: theirs[f] for f in fields}
        assert mine["segmentation"] == theirs["segmentation"]
        assert len(mine["keypoints"]) == 294 * 3
    assert [a["id"] for a in ours["annotations"]] == [1, 2]
    assert [c["name"] for c in ours["categories"]] == list(COCO_CATEGORIES)
    (official_category,) = official["categories"]
    assert ours["categories"][10] == official_category


def test_deepfashion2_to_coco_is_readable_by_read_coco(deepfashion2_root: Path, tmp_path: Path) -> None:
    path = tmp_path / "converted.json"
    path.write_text(json.dumps(deepfashion2_to_coco(deepfashion2_root)))
    result = read_coco(path, deepfashion2_root / "image", source="street", dataset="deepfashion2")
    assert len(result.images) == 2 and len(result.annotations) == 2 and result.skipped == []


def _item(**changes: object) -> dict:
    item = json.loads((FIXTURE / "annos" / "000264.json").read_text())["item1"]
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        pytest.param("{ this is not json", "not valid JSON", id="not-json"),
        pytest.param([1, 2], "expected a JSON object; got list", id="a-list"),
        pytest.param({"source": "user", "pair_id": 1}, "no item1, item2... entries", id="no-items"),
        pytest.param(
            {"pair_id": 1, "item1": _item(category_id=None)}, "item1 has no category_id", id="no-cat"
        ),
        pytest.param(
            {"pair_id": 1, "item1": _item(category_id=14)}, "category_id 14; expected an integer in 1-13"
        ),
        pytest.param({"pair_id": 1, "item1": _item(category_id=0)}, "category_id 0; expected", id="cat-0"),
        pytest.param({"pair_id": 1, "item1": _item(category_id="11")}, "category_id '11'", id="cat-string"),
        pytest.param(
            {"pair_id": 1, "item2": _item(bounding_box=[10, 10, 5, 50])},  # a good item1 would be kept
            "item2 has bounding_box [10, 10, 5, 50]; x2 < x1",
            id="bad-box",
        ),
        pytest.param(
            {"pair_id": 1, "item1": _item(bounding_box=None)}, "item1 has bounding_box None", id="no-box"
        ),
        pytest.param(
            {"pair_id": 1, "item1": _item(landmarks=5)}, "landmarks that are not a list", id="marks-int"
        ),
        pytest.param(
            {"pair_id": 1, "item1": _item(landmarks=[1, 2, 3])},
            "3 landmark values; category 11 needs 111",
            id="marks",
        ),
    ],
)
def test_bad_annotation_file_is_skipped(deepfashion2_root: Path, content: object, reason: str) -> None:
    shutil.copy(deepfashion2_root / "image" / "000264.jpg", deepfashion2_root / "image" / "000300.jpg")
    bad = deepfashion2_root / "annos" / "000300.json"
    bad.write_text(content if isinstance(content, str) else json.dumps(content))
    result = read_deepfashion2(deepfashion2_root)
    assert len(result.images) == 2 and len(result.annotations) == 2  # the good files are still read
    (skipped,) = result.skipped
    assert skipped.path == str(bad)
    assert reason in skipped.reason
    converted = deepfashion2_to_coco(deepfashion2_root)  # skip_failures=True: left out, logged
    assert [i["file_name"] for i in converted["images"]] == ["000264.jpg", "000265.jpg"]
    with pytest.raises(InvalidInputError, match=r"000300\.json: "):
        deepfashion2_to_coco(deepfashion2_root, skip_failures=False)


def test_missing_and_corrupt_images(deepfashion2_root: Path) -> None:
    shutil.copy(deepfashion2_root / "annos" / "000264.json", deepfashion2_root / "annos" / "000301.json")
    data = (deepfashion2_root / "image" / "000265.jpg").read_bytes()
    (deepfashion2_root / "image" / "000265.jpg").write_bytes(data[:5000])
    result = read_deepfashion2(deepfashion2_root)
    assert [Path(r.image_path).name for r in result.images] == ["000264.jpg"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["000301.json"] == "no image/000301.jpg for this annotation file"
    assert "corrupt or truncated" in reasons["000265.jpg"]
    assert [lab.image_filename for lab in result.labels] == ["000264.jpg"]


def test_not_a_deepfashion2_folder(tmp_path: Path, deepfashion2_root: Path) -> None:
    with pytest.raises(InvalidInputError, match="expected image/ and annos/"):
        read_deepfashion2(tmp_path)
    for f in (deepfashion2_root / "annos").iterdir():
        f.unlink()
    with pytest.raises(InvalidInputError, match=r"annos: no \.json annotation files"):
        read_deepfashion2(deepfashion2_root)
    with pytest.raises(InvalidInputError, match="source must be one of"):
        read_deepfashion2(deepfashion2_root, source="shop")
