"""Search the catalogue by image or text: one query (or a few) against one embedding space.

`Searcher` turns a query (an image file, a catalogued ``image_id``, or text for a backbone with a
text tower) into a vector and asks the table for the top-k with the filters pushed into the vector
query.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings
from fashionlens.core.types import SOURCES, SPLITS, Skipped
from fashionlens.jobs.index import ensure_search_index
from fashionlens.models.registry import resolve_model_id
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import (
    AnnConfig,
    SearchMode,
    distinct,
    query,
    sql_literal,
    table_status,
    top_k_cosine,
    where_clause,
)

logger = logging.getLogger(__name__)

TEXT_BACKBONE = "mobilenet_v2_minilm.products"
IMAGE_BACKBONE = "mobilenet_v2.imagenet"


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
        self._memory: tuple[pa.Table, np.ndarray] | None = None
        if getattr(catalog, "read_only", False) and table_status(catalog, self.model_id)[0] != "fresh":
            # a read-only home cannot hold a (new) search table: rank in memory, exactly
            from fashionlens.jobs.index import search_metadata, search_vectors

            ids, vectors, _ = search_vectors(catalog, settings, self.model_id)
            metadata = search_metadata(catalog, ids)
            keep = {i: n for n, i in enumerate(ids)}
            rows = [keep[i] for i in metadata.column("image_id").to_pylist()]
            self._memory = (metadata, vectors[rows])
            self.state = {"table_name": "", "ann_threshold": AnnConfig.threshold}
            self.notes = [
                f"{catalog.path} is read-only: searching the stored {self.model_id} vectors exactly"
            ]
        else:
            self.state, self.notes = ensure_search_index(catalog, settings, self.model_id, ann)
        # query with the threshold the table was built with, unless told otherwise
        threshold = self.state.get("ann_threshold") or AnnConfig.threshold
        self.ann = ann or AnnConfig(threshold=int(str(threshold)))
        self.table_name = str(self.state["table_name"])
        self._backbone: Any = None

    @property
    def backbone(self) -> Any:
        if self._backbone is None:
            from fashionlens.models import factory

            self._backbone = factory.backbone_for_model_id(self.settings, self.model_id)
        return self._backbone

    def _memory_query(self, vector: np.ndarray, k: int, filters: SearchFilters) -> tuple[pa.Table, str]:
        if self._memory is None:
            raise InvalidInputError("in-memory search without vectors")
        metadata, vectors = self._memory
        wanted = filters.as_dict()
        columns = {c: metadata.column(c).to_pylist() for c in wanted}
        rows = [i for i in range(metadata.num_rows) if all(columns[c][i] == v for c, v in wanted.items())]
        idx, scores = top_k_cosine(vectors[rows], vector, k) if rows else (np.zeros(0, int), np.zeros(0))
        hits = metadata.take([rows[i] for i in idx])
        return hits.append_column("score", pa.array(np.asarray(scores, dtype=np.float64))), "exact"

    def stored_vector(self, image_id: str) -> np.ndarray | None:
        if self._memory is not None:
            metadata, vectors = self._memory
            ids = metadata.column("image_id").to_pylist()
            return vectors[ids.index(image_id)] if image_id in ids else None
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
        if self._memory is not None:
            rows, method = self._memory_query(vector, k, filters)
        else:
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
            if self._memory is not None:
                meta = self._memory[0]
                cols = {c: meta.column(c).to_pylist() for c in (column, *others)}
                values = sorted(
                    {
                        cols[column][i]
                        for i in range(meta.num_rows)
                        if all(cols[c][i] == v for c, v in others.items()) and cols[column][i]
                    }
                )
            else:
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
        if vectors[0] is None:  # image_vectors raises for a bad query unless given a skip list
            raise InvalidInputError(f"{image}: no vector for this query")
        return self.search_vector(vectors[0], str(image), kinds[0], k, filters)

    def search_text(self, text: str, k: int = 10, filters: SearchFilters | None = None) -> SearchResult:
        return self.search_vector(self.text_vectors([text])[0], text, "text", k, filters)


def default_model(
    settings: Settings, *, text: bool, backbone: str | None = None, catalog: Catalog | None = None
) -> str:
    """``--backbone`` if given; else the text tower for text queries and the settings' backbone for
    images (with a catalogue: the space of that backbone already stored, see `factory.stored_space`)."""
    if backbone or text:
        return resolve_model_id(backbone or TEXT_BACKBONE)
    from fashionlens.models import factory

    if catalog is None:
        return factory.backbone_model_id(settings)
    return factory.stored_space(settings, catalog.embedding_models())
