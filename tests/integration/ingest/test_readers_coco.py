"""The COCO and ModaNet readers on the real shared files (ModaNet, DeepFashion2-COCO, Fashionpedia)."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_categories, coarse_category, modanet_categories
from fashionlens.core.types import IngestResult
from fashionlens.ingest.coco import objects_to_coco, read_coco, read_modanet

MODANET = ("modanet", "modanetAnnotations")
DF2_JSON = ("deepfashion2-coco", "tests", "data", "deepfasion2", "deepfasion2.json")


@pytest.fixture(scope="module")
def modanet_val(shared_data: Path) -> tuple[Path, IngestResult]:
    path = shared_data.joinpath(*MODANET, "instances_val.json")
    return path, read_modanet(path, split="valid")


@pytest.mark.parametrize(
    ("name", "n_images", "n_objects"),
    [("instances_val.json", 1073, 5467), ("instances_test.json", 1053, 5355)],
)
def test_modanet_counts_without_photos(shared_data: Path, name: str, n_images: int, n_objects: int) -> None:
    result = read_modanet(shared_data.joinpath(*MODANET, name), split="test")
    assert len(result.images) == 0  # the photos are not shipped
    assert len(result.annotations) == n_objects
    assert len(result.labels) == n_images
    assert len({lab.image_id for lab in result.labels}) == n_images
    assert all(lab.image_id.startswith("modanet/") and lab.image_id.endswith(".jpg") for lab in result.labels)
    assert {a.category for a in result.annotations} == set(modanet_categories())
    (summary,) = result.skipped
    assert f"{n_images} of {n_images} images listed in {name} are not on disk" in summary.reason
    assert f"their {n_objects} annotations and labels were kept" in summary.reason


def test_modanet_boxes_are_clipped(modanet_val: tuple[Path, IngestResult]) -> None:
    path, result = modanet_val
    raw = json.loads(path.read_text())
    sizes = {f"modanet/{img['file_name']}": (img["width"], img["height"]) for img in raw["images"]}
    overrunning = [
        a
        for a in raw["annotations"]
        if a["bbox"][0] + a["bbox"][2] > 400 or a["bbox"][1] + a["bbox"][3] > 600 or min(a["bbox"][:2]) < 0
    ]
    assert 100 <= len(overrunning) <= 140  # "about 120 boxes run past the image edge"
    for obj in result.annotations:
        width, height = sizes[obj.image_id]
        x1, y1, x2, y2 = obj.bbox_xyxy
        assert 0 <= x1 <= x2 <= width and 0 <= y1 <= y2 <= height
    # the first overrunning box of the file, read back clipped: bottom edge at the image height
    first = overrunning[0]
    x, y, w, h = first["bbox"]
    by_area = [a for a in result.annotations if a.area == first["area"] and a.bbox_xyxy[:2] == (x, y)]
    assert by_area and by_area[0].bbox_xyxy == (x, y, min(x + w, 400), min(y + h, 600))


def test_modanet_coarse_labels_match_the_rule(modanet_val: tuple[Path, IngestResult]) -> None:
    path, result = modanet_val
    raw = json.loads(path.read_text())
    names = {c["id"]: c["name"] for c in raw["categories"]}
    files = {img["id"]: f"modanet/{img['file_name']}" for img in raw["images"]}
    expected: dict[str, set[str]] = {image_id: set() for image_id in files.values()}
    for ann in raw["annotations"]:
        expected[files[ann["image_id"]]].add(names[ann["category_id"]])
    for lab in result.labels:
        assert lab.modanet_categories == tuple(sorted(expected[lab.image_id]))
        assert lab.coarse_category == coarse_category(expected[lab.image_id])
        assert lab.label_source == "modanet"
    counts = Counter(lab.coarse_category for lab in result.labels)
    assert set(counts) <= set(coarse_categories())
    assert counts["dress"] > 100 and counts["top+bottom"] > 100 and counts["outerwear"] > 100
    assert sum(1 for lab in result.labels if not lab.modanet_categories) == 1  # one image without objects


def test_deepfashion2_coco_with_photos(shared_data: Path) -> None:
    result = read_coco(
        shared_data.joinpath(*DF2_JSON), source="street", dataset="deepfashion2", label_scheme="deepfashion2"
    )
    assert result.skipped == []
    assert [(r.width, r.height, Path(r.image_path).name) for r in result.images] == [
        (750, 750, "000264.jpg"),
        (750, 750, "000265.jpg"),
    ]
    assert [r.image_id for r in result.images] == [r.content_hash[:16] for r in result.images]
    assert [a.bbox_xyxy for a in result.annotations] == [
        (103.0, 80.0, 704.0, 749.0),
        (178.0, 62.0, 599.0, 748.0),
    ]
    assert {a.category for a in result.annotations} == {"long_sleeved_dress"}
    assert [a.attributes["style"] for a in result.annotations] == [1, 2]
    assert all(
        a.attributes["pair_id"] == 22 and len(a.attributes["keypoints"]) == 882 for a in result.annotations
    )
    assert [len(a.segmentation) for a in result.annotations] == [1, 4]
    assert [(lab.modanet_categories, lab.coarse_category) for lab in result.labels] == [
        (("dress",), "dress")
    ] * 2


def test_fashionpedia_sample_runway(shared_data: Path) -> None:
    root = shared_data / "fashionpedia"
    result = read_coco(
        root / "data" / "sample.json",
        root / "images",
        source="runway",
        dataset="fashionpedia",
        label_scheme="fashionpedia",
    )
    assert len(result.images) == 2 and all(r.source == "runway" for r in result.images)
    assert len(result.annotations) == 12
    assert result.skipped == []
    # the sample has no 'bbox': boxes come from the polygons, clipped to the image
    by_image = {r.image_id: r for r in result.images}
    for obj in result.annotations:
        rec = by_image[obj.image_id]
        x1, y1, x2, y2 = obj.bbox_xyxy
        assert 0 <= x1 < x2 <= rec.width and 0 <= y1 < y2 <= rec.height
    assert result.annotations[0].bbox_xyxy == (185.0, 890.0, 232.0, 935.0)
    dress = next(a for a in result.annotations if a.category == "dress")
    assert dress.attributes["attribute_ids"] == [147, 156, 113, 115, 125, 263, 137]
    assert "shirt, blouse" in {a.category for a in result.annotations}  # category id 0
    labels = {lab.image_filename: lab for lab in result.labels}
    assert labels["000000009813.jpg"].modanet_categories == ("dress", "footwear")
    assert labels["000000009813.jpg"].coarse_category == "dress"
    assert labels["000000010223.jpg"].modanet_categories == ("headwear", "pants", "top")
    assert labels["000000010223.jpg"].coarse_category == "top+bottom"


def test_real_file_round_trip_through_objects_to_coco(shared_data: Path, tmp_path: Path) -> None:
    images_dir = shared_data.joinpath(*DF2_JSON).parent
    first = read_coco(shared_data.joinpath(*DF2_JSON), source="street", dataset="deepfashion2")
    coco = objects_to_coco(first.images, first.annotations, ["long_sleeved_dress"])
    written = tmp_path / "written.json"
    written.write_text(json.dumps(coco))
    second = read_coco(written, images_dir, source="street", dataset="deepfashion2")
    assert second.images == first.images
    assert second.annotations == first.annotations
    assert second.labels == first.labels


def test_partly_on_disk_and_bad_image_files(shared_data: Path, tmp_path: Path) -> None:
    """One good photo, one truncated, one text file named .jpg, one missing: good rows still read."""
    src = shared_data.joinpath(*DF2_JSON).parent
    shutil.copy(src / "000264.jpg", tmp_path / "good.jpg")
    data = (src / "000265.jpg").read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (tmp_path / "text.jpg").write_text("this is not a photo\n")
    names = ["good.jpg", "truncated.jpg", "text.jpg", "missing.jpg"]
    coco = {
        "images": [{"id": i, "file_name": n, "width": 750, "height": 750} for i, n in enumerate(names, 1)],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [10, 10, 800, 20], "area": 1}
            for i in range(1, 5)
        ],
        "categories": [{"id": 1, "name": "dress"}],
    }
    (tmp_path / "ann.json").write_text(json.dumps(coco))
    result = read_coco(tmp_path / "ann.json", source="street", dataset="mine", label_scheme="modanet")
    assert [Path(r.image_path).name for r in result.images] == ["good.jpg"]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert "corrupt or truncated" in reasons["truncated.jpg"]
    assert "not an image" in reasons["text.jpg"]
    assert "1 of 4 images listed in ann.json are not on disk (e.g. missing.jpg)" in reasons[tmp_path.name]
    assert [a.image_id for a in result.annotations] == [result.images[0].image_id, "mine/missing.jpg"]
    assert all(a.bbox_xyxy == (10.0, 10.0, 750.0, 30.0) for a in result.annotations)
    assert [lab.coarse_category for lab in result.labels] == ["dress", "dress"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "not valid JSON", id="not-json"),
        pytest.param(b"\xff\xd8\xff\xe0 binary", "not a text JSON file", id="binary"),
        pytest.param('{"images": [], "categories": []}', "missing key.*annotations", id="missing-key"),
        # an annotation on an unknown image or category is one bad record: skipped, not fatal
        # (issue 9; tests/integration/hostile/test_bad_annotations.py)
    ],
)
def test_bad_coco_json_names_the_file(tmp_path: Path, content: str | bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(InvalidInputError, match=rf"bad\.json: .*{message}"):
        read_coco(path, source="street", dataset="bad")


def test_bad_arguments(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data.joinpath(*DF2_JSON)
    with pytest.raises(InvalidInputError, match="source must be one of"):
        read_coco(path, source="catwalk", dataset="x")
    with pytest.raises(InvalidInputError, match="no label scheme 'nope'"):
        read_coco(path, source="street", dataset="x", label_scheme="nope")
    with pytest.raises(InvalidInputError, match=r"missing\.json: COCO annotations file not found"):
        read_coco(tmp_path / "missing.json", source="street", dataset="x")
