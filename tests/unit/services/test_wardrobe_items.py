"""Item fields: checked edits, category and colour parsing, seed objects both ways, wear arithmetic."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.services.wardrobe_items import (
    SavedOutfit,
    WardrobeItem,
    apply_changes,
    checked_changes,
    from_seed,
    item_from_row,
    item_to_row,
    not_worn,
    parse_category,
    to_seed,
    wear_stats,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("top", ("top", "")), ("t-shirt", ("top", "t-shirt")), ("Jeans", ("pants", "Jeans")), ("", ("", ""))],
)
def test_parse_category(raw, expected) -> None:
    assert parse_category(raw) == expected


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"status": "lost"}, "status"),
        ({"price": "-3"}, "price"),
        ({"price": "cheap"}, "price"),
        ({"currency": "euro"}, "currency"),
        ({"acquired_on": "last week"}, "date"),
        ({"colour": "mauve"}, "colour"),
        ({"category": "spacesuit"}, "category"),
        ({"formality": "black tie"}, "formality"),
        ({"owner": "me"}, "cannot edit owner"),
    ],
)
def test_checked_changes_refuses(changes, match) -> None:
    with pytest.raises(InvalidInputError, match=match):
        checked_changes(changes)


def test_checked_changes_values() -> None:
    out = checked_changes(
        {
            "price": "19.5",
            "currency": "eur",
            "acquired_on": "2024-03-01",
            "tags": "work, summer ,",
            "colour": "Blue",
        }
    )
    assert out["price"] == 19.5 and out["currency"] == "EUR" and out["acquired_on"] == "2024-03-01"
    assert out["tags"] == ["summer", "work"]
    assert out["colours"] == [{"name": "blue", "share": 1.0}]
    item = apply_changes(WardrobeItem("x"), checked_changes({"category": "Dresses", "notes": "hi"}))
    assert (item.category, item.article_type, item.role) == ("dress", "Dresses", "dress")
    assert item.user_fields == ["article_type", "category"]  # notes are not a model field


def test_row_round_trip() -> None:
    item = WardrobeItem(
        "abc",
        name="tee",
        category="top",
        colours=[{"name": "red", "share": 0.7, "lab": [50.0, 60.0, 30.0]}, {"name": "white", "share": 0.3}],
        price=12.0,
        tags=["a"],
        mask_rle={"size": [2, 2], "counts": [1, 3]},
        embedding=np.arange(4, dtype=np.float32),
        extra={"seed": {"id": 3}},
        version=2,
    )
    row = item_to_row(item)
    assert row["role"] == "top" and row["colour"] == "red" and row["colour_names"] == ["red", "white"]
    back = item_from_row(row)
    assert back.to_dict(mask=True) == item.to_dict(mask=True)
    assert np.array_equal(back.embedding, item.embedding)
    assert back.lab == (50.0, 60.0, 30.0)


def test_seed_object_round_trip_and_edits() -> None:
    seed = {"id": 1, "type": "t-shirt", "color": "blue", "size": "M", "style": "casual", "fabric_gsm": 180}
    item = apply_changes(WardrobeItem("seed-1"), from_seed(seed, "wardrobe.json"), by_user=False)
    item.extra = {"seed": seed}
    assert (item.category, item.colour, item.formality, item.size) == ("top", "blue", "casual", "M")
    assert to_seed(item) == seed  # unknown keys kept, values as written
    edited = apply_changes(item, checked_changes({"colour": "red", "size": "L"}))
    assert to_seed(edited) == {**seed, "color": "red", "size": "L"}
    branded = apply_changes(item, checked_changes({"brand": "Uniqlo", "price": 12}))
    assert to_seed(branded) == {**seed, "brand": "Uniqlo", "price": 12.0}  # new fields are not lost
    typed = apply_changes(
        WardrobeItem("m1"), checked_changes({"name": "red tee", "category": "t-shirt", "colour": "red"})
    )
    assert to_seed(typed) == {"id": "m1", "name": "red tee", "type": "t-shirt", "color": "red"}
    with pytest.raises(InvalidInputError, match=r"wardrobe.json: unknown colour"):
        from_seed({"color": "mauve"}, "wardrobe.json")


def test_wear_stats_and_not_worn() -> None:
    old = WardrobeItem("a", price=30.0, created_at="2024-01-01T00:00:00")
    new = WardrobeItem("b", created_at=dt.date.today().isoformat())
    never = WardrobeItem("c", acquired_on="2024-01-01", created_at=dt.date.today().isoformat())
    outfit = SavedOutfit("o1", "", {"top": "a", "bottom": "b"}, "", "", None, [], "", "", "", 1)
    log = [
        {"kind": "item", "target_id": "a", "worn_on": "2024-02-01"},
        {"kind": "outfit", "target_id": "o1", "worn_on": "2024-03-01"},
    ]
    stats = wear_stats([old, new, never], [outfit], log)
    assert (
        stats["a"].times_worn == 2
        and stats["a"].cost_per_wear == 15.0
        and stats["a"].last_worn == "2024-03-01"
    )
    assert stats["b"].times_worn == 1 and stats["b"].cost_per_wear is None
    assert stats["c"].times_worn == 0
    quiet = not_worn([old, new, never], stats, 30, today=dt.date(2024, 6, 1))
    assert [i.item_id for i in quiet] == ["a", "b", "c"]
    assert [i.item_id for i in not_worn([old, new, never], stats, 30, today=dt.date(2024, 3, 15))] == ["c"]
    with pytest.raises(InvalidInputError):
        not_worn([old], stats, -1)
