"""Concurrent writers on one home: 2-4 processes (and threads) write overlapping keys through the
Catalog API; every round must end with exact row counts and no duplicate key."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import lancedb
import pytest

from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog

N_IMAGES = 120
MODEL = "toy.v1"

# what every writer does to one database: the same keys, batch by batch, in its own order
WORKLOAD = """
import random
from pathlib import Path

import numpy as np
import pyarrow as pa

from fashionlens.core.types import (
    Embeddings, ImageLabel, ImageRecord, IngestResult, ObjectAnnotation, l2_normalise,
)
from fashionlens.store import filters, schemas
from fashionlens.store.catalog import Catalog


def work(db, writer, n_images, catalog=None):
    catalog = catalog or Catalog(Path(db))
    ids = [f"img{i:04d}" for i in range(n_images)]
    random.Random(writer).shuffle(ids)
    for start in range(0, n_images, 30):
        batch = sorted(ids[start : start + 30])
        images = [ImageRecord(i, "street", "ccp", f"/p/{i}.jpg", "train", 10, 20, f"h{i}") for i in batch]
        labels = [ImageLabel(i, f"{i}.jpg", "ccp", ("dress",), "dress") for i in batch]
        boxes = [ObjectAnnotation(i, "dress", (0, 0, 5, 5), "ccp", [[0, 0, 5, 0, 5, 5]], 12.5) for i in batch]
        catalog.add_ingest(IngestResult(images, boxes + boxes, labels))  # two boxes per image
        vectors = l2_normalise(np.random.default_rng(writer).normal(size=(len(batch), 8)))
        catalog.add_embeddings(Embeddings(tuple(batch), vectors, "toy.v1"), [f"h{i}" for i in batch])
        people = [
            {"person_key": f"{i}|seg|{j}", "image_id": i, "person_image_id": "", "segmenter_id": "seg",
             "person_index": j, "bbox_xyxy": [0.0, 0.0, 1.0, 1.0], "area": 1, "score": 0.5,
             "mask_rle_json": "", "crop_path": ""}
            for i in batch for j in range(2)
        ]
        where = filters.and_(filters.isin("image_id", batch), filters.eq("segmenter_id", "seg"))
        people = pa.Table.from_pylist(people, schema=schemas.PEOPLE)
        catalog.replace_where("people", where, people, "person_key")
        status = [{"status_key": f"{i}|people|seg", "image_id": i, "task": "people", "segmenter_id": "seg",
                   "found": 2, "overlay_path": "", "done_at": str(writer)} for i in batch]
        status = pa.Table.from_pylist(status, schema=schemas.SEGMENT_STATUS)
        catalog.upsert("segment_status", status, "status_key")
        if writer == 1 and start == 30:
            catalog.compact("images")
"""

MAIN = """
import sys, time
from pathlib import Path
writer, n_images, dbs = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
for db in dbs:
    print("ready", flush=True)
    go = Path(db).parent / "go"
    while not go.exists():
        time.sleep(0.001)
    work(db, writer, n_images)
    print("done", flush=True)
"""


def _old_home(db: Path) -> None:
    """Tables as older versions made them: no declared key, so only the writer lock protects them."""
    conn = lancedb.connect(str(db))
    for name in ("images", "annotations", "labels", "people", "segment_status"):
        conn.create_table(name, schema=schemas.__dict__[name.upper()])
    conn.create_table(schemas.embeddings_table_name(MODEL), schema=schemas.embeddings_schema(8, MODEL))


def _rounds(tmp_path: Path, n: int) -> list[Path]:
    dbs = []
    for r in range(n):
        db = tmp_path / f"round{r}" / "db"
        db.parent.mkdir()
        if r % 2:
            _old_home(db)
        dbs.append(db)
    return dbs


def _check(db: Path) -> None:
    catalog = Catalog(db, read_only=True)
    expected = {
        "images": ("image_id", N_IMAGES),
        "labels": ("label_key", N_IMAGES),
        "annotations": ("annotation_key", 2 * N_IMAGES),
        "people": ("person_key", 2 * N_IMAGES),
        "segment_status": ("status_key", N_IMAGES),
        schemas.embeddings_table_name(MODEL): ("image_id", N_IMAGES),
    }
    for name, (key, count) in expected.items():
        keys = catalog.read(name, columns=[key]).column(key).to_pylist()
        assert (len(keys), len(set(keys))) == (count, count), f"{db.parent.name}: {name}"


@pytest.mark.parametrize("processes", [2, 4])
def test_processes_never_duplicate_a_key(tmp_path: Path, processes: int) -> None:
    dbs = _rounds(tmp_path, 4)  # even rounds: fresh home (tables created in the race); odd: older home
    script = WORKLOAD + MAIN
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w), str(N_IMAGES), *map(str, dbs)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(processes)
    ]
    try:
        for db in dbs:
            for p in procs:  # every writer is at the start line
                assert p.stdout is not None and p.stdout.readline().strip() == "ready"
            (db.parent / "go").touch()
            for p in procs:
                assert p.stdout is not None and p.stdout.readline().strip() == "done", "a writer failed"
    finally:
        for p in procs:
            p.wait(timeout=120)
    assert [p.returncode for p in procs] == [0] * processes
    for db in dbs:
        _check(db)


def test_threads_never_duplicate_a_key(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(WORKLOAD, "workload", "exec"), namespace)
    for db in _rounds(tmp_path, 2):
        _threads_round(db, namespace["work"])
        _check(db)


def _threads_round(db: Path, work: Any) -> None:
    shared = Catalog(db)  # two threads share one Catalog, two have their own
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def run(writer: int) -> None:
        try:
            start.wait()
            work(str(db), writer, N_IMAGES, shared if writer < 2 else None)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
