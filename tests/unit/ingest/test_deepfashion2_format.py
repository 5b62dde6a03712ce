"""DeepFashion2 constants and the label-scheme entries the readers rely on."""

from __future__ import annotations

import pytest

from fashionlens.core.labels import coarse_category, map_to_modanet, modanet_categories
from fashionlens.ingest.deepfashion2 import (
    CATEGORIES,
    COCO_CATEGORIES,
    LANDMARK_OFFSETS,
    NUM_KEYPOINTS,
    NUM_LANDMARKS,
    _keypoints,
)


def test_categories_and_landmark_layout() -> None:
    assert len(CATEGORIES) == len(COCO_CATEGORIES) == len(NUM_LANDMARKS) == 13
    assert NUM_KEYPOINTS == 294
    assert LANDMARK_OFFSETS[0] == 0 and LANDMARK_OFFSETS[10] == 219  # long sleeve dress: points 220-256
    assert LANDMARK_OFFSETS[-1] + NUM_LANDMARKS[-1] == NUM_KEYPOINTS


def test_keypoints_slice_and_count() -> None:
    marks = [float(v) for i in range(37) for v in (i + 1, i + 2, (0, 1, 2)[i % 3])]
    points, visible = _keypoints(11, marks)
    assert len(points) == 3 * 294
    assert points[3 * 219 : 3 * 256] == marks
    assert not any(points[: 3 * 219]) and not any(points[3 * 256 :])
    assert visible == sum(1 for i in range(37) if i % 3)


@pytest.mark.parametrize(
    ("names", "expected", "coarse"),
    [
        (["long sleeve dress"], ("dress",), "dress"),
        (["long_sleeved_dress"], ("dress",), "dress"),
        (["short sleeve top", "trousers"], ("pants", "top"), "top+bottom"),
        (["short_sleeved_shirt", "skirt"], ("skirt", "top"), "top+bottom"),
        (["long sleeve outwear", "shorts"], ("outer", "shorts"), "outerwear"),
        (["vest", "sling"], ("top",), "other"),
    ],
)
def test_deepfashion2_scheme_both_spellings(names: list[str], expected: tuple[str, ...], coarse: str) -> None:
    assert map_to_modanet(names, "deepfashion2") == expected
    assert coarse_category(expected) == coarse


def test_every_deepfashion2_category_maps_to_modanet() -> None:
    for name in (*CATEGORIES, *COCO_CATEGORIES):
        assert len(map_to_modanet([name], "deepfashion2")) == 1, name


def test_modanet_scheme_is_identity() -> None:
    assert map_to_modanet(modanet_categories(), "modanet") == tuple(sorted(modanet_categories()))
