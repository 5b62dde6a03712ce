"""Wardrobe items as Python objects: the row <-> `WardrobeItem` mapping, checked edits, and the
seed's ``wardrobe.json`` item list (import and export without loss).

The seed's items are flat JSON objects such as ``{"id": 1, "type": "t-shirt", "color": "blue",
"size": "M", "material": "cotton", "style": "casual"}``. On import, every key the item schema knows
(directly or through `SEED_ALIASES`) fills that field; the object itself is kept in the item's
``extra["seed"]``, so `to_seed` gives back the same keys and values (the current ones, when you
edited them), and keys the schema has no field for are never dropped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import colour_names, label_maps, modanet_categories
from fashionlens.store.wardrobe import STATUSES, role_of

if TYPE_CHECKING:
    from fashionlens.services.wardrobe_digitise import FoundGarment

# fields a re-run of the models may refresh, unless the user set them (then they are in user_fields)
MODEL_FIELDS = ("category", "article_type", "colours", "pattern", "material", "season", "formality", "mask")
EDITABLE = (
    "name",
    "category",
    "article_type",
    "colours",
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
    "mask",
)
SEED_ALIASES = {"type": "category", "color": "colour", "style": "formality", "purchase_date": "acquired_on"}
_SEED_BACK = {"category": "type", "colour": "color", "formality": "style", "acquired_on": "purchase_date"}


class NotFoundError(InvalidInputError):
    """No wardrobe item or outfit has that id (the server answers 404)."""


@dataclass
class WardrobeItem:
    item_id: str
    name: str = ""
    category: str = ""
    article_type: str = ""
    colours: list[dict[str, Any]] = field(default_factory=list)  # name, share, lab, hex
    pattern: str = ""
    material: str = ""
    season: str = ""
    formality: str = ""
    brand: str = ""
    size: str = ""
    price: float | None = None
    currency: str = ""
    acquired_on: str = ""
    status: str = "closet"
    notes: str = ""
    tags: list[str] = field(default_factory=list)
    source_photo: str = ""
    source_hash: str = ""
    photo_index: int = 0
    segmenter_id: str = ""
    crop_path: str = ""
    mask_rle: dict[str, Any] | None = None
    bbox_xyxy: list[float] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    embedding_model: str = ""
    user_fields: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    updated_at: str = ""
    version: int = 0

    @property
    def role(self) -> str:
        return role_of(self.category)

    @property
    def colour(self) -> str:
        return str(self.colours[0]["name"]) if self.colours else ""

    @property
    def lab(self) -> tuple[float, float, float] | None:
        lab = self.colours[0].get("lab") if self.colours else None
        return (float(lab[0]), float(lab[1]), float(lab[2])) if lab else None

    def label(self) -> str:
        """A short name: the user's, else ``<colour> <article type or category>``."""
        return (
            self.name
            or " ".join(v for v in (self.colour, self.article_type or self.category) if v)
            or self.item_id
        )

    def to_dict(self, *, embedding: bool = False, mask: bool = False) -> dict[str, Any]:
        """JSON-safe dict (the API's item body). The vector and the mask only when asked for."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "embedding":
                if embedding:
                    out[f.name] = None if value is None else [float(v) for v in value]
                continue
            if f.name == "mask_rle" and not mask:
                continue
            out[f.name] = value
        out["role"] = self.role
        out["colour"] = self.colour
        return out


def item_from_row(row: Mapping[str, Any]) -> WardrobeItem:
    emb = row.get("embedding")
    return WardrobeItem(
        item_id=row["item_id"],
        name=row.get("name") or "",
        category=row.get("category") or "",
        article_type=row.get("article_type") or "",
        colours=json.loads(row.get("colours_json") or "[]"),
        pattern=row.get("pattern") or "",
        material=row.get("material") or "",
        season=row.get("season") or "",
        formality=row.get("formality") or "",
        brand=row.get("brand") or "",
        size=row.get("size") or "",
        price=row.get("price"),
        currency=row.get("currency") or "",
        acquired_on=row.get("acquired_on") or "",
        status=row.get("status") or "closet",
        notes=row.get("notes") or "",
        tags=list(row.get("tags") or []),
        source_photo=row.get("source_photo") or "",
        source_hash=row.get("source_hash") or "",
        photo_index=int(row.get("photo_index") or 0),
        segmenter_id=row.get("segmenter_id") or "",
        crop_path=row.get("crop_path") or "",
        mask_rle=json.loads(row["mask_rle_json"]) if row.get("mask_rle_json") else None,
        bbox_xyxy=[float(v) for v in row.get("bbox_xyxy") or []],
        attributes=json.loads(row.get("attributes_json") or "{}"),
        embedding=np.asarray(emb, dtype=np.float32) if emb else None,
        embedding_model=row.get("embedding_model") or "",
        user_fields=list(row.get("user_fields") or []),
        extra=json.loads(row.get("extra_json") or "{}"),
        created_at=row.get("created_at") or "",
        updated_at=row.get("updated_at") or "",
        version=int(row.get("version") or 0),
    )


def item_to_row(item: WardrobeItem) -> dict[str, Any]:
    return {
        "item_id": item.item_id,
        "name": item.name,
        "category": item.category,
        "article_type": item.article_type,
        "role": item.role,
        "colour": item.colour,
        "colour_names": [str(c["name"]) for c in item.colours],
        "colours_json": json.dumps(item.colours, sort_keys=True),
        "pattern": item.pattern,
        "material": item.material,
        "season": item.season,
        "formality": item.formality,
        "brand": item.brand,
        "size": item.size,
        "price": item.price,
        "currency": item.currency,
        "acquired_on": item.acquired_on,
        "status": item.status,
        "notes": item.notes,
        "tags": list(item.tags),
        "source_photo": item.source_photo,
        "source_hash": item.source_hash,
        "photo_index": int(item.photo_index),
        "segmenter_id": item.segmenter_id,
        "crop_path": item.crop_path,
        "mask_rle_json": json.dumps(item.mask_rle) if item.mask_rle else "",
        "bbox_xyxy": [float(v) for v in item.bbox_xyxy],
        "attributes_json": json.dumps(item.attributes, sort_keys=True, default=str),
        "embedding": None
        if item.embedding is None
        else [float(v) for v in np.asarray(item.embedding).ravel()],
        "embedding_model": item.embedding_model,
        "user_fields": sorted(set(item.user_fields)),
        "extra_json": json.dumps(item.extra, sort_keys=True, default=str),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "version": int(item.version),
    }


@dataclass(frozen=True)
class WearStats:
    item_id: str
    times_worn: int
    last_worn: str
    cost_per_wear: float | None


@dataclass(frozen=True)
class SavedOutfit:
    outfit_id: str
    name: str
    slots: dict[str, str]
    season: str
    occasion: str
    score: float | None
    reasons: list[str]
    notes: str
    created_at: str
    updated_at: str
    version: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def outfit_from_row(r: Mapping[str, Any]) -> SavedOutfit:
    return SavedOutfit(
        r["outfit_id"],
        r["name"] or "",
        json.loads(r["slots_json"] or "{}"),
        r["season"] or "",
        r["occasion"] or "",
        r["score"],
        json.loads(r["reasons_json"] or "[]"),
        r["notes"] or "",
        r["created_at"],
        r["updated_at"],
        int(r["version"]),
    )


# -- checked values ----------------------------------------------------------------------------------
def parse_category(value: Any) -> tuple[str, str]:
    """``(ModaNet class, article type)`` of a category the user typed: a ModaNet class (``top``), a
    clothing-dataset folder (``t-shirt``), a catalogue article type (``Tshirts``) or a CCP label."""
    raw = str(value or "").strip()
    if not raw:
        return "", ""
    if raw.lower() in modanet_categories():
        return raw.lower(), ""
    maps = label_maps()
    for scheme in ("clothing", "products", "ccp", "fashion_mnist", "deepfashion2", "fashionpedia"):
        mapping = maps.get(f"{scheme}_to_modanet")
        if isinstance(mapping, dict):
            for name, target in mapping.items():
                if target and name.lower() == raw.lower():
                    return str(target), raw
    raise InvalidInputError(
        f"unknown category {raw!r}: use a garment class ({', '.join(modanet_categories())}) or an article "
        "type such as t-shirt, jeans, Dresses"
    )


def parse_colours(value: Any) -> list[dict[str, Any]]:
    """A colour name, a comma-separated list, or a list of names / ``{"name", "share", ...}`` dicts."""
    if value is None or value == "":
        return []
    items: list[Any] = (
        list(value) if isinstance(value, list | tuple) else [v.strip() for v in str(value).split(",")]
    )
    out = []
    for v in items:
        entry = dict(v) if isinstance(v, Mapping) else {"name": str(v).strip().lower()}
        name = str(entry.get("name", "")).lower()
        if name not in colour_names():
            raise InvalidInputError(f"unknown colour {name!r}; use one of {', '.join(colour_names())}")
        entry["name"] = name
        out.append(entry)
    if out and not all("share" in c for c in out):
        for c in out:
            c["share"] = round(1.0 / len(out), 4)
    return out


def _date(value: Any, what: str) -> str:
    if value in (None, ""):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)[:10]).isoformat()
    except ValueError as exc:
        raise InvalidInputError(f"{what} must be a date YYYY-MM-DD; got {value!r}") from exc


def parse_date(value: Any, what: str = "date") -> str:
    return _date(value, what)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def checked_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Item field values from user input, checked (unknown fields and bad values raise
    `InvalidInputError` naming them). ``colour`` sets the colours to that one colour; ``mask`` is
    returned as given (the caller checks it against the photo)."""
    from fashionlens.services.outfits import normalise_season

    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInputError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "category":
            out["category"], article = parse_category(value)
            if article and "article_type" not in changes:
                out["article_type"] = article
        elif key in ("colours", "colour"):
            out["colours"] = parse_colours(value)
        elif key == "status":
            if value not in STATUSES:
                raise InvalidInputError(f"status must be one of {', '.join(STATUSES)}; got {value!r}")
            out[key] = value
        elif key == "price":
            if _is_missing(value) or value == "":
                out[key] = None
                continue
            try:
                price = float(value)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"price must be a number; got {value!r}") from exc
            if price < 0 or math.isinf(price):
                raise InvalidInputError(f"price must be >= 0; got {value!r}")
            out[key] = price
        elif key == "currency":
            cur = str(value or "").strip().upper()
            if cur and (len(cur) != 3 or not cur.isalpha()):
                raise InvalidInputError(f"currency must be a 3-letter code such as EUR; got {value!r}")
            out[key] = cur
        elif key == "acquired_on":
            out[key] = _date(value, "acquired_on")
        elif key == "season":
            out[key] = normalise_season(str(value or ""))
        elif key == "formality":
            from fashionlens.services.outfits import FORMALITY_LEVELS

            level = str(value or "").strip().lower()
            if level and level not in FORMALITY_LEVELS:
                raise InvalidInputError(
                    f"formality must be one of {', '.join(FORMALITY_LEVELS)}; got {value!r}"
                )
            out[key] = level
        elif key == "tags":
            tags = value if isinstance(value, list | tuple) else str(value or "").split(",")
            out[key] = sorted({str(t).strip() for t in tags if str(t).strip()})
        elif key == "mask":
            out[key] = value
        else:
            out[key] = "" if _is_missing(value) else str(value)
    return out


def apply_changes(item: WardrobeItem, changes: Mapping[str, Any], *, by_user: bool = True) -> WardrobeItem:
    """A copy of ``item`` with checked ``changes``; fields the user set join ``user_fields``."""
    import copy

    new = copy.deepcopy(item)
    for key, value in changes.items():
        if key == "mask":
            new.mask_rle = value
        else:
            setattr(new, key, value)
    if by_user:
        new.user_fields = sorted({*new.user_fields, *(k for k in changes if k in MODEL_FIELDS)})
    return new


# -- the seed's wardrobe.json ----------------------------------------------------------------------
def from_seed(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The checked item fields of one seed object (its original stays in ``extra["seed"]``)."""
    if not isinstance(entry, Mapping):
        raise InvalidInputError(f"{where}: an item must be a JSON object; got {type(entry).__name__}")
    known: dict[str, Any] = {}
    for key, value in entry.items():
        target = SEED_ALIASES.get(key, key)
        if target in EDITABLE and target != "mask":
            known[target] = value
    try:
        fields_ = checked_changes(known)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from exc
    return fields_


def to_seed(item: WardrobeItem) -> dict[str, Any]:
    """The item as a seed object: the imported object with its values brought up to date, or, for
    an item that did not come from one, its non-empty fields under the seed's key names."""
    original = item.extra.get("seed")
    current = {
        "name": item.name,
        "category": item.article_type or item.category,
        "colour": item.colour if len(item.colours) <= 1 else ",".join(c["name"] for c in item.colours),
        "pattern": item.pattern,
        "material": item.material,
        "season": item.season,
        "formality": item.formality,
        "brand": item.brand,
        "size": item.size,
        "price": item.price,
        "currency": item.currency,
        "acquired_on": item.acquired_on,
        "status": item.status,
        "notes": item.notes,
        "tags": list(item.tags),
    }
    if isinstance(original, dict):
        out = dict(original)
        fresh = from_seed(original, "seed")
        for key in original:
            target = SEED_ALIASES.get(key, key)
            if target in current and not _same(target, fresh, item):
                out[key] = current[target]
        covered = {SEED_ALIASES.get(k, k) for k in original}
        for key, value in current.items():  # fields set since the import join under seed names
            if (
                key not in covered
                and value not in ("", None, [])
                and not (key == "status" and value == "closet")
            ):
                out[_SEED_BACK.get(key, key)] = value
        return out
    out = {"id": item.item_id}
    for key, value in current.items():
        if value not in ("", None, []) and not (key == "status" and value == "closet"):
            out[_SEED_BACK.get(key, key)] = value
    return out


def _same(name: str, fresh: Mapping[str, Any], item: WardrobeItem) -> bool:
    """Whether the item still has the value a seed object's field was imported as."""
    if name == "category":
        return (fresh.get("category", ""), fresh.get("article_type", "")) == (
            item.category,
            item.article_type,
        )
    if name == "colour":
        return [c["name"] for c in fresh.get("colours", [])] == [c["name"] for c in item.colours]
    default = None if name == "price" else ("closet" if name == "status" else ([] if name == "tags" else ""))
    return bool(fresh.get(name, default) == getattr(item, name))


def seed_items(data: Any, where: str) -> list[Mapping[str, Any]]:
    """The item list of a ``wardrobe.json``: a list, or ``{"items": [...]}``."""
    if isinstance(data, Mapping) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise InvalidInputError(f'{where}: expected a JSON list of items (or {{"items": [...]}})')
    return data


def summary_row(item: WardrobeItem, columns: Sequence[str]) -> dict[str, Any]:
    d = item.to_dict()
    return {c: d.get(c) for c in columns}


# -- the wear log ------------------------------------------------------------------------------------
def wear_stats(
    items: Sequence[WardrobeItem], outfits: Sequence[SavedOutfit], log: Sequence[Mapping[str, Any]]
) -> dict[str, WearStats]:
    """Per item: times worn (alone, or in a saved outfit), the last day, and price / times worn."""
    slots = {o.outfit_id: list(o.slots.values()) for o in outfits}
    days: dict[str, list[str]] = {}
    for w in log:
        targets = [w["target_id"]] if w["kind"] == "item" else slots.get(w["target_id"], [])
        for t in targets:
            days.setdefault(t, []).append(w["worn_on"])
    out = {}
    for item in items:
        worn = days.get(item.item_id, [])
        cpw = round(item.price / len(worn), 2) if item.price is not None and worn else None
        out[item.item_id] = WearStats(item.item_id, len(worn), max(worn) if worn else "", cpw)
    return out


def not_worn(
    items: Sequence[WardrobeItem], stats: Mapping[str, WearStats], days: int, today: dt.date | None = None
) -> list[WardrobeItem]:
    """The items last worn more than ``days`` days before ``today``, or never worn and owned longer
    (since ``acquired_on``, else since they were added)."""
    if days < 0:
        raise InvalidInputError(f"days must be >= 0; got {days}")
    cutoff = ((today or dt.date.today()) - dt.timedelta(days=days)).isoformat()
    out = []
    for item in items:
        since = item.acquired_on or item.created_at[:10]
        last = stats[item.item_id].last_worn if item.item_id in stats else ""
        if (last and last < cutoff) or (not last and since <= cutoff):
            out.append(item)
    return out


# -- re-runs ---------------------------------------------------------------------------------------
def match_garments(
    garments: Sequence[FoundGarment], before: Sequence[WardrobeItem]
) -> dict[int, WardrobeItem]:
    """Garment index -> the earlier item of the same photo it is (mask IoU >= 0.5, best first)."""
    from fashionlens.core.segmentation import rle_to_mask

    pairs = []
    for item in before:
        if not item.mask_rle:
            continue
        old = rle_to_mask(item.mask_rle)
        for g in garments:
            if g.mask.shape == old.shape:
                inter = int((g.mask & old).sum())
                union = int((g.mask | old).sum())
                if union and inter / union >= 0.5:
                    pairs.append((inter / union, g.index, item))
    out: dict[int, WardrobeItem] = {}
    used: set[str] = set()
    for _, index, item in sorted(pairs, key=lambda p: -p[0]):
        if index not in out and item.item_id not in used:
            out[index] = item
            used.add(item.item_id)
    return out


def refresh_item(old: WardrobeItem, fresh: WardrobeItem) -> WardrobeItem:
    """``old`` with what the models say now, except the fields the user set."""
    import copy

    new = copy.deepcopy(old)
    keep = set(old.user_fields)
    for name in (
        *MODEL_FIELDS,
        "crop_path",
        "bbox_xyxy",
        "embedding",
        "embedding_model",
        "attributes",
        "segmenter_id",
    ):
        attr = "mask_rle" if name == "mask" else name
        if name not in keep:
            setattr(new, attr, getattr(fresh, attr))
    return new
