"""Build the search table of one embedding space: stored vectors plus the metadata filters read.

`build_search_index` turns one embedding space into a search table (`fashionlens.store.search_table`):
the stored vectors plus ``source``, ``split``, ``category`` (predicted, else labelled), ``colour``
(catalogue colour group, else predicted), ``article_type`` and ``image_path``. A backbone that
projects another backbone's features (``mobilenet_v2_minilm.products``) gets its vectors from the
stored ``mobilenet_v2.imagenet`` ones through ``.project()``, without a CNN pass.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import NotReadyError
from fashionlens.core.labels import colour_group
from fashionlens.core.settings import Settings
from fashionlens.models.registry import projection_base, resolve_model_id
from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import (
    AnnConfig,
    SearchTableInfo,
    read_state,
    sql_literal,
    write_search_table,
)

logger = logging.getLogger(__name__)


CATEGORY_TASK = "category"
COLOUR_TASKS = ("attribute:baseColour", "colour")


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
    stored = catalog.embedding_models()
    if base and base not in stored and f"{base}+onnx-int8" in stored:
        base = f"{base}+onnx-int8"  # the default runtime's vectors (cosine ~0.99 to fp32)
    if base and base in stored:
        from fashionlens.models import factory

        base_emb = catalog.embeddings(base)
        have = set(ids)
        todo = np.asarray([i not in have for i in base_emb.ids], dtype=bool)
        if todo.any():
            backbone = factory.backbone(settings, model_id, runtime="torch")
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
        if state is None:
            raise NotReadyError(f"the search index of {model_id} was built but has no state row")
        return state, notes
    built = json.loads(state["source_versions_json"] or "{}")
    changed = sorted(t for t, v in built.items() if catalog.version(t) != v)
    if changed:
        notes.append(
            f"the search index of {model_id} predates changes to {', '.join(changed)}; "
            f"refresh it with `fashionlens search index --backbone {model_id}`"
        )
    return state, notes
