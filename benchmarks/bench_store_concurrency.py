"""Concurrent writers on one table: how often duplicates appear, with and without the store's guards.

    python benchmarks/bench_store_concurrency.py [--trials 20] [--processes 3] [--keys 300]

Per setup, ``--processes`` processes (spawn) run ``--trials`` rounds; in each round they meet at a
barrier and then all upsert the same ``--keys`` keys (batches of 50, each process in its own order)
into a fresh table. A round ends with exactly ``--keys`` rows unless two writers inserted one key.

- ``raw``: LanceDB ``merge_insert`` on a table without a declared key, no lock (what the store did
  before: two ``embed`` runs wrote 491 rows for 299 images);
- ``key only``: raw ``merge_insert`` on a table made by `Catalog` (primary key declared), no lock;
- ``lock only``: `Catalog.upsert` (writer lock) on a table without a declared key (an older home);
- ``catalog``: `Catalog.upsert` from the start: the first writer makes the table (lock + key).

Prints, per setup, the rounds that ended with duplicate keys and the duplicate rows in all.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

SCHEMA = pa.schema([pa.field("image_id", pa.string(), nullable=False), pa.field("writer", pa.int64())])
SETUPS = ("raw", "key only", "lock only", "catalog")


def _rows(keys: list[str], writer: int) -> pa.Table:
    return pa.table({"image_id": keys, "writer": [writer] * len(keys)}, schema=SCHEMA)


def _worker(db: str, setup: str, writer: int, keys: list[str], rounds: int, barrier: Any) -> None:
    import lancedb

    from fashionlens.store.catalog import Catalog

    catalog = Catalog(Path(db))
    conn = lancedb.connect(db, read_consistency_interval=timedelta(0))
    rng = random.Random(writer)
    for r in range(rounds):
        order = keys[:]
        rng.shuffle(order)
        table = conn.open_table(f"t{r}") if setup in ("raw", "key only") else None
        barrier.wait()
        for i in range(0, len(order), 50):
            rows = _rows(order[i : i + 50], writer)
            if table is not None:
                builder = (
                    table.merge_insert("image_id").when_matched_update_all().when_not_matched_insert_all()
                )
                builder.execute(rows.cast(table.schema))
            else:
                catalog.upsert(f"t{r}", rows, "image_id")


def _setup(setup: str, processes: int, n_keys: int, rounds: int) -> list[int]:
    import lancedb

    from fashionlens.store.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "db")
        keys = [f"k{i:05d}" for i in range(n_keys)]
        catalog = Catalog(Path(db))
        for r in range(rounds):
            if setup in ("raw", "lock only"):  # a table as older versions made it: no declared key
                lancedb.connect(db).create_table(f"t{r}", schema=SCHEMA)
            elif setup == "key only":  # made (keyed) by the Catalog
                catalog.upsert(f"t{r}", _rows(["seed"], -1), "image_id")
                catalog.delete(f"t{r}", "image_id = 'seed'")
        ctx = mp.get_context("spawn")
        barrier = ctx.Barrier(processes)
        procs = [
            ctx.Process(target=_worker, args=(db, setup, w, keys, rounds, barrier)) for w in range(processes)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            if p.exitcode != 0:
                raise SystemExit(f"a writer failed ({setup}): exit code {p.exitcode}")
        duplicates = []
        for r in range(rounds):
            ids = catalog.read(f"t{r}", columns=["image_id"]).column("image_id").to_pylist()
            if set(ids) != set(keys):
                raise SystemExit(f"{setup}: rows lost ({len(set(ids))} distinct keys of {n_keys})")
            duplicates.append(len(ids) - len(set(ids)))
        return duplicates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=20, help="rounds per setup")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--setups", nargs="*", default=list(SETUPS), choices=SETUPS)
    args = parser.parse_args()
    print(f"{args.processes} processes x {args.keys} overlapping keys, {args.trials} rounds per setup")
    print(f"{'setup':<10} {'rounds with duplicates':>24} {'duplicate rows':>15}")
    for setup in args.setups:
        dups = _setup(setup, args.processes, args.keys, args.trials)
        bad = sum(d > 0 for d in dups)
        print(f"{setup:<10} {f'{bad}/{args.trials}':>24} {sum(dups):>15}", flush=True)


if __name__ == "__main__":
    main()
