"""CCP pixel maps -> COCO instances on real photos: round trip, counts, pycocotools, Roboflow reader."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pycocotools  # noqa: F401  (a hard dependency: fail, never skip)
import pytest
from pycocotools.coco import COCO

from fashionlens.core.labels import modanet_categories
from fashionlens.core.segmentation import GARMENT_OFFSET, ccp_to_semantic
from fashionlens.ingest.ccp import PIXEL_DIR, ccp_label_names, ccp_pixel_split, load_ccp_mask
from fashionlens.ingest.ccp_coco import (
    ccp_to_coco,
    coco_annotations_to_semantic,
    write_ccp_coco,
)
from fashionlens.ingest.coco import ROBOFLOW_ANNOTATIONS, read_roboflow

STEMS = ("0001", "0002", "0003", "0004", "0006")


@pytest.fixture(scope="module")
def ccp_root(shared_data: Path) -> Path:
    return shared_data / "ccp"


@pytest.fixture(scope="module")
def coco(ccp_root: Path) -> dict:
    return ccp_to_coco(ccp_root, STEMS)


def test_round_trip_agrees_on_garment_pixels(ccp_root: Path, coco: dict) -> None:
    names = ccp_label_names(ccp_root)
    assert [img["file_name"] for img in coco["images"]] == [f"{s}.jpg" for s in STEMS]
    for img in coco["images"]:
        truth = ccp_to_semantic(
            load_ccp_mask(ccp_root / PIXEL_DIR / img["file_name"].replace(".jpg", ".mat")), names
        )
        garment = np.where(truth >= GARMENT_OFFSET, truth, 0)
        anns = [a for a in coco["annotations"] if a["image_id"] == img["id"]]
        back = coco_annotations_to_semantic(anns, img["height"], img["width"])
        on_garments = garment > 0
        agreement = (back[on_garments] == garment[on_garments]).mean()
        assert agreement >= 0.99, f"{img['file_name']}: {agreement:.4f}"
        assert not (back[~on_garments] > 0).any()  # nothing painted outside the garments


def test_instance_counts_are_sane(coco: dict) -> None:
    per_image = {img["id"]: 0 for img in coco["images"]}
    for ann in coco["annotations"]:
        per_image[ann["image_id"]] += 1
        assert 1 <= ann["category_id"] <= len(modanet_categories())
        _, _, w, h = ann["bbox"]
        assert w > 0 and h > 0 and ann["area"] <= w * h
    assert all(2 <= n <= 30 for n in per_image.values()), per_image
    # photo 0001: blouse, vest (outer), skirt, shoes (two feet: >= 2 regions), sunglasses
    cats_0001 = {a["category_id"] - 1 for a in coco["annotations"] if a["image_id"] == 1}
    assert {modanet_categories()[c] for c in cats_0001} == {"footwear", "outer", "skirt", "sunglasses", "top"}


def test_written_tree_loads_with_pycocotools_and_roboflow_reader(ccp_root: Path, tmp_path: Path) -> None:
    paths = write_ccp_coco(ccp_root, tmp_path / "ccp_coco", limit=3)
    train, test = ccp_pixel_split(ccp_root)
    assert set(paths) == {"train", "test"}
    for split, stems in (("train", train), ("test", test)):
        assert paths[split] == tmp_path / "ccp_coco" / split / ROBOFLOW_ANNOTATIONS
        data = json.loads(paths[split].read_text())
        assert [img["file_name"] for img in data["images"]] == [f"{s}.jpg" for s in stems[:3]]
        assert Path(data["image_root"]) == (ccp_root / "photos").resolve()
        with contextlib.redirect_stdout(io.StringIO()):
            api = COCO(str(paths[split]))
        assert len(api.getImgIds()) == 3 and len(api.getCatIds()) == 13
        ann = api.loadAnns(api.getAnnIds())[0]
        assert api.annToMask(ann).sum() == ann["area"]
    # its photos are symlinks to the CCP folder: read only when the caller opts in
    refused = read_roboflow(tmp_path / "ccp_coco", source="street", dataset="ccp", label_scheme="modanet")
    assert not refused.images and all("symlink out of the images folder" in s.reason for s in refused.skipped)
    result = read_roboflow(
        tmp_path / "ccp_coco", source="street", dataset="ccp", label_scheme="modanet", allow_outside_root=True
    )
    assert len(result.images) == 6
    assert {r.split for r in result.images} == {"train", "test"}
    assert not [s for s in result.skipped if "not on disk" in s.reason]
    assert len(result.annotations) == sum(
        len(json.loads(p.read_text())["annotations"]) for p in paths.values()
    )
    assert all(a.attributes.get("segmentation_rle") for a in result.annotations)
