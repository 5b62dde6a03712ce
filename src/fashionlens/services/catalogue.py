"""The catalogue as a front end sees it: a summary, a filtered page of images, one image, thumbnails.

Images are looked up by ``image_id`` only (16 hex digits, the content-hash prefix), never by a
path a caller gives: a front end can serve a catalogued file and nothing else. Category and colour
filters read the search table of an embedding space (`fashionlens.jobs.index`), which holds the
denormalised metadata; without one, only ``source`` and ``split`` filter the images table.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import search_table_name
from fashionlens.store.search_table import sql_literal, where_clause

IMAGE_ID = re.compile(r"^[0-9a-f]{16}$")
BROWSE_COLUMNS = ("image_id", "source", "split", "category", "colour", "article_type", "image_path")
THUMBNAIL_SIZES = (64, 128, 256, 512)
MAX_PAGE = 500


def check_image_id(image_id: str) -> str:
    """``image_id`` if it is 16 lower-case hex digits, else `InvalidInputError`."""
    if not isinstance(image_id, str) or not IMAGE_ID.match(image_id):
        raise InvalidInputError(f"image_id must be 16 lower-case hex digits; got {image_id!r}")
    return image_id


@dataclass(frozen=True)
class CatalogueSummary:
    path: str
    tables: dict[str, int]
    images: int
    sources: dict[str, int]
    splits: dict[str, int]
    embedding_models: list[str]
    search_indexes: list[str]


def summary(catalog: Catalog) -> CatalogueSummary:
    """Tables and their row counts, images per source and split, embedding spaces, search tables."""
    tables = {name: catalog.count(name) for name in catalog.table_names()}
    rows = catalog.read("images", columns=["source", "split"]).to_pylist() if "images" in tables else []
    state = catalog.read("search_state", columns=["model_id"]) if "search_state" in tables else None
    return CatalogueSummary(
        str(catalog.path),
        tables,
        len(rows),
        dict(Counter(str(r["source"] or "") for r in rows).most_common()),
        dict(Counter(str(r["split"] or "") for r in rows).most_common()),
        catalog.embedding_models(),
        sorted(state.column("model_id").to_pylist()) if state is not None else [],
    )


@dataclass
class ImagePage:
    total: int
    offset: int
    limit: int
    model_id: str | None  # the search table the metadata came from (None: the images table)
    items: list[dict[str, str]] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


def browse(
    catalog: Catalog,
    model_id: str | None,
    filters: dict[str, str],
    *,
    limit: int = 48,
    offset: int = 0,
) -> ImagePage:
    """One page of catalogued images matching ``filters`` (source, split, category, colour), by
    image_id, with the count of each filter value among the matches (``facets``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInputError(f"limit must be in 1..{MAX_PAGE}; got {limit}")
    if offset < 0:
        raise InvalidInputError(f"offset must be >= 0; got {offset}")
    wanted = {k: v for k, v in filters.items() if v}
    unknown = set(wanted) - {"source", "split", "category", "colour"}
    if unknown:
        raise InvalidInputError(f"unknown filters {sorted(unknown)}; known: source, split, category, colour")
    table = search_table_name(model_id) if model_id else None
    if table and table in catalog.table_names():
        values = {k: (v.strip().lower() if k in ("category", "colour") else v) for k, v in wanted.items()}
        rows = catalog.read(table, where=where_clause(values), columns=list(BROWSE_COLUMNS)).to_pylist()
        used: str | None = model_id
    else:
        if {"category", "colour"} & set(wanted):
            raise NotReadyError(
                f"filtering by category or colour needs the search index of {model_id}; "
                f"build it with `fashionlens search index`"
            )
        rows = catalog.read(
            "images", where=where_clause(wanted), columns=["image_id", "source", "split", "image_path"]
        ).to_pylist()
        used = None
    rows.sort(key=lambda r: str(r["image_id"]))
    facets = {
        col: dict(Counter(str(r.get(col) or "") for r in rows).most_common())
        for col in ("source", "split", "category", "colour")
        if not rows or col in rows[0]
    }
    page = [
        {col: str(r.get(col) or "") for col in BROWSE_COLUMNS if col != "image_path"}
        for r in rows[offset : offset + limit]
    ]
    return ImagePage(len(rows), offset, limit, used, page, facets)


def catalogued_image(catalog: Catalog, image_id: str) -> dict[str, Any]:
    """The ``images`` row of ``image_id``; `KeyError` when it is not catalogued."""
    check_image_id(image_id)
    rows = catalog.read("images", where=f"image_id = {sql_literal(image_id)}").to_pylist()
    if not rows:
        raise KeyError(image_id)
    return dict(rows[0])


def image_file(catalog: Catalog, image_id: str) -> Path:
    """The file of a catalogued image (`KeyError` if the id is not catalogued or the file is gone)."""
    path = Path(str(catalogued_image(catalog, image_id)["image_path"]))
    if not path.is_file():
        raise KeyError(image_id)
    return path


def thumbnail(catalog: Catalog, image_id: str, size: int, cache_dir: Path, limits: Any = None) -> bytes:
    """A JPEG of at most ``size`` x ``size`` pixels of a catalogued image, cached under ``cache_dir``."""
    from fashionlens.ingest.images import DEFAULT_LIMITS, open_rgb

    if size not in THUMBNAIL_SIZES:
        raise InvalidInputError(f"size must be one of {', '.join(map(str, THUMBNAIL_SIZES))}; got {size}")
    cached = cache_dir / "thumbnails" / f"{check_image_id(image_id)}_{size}.jpg"
    if cached.is_file():
        return cached.read_bytes()
    image = open_rgb(image_file(catalog, image_id), limits or DEFAULT_LIMITS)
    image.thumbnail((size, size))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    data = buf.getvalue()
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(cached.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(cached)
    return data
