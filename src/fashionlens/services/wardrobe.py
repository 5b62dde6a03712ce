"""`Wardrobe`: a personal wardrobe digitised from photos, kept safe, and put together into outfits.

One object per request (CLI command, HTTP route, notebook cell) over the wardrobe tables of one
``FASHIONLENS_HOME`` (`fashionlens.store.wardrobe`: versioned rows, a writer lock shared by every
process, an audit log, undo). What it adds on top:

- **digitise** (`Wardrobe.add`): each photo's garments become items with their crop on white, mask,
  colours, vector and predicted attributes (`wardrobe_digitise`). The photo is copied into
  ``HOME/wardrobe/photos`` (the wardrobe does not depend on your files staying where they are).
  The items of one photo are one commit; the same photo (same bytes) twice creates nothing, and a
  ``rerun`` refreshes what the models said but never what you set by hand (``user_fields``: an
  edited mask, category, colours... stay);
- **duplicates**: a new item whose vector is within `DUPLICATE_THRESHOLD` cosine of an item you
  own comes with the warning "looks like item X you already own" (measured in
  ``benchmarks/bench_wardrobe.py``);
- **CRUD** with optimistic versions (`ConflictError` on a stale edit), undo, export/import (the
  full wardrobe, or the seed's ``wardrobe.json`` item list), a pandas view both ways;
- **outfits** (`services.outfits`), the **wear log** (times worn, cost per wear, not worn lately),
  **shop the look** (similar catalogue products) and **gaps** (what no outfit can fill).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import ConflictError, FashionlensError, InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.core.types import Skipped
from fashionlens.services.wardrobe_digitise import Digitiser, FoundGarment, png_bytes, write_atomic
from fashionlens.services.wardrobe_items import (
    NotFoundError,
    SavedOutfit,
    WardrobeItem,
    WearStats,
    apply_changes,
    checked_changes,
    item_from_row,
    item_to_row,
    match_garments,
    not_worn,
    outfit_from_row,
    parse_date,
    refresh_item,
    wear_stats,
)
from fashionlens.store.search_table import sql_literal
from fashionlens.store.wardrobe import (
    ITEMS,
    OUTFITS,
    ROLES,
    WEAR_LOG,
    Applied,
    Change,
    WardrobeStore,
)

logger = logging.getLogger(__name__)

DUPLICATE_THRESHOLD = 0.78  # cosine; best F1 on real photos (benchmarks/bench_wardrobe.py)


@dataclass(frozen=True)
class DuplicateWarning:
    item_id: str
    existing_id: str
    similarity: float
    message: str


@dataclass
class AddedPhoto:
    path: str
    photo_hash: str
    items: list[WardrobeItem] = field(default_factory=list)
    updated: list[WardrobeItem] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # ids of the items this photo gave before
    duplicates: list[DuplicateWarning] = field(default_factory=list)
    change_id: str = ""


@dataclass
class AddReport:
    photos: list[AddedPhoto] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def created(self) -> list[WardrobeItem]:
        return [i for p in self.photos for i in p.items]

    @property
    def duplicates(self) -> list[DuplicateWarning]:
        return [d for p in self.photos for d in p.duplicates]


def _stable_id(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class Wardrobe:
    """The wardrobe of ``settings.home`` (see the module doc). Models load on first use; pass your
    own ``digitiser`` or ``compat`` model (a `CompatibilityModel`) to share them between calls."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: WardrobeStore | None = None,
        digitiser: Digitiser | None = None,
        compat: Any = None,
        duplicate_threshold: float = DUPLICATE_THRESHOLD,
    ) -> None:
        self.settings = settings
        self.store = store or WardrobeStore(settings.db_path)
        self.digitiser = digitiser or Digitiser(settings)
        self._compat = compat
        self.duplicate_threshold = duplicate_threshold
        self.root = settings.home / "wardrobe"

    # -- digitise ---------------------------------------------------------------------------------
    def add(
        self,
        photos: Sequence[str | Path],
        *,
        single: bool = False,
        category: str = "",
        rerun: bool = False,
        skip_failures: bool = True,
        progress: Progress = NO_PROGRESS,
    ) -> AddReport:
        """One item per garment found in each photo (``single``: the photo is one garment, of
        ``category`` if given). A photo already in the wardrobe adds nothing unless ``rerun``."""
        from fashionlens.services.wardrobe_items import parse_category

        cat = parse_category(category)[0] if category else ""
        report = AddReport()
        progress.start(len(photos), "photos")
        for path in photos:
            try:
                report.photos.append(self._add_photo(Path(path), single, cat, rerun))
            except (InvalidInputError, OSError) as exc:
                if not skip_failures:
                    raise
                report.skipped.append(Skipped(str(path), str(exc).removeprefix(f"{path}: ")))
            progress.advance(1)
        return report

    def add_upload(
        self,
        data: bytes,
        filename: str = "photo.jpg",
        *,
        single: bool = False,
        category: str = "",
        rerun: bool = False,
    ) -> AddReport:
        """`add` for the bytes of an uploaded photo (kept in ``HOME/wardrobe/photos``); an unreadable
        upload raises `InvalidInputError` naming ``filename``."""
        from fashionlens.ingest.images import content_hash, decode_bytes

        suffix = Path(filename).suffix.lower()
        suffix = (
            suffix
            if suffix in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
            else ".jpg"
        )
        decode_bytes(data, filename)  # refuse what is not an image before keeping it
        path = self._photo_path(content_hash(data), suffix)
        if not path.is_file():
            write_atomic(path, data)
        return self.add([path], single=single, category=category, rerun=rerun, skip_failures=False)

    def _photo_path(self, digest: str, suffix: str) -> Path:
        return self.root / "photos" / f"{digest[:24]}{suffix or '.jpg'}"

    def crop_file(self, item_id: str) -> Path:
        """The item's crop on white, a file inside ``HOME/wardrobe`` (for a server to send)."""
        item = self.get(item_id)
        path = Path(item.crop_path).resolve() if item.crop_path else None
        if path is None or not path.is_file() or self.root.resolve() not in path.parents:
            raise NotFoundError(f"wardrobe item {item_id} has no crop")
        return path

    def photo_file(self, item_id: str) -> Path:
        """The photo the item was cut from, when it is kept inside ``HOME/wardrobe`` (an upload or a
        photo `add` copied); an item imported from a list of items has none."""
        item = self.get(item_id)
        path = Path(item.source_photo).resolve() if item.source_photo else None
        if path is None or not path.is_file() or self.root.resolve() not in path.parents:
            raise NotFoundError(f"wardrobe item {item_id} has no source photo in the wardrobe")
        return path

    def _add_photo(self, path: Path, single: bool, category: str, rerun: bool) -> AddedPhoto:
        from fashionlens.ingest.images import (
            ImageLimits,
            content_hash,
            decode_bytes,
            display_path,
            read_image_bytes,
        )

        limits = ImageLimits.from_settings(self.settings)
        data = read_image_bytes(path, limits)
        digest = content_hash(data)
        result = AddedPhoto(str(path), digest)
        before = self._photo_items(digest)
        if before and not rerun:
            result.already = [i.item_id for i in before]
            return result
        rgb = np.asarray(decode_bytes(data, display_path(path), limits))
        stored = self._photo_path(digest, path.suffix.lower())
        if not stored.is_file():
            write_atomic(stored, data)
        garments = self.digitiser.garments(rgb, single=single, category=category)
        if not garments:
            raise InvalidInputError(f"{path}: no garment found (try --single for a photo of one garment)")
        mode = "single" if single else "photo"
        matched = match_garments(garments, before) if before else {}
        for g in garments:  # a mask the user drew wins over the new one
            old = matched.get(g.index)
            if old is not None and "mask" in old.user_fields and old.mask_rle:
                from fashionlens.core.segmentation import rle_to_mask

                g.mask = rle_to_mask(old.mask_rle)
        taken = {i.item_id for i in before}
        ids = []
        for g in garments:
            if g.index in matched:
                ids.append(matched[g.index].item_id)
                continue
            new_id, k = _stable_id(digest, mode, str(g.index)), 0
            while new_id in taken:  # a garment a re-run finds anew never takes an old item's id
                k += 1
                new_id = _stable_id(digest, mode, str(g.index), str(k))
            taken.add(new_id)
            ids.append(new_id)
        crops = [self._crop_path(i) for i in ids]
        self.digitiser.describe(rgb, garments, crops)
        crops = [self._content_crop(p) for p in crops]
        items = []
        for g, item_id, crop in zip(garments, ids, crops, strict=True):
            fresh = self._item_from_garment(item_id, g, crop, stored, digest, mode)
            old = matched.get(g.index)
            items.append(refresh_item(old, fresh) if old is not None else fresh)
        result.duplicates = self._duplicates(items, exclude_photo=digest)
        expected = {i.item_id: i.version for i in matched.values()}

        def plan() -> Change | None:
            now = self._photo_items(digest)
            if now and not rerun:  # another writer added this photo first
                result.already = [i.item_id for i in now]
                return None
            return Change(
                "add" if not matched else "rerun",
                upserts=[item_to_row(i) for i in items],
                expected_versions=expected,
                summary=f"{len(items)} items from {path.name}",
            )

        applied = self.store.apply(ITEMS, plan)
        if applied is not None:
            result.change_id = applied.change_id
            rows = {r["item_id"]: item_from_row(r) for r in applied.rows}
            result.items = [rows[k] for k in applied.created]
            result.updated = [rows[k] for k in applied.updated]
        return result

    def _crop_path(self, item_id: str) -> Path:
        return self.root / "crops" / f"{item_id}.png"

    def _content_crop(self, path: Path) -> Path:
        """Rename a freshly written crop to ``<item_id>-<hash>.png``: a row only ever points at a crop
        that never changes (undo brings back the old row *and* its old crop)."""
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        target = path.with_name(f"{path.stem}-{digest}.png")
        path.replace(target)
        return target

    def _item_from_garment(
        self, item_id: str, g: FoundGarment, crop: Path, photo: Path, digest: str, mode: str
    ) -> WardrobeItem:
        from fashionlens.services.wardrobe_digitise import USAGE_TO_FORMALITY

        season = str(g.attributes.get("season") or "")
        return WardrobeItem(
            item_id=item_id,
            category=g.category,
            article_type=str(g.attributes.get("article_type") or ""),
            colours=g.colours,
            season={"fall": "autumn"}.get(season, season),
            formality=USAGE_TO_FORMALITY.get(str(g.attributes.get("usage") or ""), ""),
            source_photo=str(photo),
            source_hash=digest,
            photo_index=g.index,
            segmenter_id=f"{self.digitiser.segmenter.model_id}{'+single' if mode == 'single' else ''}",
            crop_path=str(crop),
            mask_rle=g.mask_rle(),
            bbox_xyxy=g.bbox_xyxy,
            attributes={**g.attributes, "score": round(g.score, 4)},
            embedding=g.embedding,
            embedding_model=self.digitiser.backbone.model_id,
        )

    def _photo_items(self, digest: str) -> list[WardrobeItem]:
        return [item_from_row(r) for r in self.store.rows(ITEMS, f"source_hash = {sql_literal(digest)}")]

    def _duplicates(self, items: Sequence[WardrobeItem], exclude_photo: str = "") -> list[DuplicateWarning]:
        owned = [i for i in self.list_items() if i.embedding is not None and i.source_hash != exclude_photo]
        out = []
        for item in items:
            if item.embedding is None:
                continue
            same = [
                o for o in owned if o.embedding_model == item.embedding_model and o.item_id != item.item_id
            ]
            if not same:
                continue
            sims = np.stack([o.embedding for o in same if o.embedding is not None]) @ item.embedding
            best = int(np.argmax(sims))
            if sims[best] >= self.duplicate_threshold:
                other = same[best]
                msg = f"{item.label()} looks like item {other.item_id} ({other.label()}) you already own"
                out.append(DuplicateWarning(item.item_id, other.item_id, round(float(sims[best]), 4), msg))
        return out

    def add_item(self, fields: Mapping[str, Any]) -> WardrobeItem:
        """An item typed in by hand (no photo), e.g. a wishlist entry."""
        return self.add_items([fields])[0]

    def add_items(self, entries: Sequence[Mapping[str, Any]], action: str = "add") -> list[WardrobeItem]:
        """Items typed in by hand, one commit for all."""
        items = []
        for entry in entries:
            values = checked_changes({k: v for k, v in entry.items() if k != "item_id"})
            item = apply_changes(
                WardrobeItem(str(entry.get("item_id") or "m" + uuid.uuid4().hex[:15])), values
            )
            items.append(item)
        applied = self.store.apply(ITEMS, lambda: Change(action, upserts=[item_to_row(i) for i in items]))
        return [item_from_row(r) for r in applied.rows] if applied else []

    # -- read --------------------------------------------------------------------------------------
    def list_items(
        self,
        *,
        status: str | None = None,
        role: str | None = None,
        category: str | None = None,
        colour: str | None = None,
        season: str | None = None,
        tag: str | None = None,
        text: str | None = None,
    ) -> list[WardrobeItem]:
        """Items matching every filter given, oldest first."""
        clauses = [
            f"{col} = {sql_literal(val)}"
            for col, val in (("status", status), ("role", role), ("category", category), ("season", season))
            if val
        ]
        if colour:
            clauses.append(f"array_has(colour_names, {sql_literal(colour.lower())})")
        rows = self.store.rows(ITEMS, " AND ".join(clauses) if clauses else None)
        items = [item_from_row(r) for r in rows]
        if tag:
            items = [i for i in items if tag in i.tags]
        if text:
            t = text.lower()
            items = [
                i
                for i in items
                if t in " ".join((i.name, i.notes, i.brand, i.article_type, i.category)).lower()
            ]
        return sorted(items, key=lambda i: (i.created_at, i.item_id))

    def get(self, item_id: str) -> WardrobeItem:
        row = self.store.get(ITEMS, item_id)
        if row is None:
            raise NotFoundError(f"no wardrobe item {item_id!r}; see `fashionlens wardrobe list`")
        return item_from_row(row)

    # -- edit, remove, undo ------------------------------------------------------------------------------
    def edit(
        self, item_id: str, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> WardrobeItem:
        """Change fields of an item. With ``expected_version`` (the version you read), a write made
        since raises `ConflictError`; without, the changes apply to the newest version (a patch: the
        other fields keep what others wrote). A new ``mask`` (COCO RLE over the source photo) re-cuts
        the crop and recomputes colours (unless you set them) and the vector; re-runs keep your mask."""
        values = checked_changes(changes)
        recut = None
        if "mask" in values:  # the models run before the lock is taken
            recut, colours = self._recut(apply_changes(self.get(item_id), values))

        def plan() -> Change:
            current = self._current(item_id, expected_version)
            new = apply_changes(current, values)
            if recut is not None:
                new.crop_path, new.bbox_xyxy = recut.crop_path, recut.bbox_xyxy
                new.embedding, new.embedding_model = recut.embedding, recut.embedding_model
                if "colours" not in values and "colours" not in current.user_fields:
                    new.colours = colours
            return Change(
                "edit",
                upserts=[item_to_row(new)],
                expected_versions={item_id: current.version},
                summary=f"{item_id}: {', '.join(sorted(values))}",
            )

        applied = self.store.apply(ITEMS, plan)
        return item_from_row(applied.rows[0]) if applied else self.get(item_id)

    def _current(self, item_id: str, expected_version: int | None) -> WardrobeItem:
        """The stored item (inside a write: the newest), checked against the version the caller read."""
        current = self.get(item_id)
        if expected_version is not None and current.version != expected_version:
            raise ConflictError(
                f"wardrobe item {item_id}: you edited version {expected_version}, but it is now version "
                f"{current.version} (someone changed it first); reload it and edit again"
            )
        return current

    def _recut(self, item: WardrobeItem) -> tuple[WardrobeItem, list[dict[str, Any]]]:
        """The item with its crop, box and vector re-made from its mask, and the mask's colours."""
        from fashionlens.core.segmentation import mask_to_xyxy, rle_to_mask
        from fashionlens.ingest.images import ImageLimits, open_rgb

        if not item.source_photo or not Path(item.source_photo).is_file():
            raise InvalidInputError(f"wardrobe item {item.item_id} has no source photo to apply a mask to")
        rgb = np.asarray(open_rgb(item.source_photo, ImageLimits.from_settings(self.settings)))
        mask = rle_to_mask(item.mask_rle or {})
        if mask.shape != rgb.shape[:2]:
            raise InvalidInputError(
                f"mask is {mask.shape[1]}x{mask.shape[0]} but the photo {item.source_photo} is "
                f"{rgb.shape[1]}x{rgb.shape[0]}"
            )
        if not mask.any():
            raise InvalidInputError("the mask is empty")
        g = FoundGarment(item.photo_index, mask, item.category, 1.0)
        crop = self.digitiser.crop_and_colour(rgb, g)
        path = self._crop_path(item.item_id)
        write_atomic(path, png_bytes(crop))
        item.crop_path = str(self._content_crop(path))
        item.bbox_xyxy = [float(v) for v in mask_to_xyxy(mask)]
        item.embedding = self.digitiser.embed([crop])[0]
        item.embedding_model = self.digitiser.backbone.model_id
        return item, g.colours

    def remove(self, item_id: str, *, expected_version: int | None = None) -> Applied:
        """Delete an item (undo brings it back). To keep it as given away, edit its status to gone."""

        def plan() -> Change:
            current = self._current(item_id, expected_version)
            return Change(
                "remove",
                deletes=[item_id],
                expected_versions={item_id: current.version},
                summary=f"{item_id} ({current.label()})",
            )

        applied = self.store.apply(ITEMS, plan)
        if applied is None:
            raise NotFoundError(f"no wardrobe item {item_id!r}")
        return applied

    def undo(self) -> Applied | None:
        """Revert the newest change to the wardrobe (items, outfits or wear log); None if none is left."""
        return self.store.undo()

    def history(self, limit: int = 20) -> list[Any]:
        return self.store.history(limit)

    # -- import / export, pandas (services.wardrobe_io) ----------------------------------------------
    def export(self, path: Path, *, fmt: str = "full") -> int:
        """Write the wardrobe to JSON: ``full`` (items with vectors and masks, outfits, wear log;
        `import_` restores it exactly) or ``seed`` (the seed's ``wardrobe.json`` item list)."""
        from fashionlens.services.wardrobe_io import export_wardrobe

        return export_wardrobe(self, path, fmt=fmt)

    def import_(self, source: Path | Any) -> list[Applied]:
        """Import a ``wardrobe.json`` (the seed's item list, or an `export` file); items keep their
        ids (seed item ``{"id": 1}`` becomes ``seed-1``), so importing twice changes nothing."""
        from fashionlens.services.wardrobe_io import import_wardrobe

        return import_wardrobe(self, source)

    def to_pandas(self, *, full: bool = False) -> Any:
        """The items as a DataFrame (`wardrobe_io.PANDAS_COLUMNS`; ``full``: every field)."""
        from fashionlens.services.wardrobe_io import to_pandas

        return to_pandas(self, full=full)

    def apply_pandas(self, frame: Any) -> Applied | None:
        """Write an edited `to_pandas` frame back: rows without ``item_id`` are added, changed rows
        are edits checked against their ``version``; one commit."""
        from fashionlens.services.wardrobe_io import apply_pandas

        return apply_pandas(self, frame)

    # -- outfits -------------------------------------------------------------------------------------------
    @property
    def compat(self) -> Any:
        if self._compat is None:
            from fashionlens.training.outfits import load_default

            self._compat = load_default(self.settings)
        return self._compat

    def pieces(self, items: Sequence[WardrobeItem] | None = None) -> list[Any]:
        from fashionlens.services.outfits import Piece

        items = self.list_items(status="closet") if items is None else items
        return [
            Piece(i.item_id, i.role, i.category, i.colour, i.lab, i.season, i.formality, i.label())
            for i in items
        ]

    def outfits(self, request: Any = None) -> list[Any]:
        """Complete outfits from the closet (`OutfitRequest`: season, occasion, with_items, n)."""
        from fashionlens.services.outfits import OutfitBuilder

        return OutfitBuilder(self.compat).suggest(self.pieces(), request)

    def save_outfit(
        self,
        slots: Mapping[str, str],
        *,
        name: str = "",
        season: str = "",
        occasion: str = "",
        score: float | None = None,
        reasons: Sequence[str] = (),
        notes: str = "",
    ) -> SavedOutfit:
        bad = [r for r in slots if r.rstrip("2") not in ROLES]
        if bad or not slots:
            raise InvalidInputError(
                f"outfit slots must be roles ({', '.join(ROLES)}); got {sorted(slots) or 'none'}"
            )
        for item_id in slots.values():
            self.get(item_id)
        outfit_id = "o" + _stable_id(*sorted(f"{k}={v}" for k, v in slots.items()))[:15]
        row = {
            "outfit_id": outfit_id,
            "name": name,
            "slots_json": json.dumps(dict(slots), sort_keys=True),
            "item_ids": sorted(slots.values()),
            "season": season,
            "occasion": occasion,
            "score": score,
            "reasons_json": json.dumps(list(reasons)),
            "notes": notes,
        }
        applied = self.store.apply(
            OUTFITS, lambda: Change("outfit", upserts=[row], summary=name or outfit_id)
        )
        return outfit_from_row(applied.rows[0]) if applied else self.get_outfit(outfit_id)

    def list_outfits(self) -> list[SavedOutfit]:
        return sorted((outfit_from_row(r) for r in self.store.rows(OUTFITS)), key=lambda o: o.created_at)

    def get_outfit(self, outfit_id: str) -> SavedOutfit:
        row = self.store.get(OUTFITS, outfit_id)
        if row is None:
            raise NotFoundError(f"no saved outfit {outfit_id!r}")
        return outfit_from_row(row)

    def remove_outfit(self, outfit_id: str) -> Applied:
        current = self.get_outfit(outfit_id)
        applied = self.store.apply(
            OUTFITS,
            lambda: Change(
                "remove outfit", deletes=[outfit_id], expected_versions={outfit_id: current.version}
            ),
        )
        if applied is None:
            raise NotFoundError(f"no saved outfit {outfit_id!r}")
        return applied

    # -- wear log ------------------------------------------------------------------------------------------
    def wear(self, target_id: str, on: str | dt.date | None = None, notes: str = "") -> dict[str, Any]:
        """Log that an item or a saved outfit was worn on ``on`` (default today)."""
        day = parse_date(on or dt.date.today(), "date")
        if self.store.get(ITEMS, target_id) is not None:
            kind = "item"
        elif self.store.get(OUTFITS, target_id) is not None:
            kind = "outfit"
        else:
            raise NotFoundError(f"no wardrobe item or saved outfit {target_id!r}")
        row = {
            "wear_id": uuid.uuid4().hex[:16],
            "kind": kind,
            "target_id": target_id,
            "worn_on": day,
            "notes": notes,
        }
        applied = self.store.apply(
            WEAR_LOG, lambda: Change("wear", upserts=[row], summary=f"{kind} {target_id} on {day}")
        )
        return applied.rows[0] if applied else row

    def wear_log(self) -> list[dict[str, Any]]:
        return sorted(self.store.rows(WEAR_LOG), key=lambda r: (r["worn_on"], r["created_at"]))

    def wear_stats(self) -> dict[str, WearStats]:
        """Per item: times worn (alone or in a saved outfit), the last day, and price / times worn."""
        return wear_stats(self.list_items(), self.list_outfits(), self.wear_log())

    def not_worn(self, days: int, today: dt.date | None = None) -> list[WardrobeItem]:
        """Closet items not worn in the last ``days`` days (never worn included, unless newer)."""
        return not_worn(self.list_items(status="closet"), self.wear_stats(), days, today)

    # -- shop the look, gaps ---------------------------------------------------------------------------------
    def shop(self, item_id: str, k: int = 10, filters: Any = None) -> Any:
        """The ``k`` catalogue images most like a wardrobe item (same embedding space); a `SearchResult`."""
        from fashionlens.services.search import Searcher
        from fashionlens.store.catalog import Catalog

        item = self.get(item_id)
        if item.embedding is None:
            raise InvalidInputError(
                f"wardrobe item {item_id} has no vector (it was typed in, not photographed)"
            )
        searcher = Searcher(Catalog(self.settings.db_path), self.settings, item.embedding_model)
        return searcher.search_vector(item.embedding, item.label(), "wardrobe item", k, filters)

    def gaps(self, season: str | None = None) -> list[dict[str, Any]]:
        """Roles and colours no outfit can fill now (see `services.outfits.wardrobe_gaps`)."""
        from fashionlens.services.outfits import OutfitBuilder, wardrobe_gaps

        return wardrobe_gaps(self.pieces(), OutfitBuilder(self.compat), season)


__all__ = [
    "DUPLICATE_THRESHOLD",
    "AddReport",
    "AddedPhoto",
    "ConflictError",
    "DuplicateWarning",
    "FashionlensError",
    "NotFoundError",
    "SavedOutfit",
    "Wardrobe",
    "WardrobeItem",
    "WearStats",
]
