"""WHERE clauses from validated values: identifiers checked, literals escaped, types enforced."""

from __future__ import annotations

import pyarrow as pa
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.store import filters
from fashionlens.store.schemas import IMAGES
from fashionlens.store.search_table import sql_literal, where_clause

SCHEMA = pa.schema([("name", pa.string()), ("n", pa.int32()), ("x", pa.float32()), ("ok", pa.bool_())])


@pytest.mark.parametrize(
    ("value", "sql"),
    [
        ("street", "'street'"),
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        ("'", "''''"),
        ("a\\", "'a\\'"),  # no backslash escapes in LanceDB's SQL: kept as one character
        ("a\\' OR 1=1 --", "'a\\'' OR 1=1 --'"),
        ("line\nnext", "'line\nnext'"),
        ("ünï ✓ 日本", "'ünï ✓ 日本'"),
        (7, "7"),
        (-3, "-3"),
        (0.5, "0.5"),
        (True, "TRUE"),
        (False, "FALSE"),
    ],
)
def test_literal(value: filters.Value, sql: str) -> None:
    assert filters.literal(value) == sql


@pytest.mark.parametrize("value", ["a\x00b", float("nan"), float("inf"), None, b"bytes", ["list"]])
def test_literal_refuses(value: object) -> None:
    with pytest.raises(InvalidInputError):
        filters.literal(value)  # type: ignore[arg-type]


def test_long_value_is_one_literal() -> None:
    value = "'" * 50_000 + "x" * 50_000
    sql = filters.literal(value)
    assert len(sql) == 2 + 100_000 + 50_000
    assert sql[0] == sql[-1] == "'" and sql[1:-1].replace("''", "'") == value


@pytest.mark.parametrize(
    "column", ["name; DROP", "a b", "1st", "", "na-me", "é", "x" * 129, "name--", "n\n", "`name`", "name`"]
)
def test_identifier_refused(column: str) -> None:
    with pytest.raises(InvalidInputError, match="not a column name"):
        filters.eq(column, "v")


def test_columns_checked_against_schema() -> None:
    assert filters.eq("source", "street", schema=IMAGES) == "source = 'street'"
    with pytest.raises(InvalidInputError, match="no column 'colour'"):
        filters.eq("colour", "red", schema=IMAGES)
    with pytest.raises(InvalidInputError, match="no column"):
        filters.isin("nope", ["a"], schema=["image_id", "source"])


@pytest.mark.parametrize(
    ("column", "value"),
    [("name", 3), ("n", "3"), ("n", True), ("n", 1.5), ("x", "0.5"), ("ok", 1), ("name", True)],
)
def test_value_must_suit_the_column_type(column: str, value: filters.Value) -> None:
    with pytest.raises(InvalidInputError, match=f"column '{column}' holds"):
        filters.eq(column, value, schema=SCHEMA)


def test_keywords_are_quoted() -> None:
    assert filters.eq("null", "x") == "`null` = 'x'" and filters.isin("True", [1]) == "`True` IN (1)"


def test_typed_values_render() -> None:
    assert filters.eq("n", 3, schema=SCHEMA) == "n = 3"
    assert filters.eq("x", 2, schema=SCHEMA) == "x = 2"
    assert filters.ne("ok", True, schema=SCHEMA) == "ok != TRUE"


def test_isin_and_combinators() -> None:
    assert filters.isin("image_id", ["a", "b", "a"]) == "image_id IN ('a', 'b')"
    assert filters.isin("image_id", []) == "FALSE"
    assert filters.and_(None, "") is None
    assert filters.and_("a = 1") == "a = 1"
    assert filters.and_("a = 1", None, "b = 2") == "(a = 1) AND (b = 2)"
    assert filters.or_("a = 1", "b = 2") == "(a = 1) OR (b = 2)"


def test_search_helpers_use_the_escaper() -> None:
    assert sql_literal("it's") == "'it''s'"
    with pytest.raises(InvalidInputError, match="NUL"):
        sql_literal("a\x00")
    clause = where_clause({"source": "x' OR '1'='1", "colour": ["red", "o'range"], "split": None})
    assert clause == "source = 'x'' OR ''1''=''1' AND colour IN ('red', 'o''range')"
    with pytest.raises(InvalidInputError, match="cannot filter on"):
        where_clause({"vector": "x"})
