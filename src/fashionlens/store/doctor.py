"""Check a home's catalogue for what concurrent writers or crashes of older versions left behind,
and repair it.

`check_home` reads only. It finds

- **duplicate keys** in every keyed table (two rows with one ``image_id`` in an embeddings table:
  search would return that image twice);
- **dangling rows**: embeddings, labels, annotations, predictions, people, garments and
  segment_status rows whose ``image_id`` has no ``images`` row (garment embeddings: no
  ``garments`` row);
- **stale search tables** (their source tables changed since they were built) and search tables
  without a ``search_state`` row;
- tables made before keys were declared (their inserts are not checked at commit), and tables
  that cannot be read.

`repair_home` removes, per table and in ONE commit (under the table's writer lock, re-reading the
table inside it), the duplicates (the newest row of a key is kept: the highest row address, since
LanceDB writes every insert and update to a new fragment) and the dangling rows; then declares the
key of older tables. Stale search tables are rebuilt by ``fashionlens search index``, not here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import StoreError
from fashionlens.store import filters
from fashionlens.store.catalog import Catalog, has_primary_key, table_key
from fashionlens.store.guard import guard
from fashionlens.store.search_table import stale_sources

logger = logging.getLogger(__name__)

Kind = Literal["duplicate", "dangling", "unreadable", "stale", "orphan", "no_key_check"]
ERRORS: tuple[Kind, ...] = ("duplicate", "dangling", "unreadable")

# child table (or name prefix) -> (its column, the parent table, the parent's key)
REFERENCES: dict[str, tuple[str, str, str]] = {
    "annotations": ("image_id", "images", "image_id"),
    "labels": ("image_id", "images", "image_id"),
    "predictions": ("image_id", "images", "image_id"),
    "people": ("image_id", "images", "image_id"),
    "garments": ("image_id", "images", "image_id"),
    "segment_status": ("image_id", "images", "image_id"),
    "garment_embeddings__": ("image_id", "garments", "garment_key"),
    "embeddings__": ("image_id", "images", "image_id"),
}
_EXAMPLES = 3


@dataclass(frozen=True)
class Finding:
    """One problem in one table: ``rows`` is how many rows a repair removes (duplicates: the
    rows beyond one per key), 0 for the kinds a repair does not remove rows for."""

    table: str
    kind: Kind
    rows: int
    detail: str
    examples: tuple[str, ...] = ()

    @property
    def is_error(self) -> bool:
        return self.kind in ERRORS


@dataclass
class DoctorReport:
    db_path: Path
    tables: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)  # table -> rows a repair deleted
    declared_keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No duplicates, no dangling rows, every table readable (stale search tables and older
        tables without a declared key are warnings)."""
        return not any(f.is_error for f in self.findings)


def reference_of(name: str) -> tuple[str, str, str] | None:
    if name in REFERENCES:
        return REFERENCES[name]
    for prefix in ("garment_embeddings__", "embeddings__"):  # the longer prefix first
        if name.startswith(prefix):
            return REFERENCES[prefix]
    return None


def _with_rows(catalog: Catalog, name: str, columns: list[str]) -> pa.Table:
    """``columns`` of ``name`` plus ``_rowid`` and ``_rowaddr``."""
    with guard(catalog.path, name, "read"):
        table = catalog.open_table(name)
        query = table.search().with_row_id(True).select([*columns, "_rowaddr"])
        return query.limit(None).to_arrow()


def _duplicate_losers(rows: pa.Table, key: str) -> tuple[list[int], list[str]]:
    """Row ids of every row of a duplicated key but the newest one, and the duplicated keys."""
    keys = rows.column(key).to_pylist()
    addresses = rows.column("_rowaddr").to_numpy()
    row_ids = rows.column("_rowid").to_numpy()
    newest: dict[object, int] = {}
    losers: list[int] = []
    duplicated: dict[object, None] = {}
    for i in np.argsort(addresses, kind="stable"):
        k = keys[i]
        if k in newest:
            losers.append(int(row_ids[newest[k]]))
            duplicated[k] = None
        newest[k] = int(i)
    return losers, [str(k) for k in duplicated]


def _parent_keys(catalog: Catalog, parent: str, parent_key: str, cache: dict[str, set[str]]) -> set[str]:
    if parent not in cache:
        cache[parent] = set(catalog.read(parent, columns=[parent_key]).column(parent_key).to_pylist())
    return cache[parent]


def _dangling(rows: pa.Table, column: str, parents: set[str]) -> tuple[list[int], list[str]]:
    values = rows.column(column).to_pylist()
    row_ids = rows.column("_rowid").to_pylist()
    hits = [(int(r), str(v)) for r, v in zip(row_ids, values, strict=True) if v not in parents]
    return [r for r, _ in hits], list(dict.fromkeys(v for _, v in hits))


def _problems(
    catalog: Catalog, name: str, cache: dict[str, set[str]]
) -> tuple[list[Finding], list[int], str | None]:
    """The duplicate/dangling findings of one table, the row ids a repair deletes, and its key."""
    schema = catalog.schema(name)
    key = table_key(name, schema)
    reference = reference_of(name)
    columns = [
        c for c in dict.fromkeys([key, reference[0] if reference else None]) if c and c in schema.names
    ]
    if not columns:
        return [], [], None
    rows = _with_rows(catalog, name, columns)
    findings: list[Finding] = []
    doomed: set[int] = set()
    if key and key in schema.names:
        losers, keys = _duplicate_losers(rows, key)
        if losers:
            findings.append(
                Finding(
                    name,
                    "duplicate",
                    len(losers),
                    f"{len(keys)} {key} values have more than one row",
                    tuple(keys[:_EXAMPLES]),
                )
            )
            doomed.update(losers)
    if reference and reference[0] in schema.names and not name.startswith("search__"):
        column, parent, parent_key = reference
        parents = _parent_keys(catalog, parent, parent_key, cache)
        ids, values = _dangling(rows, column, parents)
        if ids:
            findings.append(
                Finding(
                    name,
                    "dangling",
                    len(ids),
                    f"{len(values)} {column} values have no {parent} row",
                    tuple(values[:_EXAMPLES]),
                )
            )
            doomed.update(ids)
    return findings, sorted(doomed), key


def _search_findings(catalog: Catalog, names: list[str]) -> list[Finding]:
    out: list[Finding] = []
    states = {r["table_name"]: r for r in catalog.read("search_state").to_pylist()}
    for name in names:
        if not name.startswith("search__"):
            continue
        state = states.get(name)
        if state is None:
            out.append(
                Finding(name, "orphan", 0, "no search_state row; rebuild it with `fashionlens search index`")
            )
            continue
        changed = stale_sources(catalog, state)
        if changed:
            out.append(
                Finding(
                    name,
                    "stale",
                    0,
                    f"built before changes to {', '.join(changed)}; refresh it with "
                    f"`fashionlens search index --backbone {state['model_id']}`",
                )
            )
    return out


def _lacks_key(name: str, schema: pa.Schema, key: str) -> bool:
    """A keyed table (search tables are rewritten whole, never upserted) without a declared key."""
    return key in schema.names and not has_primary_key(schema) and not name.startswith("search__")


def _depth(name: str) -> int:
    """Parents before children, so that a repair judges children against repaired parents."""
    reference = reference_of(name)
    if reference is None:
        return 0
    return 1 + _depth(reference[1])


def _scan(
    catalog: Catalog, on_table: Callable[[str, list[Finding], list[int], str | None], None] | None = None
) -> DoctorReport:
    report = DoctorReport(catalog.path, catalog.table_names())
    cache: dict[str, set[str]] = {}
    for name in sorted(report.tables, key=lambda n: (_depth(n), n)):
        try:
            findings, doomed, key = _problems(catalog, name, cache)
            schema = catalog.schema(name)
        except StoreError as exc:
            report.findings.append(Finding(name, "unreadable", 0, str(exc)))
            continue
        report.findings += findings
        if key and _lacks_key(name, schema, key):
            report.findings.append(
                Finding(
                    name,
                    "no_key_check",
                    0,
                    f"made before keys were declared: inserts of {key} are not "
                    "checked at commit (--repair declares it)",
                )
            )
        if on_table is not None:
            on_table(name, findings, doomed, key)
    try:
        report.findings += _search_findings(catalog, report.tables)
    except StoreError as exc:
        report.findings.append(Finding("search_state", "unreadable", 0, str(exc)))
    return report


def check_home(catalog: Catalog) -> DoctorReport:
    """What is wrong with the catalogue (reads only; works on a read-only home)."""
    return _scan(catalog)


def repair_home(catalog: Catalog) -> DoctorReport:
    """Remove duplicates (the newest row of a key stays) and dangling rows, one commit per table,
    and declare the key of older tables; returns a fresh check with what was removed."""
    removed: dict[str, int] = {}
    declared: list[str] = []

    def fix(name: str, findings: list[Finding], doomed: list[int], key: str | None) -> None:
        if doomed:
            with catalog.writing(name):  # re-read under the lock: what a concurrent writer added stays
                _, doomed_now, _ = _problems(catalog, name, {})
                if doomed_now:
                    written = catalog.delete(name, filters.isin("_rowid", doomed_now))
                    removed[name] = written.deleted
                    logger.info("%s: removed %d rows (duplicates, dangling)", name, written.deleted)
        schema = catalog.schema(name)
        declare = bool(key) and _lacks_key(name, schema, str(key)) and not schema.field(key).nullable
        if declare and catalog.declare_key(name, str(key)):
            declared.append(name)

    _scan(catalog, fix)
    report = _scan(catalog)
    report.removed, report.declared_keys = removed, declared
    return report
