"""Outfit scoring rules and outfit building on hand-made pieces (no models, no store)."""

from __future__ import annotations

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.services.outfits import (
    OutfitBuilder,
    OutfitRequest,
    Piece,
    colour_harmony,
    formality_agreement,
    normalise_season,
    season_agreement,
    wardrobe_gaps,
)


@pytest.mark.parametrize(
    ("colours", "low", "high", "word"),
    [
        ([("black", None), ("white", None)], 0.85, 0.95, "neutrals"),
        ([("black", None), ("red", None)], 1.0, 1.0, "one accent"),
        ([("red", None), ("orange", None)], 0.8, 0.9, "analogous"),
        ([("blue", None), ("orange", None)], 0.7, 0.8, "complementary"),
        ([("green", None), ("pink", None), ("yellow", None)], 0.0, 0.3, "compete"),
        ([("blue", (30.0, 2.0, -12.0)), ("red", None)], 1.0, 1.0, "one accent"),  # navy is a neutral
    ],
)
def test_colour_harmony(colours, low, high, word) -> None:
    score, reason = colour_harmony(colours)
    assert low <= score <= high
    assert word in reason


def test_season_and_formality() -> None:
    summer = Piece("a", "top", "top", season="summer")
    winter = Piece("b", "bottom", "pants", season="winter")
    assert season_agreement([summer, winter])[0] < 0.5
    assert season_agreement([summer], "summer")[0] == 1.0
    assert season_agreement([winter], "summer")[0] == 0.0
    assert normalise_season("Fall") == "autumn"
    with pytest.raises(InvalidInputError, match="season"):
        normalise_season("monsoon")
    casual = Piece("c", "top", "top", formality="casual")
    formal = Piece("d", "bottom", "pants", formality="formal")
    assert formality_agreement([casual, casual], "casual")[0] == 1.0
    assert formality_agreement([casual, formal])[0] < 0.5
    with pytest.raises(InvalidInputError, match="occasion"):
        formality_agreement([casual], "moon landing")


def _closet() -> list[Piece]:
    return [
        Piece("t1", "top", "top", "white", name="white tee", season="summer"),
        Piece("t2", "top", "top", "red", name="red tee"),
        Piece("b1", "bottom", "pants", "blue", (35.0, 0.0, -20.0), name="jeans"),
        Piece("b2", "bottom", "skirt", "green", name="green skirt"),
        Piece("d1", "dress", "dress", "black", name="black dress"),
        Piece("f1", "footwear", "footwear", "black", name="black shoes"),
        Piece("o1", "outerwear", "outer", "grey", name="grey coat", season="winter"),
        Piece("g1", "bag", "bag", "brown", name="brown bag"),
    ]


def test_builder_makes_complete_outfits() -> None:
    builder = OutfitBuilder(model=None)
    found = builder.suggest(_closet(), OutfitRequest(n=10))
    assert len(found) == 5  # 2 tops x 2 bottoms + 1 dress
    for s in found:
        roles = set(s.slots)
        assert ("top" in roles and "bottom" in roles) or "dress" in roles
        assert "footwear" in roles
        assert 0.0 <= s.score <= 1.0 and s.reasons
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)
    assert found[-1].slots.get("top") == "t2" and found[-1].slots.get("bottom") == "b2"  # red + green clash


def test_builder_season_and_with() -> None:
    builder = OutfitBuilder(model=None)
    winter = builder.suggest(_closet(), OutfitRequest(season="winter", n=10))
    assert winter and all(s.slots.get("outerwear") == "o1" for s in winter)
    assert all("t1" not in s.slots.values() for s in winter)  # a summer tee is not for winter
    summer = builder.suggest(_closet(), OutfitRequest(season="summer", n=10))
    assert all("outerwear" not in s.slots for s in summer)
    with_jeans = builder.suggest(_closet(), OutfitRequest(with_items=("b1",), n=10))
    assert with_jeans and all(s.slots.get("bottom") == "b1" for s in with_jeans)
    with pytest.raises(InvalidInputError, match="not in the closet"):
        builder.suggest(_closet(), OutfitRequest(with_items=("nope",)))


def test_gaps() -> None:
    builder = OutfitBuilder(model=None)
    tops_only = [Piece("t1", "top", "top", "white"), Piece("t2", "top", "top", "pink")]
    gaps = wardrobe_gaps(tops_only, builder, "winter")
    roles = {g["role"] for g in gaps if g["kind"] == "role"}
    assert {"bottom", "footwear", "outerwear"} <= roles
    colour_gap = [g for g in gaps if g["kind"] == "colour" and g["role"] == "bottom"]
    assert colour_gap and set(colour_gap[0]["items"]) == {"t1", "t2"}
    assert not [g for g in wardrobe_gaps(_closet(), builder) if g["kind"] == "role"]
