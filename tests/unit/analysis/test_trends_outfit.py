"""The seed's rule on segmented garments: thresholds, silhouettes, outfits from a class map."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.analysis.trends.outfit import (
    GarmentRule,
    Outfit,
    class_shares,
    outfits_from_segmentation,
    photo_outfit,
    silhouette,
)
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.segmentation import GARMENT_OFFSET, PERSON, seg_classes


def test_rule_thresholds_decide_what_is_present() -> None:
    rule = GarmentRule(min_share=0.1, class_min_share={"outer": 0.02})
    shares = {"top": 0.3, "pants": 0.25, "outer": 0.03, "bag": 0.05}
    assert rule.present(shares) == ("outer", "pants", "top")  # bag 0.05 < 0.1
    assert rule.category(shares) == "outerwear"
    assert rule.category({**shares, "outer": 0.01}) == "top+bottom"
    assert GarmentRule(0.1, {"top": 0.0}).present({"top": 0.0}) == ()  # absent is never present
    with pytest.raises(InvalidInputError, match="unknown classes"):
        GarmentRule(0.1, {"jacket": 0.1})
    with pytest.raises(InvalidInputError, match=r"\[0, 1\)"):
        GarmentRule(min_share=1.5)


def test_default_rule_is_the_tuned_one() -> None:
    rule = GarmentRule()
    # a dress must cover a quarter of the person; a little outer layer already counts
    assert rule.category({"dress": 0.2, "top": 0.1, "skirt": 0.1}) == "top+bottom"
    assert rule.category({"dress": 0.3}) == "dress"
    assert rule.category({"outer": 0.03, "top": 0.2, "pants": 0.3}) == "outerwear"


def test_silhouette_and_shares() -> None:
    assert silhouette(("dress", "outer")) == "dress"
    assert silhouette({"top", "skirt"}) == "top+bottom"
    assert silhouette(("top",)) == "other"
    assert class_shares({"top": 50, "pants": 0}, 200) == {"top": 0.25}
    assert class_shares({"top": 50, "bag": 150}, 0) == {"top": 0.25, "bag": 0.75}  # no person: garments' area
    o = photo_outfit([Outfit(100, {"top": 30}), Outfit(50, {"top": 10, "bag": 5})])
    assert o.person_area == 150 and o.areas == {"top": 40, "bag": 5}


def _cls(name: str) -> int:
    return seg_classes().index(name)


def test_outfits_from_a_class_map() -> None:
    seg = np.zeros((200, 300), np.uint8)
    # person 1 on the left: skin, a top and pants; person 2 on the right: a dress
    seg[20:180, 20:90] = PERSON
    seg[40:100, 25:85] = _cls("top")
    seg[100:170, 30:80] = _cls("pants")
    seg[20:180, 200:270] = PERSON
    seg[40:160, 205:265] = _cls("dress")
    assert _cls("top") >= GARMENT_OFFSET
    outfits = outfits_from_segmentation(seg)
    assert len(outfits) == 2
    left, right = outfits
    assert left.person_area == 160 * 70 and left.areas == {"top": 60 * 60, "pants": 70 * 50}
    assert GarmentRule().category(left.shares) == "top+bottom"
    assert right.areas == {"dress": 120 * 60} and GarmentRule().category(right.shares) == "dress"
    # a garment alone (a product shot): its region is the "person", all of it garment
    flat = np.zeros((100, 100), np.uint8)
    flat[10:90, 10:90] = _cls("outer")
    (only,) = outfits_from_segmentation(flat)
    assert only.areas == {"outer": 6400}
    with pytest.raises(InvalidInputError, match="2-D"):
        outfits_from_segmentation(np.zeros((2, 2, 3), np.uint8))
