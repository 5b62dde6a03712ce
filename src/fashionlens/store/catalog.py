"""`Catalog`: the images, annotations, labels, embeddings and predictions of one FASHIONLENS_HOME.

Backed by LanceDB (Arrow/Lance tables, versioned commits, no server). What the store guarantees:

- **Idempotent writes.** Every write is an upsert on the table's key (`TABLES`, `table_key`), so
  re-running an ingest or an embedding job rewrites the same rows.
- **One commit per write.** `upsert`, `replace_where` (delete the rows of a condition that are not
  in the new rows, upsert the new ones) and `delete` are each one LanceDB commit: a crash leaves
  the table at the version before it or the one after, never in between.
- **One writer per table.** Every write holds the table's cross-process writer lock
  (`fashionlens.store.locks`); tables are created with LanceDB's (unenforced) primary key on their
  key column, so a writer that bypasses the lock still has its inserts checked at commit.
- **Read-only use.** ``Catalog(path, read_only=True)`` never writes and never creates a folder; a
  database folder the process cannot write is read-only by itself. Writes then raise `StoreError`.
- **Project errors.** LanceDB/Arrow failures reach callers as `StoreError` / `InvalidInputError`
  naming the table (`fashionlens.store.guard`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import InvalidInputError, NotReadyError, StoreError, require
from fashionlens.core.types import Embeddings, ImageLabel, ImageRecord, IngestResult, ObjectAnnotation
from fashionlens.store import filters, schemas
from fashionlens.store.guard import READ_ONLY_ERRNOS, guard
from fashionlens.store.locks import DEFAULT_TIMEOUT_S, check_table_name, table_lock

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
KEYED_PREFIXES = {"embeddings__": "image_id", "garment_embeddings__": "image_id", "search__": "image_id"}
PRIMARY_KEY_META = b"lance-schema:unenforced-primary-key:position"


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


@dataclass(frozen=True)
class Written:
    """What one write committed: the table's new version (0: nothing was committed) and rows."""

    version: int
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def table_key(name: str, schema: pa.Schema | None = None) -> str | None:
    """The key column of table ``name`` (known tables, per-model tables, else a declared primary key)."""
    if name in TABLES:
        return TABLES[name][1]
    for prefix, key in KEYED_PREFIXES.items():
        if name.startswith(prefix):
            return key
    if schema is not None:
        for f in schema:
            if f.metadata and PRIMARY_KEY_META in f.metadata:
                return f.name
    return None


def has_primary_key(schema: pa.Schema) -> bool:
    """Whether LanceDB checks the key of this table's inserts at commit time."""
    return any(f.metadata and PRIMARY_KEY_META in f.metadata for f in schema)


def keyed_schema(schema: pa.Schema, key: str) -> pa.Schema:
    """``schema`` with ``key`` non-nullable and declared LanceDB's (unenforced) primary key."""
    index = schema.get_field_index(key)
    if index < 0:
        raise InvalidInputError(f"key column {key!r} is not among the columns {schema.names}")
    if any(f.metadata and PRIMARY_KEY_META in f.metadata for f in schema):
        return schema
    field = schema.field(index)
    meta = {**(field.metadata or {}), PRIMARY_KEY_META: b"1"}
    return schema.set(index, field.with_nullable(False).with_metadata(meta))


def dedupe_last(rows: pa.Table, key: str) -> pa.Table:
    """One row per key (the last one wins), as merge_insert requires."""
    keys = rows.column(key).to_pylist()
    last = {k: i for i, k in enumerate(keys)}
    return rows if len(last) == len(keys) else rows.take(sorted(last.values()))


class Catalog:
    """The embedded database at ``path`` (created on first use unless ``read_only``).

    ``read_only=True`` never writes and never creates anything; a missing database in an existing
    home reads as empty, a missing home is a `StoreError` ("no fashionlens home at ..."). A folder
    the process cannot write makes the catalogue read-only too (``self.read_only``).
    ``lock_timeout_s``: how long a write waits for another writer of the same table.
    """

    def __init__(
        self, path: Path, *, read_only: bool = False, lock_timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        lancedb = require("lancedb")
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self._db: Any = None
        _check_folder(self.path)
        if not self.path.exists():
            if read_only:
                if not self.path.parent.is_dir():
                    raise StoreError(f"no fashionlens home at {self.path.parent} (check --home)")
            else:
                _make_folder(self.path)
        exists = self.path.is_dir()
        self.read_only = read_only or (exists and not os.access(self.path, os.W_OK | os.X_OK))
        if exists:
            with guard(self.path, None, "open"):
                # every call sees the latest commit of every process
                self._db = lancedb.connect(str(self.path), read_consistency_interval=timedelta(0))

    # -- tables -----------------------------------------------------------------------------
    def table_names(self) -> list[str]:
        if self._db is None:
            return []
        with guard(self.path, None, "list"):
            return sorted(self._db.list_tables(limit=None).tables)

    def _open(self, name: str) -> Any:
        # a table another process is creating is listed a moment before its first commit lands:
        # wait for it a little rather than fail
        for attempt in range(20):
            try:
                with guard(self.path, name, "open"):
                    return self._db.open_table(name)
            except StoreError as exc:
                if "was not found" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.05)
        raise StoreError(f"table {name} in {self.path}: could not be opened")

    def open_table(self, name: str) -> Any:
        """The LanceDB table ``name``, for reads the methods here do not cover. Write only through
        the Catalog (or inside `writing`), so that the writer lock is held."""
        if name not in self.table_names():
            raise NotReadyError(f"table {name!r} does not exist yet in {self.path}")
        return self._open(name)

    def schema(self, name: str) -> pa.Schema:
        """The stored schema of ``name`` (the known schema when the table does not exist yet)."""
        if name not in self.table_names():
            if name in TABLES:
                return TABLES[name][0]
            raise NotReadyError(f"table {name!r} does not exist yet in {self.path}")
        with guard(self.path, name, "read"):
            return self._open(name).schema

    @contextlib.contextmanager
    def writing(self, name: str) -> Iterator[None]:
        """Hold ``name``'s writer lock (refusing when the catalogue is read-only). Every write
        here takes it; take it yourself around a read-modify-write of your own."""
        check_table_name(name)
        if self.read_only:
            raise StoreError(f"{self.path} is read-only: cannot write table {name}")
        with table_lock(self.path, name, self.lock_timeout_s):
            yield

    def _align(self, name: str, rows: pa.Table, schema: pa.Schema, key: str) -> pa.Table:
        if key not in rows.column_names:
            raise InvalidInputError(f"rows for table {name} have no key column {key!r}")
        if rows.column(key).null_count:
            raise InvalidInputError(
                f"{rows.column(key).null_count} rows for table {name} have no {key}; a key cannot be null"
            )
        if sorted(rows.column_names) != sorted(schema.names):
            raise InvalidInputError(
                f"rows for table {name} have columns {rows.column_names}; the table has {schema.names}"
            )
        try:
            return rows.select(schema.names).cast(schema)
        except (pa.ArrowException, ValueError) as exc:
            raise InvalidInputError(f"rows do not fit table {name}: {exc}") from exc

    def _merge(self, name: str, rows: pa.Table, key: str, delete_where: str | None = None) -> Written:
        """The one write path: upsert ``rows`` on ``key`` and (given ``delete_where``) delete the
        rows of that condition that ``rows`` does not hold, in one commit under the writer lock."""
        if rows.num_rows:
            rows = dedupe_last(rows, key)
        with self.writing(name):
            if name not in self.table_names():
                if rows.num_rows == 0:
                    return Written(0)
                schema = keyed_schema(rows.schema, key)
                rows = self._align(name, rows, schema, key)
                with guard(self.path, name, "create"):
                    table = self._db.create_table(name, rows, schema=schema)
                    return Written(int(table.version), inserted=rows.num_rows)
            table = self._open(name)
            rows = self._align(name, rows, table.schema, key)
            with guard(self.path, name, "write", delete_where):
                builder = table.merge_insert(key).when_matched_update_all().when_not_matched_insert_all()
                if delete_where is not None:
                    builder = builder.when_not_matched_by_source_delete(delete_where)
                result = builder.execute(rows)
            return Written(
                int(result.version),
                int(result.num_inserted_rows),
                int(result.num_updated_rows),
                int(result.num_deleted_rows),
            )

    def upsert(self, name: str, rows: pa.Table, key: str) -> Written:
        """Upsert Arrow ``rows`` on ``key`` in one commit (the table is created, keyed, with their
        schema if missing). Rows sharing a key: the last one wins. No rows: nothing is written."""
        if rows.num_rows == 0:
            return Written(0)
        return self._merge(name, rows, key)

    def replace_where(self, name: str, where: str, rows: pa.Table, key: str) -> Written:
        """Make ``rows`` the content of the part of ``name`` that matches ``where``, in ONE commit:
        rows matching ``where`` whose key is not in ``rows`` are deleted, ``rows`` are upserted
        (also those that do not match ``where``). A failure leaves the table as it was.

        ``where`` is SQL; build it with `fashionlens.store.filters` from untrusted values.
        """
        if not where or not where.strip():
            raise InvalidInputError(f"replace_where on table {name} needs a condition")
        return self._merge(name, rows, key, delete_where=where)

    def delete(self, name: str, where: str) -> Written:
        """Delete the rows of ``name`` matching ``where`` (one commit; a missing table: nothing)."""
        if not where or not where.strip():
            raise InvalidInputError(
                f"delete on table {name} needs a condition (use replace_table to empty it)"
            )
        if name not in self.table_names():
            return Written(0)
        with self.writing(name), guard(self.path, name, "delete", where):
            result = self._open(name).delete(where)
        return Written(int(result.version), deleted=int(result.num_deleted_rows))

    def replace_table(self, name: str, rows: pa.Table) -> Any:
        """Write ``rows`` as the new content of ``name`` (one commit; older versions stay readable).
        A catalogue table (`TABLES`) keeps its declared key."""
        schema = rows.schema
        if name in TABLES and TABLES[name][1] in schema.names:
            schema = keyed_schema(schema, TABLES[name][1])
            rows = self._align(name, rows, schema, TABLES[name][1])
        with self.writing(name), guard(self.path, name, "overwrite"):
            return self._db.create_table(name, rows, schema=schema, mode="overwrite")

    def compact(self, name: str) -> None:
        """Merge the small fragments that batch-by-batch commits leave (keeps the version history)."""
        if name in self.table_names():
            with self.writing(name), guard(self.path, name, "compact"):
                self._open(name).optimize()

    def declare_key(self, name: str, key: str) -> bool:
        """Declare ``key`` LanceDB's primary key of an existing table (made before keys were
        declared), so that its inserts are checked at commit. False if it already had one."""
        with self.writing(name):
            table = self._open(name)
            if has_primary_key(table.schema):
                return False
            with guard(self.path, name, "declare key"):
                table.set_unenforced_primary_key(key)
            return True

    def read(self, name: str, where: str | None = None, columns: Sequence[str] | None = None) -> pa.Table:
        """Read a table (optionally filtered with a SQL ``where``) as Arrow."""
        if name not in self.table_names():
            if name in TABLES:
                schema = TABLES[name][0]
                unknown = [c for c in columns or () if c not in schema.names]
                if unknown:
                    raise InvalidInputError(
                        f"table {name} has no column {unknown[0]!r}; columns: {schema.names}"
                    )
                return (
                    schema if not columns else pa.schema([schema.field(c) for c in columns])
                ).empty_table()
            raise NotReadyError(
                f"table {name!r} does not exist yet in {self.path}; known: {self.table_names()}"
            )
        with guard(self.path, name, "read", where):
            table = self._open(name)
            if where is None and columns is None:
                return table.to_arrow()
            query = table.search()
            if where:
                query = query.where(where)
            if columns:
                query = query.select(list(columns))
            return query.limit(None).to_arrow()

    def count(self, name: str, where: str | None = None) -> int:
        if name not in self.table_names():
            return 0
        with guard(self.path, name, "count", where):
            return int(self._open(name).count_rows(where))

    def version(self, name: str) -> int:
        """The table's current LanceDB version (every commit bumps it); 0 when it does not exist."""
        if name not in self.table_names():
            return 0
        with guard(self.path, name, "read"):
            return int(self._open(name).version)

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

    def delete_images(self, image_ids: Iterable[str]) -> int:
        """Forget these images: their ``images`` rows and their vectors in every ``embeddings__*``
        table (search tables follow when rebuilt). One commit per table; returns images deleted."""
        ids = sorted(set(image_ids))
        if not ids:
            return 0
        where = f"image_id IN ({', '.join(filters.literal(i) for i in ids)})"
        for name in self.table_names():
            if name.startswith("embeddings__"):
                self.delete(name, where)
        return self.delete("images", where).deleted

    def upsert_images(self, records: Iterable[ImageRecord]) -> None:
        rows = [asdict(r) for r in records]
        self.upsert("images", pa.Table.from_pylist(rows, schema=schemas.IMAGES), "image_id")

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
        self.upsert("annotations", pa.Table.from_pylist(rows, schema=schemas.ANNOTATIONS), "annotation_key")

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
        self.upsert("labels", pa.Table.from_pylist(rows, schema=schemas.LABELS), "label_key")

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
        with self.writing(name):  # the space check and the write see the same table
            if name in self.table_names():
                stored = self.schema(name)
                stored_model = (stored.metadata or {}).get(b"model_id", b"").decode()
                if (
                    stored.field("vector").type != schema.field("vector").type
                    or stored_model != embeddings.model_id
                ):
                    raise InvalidInputError(
                        f"table {name} holds {stored_model} vectors of type {stored.field('vector').type}; "
                        f"refusing to mix in {embeddings.model_id} ({embeddings.dim}-d)"
                    )
            self.upsert(name, rows, "image_id")

    def embedding_models(self) -> list[str]:
        out = []
        for name in self.table_names():
            if name.startswith("embeddings__"):
                meta = self.schema(name).metadata or {}
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
        with guard(self.path, name, "search", where):
            query = self._open(name).search(np.asarray(vector, np.float32)).metric("cosine").limit(k)
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
        self.upsert("predictions", pa.Table.from_pylist(rows, schema=schemas.PREDICTIONS), "prediction_key")

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


def _check_folder(path: Path) -> None:
    """`StoreError` when ``path`` or one of its parents is a file (a home that is a file)."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                what = (
                    "database folder"
                    if part == path
                    else "fashionlens home"
                    if part == path.parent
                    else "folder"
                )
                raise StoreError(f"{part} is a file, not a {what} (check --home)")
            return


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno in READ_ONLY_ERRNOS:
            raise StoreError(f"cannot create the database {path}: its parent folder is read-only") from exc
        raise StoreError(f"cannot create the database {path}: {exc.strerror or exc}") from exc
