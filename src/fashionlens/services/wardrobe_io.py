"""Wardrobe in and out: JSON export/import (the full wardrobe, or the seed's ``wardrobe.json``) and
the pandas view, both ways. `Wardrobe` delegates to these functions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.services.wardrobe_digitise import write_atomic
from fashionlens.services.wardrobe_items import (
    NotFoundError,
    WardrobeItem,
    apply_changes,
    checked_changes,
    from_seed,
    item_to_row,
    seed_items,
    to_seed,
)
from fashionlens.store.wardrobe import (
    ITEMS,
    OUTFITS,
    SCHEMA_VERSION,
    WEAR_LOG,
    Applied,
    Change,
    WardrobeStore,
)

if TYPE_CHECKING:
    from fashionlens.services.wardrobe import Wardrobe

EXPORT_FORMAT = "fashionlens.wardrobe/1"
PANDAS_COLUMNS = (
    "item_id",
    "name",
    "category",
    "article_type",
    "role",
    "colour",
    "pattern",
    "material",
    "season",
    "formality",
    "brand",
    "size",
    "price",
    "currency",
    "acquired_on",
    "status",
    "notes",
    "tags",
    "source_photo",
    "crop_path",
    "created_at",
    "updated_at",
    "version",
)


def _stable_id(*parts: str) -> str:
    import hashlib

    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def export_wardrobe(w: Wardrobe, path: Path, *, fmt: str = "full") -> int:
    """Write the wardrobe to JSON: ``full`` (items with vectors and masks, outfits, wear log;
    `import_` restores it exactly) or ``seed`` (the seed's ``wardrobe.json`` item list)."""
    items = w.list_items()
    if fmt == "seed":
        data: Any = [to_seed(i) for i in items]
    elif fmt == "full":
        data = {
            "format": EXPORT_FORMAT,
            "schema_version": SCHEMA_VERSION,
            "items": [i.to_dict(embedding=True, mask=True) for i in items],
            "outfits": w.store.rows(OUTFITS),
            "wear_log": w.store.rows(WEAR_LOG),
        }
    else:
        raise InvalidInputError(f"export format must be full or seed; got {fmt!r}")
    write_atomic(Path(path), (json.dumps(data, indent=1, default=_json_default) + "\n").encode())
    return len(items)


def import_wardrobe(w: Wardrobe, source: Path | Any) -> list[Applied]:
    """Import a ``wardrobe.json`` (the seed's item list, or a `export` file). Items keep their ids
    (a seed item ``{"id": 1, ...}`` becomes ``seed-1``), so importing twice changes nothing."""
    where = str(source) if isinstance(source, str | Path) else "wardrobe data"
    if isinstance(source, str | Path):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInputError(f"{source}: not a readable JSON file ({exc})") from exc
    else:
        data = source
    if isinstance(data, Mapping) and data.get("format") == EXPORT_FORMAT:
        return _import_full(w, data, where)
    rows = []
    for n, entry in enumerate(seed_items(data, where)):
        values = from_seed(entry, f"{where} item {n}")
        raw_id = entry.get("id") if isinstance(entry, Mapping) else None
        item_id = (
            f"seed-{raw_id}"
            if raw_id is not None
            else "seed-" + _stable_id(json.dumps(entry, sort_keys=True))
        )
        item = apply_changes(WardrobeItem(item_id), values, by_user=False)
        item.extra = {"seed": dict(entry)}
        rows.append(item_to_row(item))
    applied = w.store.apply(ITEMS, lambda: _changed_only(w.store, rows, "import", where))
    return [applied] if applied else []


def _import_full(w: Wardrobe, data: Mapping[str, Any], where: str) -> list[Applied]:
    out = []
    items = []
    for n, d in enumerate(data.get("items", [])):
        try:
            d = dict(d)
            d.pop("role", None), d.pop("colour", None)
            emb = d.pop("embedding", None)
            item = WardrobeItem(**d)
            item.embedding = np.asarray(emb, dtype=np.float32) if emb else None
        except TypeError as exc:
            raise InvalidInputError(f"{where}: item {n} does not fit the item schema ({exc})") from exc
        items.append(item_to_row(item))
    for table, rows in (
        (ITEMS, items),
        (OUTFITS, list(data.get("outfits", []))),
        (WEAR_LOG, list(data.get("wear_log", []))),
    ):

        def plan(rows: list[dict[str, Any]] = rows, table: str = table) -> Change:
            return _changed_only(w.store, rows, "import", where, table)

        applied = w.store.apply(table, plan)
        if applied:
            out.append(applied)
    return out


def to_pandas(w: Wardrobe, *, full: bool = False) -> Any:
    """The items as a DataFrame (`PANDAS_COLUMNS`; with ``full``, every field incl. vectors)."""
    import pandas as pd

    items = w.list_items()
    if full:
        return pd.DataFrame([i.to_dict(embedding=True, mask=True) for i in items])
    return pd.DataFrame(
        [{c: i.to_dict().get(c) for c in PANDAS_COLUMNS} for i in items], columns=list(PANDAS_COLUMNS)
    )


def apply_pandas(w: Wardrobe, frame: Any) -> Applied | None:
    """Write a DataFrame back (from `to_pandas`, edited): rows without an ``item_id`` are new
    items, rows whose editable columns differ are edits checked against their ``version``
    (`ConflictError` if the item changed since). One commit; rows not in the frame are kept."""
    from fashionlens.services.wardrobe_items import EDITABLE

    editable = [c for c in frame.columns if c in EDITABLE]
    upserts, expected = [], {}
    current = {i.item_id: i for i in w.list_items()}
    for rec in frame.to_dict("records"):
        raw_id = rec.get("item_id")
        values = {c: rec[c] for c in editable if not _blank(rec.get(c))}
        if _blank(raw_id):
            upserts.append(
                item_to_row(apply_changes(WardrobeItem("m" + uuid.uuid4().hex[:15]), checked_changes(values)))
            )
            continue
        item = current.get(str(raw_id))
        if item is None:
            raise NotFoundError(f"row with item_id {raw_id!r}: no such item (clear item_id to add it as new)")
        changed = {k: v for k, v in checked_changes(values).items() if _differs(item, k, v)}
        if changed:
            upserts.append(item_to_row(apply_changes(item, changed)))
            version = rec.get("version")
            expected[item.item_id] = int(version) if not _blank(version) else item.version
    return w.store.apply(ITEMS, lambda: Change("pandas", upserts=upserts, expected_versions=expected))


def _changed_only(
    store: WardrobeStore, rows: list[dict[str, Any]], action: str, where: str, table: str = ITEMS
) -> Change:
    """An import change with only the rows that differ from what is stored (versions aside)."""
    from fashionlens.store.wardrobe import KEYS, normalise_row

    key = KEYS[table]
    current = store.get_many(table, [r[key] for r in rows])
    skip = {"version", "created_at", "updated_at"}
    upserts = []
    for r in rows:
        r = normalise_row(table, {k: v for k, v in r.items() if k not in skip})
        have = current.get(r[key])
        if have is None or any(_norm(have.get(k)) != _norm(v) for k, v in r.items() if k not in skip):
            upserts.append(r)
    return Change(action, upserts=upserts, summary=f"{len(upserts)} rows from {where}")


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 5)
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    return isinstance(v, str) and not v.strip()


def _differs(item: WardrobeItem, key: str, value: Any) -> bool:
    if key == "colours":
        return [c["name"] for c in value] != [c["name"] for c in item.colours]
    if key == "mask":
        return value != item.mask_rle
    return bool(getattr(item, key) != value)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
