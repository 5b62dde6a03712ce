from __future__ import annotations

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import (
    coarse_categories,
    coarse_category,
    guess_label_scheme,
    label_maps,
    map_to_modanet,
    modanet_categories,
)


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        (["dress"], "dress"),
        (["dress", "outer", "top", "pants"], "dress"),
        (["outer", "top", "pants"], "outerwear"),
        (["top", "pants"], "top+bottom"),
        (["top", "skirt", "bag"], "top+bottom"),
        (["shorts"], "bottoms"),
        (["skirt", "footwear"], "bottoms"),
        (["boots"], "footwear"),
        (["footwear", "bag"], "footwear"),
        (["bag", "belt"], "bag"),
        (["sunglasses"], "accessory"),
        (["scarf/tie", "headwear"], "accessory"),
        (["top"], "other"),
        ([], "other"),
    ],
)
def test_coarse_category_rule(categories: list[str], expected: str) -> None:
    assert coarse_category(categories) == expected


def test_coarse_category_rejects_unknown_names() -> None:
    with pytest.raises(InvalidInputError, match="unknown ModaNet categories"):
        coarse_category(["trousers"])


def test_label_schemes_only_map_to_modanet_classes() -> None:
    known = set(modanet_categories())
    assert len(known) == 13
    for key, mapping in label_maps().items():
        if key.endswith("_to_modanet"):
            assert set(mapping.values()) <= known, key
    assert coarse_categories()[-1] == "other"


def test_map_to_modanet_drops_non_garments_and_sorts() -> None:
    assert map_to_modanet(["skin", "hair", "jeans", "t-shirt", "heels", "sandals"], "ccp") == (
        "footwear",
        "pants",
        "top",
    )
    with pytest.raises(InvalidInputError, match="no label scheme"):
        map_to_modanet(["x"], "nope")


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["top", "pants", "dress", "bag"], "modanet"),
        (["short sleeve top", "trousers", "long sleeve dress"], "deepfashion2"),
        (["jeans", "blazer", "skin", "hair", "t-shirt"], "ccp"),
        (["car", "tree"], None),
        ([], None),
    ],
)
def test_guess_label_scheme(names: list[str], expected: str | None) -> None:
    assert guess_label_scheme(names) == expected


def test_colour_groups_cover_the_eleven_names() -> None:
    from fashionlens.core.labels import colour_group, colour_names

    assert len(colour_names()) == 11
    assert colour_group("Navy Blue") == "blue"
    assert colour_group("Maroon") == "red"
    assert colour_group("Multi") is None
    assert {colour_group(raw) for raw in label_maps_colours()} <= set(colour_names())


def label_maps_colours() -> list[str]:
    import json
    from importlib import resources

    text = resources.files("fashionlens.core").joinpath("colour_groups.json").read_text(encoding="utf-8")
    return list(json.loads(text)["groups"])
