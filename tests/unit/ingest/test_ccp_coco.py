"""Round trip semantic map -> instances -> COCO annotations -> semantic map, on synthetic maps."""

from __future__ import annotations

import numpy as np
import pycocotools  # noqa: F401  (a hard dependency: fail, never skip)
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import modanet_categories
from fashionlens.core.segmentation import GARMENT_OFFSET, PERSON, semantic_to_instances
from fashionlens.ingest.ccp_coco import (
    annotation_mask,
    coco_annotations_to_semantic,
    coco_categories,
    instances_to_coco_annotations,
    mask_to_rle,
)

TOP = GARMENT_OFFSET + modanet_categories().index("top")
PANTS = GARMENT_OFFSET + modanet_categories().index("pants")
BAG = GARMENT_OFFSET + modanet_categories().index("bag")
SCARF = GARMENT_OFFSET + modanet_categories().index("scarf/tie")


def _empty() -> np.ndarray:
    return np.zeros((20, 16), np.uint8)


def _hole() -> np.ndarray:
    seg = _empty()
    seg[2:12, 2:12] = TOP
    seg[5:8, 5:8] = PERSON  # skin through a hole in the top
    return seg


def _touching() -> np.ndarray:
    seg = _empty()
    seg[0:8, 3:13] = TOP
    seg[8:18, 3:13] = PANTS  # shares an edge with the top
    seg[12:14, 0:3] = PERSON
    return seg


def _two_regions() -> np.ndarray:
    seg = _empty()
    seg[1:4, 1:4] = BAG
    seg[15:19, 10:15] = BAG
    seg[10, 0:16] = SCARF  # one pixel high, full width
    return seg


def _diagonal() -> np.ndarray:
    seg = _empty()
    for i in range(10):
        seg[i, i] = SCARF  # 8-connected only: one instance
    seg[19, 15] = BAG  # a single corner pixel
    return seg


def _everything() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, GARMENT_OFFSET + len(modanet_categories()), size=(24, 18)).astype(np.uint8)


CASES = {
    "empty": (_empty, 0),
    "hole": (_hole, 1),
    "touching different classes": (_touching, 2),
    "two regions of one class": (_two_regions, 3),
    "diagonal and single pixel": (_diagonal, 2),
    "random noise, all classes": (_everything, None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_equals_garment_part(name: str) -> None:
    make, n_instances = CASES[name]
    seg = make()
    instances = semantic_to_instances(seg, min_area_frac=0.0)
    anns = instances_to_coco_annotations(instances, image_id=7, start_ann_id=100)
    if n_instances is not None:
        assert len(anns) == n_instances
    assert [a["id"] for a in anns] == list(range(100, 100 + len(anns)))
    assert all(a["image_id"] == 7 and a["iscrowd"] == 0 for a in anns)
    back = coco_annotations_to_semantic(anns, *seg.shape)
    expected = np.where(seg >= GARMENT_OFFSET, seg, 0)
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, expected)


def test_annotation_fields_are_coco() -> None:
    seg = _two_regions()
    anns = instances_to_coco_annotations(semantic_to_instances(seg, min_area_frac=0.0), 1, 1)
    by_area = sorted(anns, key=lambda a: a["area"])
    small_bag = by_area[0]
    assert small_bag["category_id"] == BAG - GARMENT_OFFSET + 1
    assert small_bag["bbox"] == [1.0, 1.0, 3.0, 3.0]  # xywh
    assert small_bag["area"] == 9
    assert isinstance(small_bag["segmentation"]["counts"], str)  # JSON-serialisable compressed RLE
    assert small_bag["segmentation"]["size"] == [20, 16]
    assert "score" not in small_bag  # ground truth


def test_categories_are_modanet_1_to_13() -> None:
    cats = coco_categories()
    assert [c["id"] for c in cats] == list(range(1, 14))
    assert tuple(c["name"] for c in cats) == modanet_categories()


def test_later_annotation_painted_on_top() -> None:
    a = np.zeros((6, 6), bool)
    a[0:4, 0:4] = True
    b = np.zeros((6, 6), bool)
    b[2:6, 2:6] = True
    anns = [
        {"id": 1, "category_id": 1, "segmentation": mask_to_rle(a)},
        {"id": 2, "category_id": 9, "segmentation": mask_to_rle(b)},
    ]
    seg = coco_annotations_to_semantic(anns, 6, 6)
    assert seg[3, 3] == GARMENT_OFFSET + 8
    assert seg[0, 0] == GARMENT_OFFSET + 0
    assert seg[5, 0] == 0


@pytest.mark.parametrize(
    "segmentation",
    [
        [[1.0, 1.0, 4.0, 1.0, 4.0, 4.0, 1.0, 4.0]],  # polygon
        {"size": [6, 6], "counts": [7, 3, 3, 3, 3, 3, 14]},  # uncompressed RLE (column-major runs)
    ],
)
def test_annotation_mask_reads_polygons_and_uncompressed_rle(segmentation: object) -> None:
    mask = annotation_mask({"id": 1, "segmentation": segmentation}, 6, 6)
    assert mask.shape == (6, 6)
    assert mask[2, 2] and not mask[5, 5]
    assert 8 <= mask.sum() <= 16


def test_bad_category_and_size_raise() -> None:
    m = np.ones((4, 4), bool)
    with pytest.raises(InvalidInputError, match=r"expected 1\.\.13"):
        coco_annotations_to_semantic([{"id": 1, "category_id": 14, "segmentation": mask_to_rle(m)}], 4, 4)
    with pytest.raises(InvalidInputError, match="differs from the image"):
        annotation_mask({"id": 1, "segmentation": mask_to_rle(m)}, 5, 4)
