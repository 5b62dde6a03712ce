"""The wardrobe tables on a real LanceDB folder: versions, conflicts, undo, migrations, many writers,
and processes killed in the middle of a change."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import lancedb
import pyarrow as pa
import pytest

from fashionlens.core.errors import ConflictError, NotReadyError
from fashionlens.store.wardrobe import (
    AUDIT,
    ITEMS,
    ITEMS_SCHEMA,
    ITEMS_SCHEMA_V1,
    SCHEMA_VERSION,
    WEAR_LOG,
    Change,
    WardrobeStore,
)

ROOT = Path(__file__).resolve().parents[3]


def _add(store: WardrobeStore, *ids: str):
    return store.apply(ITEMS, lambda: Change("add", upserts=[{"item_id": i, "name": i} for i in ids]))


def _edit(store: WardrobeStore, item_id: str, name: str, expected: int | None = None):
    def plan() -> Change:
        row = store.get(ITEMS, item_id)
        assert row is not None
        return Change(
            "edit", upserts=[{**row, "name": name}], expected_versions={item_id: expected or row["version"]}
        )

    return store.apply(ITEMS, plan)


def test_versions_conflicts_and_undo(tmp_path: Path) -> None:
    store = WardrobeStore(tmp_path / "db")
    _add(store, "a", "b")
    _edit(store, "a", "navy", expected=1)
    assert store.get(ITEMS, "a")["version"] == 2
    with pytest.raises(ConflictError, match="version 1, but it is now version 2"):
        _edit(store, "a", "stale", expected=1)
    assert store.get(ITEMS, "a")["name"] == "navy"  # the stale edit wrote nothing
    store.apply(ITEMS, lambda: Change("remove", deletes=["b"]))
    assert store.get(ITEMS, "b") is None
    store.apply(
        WEAR_LOG, lambda: Change("wear", upserts=[{"wear_id": "w1", "kind": "item", "target_id": "a"}])
    )
    assert store.undo().table == WEAR_LOG and store.count(WEAR_LOG) == 0
    assert store.undo().action == "undo" and store.get(ITEMS, "b")["name"] == "b"  # back, newer version
    assert store.get(ITEMS, "b")["version"] == 2
    store.undo()
    assert store.get(ITEMS, "a")["name"] == "a" and store.get(ITEMS, "a")["version"] == 3
    store.undo()
    assert store.count(ITEMS) == 0
    assert store.undo() is None
    states = [(c.action, c.state) for c in store.history()]
    assert states.count(("undo", "applied")) == 4 and ("add", "undone") in states


def test_migrates_v1_and_refuses_newer(tmp_path: Path) -> None:
    db = lancedb.connect(str(tmp_path / "db"))
    rows = [{"item_id": "old", "name": "kept", "version": 4, "tags": ["x"]}]
    db.create_table(ITEMS, pa.Table.from_pylist(rows, schema=ITEMS_SCHEMA_V1), schema=ITEMS_SCHEMA_V1)
    store = WardrobeStore(tmp_path / "db")
    assert store.schema_versions()[ITEMS] == SCHEMA_VERSION == 2
    row = store.get(ITEMS, "old")
    assert (row["name"], row["version"], row["tags"], row["user_fields"], row["extra_json"]) == (
        "kept",
        4,
        ["x"],
        [],
        "{}",
    )
    newer = ITEMS_SCHEMA.with_metadata({"schema_version": "99"})
    db.create_table("wardrobe_outfits", schema=newer, mode="overwrite")
    with pytest.raises(NotReadyError, match="newer fashionlens"):
        WardrobeStore(tmp_path / "db").ensure()


def test_threads_lose_nothing(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            store = WardrobeStore(tmp_path / "db")  # one store per thread, as one per request
            for j in range(5):
                _add(store, f"t{k}-{j}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = WardrobeStore(tmp_path / "db")
    assert store.count(ITEMS) == 30
    assert len({r["item_id"] for r in store.rows(ITEMS)}) == 30
    seqs = [c.seq for c in store.history(100)]
    assert sorted(seqs) == list(range(1, 31))  # one change each, none lost or merged


WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from fashionlens.store.wardrobe import ITEMS, Change, WardrobeStore
    db, k, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = WardrobeStore(db)
    for j in range(n):
        store.apply(ITEMS, lambda j=j: Change("add", upserts=[{"item_id": f"p{k}-{j}"}]))
        store.apply(ITEMS, lambda: Change("edit", upserts=[{**store.get(ITEMS, "shared"), "notes": k}]))
    """
)


def test_processes_lose_nothing(tmp_path: Path) -> None:
    store = WardrobeStore(tmp_path / "db")
    _add(store, "shared")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "db"), str(k), "6"], env=env)
        for k in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    assert store.count(ITEMS) == 1 + 24
    # every edit of the shared row bumped its version: none overwrote another unseen
    assert store.get(ITEMS, "shared")["version"] == 1 + 24


CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from fashionlens.store.wardrobe import ITEMS, Change, WardrobeStore
    store = WardrobeStore(Path(sys.argv[1]))
    # the process dies after the audit log is committed and before the data commit
    WardrobeStore._write = lambda self, *a, **k: os._exit(9)
    if sys.argv[2] == "add":
        store.apply(ITEMS, lambda: Change("add", upserts=[{"item_id": "x1"}, {"item_id": "x2"}]))
    else:
        store.undo()
    """
)


def _crash(db: Path, what: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    code = subprocess.run([sys.executable, "-c", CRASH, str(db), what], env=env, timeout=120).returncode
    assert code == 9


def test_crash_between_log_and_data_is_rolled_back_or_finished(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = WardrobeStore(db)
    _add(store, "keep")
    _crash(db, "add")
    assert store.get(ITEMS, "x1") is None and store.get(ITEMS, "x2") is None  # nothing of the item set
    store.recover()
    assert [c.state for c in store.history(1)] == ["rolled_back"]
    assert store.undo().action == "undo" and store.count(ITEMS) == 0  # undo skips the change that never was
    _add(store, "again")
    _crash(db, "undo")  # the undo is logged, its data commit lost
    assert store.get(ITEMS, "again") is not None
    store.recover()  # finishes the undo from the log
    assert store.get(ITEMS, "again") is None and store.count(ITEMS) == 0
    assert store.rows(AUDIT, "state = 'applied' AND undo_of = ''") == []  # nothing left to undo
    assert store.undo() is None
