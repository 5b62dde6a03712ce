"""`Catalog`: the images, annotations, labels, embeddings and predictions of one FASHIONLENS_HOME.

Backed by LanceDB (Arrow/Lance tables, versioned commits, no server). Every write is an upsert on
the table's key, so re-running an ingest or an embedding job is idempotent, and a write that fails
leaves the previous table version intact.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import InvalidInputError, NotReadyError, require
from fashionlens.core.types import Embeddings, ImageLabel, ImageRecord, IngestResult, ObjectAnnotation
from fashionlens.store import schemas

logger = logging.getLogger(__name__)

TABLES = {
    "images": (schemas.IMAGES, "image_id"),
    "annotations": (schemas.ANNOTATIONS, "annotation_key"),
    "labels": (schemas.LABELS, "label_key"),
    "predictions": (schemas.PREDICTIONS, "prediction_key"),
    "search_state": (schemas.SEARCH_STATE, "model_id"),
    "search_results": (schemas.SEARCH_RESULTS, "result_key"),
    "people": (schemas.PEOPLE, "person_key"),
    "garments": (schemas.GARMENTS, "garment_key"),
    "segment_status": (schemas.SEGMENT_STATUS, "status_key"),
}


@dataclass(frozen=True)
class Prediction:
    image_id: str
    task: str
    classifier_id: str
    backbone_id: str
    label: str
    confidence: float
    scores: dict[str, float]


@dataclass(frozen=True)
class WriteCounts:
    images: int
    annotations: int
    labels: int
    new_images: int


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Catalog:
    """The embedded database at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        lancedb = require("lancedb")
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = lancedb.connect(str(self.path))

    # -- tables -----------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        return sorted(self._db.list_tables().tables)

    def _table(self, name: str, schema: pa.Schema | None = None):
        if name in self.table_names():
            return self._db.open_table(name)
        if schema is None:
            schema = TABLES[name][0] if name in TABLES else None
        if schema is None:
            raise NotReadyError(f"table {name!r} does not exist yet in {self.path}")
        return self._db.create_table(name, schema=schema, exist_ok=True)

    def _upsert(self, name: str, rows: pa.Table, key: str) -> None:
        if rows.num_rows == 0:
            return
        # one row per key within a batch (last wins), as merge_insert requires
        keys = rows.column(key).to_pylist()
        last = {k: i for i, k in enumerate(keys)}
        if len(last) != len(keys):
            rows = rows.take(sorted(last.values()))
        table = self._table(name, rows.schema)
        table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all().execute(rows)

    def read(self, name: str, where: str | None = None, columns: Sequence[str] | None = None) -> pa.Table:
        """Read a table (optionally filtered with a SQL ``where``) as Arrow."""
        if name not in self.table_names():
            if name in TABLES:
                return TABLES[name][0].empty_table()
            raise NotReadyError(
                f"table {name!r} does not exist yet in {self.path}; known: {self.table_names()}"
            )
        table = self._db.open_table(name)
        if where is None and columns is None:
            return table.to_arrow()
        query = table.search()
        if where:
            query = query.where(where)
        if columns:
            query = query.select(list(columns))
        return query.limit(None).to_arrow()

    def count(self, name: str) -> int:
        return self._db.open_table(name).count_rows() if name in self.table_names() else 0

    def open_table(self, name: str):
        """The LanceDB table ``name`` (for queries the methods here do not cover)."""
        if name not in self.table_names():
            raise NotReadyError(f"table {name!r} does not exist yet in {self.path}")
        return self._db.open_table(name)

    def version(self, name: str) -> int:
        """The table's current LanceDB version (every commit bumps it); 0 when it does not exist."""
        return int(self._db.open_table(name).version) if name in self.table_names() else 0

    def replace_table(self, name: str, rows: pa.Table):
        """Write ``rows`` as the new content of ``name`` (one commit; older versions stay readable)."""
        return self._db.create_table(name, rows, schema=rows.schema, mode="overwrite")

    def upsert(self, name: str, rows: pa.Table, key: str) -> None:
        """Upsert Arrow ``rows`` on ``key`` (the table is created with their schema if missing)."""
        self._upsert(name, rows, key)

    # -- ingest -----------------------------------------------------------------------------
    def add_ingest(self, result: IngestResult) -> WriteCounts:
        """Upsert what a reader produced. Returns how many rows were written and how many images are new."""
        known = self.image_ids()
        self.upsert_images(result.images)
        self.upsert_annotations(result.annotations)
        self.upsert_labels(result.labels)
        new = len({r.image_id for r in result.images} - known)
        return WriteCounts(len(result.images), len(result.annotations), len(result.labels), new)

    def image_ids(self) -> set[str]:
        return set(self.read("images", columns=["image_id"]).column("image_id").to_pylist())

    def upsert_images(self, records: Iterable[ImageRecord]) -> None:
        rows = [asdict(r) for r in records]
        self._upsert("images", pa.Table.from_pylist(rows, schema=schemas.IMAGES), "image_id")

    def upsert_annotations(self, annotations: Iterable[ObjectAnnotation]) -> None:
        rows = []
        per_image: dict[tuple[str, str], int] = {}
        for a in annotations:
            n = per_image.get((a.dataset, a.image_id), 0)
            per_image[(a.dataset, a.image_id)] = n + 1
            rows.append(
                {
                    "annotation_key": f"{a.dataset}:{a.image_id}:{n}",
                    "image_id": a.image_id,
                    "dataset": a.dataset,
                    "category": a.category,
                    "bbox_xyxy": [float(v) for v in a.bbox_xyxy],
                    "area": float(a.area),
                    "segmentation_json": _json(a.segmentation),
                    "attributes_json": _json(a.attributes),
                }
            )
        self._upsert("annotations", pa.Table.from_pylist(rows, schema=schemas.ANNOTATIONS), "annotation_key")

    def upsert_labels(self, labels: Iterable[ImageLabel]) -> None:
        rows = [
            {
                "label_key": f"{lab.label_source}:{lab.image_id}",
                "image_id": lab.image_id,
                "image_filename": lab.image_filename,
                "label_source": lab.label_source,
                "modanet_categories": "|".join(lab.modanet_categories),
                "coarse_category": lab.coarse_category,
                "attributes_json": _json(lab.attributes),
            }
            for lab in labels
        ]
        self._upsert("labels", pa.Table.from_pylist(rows, schema=schemas.LABELS), "label_key")

    # -- embeddings -------------------------------------------------------------------------
    def embedded_hashes(self, model_id: str) -> set[str]:
        """Content hashes already embedded by ``model_id`` (what an idempotent re-run skips)."""
        name = schemas.embeddings_table_name(model_id)
        if name not in self.table_names():
            return set()
        return set(self.read(name, columns=["content_hash"]).column("content_hash").to_pylist())

    def add_embeddings(
        self, embeddings: Embeddings, content_hashes: Sequence[str], table: str | None = None
    ) -> None:
        """Upsert vectors into their model's table (``table``: another table of that one space,
        e.g. `schemas.garment_embeddings_table_name`; ids are then the rows' keys)."""
        if len(content_hashes) != len(embeddings):
            raise InvalidInputError(f"expected {len(embeddings)} content hashes; got {len(content_hashes)}")
        if len(embeddings) == 0:
            return
        name = table or schemas.embeddings_table_name(embeddings.model_id)
        schema = schemas.embeddings_schema(embeddings.dim, embeddings.model_id)
        if name in self.table_names():
            stored = self._db.open_table(name).schema
            stored_model = (stored.metadata or {}).get(b"model_id", b"").decode()
            if (
                stored.field("vector").type != schema.field("vector").type
                or stored_model != embeddings.model_id
            ):
                raise InvalidInputError(
                    f"table {name} holds {stored_model} vectors of type {stored.field('vector').type}; "
                    f"refusing to mix in {embeddings.model_id} ({embeddings.dim}-d)"
                )
        rows = pa.table(
            {
                "image_id": pa.array(embeddings.ids, pa.string()),
                "content_hash": pa.array(list(content_hashes), pa.string()),
                "model_id": pa.array([embeddings.model_id] * len(embeddings), pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(embeddings.vectors.reshape(-1), pa.float32()), embeddings.dim
                ),
            },
            schema=schema,
        )
        self._upsert(name, rows, "image_id")

    def compact(self, name: str) -> None:
        """Merge the small fragments that batch-by-batch commits leave (keeps the version history)."""
        if name in self.table_names():
            self._db.open_table(name).optimize()

    def embedding_models(self) -> list[str]:
        out = []
        for name in self.table_names():
            if name.startswith("embeddings__"):
                meta = self._db.open_table(name).schema.metadata or {}
                out.append(meta.get(b"model_id", name.encode()).decode())
        return out

    def embeddings(self, model_id: str, image_ids: Sequence[str] | None = None) -> Embeddings:
        """All vectors of ``model_id`` (sorted by image_id), or those of ``image_ids`` in that order."""
        name = schemas.embeddings_table_name(model_id)
        if name not in self.table_names():
            raise NotReadyError(
                f"no embeddings for model {model_id!r}; run `fashionlens embed --backbone {model_id}`"
            )
        table = self.read(name, columns=["image_id", "vector"])
        ids = table.column("image_id").to_pylist()
        dim = table.schema.field("vector").type.list_size
        vectors = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(ids), dim)
        if image_ids is None:
            order = np.argsort(np.asarray(ids, dtype=object), kind="stable") if ids else np.zeros(0, int)
        else:
            position = {k: i for i, k in enumerate(ids)}
            missing = [i for i in image_ids if i not in position]
            if missing:
                raise NotReadyError(
                    f"{len(missing)} images have no {model_id} embedding (e.g. {missing[0]}); "
                    "run `fashionlens embed`"
                )
            order = np.asarray([position[i] for i in image_ids], dtype=int)
        return Embeddings(tuple(ids[i] for i in order), vectors[order], model_id)

    def search(self, model_id: str, vector: np.ndarray, k: int = 10, where: str | None = None) -> pa.Table:
        """Cosine top-k over one embedding table, with an optional SQL filter on its columns."""
        name = schemas.embeddings_table_name(model_id)
        if name not in self.table_names():
            raise NotReadyError(f"no embeddings for model {model_id!r}; run `fashionlens embed`")
        query = self._db.open_table(name).search(np.asarray(vector, np.float32)).metric("cosine").limit(k)
        if where:
            query = query.where(where, prefilter=True)
        return query.to_arrow()

    # -- predictions ------------------------------------------------------------------------
    def upsert_predictions(self, predictions: Iterable[Prediction]) -> None:
        rows = [
            {
                "prediction_key": f"{p.task}:{p.classifier_id}:{p.image_id}",
                "image_id": p.image_id,
                "task": p.task,
                "classifier_id": p.classifier_id,
                "backbone_id": p.backbone_id,
                "label": p.label,
                "confidence": float(p.confidence),
                "scores_json": _json({k: round(float(v), 6) for k, v in p.scores.items()}),
            }
            for p in predictions
        ]
        self._upsert("predictions", pa.Table.from_pylist(rows, schema=schemas.PREDICTIONS), "prediction_key")

    # -- export -----------------------------------------------------------------------------
    def export(self, name: str, path: Path) -> Path:
        """Write a table to ``.csv`` or ``.parquet`` (chosen by the suffix)."""
        table = self.read(name)
        return write_table(table, path)


def write_table(table: pa.Table, path: Path) -> Path:
    """Write Arrow to CSV (vector/list columns as JSON text) or Parquet, by suffix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif suffix == ".csv":
        frame = table.to_pandas()
        for col in frame.columns:
            if pa.types.is_list(table.schema.field(col).type) or pa.types.is_fixed_size_list(
                table.schema.field(col).type
            ):
                frame[col] = [json.dumps([float(x) for x in v]) if v is not None else "" for v in frame[col]]
        frame.to_csv(path, index=False)
    else:
        raise InvalidInputError(
            f"{path}: export format must be .csv or .parquet; got {suffix or 'no suffix'}"
        )
    logger.info("wrote %d rows to %s", table.num_rows, path)
    return path
