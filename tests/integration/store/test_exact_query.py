"""Exact (brute-force) search that reads only: what a read-only home uses when its search table is
missing or stale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from fashionlens.core.errors import InvalidInputError, StoreError
from fashionlens.core.types import Embeddings, l2_normalise
from fashionlens.store import filters, schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import (
    AnnConfig,
    exact_query,
    query,
    table_status,
    top_k_cosine,
    write_search_table,
)

MODEL = "toy.v1"
EMB = schemas.embeddings_table_name(MODEL)
N, DIM = 400, 16


def _home(db: Path) -> tuple[Catalog, Embeddings]:
    catalog = Catalog(db)
    vectors = l2_normalise(np.random.default_rng(0).normal(size=(N, DIM)))
    emb = Embeddings(tuple(f"img{i:04d}" for i in range(N)), vectors, MODEL)
    catalog.add_embeddings(emb, [f"h{i % 4}" for i in range(N)])
    return catalog, emb


def test_exact_query_matches_brute_force_and_lancedb(tmp_path: Path) -> None:
    catalog, emb = _home(tmp_path / "db")
    q = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    result = exact_query(catalog, EMB, q, k=10)
    assert result.column_names == ["image_id", "content_hash", "model_id", "score"]
    index, scores = top_k_cosine(emb.vectors, q, 10)
    assert result.column("image_id").to_pylist() == [emb.ids[i] for i in index]
    np.testing.assert_allclose(result.column("score").to_numpy(), scores, rtol=1e-5)
    metadata = pa.table(
        {c: list(emb.ids) if c == "image_id" else [""] * N for c in schemas.SEARCH_METADATA_COLUMNS}
    )
    write_search_table(
        catalog, MODEL, metadata, emb.vectors, fingerprint="f", source_versions={}, ann=AnnConfig()
    )
    lance, method = query(catalog, MODEL, q, k=10, mode="exact")
    assert method == "exact" and lance.column("image_id").to_pylist() == result.column("image_id").to_pylist()
    np.testing.assert_allclose(lance.column("score").to_numpy(), scores, rtol=1e-4)


def test_filters_and_batches(tmp_path: Path) -> None:
    catalog, emb = _home(tmp_path / "db")
    q = emb.vectors[5]
    whole = exact_query(catalog, EMB, q, k=25, where=filters.eq("content_hash", "h1"))
    assert whole.num_rows == 25 and set(whole.column("content_hash").to_pylist()) == {"h1"}
    small = exact_query(catalog, EMB, q, k=25, where=filters.eq("content_hash", "h1"), batch_rows=7)
    assert small.column("image_id").to_pylist() == whole.column("image_id").to_pylist()
    assert exact_query(catalog, EMB, q, k=3).column("image_id").to_pylist()[0] == "img0005"
    keep = ["img0001", "img0300", "img0005"]
    picked = exact_query(catalog, EMB, q, k=10, ids=keep, columns=["image_id"])
    assert (
        picked.column_names == ["image_id", "score"] and picked.column("image_id").to_pylist()[0] == "img0005"
    )
    assert sorted(picked.column("image_id").to_pylist()) == sorted(keep)
    none = exact_query(catalog, EMB, q, k=5, where="content_hash = 'nope'")
    assert none.num_rows == 0 and none.column_names[-1] == "score"
    with pytest.raises(InvalidInputError, match="query vector is 3-d"):
        exact_query(catalog, EMB, np.ones(3), k=5)
    with pytest.raises(InvalidInputError, match="k must be >= 1"):
        exact_query(catalog, EMB, q, k=0)
    with pytest.raises(InvalidInputError, match="invalid filter"):
        exact_query(catalog, EMB, q, where="nosuch = 1")


def test_read_only_home_searches_without_writing(tmp_path: Path) -> None:
    catalog, emb = _home(tmp_path / "db")
    assert table_status(catalog, MODEL) == ("missing", [])
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "db").rglob("*")}
    reader = Catalog(tmp_path / "db", read_only=True)
    top = exact_query(reader, EMB, emb.vectors[42], k=1)
    assert top.column("image_id").to_pylist() == ["img0042"] and top.column("score")[
        0
    ].as_py() == pytest.approx(1)
    metadata = pa.table(
        {c: list(emb.ids) if c == "image_id" else [""] * N for c in schemas.SEARCH_METADATA_COLUMNS}
    )
    with pytest.raises(StoreError, match="is read-only: cannot write table search__toy_v1"):
        write_search_table(
            reader, MODEL, metadata, emb.vectors, fingerprint="f", source_versions={}, ann=AnnConfig()
        )
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "db").rglob("*")} == before
    write_search_table(
        catalog, MODEL, metadata, emb.vectors, fingerprint="f", source_versions={EMB: catalog.version(EMB)},
        ann=AnnConfig(),
    )  # fmt: skip
    assert table_status(reader, MODEL) == ("fresh", [])
    catalog.add_embeddings(Embeddings(("new",), emb.vectors[:1], MODEL), ["hn"])
    assert table_status(reader, MODEL) == ("stale", [EMB])
