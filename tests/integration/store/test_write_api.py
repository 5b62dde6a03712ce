"""The store's write API: one commit per write, a failure leaves the old rows, keys declared,
project errors, read-only homes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import lancedb
import pyarrow as pa
import pytest

from fashionlens.core.errors import InvalidInputError, NotReadyError, StoreError
from fashionlens.store import filters
from fashionlens.store.catalog import Catalog, has_primary_key

SCHEMA = pa.schema(
    [pa.field("key", pa.string(), nullable=False), pa.field("grp", pa.string()), pa.field("v", pa.int64())]
)


def _rows(keys: list[str], grp: str, v: int = 0) -> pa.Table:
    return pa.table({"key": keys, "grp": [grp] * len(keys), "v": [v] * len(keys)}, schema=SCHEMA)


def _content(catalog: Catalog, name: str = "things") -> dict[str, tuple[str, int]]:
    rows = catalog.read(name).to_pylist()
    assert len(rows) == len({r["key"] for r in rows})
    return {r["key"]: (r["grp"], r["v"]) for r in rows}


def test_replace_where_is_one_commit(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.upsert("things", pa.concat_tables([_rows(["a", "b", "c"], "g"), _rows(["x", "y"], "h")]), "key")
    before = catalog.version("things")
    new = pa.concat_tables([_rows(["b", "d"], "g", 1), _rows(["y"], "g", 1)])  # y moves from h to g
    written = catalog.replace_where("things", filters.eq("grp", "g"), new, "key")
    assert catalog.version("things") == before + 1 == written.version
    assert (written.inserted, written.updated, written.deleted) == (1, 2, 2)  # d; b, y; a, c
    assert _content(catalog) == {"b": ("g", 1), "d": ("g", 1), "y": ("g", 1), "x": ("h", 0)}


def test_replace_where_creates_and_empties(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    where = filters.isin("key", ["a", "b"])
    assert catalog.replace_where("things", where, _rows([], "g"), "key").version == 0
    assert "things" not in catalog.table_names()  # nothing to write: no table
    assert catalog.replace_where("things", where, _rows(["a", "b"], "g"), "key").version == 1
    assert has_primary_key(catalog.schema("things"))
    written = catalog.replace_where("things", where, _rows([], "g"), "key")  # the part becomes empty
    assert (written.version, written.deleted, catalog.count("things")) == (2, 2, 0)
    with pytest.raises(InvalidInputError, match="needs a condition"):
        catalog.replace_where("things", " ", _rows(["a"], "g"), "key")


def test_failed_replace_leaves_the_old_rows(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.upsert("things", _rows(["a", "b"], "g"), "key")
    version, content = catalog.version("things"), _content(catalog)
    null_key = pa.table({"key": ["c", None], "grp": ["g", "g"], "v": [1, 1]})
    with pytest.raises(InvalidInputError, match="a key cannot be null"):
        catalog.replace_where("things", filters.eq("grp", "g"), null_key, "key")
    wrong = pa.table({"key": ["c"], "grp": ["g"], "colour": ["red"]})
    with pytest.raises(InvalidInputError, match="the table has"):
        catalog.replace_where("things", filters.eq("grp", "g"), wrong, "key")
    with pytest.raises(InvalidInputError, match="invalid filter"):
        catalog.replace_where("things", "nosuch = 1", _rows(["c"], "g"), "key")
    assert catalog.version("things") == version and _content(catalog) == content


CHILD = """
import sys
from pathlib import Path
import pyarrow as pa
from fashionlens.store.catalog import Catalog

catalog, n = Catalog(Path(sys.argv[1])), int(sys.argv[2])
v = catalog.read("things", columns=["v"]).column("v").to_pylist()[0] if catalog.count("things") else 0
while True:
    v += 1
    keys = [f"k{i:07d}" for i in range(v * 10, v * 10 + n)]  # each version drops 10 keys, adds 10
    rows = pa.table({"key": keys, "grp": ["g"] * n, "v": [v] * n})
    catalog.replace_where("things", "grp = 'g'", rows, "key")
    print(v, flush=True)
"""


def test_kill_9_during_replace_leaves_one_whole_version(tmp_path: Path) -> None:
    db, n, rng = tmp_path / "db", 40_000, random.Random(0)
    Catalog(db).upsert("things", _rows(["outside"], "h", 7), "key")
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(db), str(n)], stdout=subprocess.PIPE, text=True
        )
        assert child.stdout is not None
        child.stdout.readline()  # one replace committed: the next ones are in flight
        time.sleep(rng.uniform(0.0, 0.6))
        child.send_signal(signal.SIGKILL)
        child.wait()
        rows = _content(Catalog(db))
        assert rows.pop("outside") == ("h", 7)
        versions = {v for _, v in rows.values()}
        assert len(versions) == 1, f"rows of {len(versions)} versions after kill -9"
        v = versions.pop()
        assert set(rows) == {f"k{i:07d}" for i in range(v * 10, v * 10 + n)}


def test_delete_and_upsert_commit_once(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    assert catalog.delete("things", filters.eq("grp", "g")).version == 0  # no table: nothing
    first = catalog.upsert("things", _rows(["a", "b", "a"], "g"), "key")  # last row of a key wins
    assert (first.version, first.inserted, catalog.count("things")) == (1, 2, 2)
    assert catalog.upsert("things", _rows([], "g"), "key").version == 0
    second = catalog.upsert("things", _rows(["b", "c"], "h", 2), "key")
    assert (second.version, second.inserted, second.updated) == (2, 1, 1)
    gone = catalog.delete("things", filters.eq("grp", "h"))
    assert (gone.version, gone.deleted) == (3, 2) and _content(catalog) == {"a": ("g", 0)}
    with pytest.raises(InvalidInputError, match="needs a condition"):
        catalog.delete("things", "")


def test_tables_get_a_declared_key_and_old_tables_still_work(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.upsert("things", _rows(["a"], "g"), "key")
    field = catalog.schema("things").field("key")
    assert has_primary_key(catalog.schema("things")) and not field.nullable
    lancedb.connect(str(tmp_path / "db")).create_table("old", schema=SCHEMA)  # as older versions made it
    catalog.upsert("old", _rows(["a", "b"], "g"), "key")
    catalog.upsert("old", _rows(["b", "c"], "g"), "key")
    assert not has_primary_key(catalog.schema("old")) and catalog.count("old") == 3
    assert catalog.declare_key("old", "key") and not catalog.declare_key("old", "key")
    assert has_primary_key(catalog.schema("old"))
    catalog.upsert("old", _rows(["c", "d"], "g", 1), "key")
    assert _content(catalog, "old") == {"a": ("g", 0), "b": ("g", 0), "c": ("g", 1), "d": ("g", 1)}


def test_home_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    for read_only in (False, True):
        with pytest.raises(StoreError, match=f"{home} is a file, not a fashionlens home"):
            Catalog(home / "db", read_only=read_only)
    home.unlink()
    (home / "db").parent.mkdir()
    (home / "db").write_text("x")
    with pytest.raises(StoreError, match="is a file, not a database folder"):
        Catalog(home / "db")


def test_damaged_table_is_a_store_error(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "db")
    catalog.upsert("things", _rows(["a", "b"], "g"), "key")
    for data in (tmp_path / "db" / "things.lance" / "data").iterdir():
        data.unlink()
    with pytest.raises(StoreError, match=r"table things in .*: read failed: Not found"):
        catalog.read("things")
    with pytest.raises(StoreError, match="table things"):
        catalog.upsert("things", _rows(["c"], "g"), "key")
    for manifest in (tmp_path / "db" / "things.lance" / "_versions").iterdir():
        manifest.write_bytes(b"garbage")
    with pytest.raises(StoreError, match="table things"):
        catalog.count("things")


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def test_read_only_home_reads_and_never_writes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Catalog(home / "db").upsert("things", _rows(["a", "b"], "g"), "key")
    before = _snapshot(home)
    catalog = Catalog(home / "db", read_only=True)
    assert catalog.read_only and catalog.count("things") == 2
    assert catalog.read("things", where=filters.eq("key", "a")).num_rows == 1
    writes = [
        lambda: catalog.upsert("things", _rows(["c"], "g"), "key"),
        lambda: catalog.replace_where("things", "grp = 'g'", _rows(["c"], "g"), "key"),
        lambda: catalog.delete("things", "grp = 'g'"),
        lambda: catalog.replace_table("things", _rows(["c"], "g")),
        lambda: catalog.compact("things"),
        lambda: catalog.declare_key("things", "key"),
        lambda: catalog.upsert("new_table", _rows(["c"], "g"), "key"),
    ]
    for write in writes:
        with pytest.raises(StoreError, match=f"{home / 'db'} is read-only: cannot write table"):
            write()
    assert _snapshot(home) == before


def test_read_only_never_creates_a_home(tmp_path: Path) -> None:
    typo = tmp_path / "hoem"
    with pytest.raises(StoreError, match=f"no fashionlens home at {typo}"):
        Catalog(typo / "db", read_only=True)
    assert not typo.exists()
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    catalog = Catalog(fresh / "db", read_only=True)  # a home without a database yet reads as empty
    assert catalog.table_names() == [] and catalog.count("images") == 0
    assert (
        catalog.read("images").num_rows == 0 and catalog.read("images", columns=["image_id"]).num_columns == 1
    )
    with pytest.raises(NotReadyError):
        catalog.read("search__x")
    assert os.listdir(fresh) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write any folder; the explicit flag is tested above")
def test_unwritable_folder_is_read_only_by_itself(tmp_path: Path) -> None:
    db = tmp_path / "db"
    Catalog(db).upsert("things", _rows(["a"], "g"), "key")
    db.chmod(0o555)
    try:
        catalog = Catalog(db)
        assert catalog.read_only and catalog.count("things") == 1
        with pytest.raises(StoreError, match="is read-only: cannot write table things"):
            catalog.upsert("things", _rows(["b"], "g"), "key")
    finally:
        db.chmod(0o755)
