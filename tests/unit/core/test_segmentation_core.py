"""Segmentation types, CCP label mapping, RLE, instances and people from semantic maps."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import modanet_categories
from fashionlens.core.segmentation import (
    GARMENT_OFFSET,
    PERSON,
    GarmentInstances,
    ccp_lut,
    ccp_to_semantic,
    confusion,
    iou_per_class,
    mask_to_rle,
    mask_to_xyxy,
    rle_to_mask,
    seg_classes,
    semantic_to_instances,
)
from fashionlens.models.segmenters.people import cutout_on_white, find_people

DRESS = GARMENT_OFFSET + modanet_categories().index("dress")
BAG = GARMENT_OFFSET + modanet_categories().index("bag")


def test_seg_classes_scheme() -> None:
    classes = seg_classes()
    assert classes[:2] == ("background", "person") and len(classes) == 2 + 13
    assert classes[DRESS] == "dress"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("null", "background"), ("skin", "person"), ("hair", "person"), ("necklace", "person"),
     ("jeans", "pants"), ("heels", "footwear"), ("purse", "bag"), ("blazer", "outer"), ("dress", "dress")],
)  # fmt: skip
def test_ccp_lut_maps_through_label_maps(name: str, expected: str) -> None:
    names = ("null", name)
    assert seg_classes()[ccp_lut(names)[1 if name != "null" else 0]] == expected


def test_ccp_to_semantic_rejects_unknown_index() -> None:
    with pytest.raises(InvalidInputError, match="index 5"):
        ccp_to_semantic(np.array([[0, 5]]), ("null", "skin"))


@pytest.mark.parametrize("shape", [(1, 1), (3, 4), (17, 9)])
@pytest.mark.parametrize("fill", ["empty", "full", "random", "first-pixel"])
def test_rle_round_trip(shape: tuple[int, int], fill: str) -> None:
    rng = np.random.default_rng(0)
    mask = {
        "empty": np.zeros(shape, bool),
        "full": np.ones(shape, bool),
        "random": rng.random(shape) > 0.5,
        "first-pixel": np.pad(np.ones((1, 1), bool), ((0, shape[0] - 1), (0, shape[1] - 1))),
    }[fill]
    rle = mask_to_rle(mask)
    assert sum(rle["counts"]) == mask.size
    np.testing.assert_array_equal(rle_to_mask(rle), mask)


def test_rle_is_coco_column_major() -> None:
    mask = np.array([[0, 1], [0, 1]], bool)  # column 0 empty, column 1 full
    assert mask_to_rle(mask) == {"size": [2, 2], "counts": [2, 2]}


def test_bad_rle_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="expected 2x2"):
        rle_to_mask({"size": [2, 2], "counts": [1, 1]})


def test_semantic_to_instances_one_per_region() -> None:
    seg = np.zeros((20, 20), np.uint8)
    seg[2:6, 2:6] = DRESS
    seg[10:14, 10:14] = DRESS  # a second, separate dress region
    seg[2:6, 12:16] = BAG
    seg[18, 18] = BAG  # one pixel: speckle under min_area_frac
    seg[0:2, 0:20] = PERSON  # not a garment
    conf = np.full(seg.shape, 0.5, np.float32)
    conf[10:14, 10:14] = 0.9
    inst = semantic_to_instances(seg, conf, min_area_frac=0.01)
    assert sorted(inst.categories) == ["bag", "dress", "dress"]
    by_box = {tuple(b): s for b, s in zip(inst.xyxy.tolist(), inst.scores.tolist(), strict=True)}
    assert by_box[(10.0, 10.0, 14.0, 14.0)] == pytest.approx(0.9)
    assert inst.masks.sum() == 48


def test_garment_instances_validation_and_indexing() -> None:
    inst = semantic_to_instances(np.pad(np.full((3, 3), DRESS, np.uint8), 2))
    assert len(inst) == 1 and len(inst[np.array([False])]) == 0
    assert len(GarmentInstances.empty((4, 5))) == 0
    with pytest.raises(InvalidInputError, match=r"class_id must be in 0\.\.12"):
        GarmentInstances(np.zeros((1, 4)), np.zeros((1, 2, 2)), [13], [1.0])
    with pytest.raises(InvalidInputError, match=r"xyxy must have shape \(1, 4\)"):
        GarmentInstances(np.zeros((2, 4)), np.zeros((1, 2, 2)), [0], [1.0])


def test_mask_to_xyxy_is_exclusive() -> None:
    mask = np.zeros((5, 5), bool)
    mask[1, 2] = True
    assert mask_to_xyxy(mask).tolist() == [2.0, 1.0, 3.0, 2.0]


def test_confusion_and_iou() -> None:
    truth = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    conf = confusion(pred, truth, 3)
    iou = iou_per_class(conf)
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(2 / 3) and np.isnan(iou[2])


def _person(seg: np.ndarray, x: int, w: int = 10) -> None:
    seg[5:45, x : x + w] = PERSON
    seg[15:30, x : x + w] = DRESS


def test_find_people_separate_and_speckle() -> None:
    seg = np.zeros((50, 80), np.uint8)
    _person(seg, 50)
    _person(seg, 5)
    seg[0, 0] = PERSON  # speckle
    people = find_people(seg)
    assert len(people) == 2
    assert people.xyxy[:, 0].tolist() == [5.0, 50.0]  # left to right


def test_find_people_splits_touching_people_with_detections() -> None:
    seg = np.zeros((50, 80), np.uint8)
    _person(seg, 20, w=20)
    _person(seg, 40, w=20)  # touches the first: one region 40 px wide
    assert len(find_people(seg)) == 1
    boxes = np.array([[20, 5, 40, 45], [40, 5, 60, 45]], np.float32)
    people = find_people(seg, detections_xyxy=boxes)
    assert len(people) == 2
    assert people.masks.sum() == (seg != 0).sum()
    # each pixel goes to the nearest box centre (x = 30 or 50): the split falls at x = 40
    assert people.masks[0][5:45, 20:40].all() and not people.masks[0][:, 41:].any()
    assert people.masks[1][5:45, 41:60].all() and not people.masks[1][:, :40].any()


def test_a_head_cut_off_by_a_masked_face_stays_with_its_body() -> None:
    """A runway photo's face is blanked out: hair and hat above it become a region of their own."""
    seg = np.zeros((100, 80), np.uint8)
    seg[30:98, 20:50] = DRESS  # the body
    seg[5:27, 28:42] = PERSON  # hair + hat above a blanked face, 3 px above the body
    seg[40:90, 60:75] = PERSON  # someone else beside them, as tall: never merged
    people = find_people(seg)
    assert len(people) == 2
    assert people.xyxy[0].tolist() == [20.0, 5.0, 50.0, 98.0]  # the head joined the body
    assert people.masks[0].sum() == 68 * 30 + 22 * 14
    far = np.zeros((100, 80), np.uint8)
    far[60:98, 20:50] = DRESS
    far[5:20, 28:42] = PERSON  # 40 px above: a separate thing, not a piece of this body
    assert len(find_people(far, min_area_frac=0.01)) == 2


def test_find_people_none() -> None:
    assert len(find_people(np.zeros((10, 10), np.uint8))) == 0


def test_cutout_on_white() -> None:
    rgb = np.full((40, 30, 3), 7, np.uint8)
    mask = np.zeros((40, 30), bool)
    mask[10:30, 10:20] = True
    crop = cutout_on_white(rgb, mask, margin_frac=0.1)
    assert crop.shape == (24, 14, 3)
    assert (crop[0, 0] == 255).all() and (crop[12, 7] == 7).all()
    with pytest.raises(InvalidInputError, match="empty mask"):
        cutout_on_white(rgb, np.zeros((40, 30), bool))


def test_detector_is_asked_only_when_a_region_is_wide() -> None:
    calls: list[int] = []

    def detect() -> np.ndarray:
        calls.append(1)
        return np.array([[20, 5, 40, 45], [40, 5, 60, 45]], np.float32)

    narrow = np.zeros((50, 80), np.uint8)
    _person(narrow, 20)
    assert len(find_people(narrow, detect=detect)) == 1 and calls == []
    wide = np.zeros((50, 80), np.uint8)
    _person(wide, 20, w=20)
    _person(wide, 40, w=20)
    assert len(find_people(wide, detect=detect)) == 2 and calls == [1]
