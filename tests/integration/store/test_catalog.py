"""The LanceDB catalogue: idempotent upserts, one embedding space per table, exports, search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.types import (
    Embeddings,
    ImageLabel,
    ImageRecord,
    IngestResult,
    ObjectAnnotation,
    l2_normalise,
)
from fashionlens.store.catalog import Catalog, Prediction


def _result(n: int = 3) -> IngestResult:
    images = [
        ImageRecord(f"id{i}", "street", "ccp", f"/p/{i}.jpg", "train", 10, 20, f"hash{i}") for i in range(n)
    ]
    labels = [ImageLabel(f"id{i}", f"{i}.jpg", "ccp", ("dress",), "dress") for i in range(n)]
    annotations = [
        ObjectAnnotation(f"id{i}", "dress", (0, 0, 5, 5), "ccp", [[0, 0, 5, 0, 5, 5]], 12.5) for i in range(n)
    ]
    return IngestResult(images, annotations, labels)


def test_ingest_is_idempotent(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    first = catalog.add_ingest(_result())
    second = catalog.add_ingest(_result())
    assert (first.new_images, second.new_images) == (3, 0)
    assert catalog.count("images") == catalog.count("labels") == catalog.count("annotations") == 3
    row = catalog.read("annotations", where="image_id = 'id1'").to_pylist()[0]
    assert row["bbox_xyxy"] == [0, 0, 5, 5] and row["category"] == "dress"


def test_embeddings_roundtrip_and_refuse_mixing(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    vectors = l2_normalise(np.random.default_rng(0).normal(size=(3, 8)))
    emb = Embeddings(("b", "a", "c"), vectors, "toy.v1")
    catalog.add_embeddings(emb, ["hb", "ha", "hc"])
    catalog.add_embeddings(emb, ["hb", "ha", "hc"])  # idempotent
    back = catalog.embeddings("toy.v1")
    assert back.ids == ("a", "b", "c")
    np.testing.assert_allclose(back.vectors[0], vectors[1], rtol=1e-6)
    assert catalog.embedded_hashes("toy.v1") == {"ha", "hb", "hc"}
    assert catalog.embeddings("toy.v1", ["c", "a"]).ids == ("c", "a")
    other = Embeddings(("a",), l2_normalise(np.ones((1, 4))), "toy.v1")
    with pytest.raises(InvalidInputError, match="refusing to mix"):
        catalog.add_embeddings(other, ["ha"])
    with pytest.raises(NotReadyError, match="run `fashionlens embed"):
        catalog.embeddings("never.made")
    hits = catalog.search("toy.v1", vectors[2], k=1).to_pylist()
    assert hits[0]["image_id"] == "c" and hits[0]["_distance"] < 1e-5


def test_export_csv_and_parquet(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.add_ingest(_result())
    catalog.upsert_predictions([Prediction("id0", "category", "c@m", "m", "dress", 0.9, {"dress": 0.9})])
    csv = pd.read_csv(catalog.export("annotations", tmp_path / "a.csv"))
    assert len(csv) == 3 and csv.loc[0, "bbox_xyxy"] == "[0.0, 0.0, 5.0, 5.0]"
    parquet = pq.read_table(catalog.export("predictions", tmp_path / "p.parquet"))
    assert parquet.column("label").to_pylist() == ["dress"]
    with pytest.raises(InvalidInputError, match=r"\.csv or \.parquet"):
        catalog.export("images", tmp_path / "x.xlsx")
    assert catalog.read("labels").num_rows == 3


def test_delete_images_forgets_their_rows_and_vectors_only(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.add_ingest(_result())
    vectors = l2_normalise(np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32))
    catalog.add_embeddings(Embeddings(("id0", "id1", "id2"), vectors, "m.a"), ["h0", "h1", "h2"])
    assert catalog.delete_images(["id1", "id1", "no-such-id"]) == 1
    assert set(catalog.read("images").column("image_id").to_pylist()) == {"id0", "id2"}
    assert catalog.embeddings("m.a").ids == ("id0", "id2")
    assert catalog.count("labels") == 3  # labels stay: deleting images is not deleting a dataset
    assert catalog.delete_images([]) == 0
