"""Search tables: one per embedding space, the vector beside the metadata that filters need.

A search table (``search__<model>``, schema `schemas.search_schema`) is a denormalised copy of one
embeddings table joined with the images, labels and predictions it refers to, so that one LanceDB
vector query can filter on ``source``, ``split``, ``category`` and ``colour`` *before* ranking
(``where(..., prefilter=True)``). Small tables are searched exactly (brute force); from
`AnnConfig.threshold` rows an ANN index is built on ``vector`` (and bitmap indexes on the filter
columns), and queries whose filter still leaves that many rows use it.

What was built from which inputs is kept in the ``search_state`` table: the content fingerprint
(re-running a build with the same inputs writes nothing) and the versions of the source tables
(a cheap staleness check for queries).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.store import filters, schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.guard import guard

logger = logging.getLogger(__name__)

ANN_INDEX_TYPES = ("IVF_HNSW_SQ", "IVF_PQ")
FILTER_COLUMNS = ("source", "split", "category", "colour")
SearchMode = Literal["auto", "exact", "ann"]
TableStatus = Literal["missing", "stale", "fresh"]


@dataclass(frozen=True)
class AnnConfig:
    """When to build an ANN index and how to query it.

    ``threshold``: a table with at least this many rows gets an index, and a query whose filter
    leaves at least this many rows uses it; below it, search is exact. ``IVF_HNSW_SQ`` (HNSW graph,
    8-bit scalar-quantised vectors) queries with ``ef`` candidates; ``IVF_PQ`` (product
    quantisation) probes ``nprobes`` partitions. Either re-ranks ``refine_factor * k`` candidates
    with the full-precision vectors.
    """

    threshold: int = 5_000
    index_type: str = "IVF_HNSW_SQ"
    num_partitions: int | None = None  # None: from the row count
    ef: int = 200
    nprobes: int = 32
    refine_factor: int | None = 10

    def __post_init__(self) -> None:
        if self.index_type not in ANN_INDEX_TYPES:
            raise InvalidInputError(
                f"ANN index type must be one of {', '.join(ANN_INDEX_TYPES)}; got {self.index_type!r}"
            )
        if self.threshold < 1:
            raise InvalidInputError(f"ANN threshold must be >= 1 row; got {self.threshold}")
        if self.ef < 1 or self.nprobes < 1 or (self.refine_factor is not None and self.refine_factor < 1):
            raise InvalidInputError(
                f"ef, nprobes and refine_factor must be >= 1; got {self.ef}, {self.nprobes}, "
                f"{self.refine_factor}"
            )

    def signature(self) -> str:
        """What decides the index that gets built (query-time knobs are not part of it)."""
        return f"{self.index_type}:{self.threshold}:{self.num_partitions}"

    def partitions(self, rows: int) -> int:
        if self.num_partitions:
            return self.num_partitions
        if self.index_type == "IVF_PQ":
            return max(1, min(1024, round(rows**0.5)))
        return max(1, rows // 100_000)  # HNSW: one graph per ~100k rows


@dataclass(frozen=True)
class SearchTableInfo:
    model_id: str
    table_name: str
    rows: int
    ann_index: str  # "" when the table is searched exactly
    fingerprint: str
    written: bool  # False when the inputs had not changed since the last build
    seconds: float = 0.0


def vector_column(vectors: np.ndarray) -> pa.FixedSizeListArray:
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1), pa.float32()), vectors.shape[1])


def read_state(catalog: Catalog, model_id: str) -> dict[str, Any] | None:
    """The ``search_state`` row of ``model_id``, or None if its table was never built."""
    rows = catalog.read("search_state", where=filters.eq("model_id", model_id)).to_pylist()
    if not rows or rows[0]["table_name"] not in catalog.table_names():
        return None
    return dict(rows[0])


def write_search_table(
    catalog: Catalog,
    model_id: str,
    metadata: pa.Table,
    vectors: np.ndarray,
    *,
    fingerprint: str,
    source_versions: Mapping[str, int],
    ann: AnnConfig,
    force: bool = False,
) -> SearchTableInfo:
    """Replace ``search__<model>`` with ``metadata`` + ``vectors`` unless ``fingerprint`` (the inputs
    and ``ann.signature()``) matches the last build; build the ANN index when it is large enough."""
    start = time.perf_counter()
    name = schemas.search_table_name(model_id)
    if metadata.num_rows != len(vectors):
        raise InvalidInputError(f"expected {metadata.num_rows} vectors for {name}; got {len(vectors)}")
    if metadata.num_rows == 0:
        raise NotReadyError(f"no {model_id} vectors to index; run `fashionlens embed` first")
    state = read_state(catalog, model_id)
    if state and state["fingerprint"] == fingerprint and not force:
        rows_before, index_before = int(state["rows"]), str(state["ann_index"])
        _save_state(catalog, model_id, name, fingerprint, rows_before, index_before, source_versions, ann)
        logger.info("%s is up to date (%d rows)", name, rows_before)
        return SearchTableInfo(model_id, name, rows_before, index_before, fingerprint, False)
    dim = int(vectors.shape[1])
    schema = schemas.search_schema(dim, model_id, fingerprint)
    columns = {c: metadata.column(c).cast(pa.string()).fill_null("") for c in schemas.SEARCH_METADATA_COLUMNS}
    rows = pa.table({**columns, "vector": vector_column(vectors)}, schema=schema)
    ann_index = ""
    with catalog.writing(name):  # the rows and their index are written by one process
        table = catalog.replace_table(name, rows)
        if rows.num_rows >= ann.threshold:
            with guard(catalog.path, name, "index"):
                ann_index = _build_ann(table, rows.num_rows, dim, ann)
    _save_state(catalog, model_id, name, fingerprint, rows.num_rows, ann_index, source_versions, ann)
    seconds = time.perf_counter() - start
    logger.info("wrote %s: %d rows, %s, in %.1fs", name, rows.num_rows, ann_index or "exact search", seconds)
    return SearchTableInfo(model_id, name, rows.num_rows, ann_index, fingerprint, True, seconds)


def _build_ann(table: Any, rows: int, dim: int, ann: AnnConfig) -> str:
    from lancedb.index import Bitmap, HnswSq, IvfPq

    partitions = ann.partitions(rows)
    config: Any
    if ann.index_type == "IVF_PQ":
        sub_vectors = next(s for s in (dim // 8, dim // 16, dim // 4, 1) if s and dim % s == 0)
        config = IvfPq(distance_type="cosine", num_partitions=partitions, num_sub_vectors=sub_vectors)
    else:
        config = HnswSq(distance_type="cosine", num_partitions=partitions)
    table.create_index("vector", config=config, replace=True)
    for column in FILTER_COLUMNS:  # prefilters read these; bitmaps suit their few distinct values
        table.create_index(column, config=Bitmap(), replace=True)
    return f"{ann.index_type}(partitions={partitions})"


def _save_state(
    catalog: Catalog,
    model_id: str,
    name: str,
    fingerprint: str,
    rows: int,
    ann_index: str,
    source_versions: Mapping[str, int],
    ann: AnnConfig,
) -> None:
    row = {
        "model_id": model_id,
        "table_name": name,
        "fingerprint": fingerprint,
        "rows": int(rows),
        "ann_index": ann_index,
        "ann_threshold": ann.threshold,
        "source_versions_json": json.dumps(dict(source_versions), sort_keys=True),
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    table = pa.Table.from_pylist([row], schema=schemas.SEARCH_STATE)
    if "search_state" in catalog.table_names():
        stored = catalog.open_table("search_state").schema
        if stored.names != schemas.SEARCH_STATE.names:  # written by an older version: start afresh
            logger.info("search_state has an older schema; replacing it (other tables rebuild on use)")
            catalog.replace_table("search_state", table)
            return
    catalog.upsert("search_state", table, "model_id")


def sql_literal(value: str) -> str:
    """A SQL string literal (single quotes doubled, NUL refused): `filters.literal` of ``str(value)``."""
    return filters.literal(str(value))


def where_clause(filters_: Mapping[str, str | Sequence[str] | None]) -> str | None:
    """``{"source": "street", "colour": ["red", "pink"]}`` -> ``source = 'street' AND colour IN (...)``.

    Only the search table's metadata columns can be filtered; empty values are ignored. Values are
    rendered by `fashionlens.store.filters` (never pasted into the SQL).
    """
    parts = []
    for column, value in filters_.items():
        if column not in schemas.SEARCH_METADATA_COLUMNS:
            raise InvalidInputError(
                f"cannot filter on {column!r}; filterable: {', '.join(schemas.SEARCH_METADATA_COLUMNS)}"
            )
        if value is None or value == "" or (not isinstance(value, str) and not list(value)):
            continue
        if isinstance(value, str):
            parts.append(filters.eq(column, value))
        else:
            parts.append(filters.isin(column, [str(v) for v in value]))
    return " AND ".join(parts) or None


def has_ann_index(table: Any) -> bool:
    return any("vector" in list(getattr(ix, "columns", [])) for ix in table.list_indices())


def query(
    catalog: Catalog,
    model_id: str,
    vector: np.ndarray,
    k: int = 10,
    where: str | None = None,
    *,
    mode: SearchMode = "auto",
    ann: AnnConfig | None = None,
    columns: Sequence[str] = schemas.SEARCH_METADATA_COLUMNS,
) -> tuple[pa.Table, str]:
    """Top-``k`` rows of ``search__<model>`` by cosine similarity to ``vector``, the filter applied
    before ranking. Returns the rows (``columns`` + ``score`` = cosine similarity, best first) and
    the method used: ``"exact"`` or ``"ann"``.

    ``mode="auto"`` uses the ANN index when there is one and the filter leaves at least
    ``ann.threshold`` rows; otherwise it ranks every (filtered) row exactly. ``mode="ann"`` uses
    the index whenever there is one.
    """
    if k < 1:
        raise InvalidInputError(f"k must be >= 1; got {k}")
    ann = ann or AnnConfig()
    name = schemas.search_table_name(model_id)
    table = catalog.open_table(name)
    with guard(catalog.path, name, "search", where):
        return _query(table, model_id, vector, k, where, mode, ann, columns)


def _query(
    table: Any,
    model_id: str,
    vector: np.ndarray,
    k: int,
    where: str | None,
    mode: SearchMode,
    ann: AnnConfig,
    columns: Sequence[str],
) -> tuple[pa.Table, str]:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    dim = table.schema.field("vector").type.list_size
    if vector.shape[0] != dim:
        raise InvalidInputError(f"query vector is {vector.shape[0]}-d; {model_id} vectors are {dim}-d")
    use_ann = mode != "exact" and has_ann_index(table)
    if use_ann and mode == "auto":
        use_ann = (table.count_rows(where) if where else table.count_rows()) >= ann.threshold
    builder = table.search(vector, vector_column_name="vector").distance_type("cosine").limit(k)
    if where:
        builder = builder.where(where, prefilter=True)
    if use_ann:
        builder = builder.ef(ann.ef).nprobes(ann.nprobes)
        if ann.refine_factor:
            builder = builder.refine_factor(ann.refine_factor)
    else:
        builder = builder.bypass_vector_index()
    result = builder.select([*columns, "_distance"]).to_arrow()
    score = pa.array(1.0 - result.column("_distance").to_numpy(zero_copy_only=False), pa.float32())
    result = result.drop_columns(["_distance"]).append_column("score", score)
    return result, "ann" if use_ann else "exact"


def distinct(catalog: Catalog, model_id: str, column: str, where: str | None = None) -> list[str]:
    """The distinct non-empty values of one metadata column (among rows matching ``where``)."""
    name = schemas.search_table_name(model_id)
    values = catalog.read(name, where=where, columns=[column]).column(column).to_pylist()
    return sorted({v for v in values if v})


# -- read-only search -----------------------------------------------------------------------
def stale_sources(catalog: Catalog, state: Mapping[str, Any]) -> list[str]:
    """The source tables that changed since the search table of ``state`` was built."""
    built = json.loads(state.get("source_versions_json") or "{}")
    return sorted(t for t, v in built.items() if catalog.version(t) != int(v))


def table_status(catalog: Catalog, model_id: str) -> tuple[TableStatus, list[str]]:
    """``("missing", [])``, ``("stale", changed source tables)`` or ``("fresh", [])`` for the search
    table of ``model_id``. Reads only."""
    state = read_state(catalog, model_id)
    if state is None:
        return "missing", []
    changed = stale_sources(catalog, state)
    return ("stale", changed) if changed else ("fresh", [])


def top_k_cosine(vectors: np.ndarray, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, cosine similarities)`` of the ``k`` rows of ``vectors`` closest to ``vector``,
    best first (ties: the lower index first)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    if vectors.ndim != 2 or vectors.shape[1] != query_vector.shape[0]:
        got = vectors.shape[1:] if vectors.ndim == 2 else "not a matrix"
        raise InvalidInputError(f"query vector is {query_vector.shape[0]}-d; the vectors are {got}")
    norms = np.linalg.norm(vectors, axis=1) * max(float(np.linalg.norm(query_vector)), 1e-12)
    scores = (vectors @ query_vector) / np.maximum(norms, 1e-12)
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    order = np.lexsort((np.arange(len(scores)), -scores))[:k]
    return order.astype(np.int64), scores[order].astype(np.float32)


def exact_query(
    catalog: Catalog,
    table: str,
    vector: np.ndarray,
    k: int = 10,
    where: str | None = None,
    *,
    ids: Iterable[str] | None = None,
    columns: Sequence[str] | None = None,
    batch_rows: int = 65_536,
) -> pa.Table:
    """Top-``k`` rows of ``table`` (any table with a ``vector`` column, e.g. an embeddings table)
    by cosine similarity to ``vector``, ranked here by brute force. Reads only (no index, no search
    table, nothing written): the search of a read-only home, or of a stale or missing search table.

    ``where`` filters the table's own columns before ranking; ``ids`` keeps only rows whose
    ``image_id`` is among them (e.g. those whose catalogue metadata passed the search filters).
    Returns ``columns`` (default: every column but ``vector``) + ``score``, best first. Memory is
    bounded by ``batch_rows`` rows at a time plus ``k`` candidates.
    """
    if k < 1:
        raise InvalidInputError(f"k must be >= 1; got {k}")
    lance_table = catalog.open_table(table)
    schema = lance_table.schema
    if "vector" not in schema.names:
        raise InvalidInputError(f"table {table} has no vector column")
    dim = schema.field("vector").type.list_size
    query_vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query_vector.shape[0] != dim:
        raise InvalidInputError(f"query vector is {query_vector.shape[0]}-d; {table} vectors are {dim}-d")
    keep = [c for c in (columns or [n for n in schema.names if n != "vector"]) if c != "vector"]
    wanted = set(ids) if ids is not None else None
    if wanted is not None and "image_id" not in schema.names:
        raise InvalidInputError(f"table {table} has no image_id column to keep ids by")
    read = list(dict.fromkeys([*keep, "vector", *(["image_id"] if wanted is not None else [])]))
    best: pa.Table | None = None
    with guard(catalog.path, table, "search", where):
        query = lance_table.search()
        if where:
            query = query.where(where)
        for batch in query.select(read).limit(None).to_batches(batch_rows):
            part = pa.Table.from_batches([batch])
            if wanted is not None:
                mask = np.asarray([i in wanted for i in part.column("image_id").to_pylist()], dtype=bool)
                part = part.filter(pa.array(mask))
            if part.num_rows == 0:
                continue
            flat = part.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            index, score = top_k_cosine(np.asarray(flat, np.float32).reshape(-1, dim), query_vector, k)
            chosen = part.select(keep).take(pa.array(index)).append_column("score", pa.array(score))
            merged = chosen if best is None else pa.concat_tables([best, chosen])
            order = np.lexsort((np.arange(merged.num_rows), -merged.column("score").to_numpy()))[:k]
            best = merged.take(pa.array(order))
    if best is None:
        out_schema = pa.schema([*(schema.field(c) for c in keep), pa.field("score", pa.float32())])
        return out_schema.empty_table()
    return best
