"""Hostile values through `store.filters` into real LanceDB queries and deletes: each matches exactly
its own row, never more (issue 9: `--source "x' OR '1'='1"` once selected every image)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.store import filters
from fashionlens.store.catalog import Catalog

HOSTILE = [
    "x' OR '1'='1",
    "' OR 1=1 --",
    "a\\",
    "a\\' OR 'a'='a",
    "line\nnext' OR '1'='1",
    "a\r\nb",
    "ünïcødé ✓ 日本語 \u2028",
    "'",
    "''",
    '"double"',
    "%",
    "_",
    "/* comment */",
    "x" * 100_000,
    "'" * 1_000,
    "street",
]


def _catalog(tmp_path: Path) -> Catalog:
    catalog = Catalog(tmp_path / "db")
    n = len(HOSTILE)
    rows = pa.table(
        {"key": [f"k{i}" for i in range(n)], "source": HOSTILE, "null": ["x"] * n, "n": list(range(n))}
    )
    catalog.upsert("things", rows, "key")
    return catalog


def test_each_hostile_value_matches_only_itself(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    schema = catalog.schema("things")
    for i, value in enumerate(HOSTILE):
        rows = catalog.read("things", where=filters.eq("source", value, schema=schema))
        assert rows.column("n").to_pylist() == [i], repr(value[:40])
        assert catalog.count("things", filters.ne("source", value, schema=schema)) == len(HOSTILE) - 1
    picked = catalog.read("things", where=filters.isin("source", HOSTILE[:3], schema=schema))
    assert sorted(picked.column("n").to_pylist()) == [0, 1, 2]
    assert catalog.count("things", filters.isin("source", [])) == 0
    assert catalog.count("things", filters.eq("null", "x", schema=schema)) == len(HOSTILE)  # a keyword column
    assert catalog.count("things", filters.and_(filters.eq("n", 3), filters.eq("source", HOSTILE[3]))) == 1


def test_hostile_deletes_and_replaces_touch_only_their_rows(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    for value in HOSTILE[:6]:
        assert catalog.delete("things", filters.eq("source", value)).deleted == 1
    assert catalog.count("things") == len(HOSTILE) - 6
    target = HOSTILE[7]
    new = pa.table({"key": ["new"], "source": [target], "null": ["y"], "n": [99]})
    written = catalog.replace_where("things", filters.eq("source", target), new, "key")
    assert (written.deleted, written.inserted) == (1, 1)
    assert catalog.count("things") == len(HOSTILE) - 6


def test_nul_and_bad_columns_never_reach_lancedb(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    with pytest.raises(InvalidInputError, match="NUL"):
        catalog.read("things", where=filters.eq("source", "a\x00' OR '1'='1"))
    with pytest.raises(InvalidInputError, match="not a column name"):
        filters.eq("source = source OR source", "x")
    with pytest.raises(InvalidInputError, match="holds int64"):
        filters.eq("n", "1 OR 1=1", schema=catalog.schema("things"))
