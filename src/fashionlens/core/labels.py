"""Garment label schemes: ModaNet's 13 classes and the coarse 8-way category derived from them.

The mappings are data (`label_maps.json`); the rule that turns a set of ModaNet classes into one
coarse category is code, because its order matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources

from fashionlens.core.errors import InvalidInputError

BOTTOMS = frozenset({"pants", "shorts", "skirt"})
FOOTWEAR = frozenset({"boots", "footwear"})
ACCESSORIES = frozenset({"belt", "sunglasses", "headwear", "scarf/tie"})


@cache
def label_maps() -> dict[str, object]:
    """The label schemes shipped with the package (`core/label_maps.json`)."""
    text = resources.files("fashionlens.core").joinpath("label_maps.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def modanet_categories() -> tuple[str, ...]:
    return tuple(label_maps()["modanet_categories"])  # type: ignore[arg-type]


def coarse_categories() -> tuple[str, ...]:
    return tuple(label_maps()["coarse_categories"])  # type: ignore[arg-type]


def coarse_category(categories: Iterable[str]) -> str:
    """Map the ModaNet classes present on one image to one coarse category.

    dress -> dress; outer -> outerwear; top with pants/shorts/skirt -> top+bottom;
    pants/shorts/skirt without top -> bottoms; boots/footwear -> footwear; bag -> bag;
    belt/sunglasses/headwear/scarf -> accessory; anything else (a top alone, nothing) -> other.
    """
    cats = set(categories)
    unknown = cats - set(modanet_categories())
    if unknown:
        raise InvalidInputError(
            f"unknown ModaNet categories {sorted(unknown)}; expected {modanet_categories()}"
        )
    if "dress" in cats:
        return "dress"
    if "outer" in cats:
        return "outerwear"
    if "top" in cats and cats & BOTTOMS:
        return "top+bottom"
    if cats & BOTTOMS:
        return "bottoms"
    if cats & FOOTWEAR:
        return "footwear"
    if "bag" in cats:
        return "bag"
    if cats & ACCESSORIES:
        return "accessory"
    return "other"


def map_to_modanet(labels: Iterable[str], scheme: str) -> tuple[str, ...]:
    """Map a dataset's label names to sorted, unique ModaNet classes with ``<scheme>_to_modanet``.

    Labels the scheme does not list (skin, hair, jewellery...) carry no garment class and are dropped.
    """
    key = f"{scheme}_to_modanet"
    mapping = label_maps().get(key)
    if not isinstance(mapping, dict):
        raise InvalidInputError(f"no label scheme {scheme!r} in label_maps.json")
    return tuple(sorted({mapping[label] for label in labels if label in mapping}))


def guess_label_scheme(names: Iterable[str], min_share: float = 0.3) -> str | None:
    """The ``<scheme>_to_modanet`` map that knows most of ``names`` (at least ``min_share``), or None.

    The share is low on purpose: Fashionpedia lists 27 garment parts (sleeve, collar...) next to its
    garments, and those map to no ModaNet class.
    """
    names = {n for n in names if n}
    if not names:
        return None
    best, best_share = None, 0.0
    maps = label_maps()
    keys = sorted((k for k in maps if k.endswith("_to_modanet")), key=lambda k: k != "modanet_to_modanet")
    for key in keys:  # ModaNet's own names first: on a tie they are ModaNet
        mapping = maps[key]
        if isinstance(mapping, dict):
            share = len(names & set(mapping)) / len(names)
            if share > best_share:
                best, best_share = key.removesuffix("_to_modanet"), share
    return best if best_share >= min_share else None


@cache
def _colour_groups() -> dict[str, object]:
    text = resources.files("fashionlens.core").joinpath("colour_groups.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def colour_names() -> tuple[str, ...]:
    """The 11 colour names: black, blue, brown, green, grey, orange, pink, purple, red, white, yellow."""
    return tuple(_colour_groups()["names"])  # type: ignore[arg-type]


def colour_group(raw: str) -> str | None:
    """A catalogue's raw colour (``Navy Blue``) -> its group (``blue``); None for Multi/NA/unknown."""
    groups = _colour_groups()["groups"]
    if not isinstance(groups, dict):
        raise InvalidInputError("core/colour_groups.json: 'groups' must be an object")
    value = groups.get(raw.strip())
    return str(value) if value else None
