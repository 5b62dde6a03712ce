"""`fashionlens doctor`: duplicates and dangling rows written behind the store's back (raw LanceDB),
found, then repaired in one commit per table."""

from __future__ import annotations

from pathlib import Path

import lancedb
import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from fashionlens.cli.app import app
from fashionlens.core.types import Embeddings, ImageLabel, ImageRecord, IngestResult, l2_normalise
from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.doctor import check_home, repair_home
from fashionlens.store.search_table import AnnConfig, table_status, write_search_table

MODEL = "toy.v1"
EMB = schemas.embeddings_table_name(MODEL)
GEMB = schemas.garment_embeddings_table_name(MODEL)


def _image(i: str, path: str = "") -> ImageRecord:
    return ImageRecord(i, "street", "ccp", path or f"/p/{i}.jpg", "train", 10, 20, f"h{i}")


def _garment(key: str, image_id: str) -> dict[str, object]:
    return {
        "garment_key": key, "image_id": image_id, "person_key": "", "segmenter_id": "seg",
        "garment_index": 0, "category": "dress", "score": 0.9, "bbox_xyxy": [0.0, 0.0, 1.0, 1.0],
        "area": 1, "mask_rle_json": "", "colour": "red", "colours_json": "[]", "crop_path": "",
    }  # fmt: skip


def _embeddings(ids: list[str], seed: int = 0) -> Embeddings:
    return Embeddings(tuple(ids), l2_normalise(np.random.default_rng(seed).normal(size=(len(ids), 8))), MODEL)


def _rows(catalog: Catalog, name: str, data: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(data, schema=catalog.schema(name))


def _damaged_home(db: Path) -> Catalog:
    """A clean catalogue, then rows added with raw LanceDB as racing writers of old versions did."""
    catalog = Catalog(db)
    ids = ["a", "b", "c"]
    catalog.add_ingest(
        IngestResult(
            [_image(i) for i in ids], [], [ImageLabel(i, f"{i}.jpg", "ccp", (), "dress") for i in ids]
        )
    )
    catalog.add_embeddings(_embeddings(ids), [f"h{i}" for i in ids])
    catalog.upsert(
        "garments", pa.Table.from_pylist([_garment("a|g0", "a")], schema=schemas.GARMENTS), "garment_key"
    )
    catalog.add_embeddings(Embeddings(("a|g0",), _embeddings(["x"]).vectors, MODEL), ["g"], table=GEMB)
    metadata = pa.table(
        {c: [f"{c}{i}" if c != "image_id" else i for i in ids] for c in schemas.SEARCH_METADATA_COLUMNS}
    )
    versions = {t: catalog.version(t) for t in (EMB, "images", "labels", "predictions")}
    write_search_table(
        catalog,
        MODEL,
        metadata,
        _embeddings(ids).vectors,
        fingerprint="f",
        source_versions=versions,
        ann=AnnConfig(),
    )
    raw = lancedb.connect(str(db))
    raw.open_table("images").add(_rows(catalog, "images", [vars(_image("a", "/newer/a.jpg"))]))
    raw.open_table("images").add(_rows(catalog, "images", [vars(_image("b", "/newer/b.jpg"))] * 2))
    ghost = _embeddings(["ghost", "a"], seed=1)
    emb_rows = [
        {"image_id": i, "content_hash": "h", "model_id": MODEL, "vector": v.tolist()}
        for i, v in zip(ghost.ids, ghost.vectors, strict=True)
    ]
    raw.open_table(EMB).add(_rows(catalog, EMB, emb_rows))  # a dangling row and a duplicate of a
    label: dict[str, object] = {
        "label_key": "ccp:ghost", "image_id": "ghost", "image_filename": "", "label_source": "ccp",
        "modanet_categories": "", "coarse_category": "", "attributes_json": "{}",
    }  # fmt: skip
    raw.open_table("labels").add(_rows(catalog, "labels", [label]))
    raw.open_table(GEMB).add(_rows(catalog, GEMB, [{**emb_rows[0], "image_id": "gone|g9"}]))
    raw.create_table("predictions", schema=schemas.PREDICTIONS)  # as older versions made it: a warning
    return catalog


def _by_kind(report: object) -> dict[tuple[str, str], int]:
    return {(f.table, f.kind): f.rows for f in report.findings}  # type: ignore[attr-defined]


def test_check_finds_duplicates_dangling_and_stale(tmp_path: Path) -> None:
    _damaged_home(tmp_path / "db")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "db").rglob("*")}
    report = check_home(Catalog(tmp_path / "db", read_only=True))
    assert not report.ok
    assert _by_kind(report) == {
        ("images", "duplicate"): 3,  # a once, b twice
        (EMB, "duplicate"): 1,
        (EMB, "dangling"): 1,
        ("labels", "dangling"): 1,
        (GEMB, "dangling"): 1,
        ("predictions", "no_key_check"): 0,
        (schemas.search_table_name(MODEL), "stale"): 0,  # images and embeddings changed since
    }
    dangling = next(f for f in report.findings if (f.table, f.kind) == (EMB, "dangling"))
    assert dangling.examples == ("ghost",)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "db").rglob("*")} == before  # read only


def test_repair_keeps_the_newest_row_one_commit_per_table(tmp_path: Path) -> None:
    catalog = _damaged_home(tmp_path / "db")
    versions = {t: catalog.version(t) for t in ("images", EMB, "labels", GEMB, "garments")}
    report = repair_home(catalog)
    assert report.removed == {"images": 3, EMB: 2, "labels": 1, GEMB: 1}
    assert report.declared_keys == ["predictions"]
    assert report.ok and {f.kind for f in report.findings} == {"stale"}  # rebuilt by `search index`
    after = {t: catalog.version(t) for t in versions}
    assert after == {t: v + (t != "garments") for t, v in versions.items()}  # one commit each
    images = {r["image_id"]: r["image_path"] for r in catalog.read("images").to_pylist()}
    assert images == {"a": "/newer/a.jpg", "b": "/newer/b.jpg", "c": "/p/c.jpg"}
    vectors = catalog.embeddings(MODEL)
    assert vectors.ids == ("a", "b", "c")
    np.testing.assert_allclose(vectors.vectors[0], _embeddings(["ghost", "a"], seed=1).vectors[1], rtol=1e-6)
    assert repair_home(catalog).removed == {}  # nothing left to do
    assert table_status(catalog, MODEL)[0] == "stale"


def test_unreadable_table_is_reported_not_fatal(tmp_path: Path) -> None:
    catalog = _damaged_home(tmp_path / "db")
    for data in (tmp_path / "db" / "labels.lance" / "data").iterdir():
        data.unlink()
    report = check_home(catalog)
    unreadable = [f for f in report.findings if f.kind == "unreadable"]
    assert [f.table for f in unreadable] == ["labels"] and "Not found" in unreadable[0].detail
    assert ("images", "duplicate") in _by_kind(report)


def test_cli_doctor(fashionlens_home: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(app, ["doctor"])
    assert empty.exit_code != 0 and f"no fashionlens home at {fashionlens_home}" in empty.output
    assert not fashionlens_home.exists()  # a read-only command creates nothing
    _damaged_home(fashionlens_home / "db")
    found = runner.invoke(app, ["doctor"])
    assert found.exit_code == 1, found.output
    assert "duplicate" in found.output and "dangling" in found.output and "doctor --repair" in found.output
    fixed = runner.invoke(app, ["doctor", "--repair"])
    assert fixed.exit_code == 0, fixed.output
    assert "repaired images: removed 3 rows" in fixed.output and "0 problems" in fixed.output
    assert runner.invoke(app, ["doctor"]).exit_code == 0


@pytest.mark.parametrize("table", ["people", "segment_status", "predictions", "annotations"])
def test_every_image_table_is_checked_for_dangling_rows(tmp_path: Path, table: str) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.upsert_images([_image("a")])
    schema, key = {
        "people": (schemas.PEOPLE, "person_key"),
        "segment_status": (schemas.SEGMENT_STATUS, "status_key"),
        "predictions": (schemas.PREDICTIONS, "prediction_key"),
        "annotations": (schemas.ANNOTATIONS, "annotation_key"),
    }[table]
    rows = [
        {f.name: (k if f.name == key else i if f.name == "image_id" else None) for f in schema}
        for k, i in (("k1", "a"), ("k2", "ghost"))
    ]
    catalog.upsert(table, pa.Table.from_pylist(rows, schema=schema), key)
    assert _by_kind(check_home(catalog)) == {(table, "dangling"): 1}
    assert repair_home(catalog).removed == {table: 1}
    assert catalog.read(table, columns=["image_id"]).column("image_id").to_pylist() == ["a"]
