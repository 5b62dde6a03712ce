"""WHERE clauses built only from validated values, for `Catalog.read`, `delete`, `replace_where`.

Column names must be plain identifiers (and, given a schema, columns of that table); a name that
is also a SQL keyword (``null``, ``true``, ``interval``...) is rendered in backticks. Values go
through `literal`: strings in single quotes with every quote doubled (LanceDB's SQL dialect has no
backslash escapes, so ``\\`` is an ordinary character), NUL refused; ints and finite floats as
numbers, bools as TRUE/FALSE. Given a schema, a value must suit the column's type (a string
column takes only ``str``). ::

    where = and_(eq("source", "street", schema=IMAGES), isin("image_id", ids))

A ``--where`` option on the command line is raw SQL **by design**: the user's own filter on the
user's own data, passed through unchanged (parenthesised by `and_` when combined with clauses
built here). Every other value that reaches a ``where`` must be built here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TypeAlias

import pyarrow as pa

from fashionlens.core.errors import InvalidInputError

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
# words the SQL parser reads as something else when bare (`null = 'x'` is never true): quoted
KEYWORDS = frozenset(
    {
        "all", "and", "any", "array", "between", "case", "cast", "current_date", "current_time",
        "current_timestamp", "distinct", "else", "end", "exists", "false", "from", "in", "interval",
        "is", "like", "not", "null", "or", "select", "some", "struct", "then", "true", "when", "where",
    }
)  # fmt: skip
Value: TypeAlias = str | int | float | bool
Columns: TypeAlias = pa.Schema | Sequence[str]


def ident(column: str, schema: Columns | None = None) -> str:
    """``column`` if it is an identifier (and a column of ``schema`` when one is given); in
    backticks when it is a SQL keyword."""
    if not isinstance(column, str) or not IDENTIFIER.fullmatch(column):
        raise InvalidInputError(f"{column!r} is not a column name (letters, digits and _)")
    if schema is not None:
        names = schema.names if isinstance(schema, pa.Schema) else list(schema)
        if column not in names:
            raise InvalidInputError(f"no column {column!r}; columns: {', '.join(names)}")
    return f"`{column}`" if column.lower() in KEYWORDS else column


def literal(value: Value) -> str:
    """A SQL literal for ``value``: quoted string (quotes doubled), number, or TRUE/FALSE."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"cannot filter on a non-finite number: {value!r}")
        return repr(float(value))
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInputError(f"a filter value cannot contain a NUL character: {value[:40]!r}")
        return "'" + value.replace("'", "''") + "'"
    raise InvalidInputError(f"a filter value must be str, int, float or bool; got {type(value).__name__}")


def _check_type(column: str, value: Value, schema: Columns | None) -> None:
    if not isinstance(schema, pa.Schema):
        return
    kind = schema.field(column).type
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if pa.types.is_boolean(kind):
        ok = isinstance(value, bool)
    elif pa.types.is_integer(kind):
        ok = number and isinstance(value, int)
    elif pa.types.is_floating(kind):
        ok = number
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        ok = isinstance(value, str)
    else:
        raise InvalidInputError(f"cannot filter on column {column!r} of type {kind}")
    if not ok:
        raise InvalidInputError(f"column {column!r} holds {kind}; got {type(value).__name__} {value!r}")


def eq(column: str, value: Value, schema: Columns | None = None) -> str:
    """``column = value``."""
    name = ident(column, schema)
    _check_type(column, value, schema)
    return f"{name} = {literal(value)}"


def ne(column: str, value: Value, schema: Columns | None = None) -> str:
    """``column != value``."""
    name = ident(column, schema)
    _check_type(column, value, schema)
    return f"{name} != {literal(value)}"


def isin(column: str, values: Iterable[Value], schema: Columns | None = None) -> str:
    """``column IN (...)``; an empty ``values`` matches nothing (``FALSE``)."""
    name = ident(column, schema)
    items = list(dict.fromkeys(values))
    for value in items:
        _check_type(column, value, schema)
    if not items:
        return "FALSE"
    return f"{name} IN ({', '.join(literal(v) for v in items)})"


def _join(op: str, clauses: Iterable[str | None]) -> str | None:
    parts = [c for c in clauses if c]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else f" {op} ".join(f"({c})" for c in parts)


def and_(*clauses: str | None) -> str | None:
    """Every clause (each parenthesised); None and empty ones are left out; None if none remain."""
    return _join("AND", clauses)


def or_(*clauses: str | None) -> str | None:
    """Any clause (each parenthesised); None and empty ones are left out; None if none remain."""
    return _join("OR", clauses)
