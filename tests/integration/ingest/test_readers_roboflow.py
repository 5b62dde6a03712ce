"""The Roboflow COCO export reader, on a small export built from real CCP photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.coco import read_roboflow

# (split folder, [(ccp photo, roboflow file name, [(category_id, bbox_xywh)])])
EXPORT = {
    "train": [
        ("0001.jpg", "0001_jpg.rf.3f2a9c1e5b7d4f60a1b2c3d4e5f60718.jpg", [(1, [152.5, 210, 240, 380.25])]),
        ("0002.jpg", "0002_jpg.rf.9b8a7c6d5e4f30211a2b3c4d5e6f7a8b.jpg",
         [(1, [130, 190, 260, 420]), (2, [180, 760, 120, 90])]),
    ],
    "valid": [("0003.jpg", "0003_jpg.rf.0a1b2c3d4e5f60718293a4b5c6d7e8f9.jpg", [(2, [400, 780, 200, 100])])],
}  # fmt: skip


def _roboflow_export(root: Path, photos: Path) -> Path:
    """root/{train,valid}/_annotations.coco.json with the images beside it, as Roboflow exports them."""
    for split, rows in EXPORT.items():
        folder = root / split
        folder.mkdir(parents=True)
        images, annotations = [], []
        for image_id, (photo, name, boxes) in enumerate(rows):
            shutil.copy(photos / photo, folder / name)
            with Image.open(folder / name) as im:
                width, height = im.size
            images.append(
                {
                    "id": image_id,
                    "license": 1,
                    "file_name": name,
                    "height": height,
                    "width": width,
                    "date_captured": "2024-03-11T10:21:45+00:00",
                }
            )
            for category_id, bbox in boxes:
                annotations.append(
                    {
                        "id": len(annotations),
                        "image_id": image_id,
                        "category_id": category_id,
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "segmentation": [],
                        "iscrowd": 0,
                    }
                )
        coco = {
            "info": {
                "year": "2024",
                "version": "2",
                "description": "Exported from roboflow.com",
                "contributor": "",
                "url": "https://public.roboflow.com/object-detection/undefined",
                "date_created": "2024-03-11T10:21:45+00:00",
            },
            "licenses": [
                {"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}
            ],
            "categories": [
                {"id": 0, "name": "street-garments", "supercategory": "none"},
                {"id": 1, "name": "dress", "supercategory": "street-garments"},
                {"id": 2, "name": "shoes", "supercategory": "street-garments"},
            ],
            "images": images,
            "annotations": annotations,
        }
        (folder / "_annotations.coco.json").write_text(json.dumps(coco))
    (root / "README.roboflow.txt").write_text("exported from roboflow\n")
    return root


@pytest.fixture
def export(tmp_path: Path, shared_data: Path) -> Path:
    return _roboflow_export(tmp_path / "street-garments.v2i.coco", shared_data / "ccp" / "photos")


def test_roboflow_reads_splits_and_skips_the_supercategory(export: Path) -> None:
    result = read_roboflow(export, label_scheme="clothing")
    assert result.skipped == []
    assert [(Path(r.image_path).name[:4], r.split) for r in result.images] == [
        ("0001", "train"),
        ("0002", "train"),
        ("0003", "valid"),
    ]
    assert all(
        r.source == "runway" and r.original_dataset == "street-garments.v2i.coco" for r in result.images
    )
    assert [a.category for a in result.annotations] == ["dress", "dress", "shoes", "shoes"]
    assert "street-garments" not in {a.category for a in result.annotations}
    by_id = {r.image_id: r for r in result.images}
    for obj in result.annotations:
        x1, y1, x2, y2 = obj.bbox_xyxy
        assert 0 <= x1 <= x2 <= by_id[obj.image_id].width and 0 <= y1 <= y2 <= by_id[obj.image_id].height
    assert result.annotations[0].bbox_xyxy == (152.5, 210.0, 392.5, 590.25)
    # 0003's box overruns the 550 px wide photo: clipped to the right edge
    assert result.annotations[3].bbox_xyxy[2] == by_id[result.annotations[3].image_id].width == 550
    assert [(lab.modanet_categories, lab.coarse_category) for lab in result.labels] == [
        (("dress",), "dress"),
        (("dress", "footwear"), "dress"),
        (("footwear",), "footwear"),
    ]


def test_roboflow_source_dataset_and_no_scheme(export: Path) -> None:
    result = read_roboflow(export, source="street", dataset="garments")
    assert {r.source for r in result.images} == {"street"}
    assert {a.dataset for a in result.annotations} == {"garments"}
    assert {(lab.modanet_categories, lab.coarse_category) for lab in result.labels} == {((), "")}


def test_roboflow_bad_layouts(tmp_path: Path, export: Path) -> None:
    with pytest.raises(InvalidInputError, match="Roboflow export folder not found"):
        read_roboflow(tmp_path / "nowhere")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match=r"empty: not a Roboflow COCO export"):
        read_roboflow(tmp_path / "empty")
    (export / "valid" / "_annotations.coco.json").write_text('{"images": []')
    with pytest.raises(InvalidInputError, match=r"valid/_annotations\.coco\.json: not valid JSON"):
        read_roboflow(export)


def test_roboflow_corrupt_image_is_skipped(export: Path) -> None:
    bad = next((export / "train").glob("0002_*.jpg"))
    bad.write_bytes(bad.read_bytes()[:2000])
    result = read_roboflow(export)
    assert [Path(r.image_path).name[:4] for r in result.images] == ["0001", "0003"]
    (skipped,) = result.skipped
    assert skipped.path == str(bad)
    assert "corrupt or truncated" in skipped.reason and "its 2 annotations not read" in skipped.reason
    assert len(result.annotations) == 2
