"""Search the catalogue by image or text: search tables, filtered top-k, batches, heatmaps, quality.

`build_search_index` turns one embedding space into a search table (`fashionlens.store.search_table`):
the stored vectors plus ``source``, ``split``, ``category`` (predicted, else labelled), ``colour``
(catalogue colour group, else predicted), ``article_type`` and ``image_path``. A backbone that
projects another backbone's features (``mobilenet_v2_minilm.products``) gets its vectors from the
stored ``mobilenet_v2.imagenet`` ones through ``.project()``, without a CNN pass.

`Searcher` turns a query (an image file, a catalogued ``image_id``, or text for a backbone with a
text tower) into a vector and asks the table for the top-k with the filters pushed into the vector
query. `retrieval_precision` measures precision@k by articleType on the held-out products.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.labels import colour_group
from fashionlens.core.settings import Settings
from fashionlens.core.types import SOURCES, SPLITS, Skipped
from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import (
    AnnConfig,
    SearchMode,
    SearchTableInfo,
    distinct,
    query,
    read_state,
    sql_literal,
    where_clause,
    write_search_table,
)

logger = logging.getLogger(__name__)

TEXT_BACKBONE = "mobilenet_v2_minilm.products"
IMAGE_BACKBONE = "mobilenet_v2.imagenet"
CATEGORY_TASK = "category"
COLOUR_TASKS = ("attribute:baseColour", "colour")
TEXT_PREFIX = "text:"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

Progress = Callable[[int], None]


# -- building the search table ----------------------------------------------------------------
def resolve_model_id(name: str) -> str:
    """A registered backbone's canonical id; unregistered ids (stored vectors only) pass through."""
    from fashionlens.models.registry import get_spec

    try:
        return get_spec(name).name
    except InvalidInputError:
        return name


def projection_base(model_id: str) -> str | None:
    """The image backbone whose stored vectors ``model_id`` projects (None if it does not)."""
    from fashionlens.models.registry import get_spec

    try:
        base = get_spec(model_id).extra.get("image_backbone")
    except InvalidInputError:
        return None
    return str(base) if base else None


def search_vectors(
    catalog: Catalog, settings: Settings, model_id: str
) -> tuple[list[str], np.ndarray, list[str]]:
    """``(ids, vectors, source tables)`` of one embedding space, from its stored table and, for a
    projecting backbone, from the base backbone's stored vectors through ``.project()``."""
    ids: list[str] = []
    parts: list[np.ndarray] = []
    sources: list[str] = []
    if model_id in catalog.embedding_models():
        own = catalog.embeddings(model_id)
        ids, parts = list(own.ids), [own.vectors]
        sources.append(schemas.embeddings_table_name(model_id))
    base = projection_base(model_id)
    if base and base in catalog.embedding_models():
        from fashionlens.models.registry import create_backbone

        base_emb = catalog.embeddings(base)
        have = set(ids)
        todo = np.asarray([i not in have for i in base_emb.ids], dtype=bool)
        if todo.any():
            backbone = create_backbone(model_id, device=settings.device, weights_dir=settings.weights_dir)
            parts.append(backbone.project(base_emb.vectors[todo]))  # type: ignore[attr-defined]
            ids += [i for i, t in zip(base_emb.ids, todo, strict=True) if t]
        sources.append(schemas.embeddings_table_name(base))
    if not ids:
        how = f"it projects {base} vectors: " if base else ""
        raise NotReadyError(
            f"no embeddings for {model_id}; {how}run `fashionlens embed --backbone {base or model_id}`"
        )
    return ids, np.concatenate(parts).astype(np.float32), sources


def _first(rows: list[dict[str, Any]], prefer: Sequence[str]) -> dict[str, Any]:
    """One prediction per image: a classifier on ``prefer`` backbones first, then the most confident."""
    return sorted(rows, key=lambda r: (r["backbone_id"] not in prefer, -(r["confidence"] or 0.0)))[0]


def search_metadata(catalog: Catalog, ids: Sequence[str], prefer_backbones: Sequence[str] = ()) -> pa.Table:
    """The search table's metadata columns for ``ids`` (images without a catalogue row are dropped)."""
    images = {r["image_id"]: r for r in catalog.read("images").to_pylist()}
    labelled: dict[str, dict[str, str]] = {}
    for row in catalog.read("labels", columns=["image_id", "coarse_category", "attributes_json"]).to_pylist():
        out = labelled.setdefault(row["image_id"], {})
        if row["coarse_category"] and not out.get("category"):
            out["category"] = row["coarse_category"]
        attrs = json.loads(row["attributes_json"] or "{}")
        if isinstance(attrs, dict):
            if attrs.get("articleType") and not out.get("article_type"):
                out["article_type"] = str(attrs["articleType"])
            group = colour_group(str(attrs.get("baseColour") or ""))
            if group and not out.get("colour"):
                out["colour"] = group
    tasks = ", ".join(sql_literal(t) for t in (CATEGORY_TASK, *COLOUR_TASKS))
    predicted: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in catalog.read(
        "predictions",
        where=f"task IN ({tasks})",
        columns=["image_id", "task", "backbone_id", "label", "confidence"],
    ).to_pylist():
        kind = "category" if row["task"] == CATEGORY_TASK else "colour"
        predicted.setdefault((row["image_id"], kind), []).append(row)
    rows = []
    for image_id in ids:
        image = images.get(image_id)
        if image is None:
            continue
        label = labelled.get(image_id, {})
        cat_pred = predicted.get((image_id, "category"))
        col_pred = predicted.get((image_id, "colour"))
        category, category_from = label.get("category", ""), "label" if label.get("category") else ""
        if cat_pred:  # the category filter is the predicted one; the label fills in
            category, category_from = _first(cat_pred, prefer_backbones)["label"], "prediction"
        colour, colour_from = label.get("colour", ""), "label" if label.get("colour") else ""
        if not colour and col_pred:  # the catalogue's own colour wins; a prediction fills in
            colour, colour_from = _first(col_pred, prefer_backbones)["label"], "prediction"
        rows.append(
            {
                **{c: image.get(c) or "" for c in ("image_id", "content_hash", "source", "original_dataset")},
                "split": image.get("split") or "",
                "category": str(category).lower(),
                "category_from": category_from,
                "colour": str(colour).lower(),
                "colour_from": colour_from,
                "article_type": label.get("article_type", ""),
                "image_path": image.get("image_path") or "",
            }
        )
    return pa.Table.from_pylist(
        rows, schema=pa.schema([(c, pa.string()) for c in schemas.SEARCH_METADATA_COLUMNS])
    )


def _fingerprint(model_id: str, metadata: pa.Table, vectors: np.ndarray, ann: AnnConfig) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{model_id}|{ann.signature()}|{vectors.shape}".encode())
    for column in schemas.SEARCH_METADATA_COLUMNS:
        digest.update("\x1f".join(metadata.column(column).to_pylist()).encode())
    digest.update(np.ascontiguousarray(vectors).tobytes())
    return digest.hexdigest()


def _source_tables(vector_tables: Sequence[str]) -> list[str]:
    return [*vector_tables, "images", "labels", "predictions"]


def build_search_index(
    catalog: Catalog,
    settings: Settings,
    model_id: str | None = None,
    *,
    ann: AnnConfig | None = None,
    force: bool = False,
) -> SearchTableInfo:
    """Build or refresh ``search__<model>`` (default model: the settings' backbone). Idempotent:
    unchanged inputs write nothing; ``force`` rewrites the table and its index anyway."""
    ann = ann or AnnConfig()
    model_id = resolve_model_id(model_id or settings.backbone)
    ids, vectors, vector_tables = search_vectors(catalog, settings, model_id)
    versions = {t: catalog.version(t) for t in _source_tables(vector_tables)}
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    ids, vectors = [ids[i] for i in order], vectors[order]
    metadata = search_metadata(catalog, ids, [model_id, projection_base(model_id) or model_id])
    if metadata.num_rows < len(ids):
        keep = set(metadata.column("image_id").to_pylist())
        logger.warning("%d %s vectors have no catalogue image; left out", len(ids) - len(keep), model_id)
        mask = np.asarray([i in keep for i in ids], dtype=bool)
        vectors = vectors[mask]
    return write_search_table(
        catalog,
        model_id,
        metadata,
        vectors,
        fingerprint=_fingerprint(model_id, metadata, vectors, ann),
        source_versions=versions,
        ann=ann,
        force=force,
    )


def ensure_search_index(
    catalog: Catalog, settings: Settings, model_id: str, ann: AnnConfig | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The search table's state, building it when missing; plus notes (e.g. that it is stale)."""
    state = read_state(catalog, model_id)
    notes: list[str] = []
    if state is None:
        info = build_search_index(catalog, settings, model_id, ann=ann)
        notes.append(f"built the search index of {model_id} ({info.rows} images)")
        state = read_state(catalog, model_id)
        assert state is not None
        return state, notes
    built = json.loads(state["source_versions_json"] or "{}")
    changed = sorted(t for t, v in built.items() if catalog.version(t) != v)
    if changed:
        notes.append(
            f"the search index of {model_id} predates changes to {', '.join(changed)}; "
            f"refresh it with `fashionlens search index --backbone {model_id}`"
        )
    return state, notes


# -- queries ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchFilters:
    """Metadata filters, pushed into the vector query (exact values; category/colour lower-cased)."""

    source: str | None = None
    split: str | None = None
    category: str | None = None
    colour: str | None = None

    def __post_init__(self) -> None:
        if self.source and self.source not in SOURCES:
            raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {self.source!r}")
        if self.split and self.split not in SPLITS:
            raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {self.split!r}")

    def as_dict(self) -> dict[str, str]:
        values = {
            "source": self.source,
            "split": self.split,
            "category": self.category,
            "colour": self.colour,
        }
        return {k: (v.strip().lower() if k in ("category", "colour") else v) for k, v in values.items() if v}

    def where(self) -> str | None:
        return where_clause(self.as_dict())

    def describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) or "no filters"


@dataclass(frozen=True)
class SearchHit:
    rank: int
    image_id: str
    score: float  # cosine similarity
    image_path: str
    source: str
    split: str
    category: str
    colour: str
    article_type: str


@dataclass
class SearchResult:
    query: str
    query_kind: str  # image | image_id | text
    model_id: str
    filters: SearchFilters
    hits: list[SearchHit]
    method: str  # exact | ann
    seconds: float
    notes: list[str] = field(default_factory=list)


class Searcher:
    """Queries against one embedding space; the backbone loads only when a query needs it."""

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        model_id: str,
        *,
        ann: AnnConfig | None = None,
        mode: SearchMode = "auto",
    ) -> None:
        self.catalog, self.settings, self.mode = catalog, settings, mode
        self.model_id = resolve_model_id(model_id)
        self.state, self.notes = ensure_search_index(catalog, settings, self.model_id, ann)
        # query with the threshold the table was built with, unless told otherwise
        self.ann = ann or AnnConfig(threshold=int(self.state.get("ann_threshold") or AnnConfig.threshold))
        self.table_name = str(self.state["table_name"])
        self._backbone: Any = None

    @property
    def backbone(self) -> Any:
        if self._backbone is None:
            from fashionlens.models.registry import create_backbone

            s = self.settings
            self._backbone = create_backbone(
                self.model_id, device=s.device, weights_dir=s.weights_dir, runtime=s.runtime
            )
        return self._backbone

    def stored_vector(self, image_id: str) -> np.ndarray | None:
        table = self.catalog.read(
            self.table_name, where=f"image_id = {sql_literal(image_id)}", columns=["vector"]
        )
        if table.num_rows == 0:
            return None
        return np.asarray(table.column("vector")[0].as_py(), dtype=np.float32)

    def image_vectors(
        self, images: Sequence[str | Path], skipped: list[Skipped] | None = None
    ) -> tuple[list[np.ndarray | None], list[str]]:
        """Vectors of image files or catalogued image ids (files embedded in batches), and each
        one's kind. A query that is neither raises `InvalidInputError` naming it, or, given a
        ``skipped`` list, is listed there and gets ``None``."""
        from fashionlens.ingest.images import open_rgb

        out: list[np.ndarray | None] = []
        kinds: list[str] = []
        files: list[tuple[int, Any]] = []
        for item in images:
            out.append(None)
            kinds.append("image")
            try:
                if Path(item).expanduser().is_file():
                    files.append((len(out) - 1, open_rgb(Path(item).expanduser())))
                    continue
                vector = self.stored_vector(str(item))
                if vector is None:
                    raise InvalidInputError(
                        f"{item}: file not found, and no image in the {self.model_id} "
                        "search index has that id"
                    )
                out[-1], kinds[-1] = vector, "image_id"
            except InvalidInputError as exc:
                if skipped is None:
                    raise
                skipped.append(Skipped(str(item), str(exc).removeprefix(f"{item}: ")))
        for start in range(0, len(files), self.settings.batch_size):
            chunk = files[start : start + self.settings.batch_size]
            vectors = self.backbone.embed([im for _, im in chunk])
            for (i, _), v in zip(chunk, vectors, strict=True):
                out[i] = v
        return out, kinds

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        from fashionlens.models.registry import get_spec

        if not get_spec(self.model_id).has_text:
            raise InvalidInputError(
                f"backbone {self.model_id} has no text tower; search text with `--backbone {TEXT_BACKBONE}`"
            )
        if any(not t.strip() for t in texts):
            raise InvalidInputError("text query is empty")
        return np.asarray(self.backbone.embed_text(list(texts)), dtype=np.float32)

    def search_vector(
        self,
        vector: np.ndarray,
        query_text: str,
        kind: str,
        k: int = 10,
        filters: SearchFilters | None = None,
    ) -> SearchResult:
        filters = filters or SearchFilters()
        start = time.perf_counter()
        rows, method = query(
            self.catalog, self.model_id, vector, k, filters.where(), mode=self.mode, ann=self.ann
        )
        hits = [
            SearchHit(
                rank,
                r["image_id"],
                round(float(r["score"]), 6),
                r["image_path"],
                r["source"],
                r["split"],
                r["category"],
                r["colour"],
                r["article_type"],
            )
            for rank, r in enumerate(rows.to_pylist(), start=1)
        ]
        result = SearchResult(
            query_text, kind, self.model_id, filters, hits, method, time.perf_counter() - start
        )
        if not hits:
            result.notes.append(self.no_match_message(filters))
        return result

    def no_match_message(self, filters: SearchFilters) -> str:
        """Which values each filtered column has among the rows that pass the *other* filters."""
        wanted = filters.as_dict()
        present = []
        for column in wanted:
            others = {c: v for c, v in wanted.items() if c != column}
            values = distinct(self.catalog, self.model_id, column, where_clause(others))
            scope = f" where {', '.join(f'{c}={v}' for c, v in others.items())}" if others else ""
            present.append(f"{column} values{scope}: {', '.join(values) or 'none'}")
        return (
            f"no image in the {self.model_id} search index matches {filters.describe()} "
            f"({'; '.join(present)})"
        )

    def search_image(
        self, image: str | Path, k: int = 10, filters: SearchFilters | None = None
    ) -> SearchResult:
        vectors, kinds = self.image_vectors([image])
        assert vectors[0] is not None
        return self.search_vector(vectors[0], str(image), kinds[0], k, filters)

    def search_text(self, text: str, k: int = 10, filters: SearchFilters | None = None) -> SearchResult:
        return self.search_vector(self.text_vectors([text])[0], text, "text", k, filters)


def default_model(settings: Settings, *, text: bool, backbone: str | None = None) -> str:
    """``--backbone`` if given; else the text tower for text queries and the settings' backbone for images."""
    if backbone or text:
        return resolve_model_id(backbone or TEXT_BACKBONE)
    from fashionlens.models.registry import stored_model_id

    return stored_model_id(settings.backbone, settings.runtime, weights_dir=settings.weights_dir)


# -- batches ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Query:
    text: str
    kind: str  # image | text (image files or catalogued image ids are both "image" here)


def read_queries(path: Path) -> list[Query]:
    """Queries from a folder (every image file in it, recursively, sorted) or a list file: one per
    line, an image path (relative to the list file or absolute), an ``image_id``, or ``text: ...``;
    empty lines and lines starting with ``#`` are ignored."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InvalidInputError(f"{path}: no image files in this folder")
        return [Query(str(p), "image") for p in files]
    if not path.is_file():
        raise InvalidInputError(f"{path}: no such folder or query list file")
    queries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower().startswith(TEXT_PREFIX):
            queries.append(Query(line[len(TEXT_PREFIX) :].strip(), "text"))
            continue
        candidate = Path(line).expanduser()
        if not candidate.is_absolute() and (path.parent / candidate).is_file():
            candidate = path.parent / candidate
        queries.append(Query(str(candidate) if candidate.is_file() else line, "image"))
    if not queries:
        raise InvalidInputError(f"{path}: no queries in this file")
    return queries


@dataclass
class BatchReport:
    results: list[SearchResult]
    skipped: list[Skipped]
    seconds: float

    def rows(self) -> list[dict[str, Any]]:
        """One row per hit: ``query, rank, image_id, score, path`` then the hit's metadata."""
        return [
            {
                "query": r.query,
                "rank": h.rank,
                "image_id": h.image_id,
                "score": h.score,
                "path": h.image_path,
                "query_kind": r.query_kind,
                "source": h.source,
                "split": h.split,
                "category": h.category,
                "colour": h.colour,
                "article_type": h.article_type,
            }
            for r in self.results
            for h in r.hits
        ]


def search_batch(
    searcher: Searcher,
    queries: Sequence[Query],
    *,
    k: int = 10,
    filters: SearchFilters | None = None,
    skip_failures: bool = True,
    progress: Progress | None = None,
) -> BatchReport:
    """Run every query; a query that fails (missing file, not an image) is skipped and listed."""
    start = time.perf_counter()
    report = BatchReport([], [], 0.0)
    skipped = report.skipped if skip_failures else None
    size = searcher.settings.batch_size
    for offset in range(0, len(queries), size):
        chunk = queries[offset : offset + size]
        images = [q for q in chunk if q.kind != "text"]
        vectors, kinds = searcher.image_vectors([q.text for q in images], skipped)
        by_query = {id(q): (v, kind) for q, v, kind in zip(images, vectors, kinds, strict=True)}
        for q in chunk:
            if q.kind == "text":
                try:
                    report.results.append(searcher.search_text(q.text, k, filters))
                except InvalidInputError as exc:
                    if skipped is None:
                        raise
                    skipped.append(Skipped(q.text, str(exc)))
                continue
            vector, kind = by_query[id(q)]
            if vector is not None:
                report.results.append(searcher.search_vector(vector, q.text, kind, k, filters))
        if progress:
            progress(len(chunk))
    report.seconds = time.perf_counter() - start
    return report


def write_results(report: BatchReport, out: Path) -> Path:
    """Write the hits of a batch to ``.csv`` or ``.parquet``."""
    from fashionlens.store.catalog import write_table

    types = {"rank": pa.int32(), "score": pa.float64()}
    columns = ["query", "rank", "image_id", "score", "path", "query_kind", "source", "split", "category",
               "colour", "article_type"]  # fmt: skip
    schema = pa.schema([(c, types.get(c, pa.string())) for c in columns])
    table = pa.Table.from_pylist(report.rows(), schema=schema)
    return write_table(table, out)


def save_results(catalog: Catalog, report: BatchReport) -> int:
    """Upsert the hits into the ``search_results`` table (key: model, query, rank)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rows = [
        {
            "result_key": f"{r.model_id}|{r.query}|{h.rank}",
            "query": r.query,
            "query_kind": r.query_kind,
            "model_id": r.model_id,
            "rank": h.rank,
            "image_id": h.image_id,
            "score": h.score,
            "image_path": h.image_path,
            "filters": r.filters.describe(),
            "searched_at": now,
        }
        for r in report.results
        for h in r.hits
    ]
    catalog.upsert("search_results", pa.Table.from_pylist(rows, schema=schemas.SEARCH_RESULTS), "result_key")
    return len(rows)
