"""The seed's own example through the pandas view, import/export without loss, outfits, the wear log,
shop the look on real catalogue products."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fashionlens.core.errors import ConflictError, InvalidInputError
from fashionlens.core.settings import Settings
from fashionlens.services.outfits import OutfitRequest
from fashionlens.services.wardrobe import Wardrobe
from fashionlens.services.wardrobe_digitise import Digitiser

# the seed's wardrobe.json: two hand-written items (a blue t-shirt and a black dress)
SEED = [
    {"id": 1, "type": "t-shirt", "color": "blue", "size": "M", "material": "cotton", "style": "casual"},
    {"id": 2, "type": "dress", "color": "black", "size": "S", "material": "silk", "style": "formal"},
]


@pytest.fixture
def wardrobe(tmp_path: Path) -> Wardrobe:
    return Wardrobe(Settings(home=tmp_path / "home"))


def test_seed_example_through_pandas(wardrobe: Wardrobe, tmp_path: Path) -> None:
    path = tmp_path / "wardrobe.json"
    path.write_text(json.dumps(SEED))
    wardrobe.import_(path)
    df = wardrobe.to_pandas()
    assert list(df["item_id"]) == ["seed-1", "seed-2"]
    assert list(df["colour"]) == ["blue", "black"] and list(df["role"]) == ["top", "dress"]
    # the seed's feature_store.py: add a red t-shirt to the DataFrame
    df.loc[len(df)] = {"name": "red t-shirt", "category": "t-shirt", "colour": "red", "size": "L"}
    applied = wardrobe.apply_pandas(df)
    assert applied is not None and len(applied.created) == 1 and applied.updated == ()
    after = wardrobe.to_pandas()
    assert len(after) == 3
    red = after[after["colour"] == "red"].iloc[0]
    assert (red["category"], red["article_type"], red["role"], red["size"]) == ("top", "t-shirt", "top", "L")
    # export in the seed's format: the two seed items exactly as they were, plus the new one
    out = tmp_path / "out.json"
    assert wardrobe.export(out, fmt="seed") == 3
    exported = json.loads(out.read_text())
    assert exported[:2] == SEED
    assert {k: exported[2][k] for k in ("name", "type", "color", "size")} == {
        "name": "red t-shirt",
        "type": "t-shirt",
        "color": "red",
        "size": "L",
    }
    assert wardrobe.import_(path) == []  # importing the same file again changes nothing
    assert wardrobe.undo().summary.startswith("undo pandas")  # the DataFrame write is one change
    assert len(wardrobe.to_pandas()) == 2


def test_pandas_edit_conflicts(wardrobe: Wardrobe) -> None:
    wardrobe.import_(SEED)
    df = wardrobe.to_pandas()
    wardrobe.edit("seed-1", {"brand": "Uniqlo"})  # someone else, after the frame was read
    df.loc[df["item_id"] == "seed-1", "size"] = "XL"
    with pytest.raises(ConflictError, match="seed-1"):
        wardrobe.apply_pandas(df)
    assert wardrobe.get("seed-1").size == "M"


def test_full_export_import_is_lossless(wardrobe: Wardrobe, tmp_path: Path, shared_data: Path) -> None:
    wardrobe.import_(SEED)
    wardrobe.edit(
        "seed-1", {"price": 20, "currency": "EUR", "tags": "summer,basics", "acquired_on": "2024-05-01"}
    )
    shoes = sorted((shared_data / "clothing" / "validation" / "shoes").glob("*.jpg"))[0]
    wardrobe.add([shoes], single=True, category="shoes")
    outfit = wardrobe.save_outfit(
        {"top": "seed-1", "footwear": wardrobe.list_items(role="footwear")[0].item_id}
    )
    wardrobe.wear(outfit.outfit_id, "2024-06-01")
    wardrobe.wear("seed-1", "2024-06-03")
    out = tmp_path / "full.json"
    wardrobe.export(out)
    other = Wardrobe(Settings(home=tmp_path / "other"))
    other.import_(out)
    a = {i.item_id: i.to_dict(embedding=True, mask=True) for i in wardrobe.list_items()}
    b = {i.item_id: i.to_dict(embedding=True, mask=True) for i in other.list_items()}
    assert a.keys() == b.keys()
    for k in a:
        for field in ("created_at", "updated_at", "version"):
            a[k].pop(field), b[k].pop(field)
        ea, eb = a[k].pop("embedding"), b[k].pop("embedding")
        assert a[k] == b[k]
        assert (ea is None and eb is None) or np.allclose(ea, eb)
    assert [o.slots for o in other.list_outfits()] == [outfit.slots]
    stats = other.wear_stats()
    assert stats["seed-1"].times_worn == 2 and stats["seed-1"].cost_per_wear == 10.0
    with pytest.raises(InvalidInputError, match="not a readable JSON"):
        other.import_(tmp_path / "missing.json")


def test_outfits_from_real_photos(tmp_path: Path, shared_data: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    w = Wardrobe(settings, digitiser=Digitiser(settings))
    folder = shared_data / "clothing" / "validation"
    for kind, n in (("t-shirt", 4), ("longsleeve", 4), ("pants", 4), ("skirt", 4), ("shoes", 4)):
        w.add([sorted((folder / kind).glob("*.jpg"))[n]], single=True, category=kind)
    found = w.outfits(OutfitRequest(n=10))
    assert len(found) == 4  # 2 tops x 2 bottoms, each with the shoes
    for s in found:
        assert {"top", "bottom", "footwear"} <= set(s.slots)
        assert set(s.parts) == {"colour", "season", "formality", "learned"} and len(s.reasons) == 4
    saved = w.save_outfit(found[0].slots, score=found[0].score, reasons=found[0].reasons)
    assert w.save_outfit(found[0].slots).outfit_id == saved.outfit_id  # same slots, same outfit
    w.wear(saved.outfit_id, "2024-01-02")
    stats = w.wear_stats()
    assert all(stats[i].times_worn == 1 for i in saved.slots.values())
    gaps = w.gaps("winter")
    assert any(g["kind"] == "role" and g["role"] == "outerwear" for g in gaps)
    assert not any(g["kind"] == "role" and g["role"] == "footwear" for g in gaps)


def test_shop_the_look(tmp_path: Path, shared_data: Path) -> None:
    from fashionlens.ingest.products import read_products
    from fashionlens.jobs.embed import embed_catalog
    from fashionlens.models import factory
    from fashionlens.services.search import SearchFilters
    from fashionlens.store.catalog import Catalog

    settings = Settings(home=tmp_path / "home")
    catalog = Catalog(settings.db_path)
    catalog.add_ingest(read_products(shared_data / "products", limit=120))
    embed_catalog(catalog, factory.backbone(settings), batch_size=32)
    w = Wardrobe(settings)
    shoes = sorted((shared_data / "clothing" / "validation" / "shoes").glob("*.jpg"))[0]
    item = w.add([shoes], single=True).created[0]
    result = w.shop(item.item_id, k=5, filters=SearchFilters(source="product"))
    assert len(result.hits) == 5 and all(h.source == "product" for h in result.hits)
    assert result.hits[0].score >= result.hits[-1].score
    typed = w.add_item({"name": "wish", "status": "wishlist"})
    with pytest.raises(InvalidInputError, match="no vector"):
        w.shop(typed.item_id)


def test_many_writers_through_the_service(tmp_path: Path) -> None:
    import threading

    home = tmp_path / "home"
    Wardrobe(Settings(home=home)).import_(SEED)
    failures: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            w = Wardrobe(Settings(home=home))  # one object per request, as the server makes them
            for j in range(4):
                w.add_item({"name": f"thread {k} item {j}", "status": "wishlist"})
                w.wear("seed-1", f"2024-01-{j + 1:02d}")
                w.edit("seed-2", {"notes": f"{k}-{j}"})  # re-reads its version: no lost update
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    w = Wardrobe(Settings(home=home))
    assert len(w.list_items(status="wishlist")) == 16
    assert w.wear_stats()["seed-1"].times_worn == 16
    assert w.get("seed-2").version == 1 + 16
