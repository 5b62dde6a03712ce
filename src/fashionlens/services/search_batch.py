"""Many queries at once: read them from a folder or a list file, run them, write the hits."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.types import Skipped
from fashionlens.ingest.images import IMAGE_EXTENSIONS
from fashionlens.services.search import Searcher, SearchFilters, SearchResult
from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog

logger = logging.getLogger(__name__)


TEXT_PREFIX = "text:"


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
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
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
    progress: Progress = NO_PROGRESS,
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
        progress.advance(len(chunk))
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
