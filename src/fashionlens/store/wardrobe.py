"""The wardrobe tables: items, outfits, wear log, and the audit log that makes every change undoable.

Four LanceDB tables in the catalogue's database folder (``HOME/db``):

- ``wardrobe_items`` (key ``item_id``): one garment you own (or want, or gave away);
- ``wardrobe_outfits`` (key ``outfit_id``): slots ``role -> item_id``;
- ``wardrobe_wear_log`` (key ``wear_id``): an item or an outfit worn on a date;
- ``wardrobe_audit`` (key ``entry_key``): one entry per row a change touched, in change order.

Every row has a ``version`` (1 on insert, +1 on every write) and created/updated timestamps. The
schema carries ``schema_version`` in its Arrow metadata; an older table is migrated on open (one
commit, `MIGRATIONS`), a newer one is refused.

**Writes** go through `WardrobeStore.apply`: a planning function runs under the store's cross-process
writer locks (`fashionlens.store.locks`: ``fcntl.flock`` on ``HOME/db/.locks/<table>.lock``, taken in
name order, the audit table's included, so wardrobe writes are serialised across threads and
processes; LanceDB failures leave as `StoreError`, `fashionlens.store.guard`), returns a
`Change` (rows to upsert, keys to delete, versions the caller expects), and the store

1. checks the expected versions (a stale one raises `ConflictError`: never a silent overwrite);
2. commits the audit entries (the row as it was before, and the version it will have after);
3. commits the data: upserts and deletes of one table in one LanceDB commit.

A change is therefore one data commit: a crash leaves the whole change or nothing. If the process
dies between 2 and 3, the next writer finds the newest audit change not applied and rolls it back
(marks it ``rolled_back``); an interrupted undo is rolled forward, since its target rows are in the
log. **Undo** reverts the newest applied change (LIFO): rows it created are deleted, rows it changed
or deleted come back with their old content and a new version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from fashionlens.core.errors import ConflictError, InvalidInputError, NotReadyError, require
from fashionlens.store.search_table import sql_literal

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
ITEMS = "wardrobe_items"
OUTFITS = "wardrobe_outfits"
WEAR_LOG = "wardrobe_wear_log"
AUDIT = "wardrobe_audit"
DATA_TABLES = (ITEMS, OUTFITS, WEAR_LOG)
KEYS = {ITEMS: "item_id", OUTFITS: "outfit_id", WEAR_LOG: "wear_id", AUDIT: "entry_key"}
STATUSES = ("closet", "wishlist", "gone")
LOCK_TIMEOUT_S = 120.0
# outfit roles and the ModaNet garment classes that fill them
ROLES = ("top", "bottom", "dress", "outerwear", "footwear", "bag", "accessory")
ROLE_OF = {
    "top": "top",
    "pants": "bottom",
    "shorts": "bottom",
    "skirt": "bottom",
    "dress": "dress",
    "outer": "outerwear",
    "footwear": "footwear",
    "boots": "footwear",
    "bag": "bag",
    "belt": "accessory",
    "sunglasses": "accessory",
    "headwear": "accessory",
    "scarf/tie": "accessory",
}


def role_of(category: str) -> str:
    """The outfit role of a ModaNet garment class ("" for an unknown class)."""
    return ROLE_OF.get(category, "")


_STR = pa.string()
_STRS = pa.list_(pa.string())


def _meta(version: int = SCHEMA_VERSION) -> dict[str, str]:
    return {"schema_version": str(version)}


def _key(name: str) -> pa.Field:
    return pa.field(name, _STR, nullable=False)


_STAMPS = [pa.field("created_at", _STR), pa.field("updated_at", _STR), pa.field("version", pa.int64())]

_ITEM_FIELDS_V1 = [
    _key("item_id"),
    pa.field("name", _STR),
    pa.field("category", _STR),  # one of the 13 ModaNet garment classes ("" = unknown)
    pa.field("article_type", _STR),  # the catalogue's article type when known (Tshirts, Dresses...)
    pa.field("role", _STR),  # outfit role derived from the category: top, bottom, dress, ...
    pa.field("colour", _STR),  # the dominant colour name
    pa.field("colour_names", _STRS),
    pa.field("colours_json", _STR),  # [{"name", "share", "lab": [L, a, b], "hex"}]
    pa.field("pattern", _STR),
    pa.field("material", _STR),
    pa.field("season", _STR),
    pa.field("formality", _STR),
    pa.field("brand", _STR),
    pa.field("size", _STR),
    pa.field("price", pa.float64()),
    pa.field("currency", _STR),
    pa.field("acquired_on", _STR),  # ISO date or ""
    pa.field("status", _STR),  # closet | wishlist | gone
    pa.field("notes", _STR),
    pa.field("tags", _STRS),
    pa.field("source_photo", _STR),
    pa.field("source_hash", _STR),  # sha256 of the photo's bytes
    pa.field("photo_index", pa.int32()),  # which garment of that photo
    pa.field("segmenter_id", _STR),
    pa.field("crop_path", _STR),  # the garment on white (PNG)
    pa.field("mask_rle_json", _STR),  # COCO uncompressed RLE over the source photo
    pa.field("bbox_xyxy", pa.list_(pa.float32())),
    pa.field("attributes_json", _STR),  # predicted attributes and their confidences
    pa.field("embedding", pa.list_(pa.float32())),
    pa.field("embedding_model", _STR),
]
# v2: user_fields (fields the user set by hand; a re-run never overwrites them, "mask" included)
# and extra_json (keys of an imported item this schema has no column for, kept for export)
_ITEM_FIELDS_V2 = [*_ITEM_FIELDS_V1, pa.field("user_fields", _STRS), pa.field("extra_json", _STR)]

ITEMS_SCHEMA_V1 = pa.schema([*_ITEM_FIELDS_V1, *_STAMPS], metadata=_meta(1))
ITEMS_SCHEMA = pa.schema([*_ITEM_FIELDS_V2, *_STAMPS], metadata=_meta())
OUTFITS_SCHEMA = pa.schema(
    [
        _key("outfit_id"),
        pa.field("name", _STR),
        pa.field("slots_json", _STR),  # {"top": item_id, "bottom": item_id, ...}
        pa.field("item_ids", _STRS),
        pa.field("season", _STR),
        pa.field("occasion", _STR),
        pa.field("score", pa.float64()),
        pa.field("reasons_json", _STR),
        pa.field("notes", _STR),
        *_STAMPS,
    ],
    metadata=_meta(),
)
WEAR_LOG_SCHEMA = pa.schema(
    [
        _key("wear_id"),
        pa.field("kind", _STR),  # item | outfit
        pa.field("target_id", _STR),
        pa.field("worn_on", _STR),  # ISO date
        pa.field("notes", _STR),
        *_STAMPS,
    ],
    metadata=_meta(),
)
AUDIT_SCHEMA = pa.schema(
    [
        _key("entry_key"),  # <change_id>:<n>
        pa.field("change_id", _STR),
        pa.field("seq", pa.int64()),  # change order, one number per change
        pa.field("at", _STR),
        pa.field("action", _STR),  # add, edit, remove, import, wear, outfit, undo, ...
        pa.field("table_name", _STR),
        pa.field("row_key", _STR),
        pa.field("before_json", _STR),  # the row before the change ("" = it did not exist)
        pa.field("after_version", pa.int64()),  # its version after (-1 = deleted)
        pa.field("state", _STR),  # applied | undone | rolled_back
        pa.field("undo_of", _STR),  # for an undo: the change it reverts
        pa.field("summary", _STR),
    ],
    metadata=_meta(),
)
SCHEMAS = {ITEMS: ITEMS_SCHEMA, OUTFITS: OUTFITS_SCHEMA, WEAR_LOG: WEAR_LOG_SCHEMA, AUDIT: AUDIT_SCHEMA}


def _items_v1_to_v2(rows: pa.Table) -> pa.Table:
    n = rows.num_rows
    rows = rows.append_column(pa.field("user_fields", _STRS), pa.array([[] for _ in range(n)], _STRS))
    return rows.append_column(pa.field("extra_json", _STR), pa.array(["{}"] * n, _STR))


# table -> {from_version: step}; each step turns an Arrow table of version v into version v + 1
MIGRATIONS: dict[str, dict[int, Callable[[pa.Table], pa.Table]]] = {ITEMS: {1: _items_v1_to_v2}}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _default(field_type: pa.DataType) -> Any:
    if pa.types.is_list(field_type):
        return []
    if pa.types.is_string(field_type):
        return ""
    return None


def normalise_row(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every column of ``table`` (missing strings "", lists [], numbers None); unknown
    keys raise `InvalidInputError`."""
    schema = SCHEMAS[table]
    unknown = set(row) - set(schema.names)
    if unknown:
        raise InvalidInputError(f"{table}: unknown columns {sorted(unknown)}; known: {schema.names}")
    out = {f.name: row.get(f.name, _default(f.type)) for f in schema}
    for f in schema:
        if out[f.name] is None and (pa.types.is_string(f.type) or pa.types.is_list(f.type)):
            out[f.name] = _default(f.type)
    if not out[KEYS[table]]:
        raise InvalidInputError(f"{table}: a row needs a {KEYS[table]}")
    return out


def _json_row(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, separators=(",", ":"))


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(sql_literal(v) for v in values)})"


# -- the cross-process writer lock (fashionlens.store.locks) --------------------------------------
@contextlib.contextmanager
def table_locks(db_path: Path, tables: Sequence[str], timeout_s: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """Hold the writer locks of ``tables`` (`fashionlens.store.locks.table_lock`: ``fcntl.flock`` on
    ``db_path/.locks/<table>.lock``, re-entrant within a thread), taken in name order so two
    writers never deadlock."""
    from fashionlens.store.locks import table_lock

    with contextlib.ExitStack() as stack:
        for name in sorted(set(tables)):
            stack.enter_context(table_lock(db_path, name, timeout_s))
        yield


# -- changes ----------------------------------------------------------------------------------------
@dataclass
class Change:
    """What one write does to one table: rows to upsert (full rows; versions and timestamps are set
    by the store), keys to delete, and the versions the caller read (a mismatch is a conflict)."""

    action: str
    upserts: list[dict[str, Any]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    expected_versions: dict[str, int] = field(default_factory=dict)
    summary: str = ""

    def empty(self) -> bool:
        return not self.upserts and not self.deletes


@dataclass(frozen=True)
class Applied:
    """A committed change: its id and order, the table, and what happened to which keys."""

    change_id: str
    seq: int
    action: str
    table: str
    created: tuple[str, ...]
    updated: tuple[str, ...]
    deleted: tuple[str, ...]
    rows: tuple[dict[str, Any], ...]  # the rows as written (upserts)
    summary: str = ""
    undo_of: str = ""


@dataclass(frozen=True)
class ChangeInfo:
    change_id: str
    seq: int
    at: str
    action: str
    table: str
    keys: tuple[str, ...]
    state: str
    summary: str
    undo_of: str


class WardrobeStore:
    """The wardrobe tables of the database at ``db_path`` (``Settings.db_path``), created and
    migrated on first use."""

    def __init__(self, db_path: Path, *, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        lancedb = require("lancedb")
        self.path = Path(db_path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.lock_timeout_s = lock_timeout_s
        self._db = lancedb.connect(str(self.path))
        self._ready = False

    # -- schema ----------------------------------------------------------------------------------
    def _names(self) -> set[str]:
        return set(self._db.list_tables().tables)

    def _locks(self, *tables: str) -> contextlib.AbstractContextManager[None]:
        return table_locks(self.path, tables, self.lock_timeout_s)

    def ensure(self) -> None:
        """Create missing tables and migrate old ones (once per store object)."""
        if self._ready:
            return
        names = self._names()
        try:
            current = all(
                n in names and schema_version(self._db.open_table(n).schema) == SCHEMA_VERSION
                for n in SCHEMAS
            )
        except (ValueError, OSError):  # listed while another writer is still creating it
            current = False
        if current:
            self._ready = True  # the common case: no lock needed just to read
            return
        with self._locks(*SCHEMAS):
            names = self._names()
            for name, schema in SCHEMAS.items():
                if name not in names:
                    self._db.create_table(name, schema=schema, exist_ok=True)
                    continue
                stored = self._db.open_table(name).schema
                version = schema_version(stored)
                if version > SCHEMA_VERSION:
                    raise NotReadyError(
                        f"{self.path}/{name}: schema version {version} was written by a newer fashionlens "
                        f"(this one reads up to {SCHEMA_VERSION}); upgrade fashionlens"
                    )
                if version < SCHEMA_VERSION:
                    self._migrate(name, version)
        self._ready = True

    def _migrate(self, name: str, version: int) -> None:
        rows = self._db.open_table(name).to_arrow()
        start = version
        steps = MIGRATIONS.get(name, {})
        while version < SCHEMA_VERSION:
            if version in steps:
                rows = steps[version](rows)
            version += 1
        target = SCHEMAS[name]
        rows = pa.table({f.name: rows.column(f.name).cast(f.type) for f in target}, schema=target)
        self._db.create_table(name, rows, schema=target, mode="overwrite")
        logger.info("migrated %s from schema version %d to %d (%d rows)", name, start, version, len(rows))

    def schema_versions(self) -> dict[str, int]:
        self.ensure()
        return {name: schema_version(self._db.open_table(name).schema) for name in SCHEMAS}

    # -- reads (no lock: LanceDB reads a committed version) ----------------------------------------
    def rows(self, table: str, where: str | None = None) -> list[dict[str, Any]]:
        from fashionlens.store.guard import guard

        self.ensure()
        with guard(self.path, table, "read", where):
            t = self._db.open_table(table)
            if where is None:
                return t.to_arrow().to_pylist()  # type: ignore[no-any-return]
            return t.search().where(where).limit(None).to_arrow().to_pylist()  # type: ignore[no-any-return]

    def arrow(self, table: str) -> pa.Table:
        self.ensure()
        return self._db.open_table(table).to_arrow()

    def get(self, table: str, key: str) -> dict[str, Any] | None:
        found = self.rows(table, f"{KEYS[table]} = {sql_literal(key)}")
        return found[0] if found else None

    def get_many(self, table: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        column = KEYS[table]
        return {r[column]: r for r in self.rows(table, _in(column, list(dict.fromkeys(keys))))}

    def count(self, table: str) -> int:
        self.ensure()
        return int(self._db.open_table(table).count_rows())

    def table_version(self, table: str) -> int:
        self.ensure()
        return int(self._db.open_table(table).version)

    # -- writes ----------------------------------------------------------------------------------
    def apply(self, table: str, plan: Callable[[], Change | None]) -> Applied | None:
        """Run ``plan`` under the writer lock and commit the `Change` it returns (module doc).

        ``plan`` reads what it needs through this store (it sees every committed write) and may
        raise to abort; None or an empty change writes nothing and returns None."""
        if table not in DATA_TABLES:
            raise InvalidInputError(f"not a wardrobe data table: {table!r}; known: {', '.join(DATA_TABLES)}")
        from fashionlens.store.guard import guard

        self.ensure()
        with self._locks(table, AUDIT), guard(self.path, table, "write"):
            self._recover()
            change = plan()
            if change is None or change.empty():
                return None
            return self._commit(table, change)

    def _commit(self, table: str, change: Change) -> Applied:
        key = KEYS[table]
        rows = [normalise_row(table, r) for r in change.upserts]
        keys = [r[key] for r in rows]
        if len(set(keys)) != len(keys):
            raise InvalidInputError(f"{table}: a change cannot write one {key} twice")
        current = self.get_many(table, [*keys, *change.deletes, *change.expected_versions])
        for k, expected in change.expected_versions.items():
            have = current.get(k)
            if have is None:
                raise ConflictError(f"{table} {k}: it was removed since you read version {expected}")
            if int(have["version"]) != int(expected):
                raise ConflictError(
                    f"{table} {k}: you edited version {expected}, but it is now version {have['version']} "
                    "(someone changed it first); reload it and edit again"
                )
        deletes = [k for k in dict.fromkeys(change.deletes) if k in current and k not in set(keys)]
        stamp = now_iso()
        for row in rows:
            old = current.get(row[key])
            row["version"] = int(old["version"]) + 1 if old else 1
            row["created_at"] = old["created_at"] if old else (row.get("created_at") or stamp)
            row["updated_at"] = stamp
        seq = self._next_seq()
        change_id = uuid.uuid4().hex[:16]
        entries = []
        touched = [(r[key], r["version"]) for r in rows] + [(k, -1) for k in deletes]
        for n, (k, after) in enumerate(touched):
            old = current.get(k)
            entries.append(
                {
                    "entry_key": f"{change_id}:{n}",
                    "change_id": change_id,
                    "seq": seq,
                    "at": stamp,
                    "action": change.action,
                    "table_name": table,
                    "row_key": k,
                    "before_json": _json_row(old) if old else "",
                    "after_version": after,
                    "state": "applied",
                    "undo_of": "",
                    "summary": change.summary,
                }
            )
        self._upsert(AUDIT, entries)  # the log first: a crash after it is rolled back
        self._write(table, rows, deletes)
        return Applied(
            change_id,
            seq,
            change.action,
            table,
            tuple(r[key] for r in rows if r["version"] == 1),
            tuple(r[key] for r in rows if r["version"] > 1),
            tuple(deletes),
            tuple(rows),
            change.summary,
        )

    def _upsert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        schema = SCHEMAS[table]
        data = pa.Table.from_pylist([normalise_row(table, r) for r in rows], schema=schema)
        self._db.open_table(table).merge_insert(
            KEYS[table]
        ).when_matched_update_all().when_not_matched_insert_all().execute(data)

    def _write(self, table: str, rows: list[dict[str, Any]], deletes: list[str]) -> None:
        """Upserts and deletes of one table in one commit."""
        t = self._db.open_table(table)
        key = KEYS[table]
        if not rows:
            if deletes:
                t.delete(_in(key, deletes))
            return
        data = pa.Table.from_pylist(rows, schema=SCHEMAS[table])
        merge = t.merge_insert(key).when_matched_update_all().when_not_matched_insert_all()
        if deletes:
            merge = merge.when_not_matched_by_source_delete(_in(key, deletes))
        merge.execute(data)

    def _next_seq(self) -> int:
        seqs = self._db.open_table(AUDIT).search().select(["seq"]).limit(None).to_arrow().column("seq")
        return int(max(seqs.to_pylist(), default=0) or 0) + 1

    def _entries(self, where: str) -> list[dict[str, Any]]:
        return self._db.open_table(AUDIT).search().where(where).limit(None).to_arrow().to_pylist()  # type: ignore[no-any-return]

    def _mark_entries(self, change_id: str, state: str) -> list[dict[str, Any]]:
        rows = self._entries(f"change_id = {sql_literal(change_id)}")
        return [{**r, "state": state} for r in rows]

    # -- recovery and undo --------------------------------------------------------------------------
    def _applied(self, entries: list[dict[str, Any]]) -> tuple[bool, bool]:
        """(all entries applied, none applied) for the entries of one change."""
        table = entries[0]["table_name"]
        current = self.get_many(table, [e["row_key"] for e in entries])
        done = []
        for e in entries:
            row = current.get(e["row_key"])
            after = int(e["after_version"])
            done.append(row is None if after == -1 else (row is not None and int(row["version"]) == after))
        return all(done), not any(done)

    def recover(self) -> None:
        """Finish or roll back a change a crash interrupted (every write does this first; call it at
        start-up to have the tables consistent before the first read)."""
        self.ensure()
        with self._locks(*SCHEMAS):
            self._recover()

    def _recover(self) -> None:
        """Finish or roll back the newest change if a crash interrupted it (lock held)."""
        seqs = self._db.open_table(AUDIT).search().select(["seq"]).limit(None).to_arrow().column("seq")
        if len(seqs) == 0:
            return
        last = self._entries(f"seq = {int(max(seqs.to_pylist()))}")
        if not last or last[0]["state"] != "applied":
            return
        complete, untouched = self._applied(last)
        if complete:
            return
        change_id, undo_of = last[0]["change_id"], last[0]["undo_of"]
        if undo_of:  # an undo whose data commit was lost: roll it forward from the log
            logger.warning("finishing the undo of change %s that a crash interrupted", undo_of)
            rows, deletes = self._restore_plan(self._entries(f"change_id = {sql_literal(undo_of)}"))
            table = last[0]["table_name"]
            after = {e["row_key"]: int(e["after_version"]) for e in last}
            for r in rows:
                r["version"] = after.get(r[KEYS[table]], r["version"])
            self._write(table, rows, deletes)
            return
        if not untouched:
            logger.error("change %s is partly applied; leaving it as it is", change_id)
            return
        logger.warning("rolling back change %s (%s) that a crash interrupted", change_id, last[0]["action"])
        self._upsert(AUDIT, [{**e, "state": "rolled_back"} for e in last])

    def _restore_plan(self, entries: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        """Rows to write back and keys to delete to revert the change of ``entries``."""
        table = entries[0]["table_name"]
        current = self.get_many(table, [e["row_key"] for e in entries])
        rows, deletes = [], []
        for e in entries:
            if e["before_json"]:
                before = json.loads(e["before_json"])
                now = current.get(e["row_key"])
                before["version"] = max(int(before["version"]), int(now["version"]) if now else 0) + 1
                before["updated_at"] = now_iso()
                rows.append(normalise_row(table, before))
            else:
                deletes.append(e["row_key"])
        return rows, deletes

    def undo(self) -> Applied | None:
        """Revert the newest applied change (its rows as they were); None when nothing is left."""
        from fashionlens.store.guard import guard

        self.ensure()
        with self._locks(*SCHEMAS), guard(self.path, AUDIT, "undo"):
            self._recover()
            entries = self._entries("state = 'applied' AND undo_of = ''")
            if not entries:
                return None
            seq = max(int(e["seq"]) for e in entries)
            target = [e for e in entries if int(e["seq"]) == seq]
            table = target[0]["table_name"]
            rows, deletes = self._restore_plan(target)
            action = target[0]["action"]
            change = Change("undo", deletes=deletes, summary=f"undo {action}: {target[0]['summary']}")
            # written as prepared (versions included), so bypass the version bump of _commit
            return self._commit_restore(table, change, rows, target[0]["change_id"])

    def _commit_restore(
        self, table: str, change: Change, rows: list[dict[str, Any]], undo_of: str
    ) -> Applied:
        key = KEYS[table]
        seq = self._next_seq()
        change_id = uuid.uuid4().hex[:16]
        stamp = now_iso()
        current = self.get_many(table, [r[key] for r in rows] + change.deletes)
        touched = [(r[key], int(r["version"])) for r in rows] + [(k, -1) for k in change.deletes]
        entries = [
            {
                "entry_key": f"{change_id}:{n}",
                "change_id": change_id,
                "seq": seq,
                "at": stamp,
                "action": "undo",
                "table_name": table,
                "row_key": k,
                "before_json": _json_row(current[k]) if k in current else "",
                "after_version": after,
                "state": "applied",
                "undo_of": undo_of,
                "summary": change.summary,
            }
            for n, (k, after) in enumerate(touched)
        ]
        self._upsert(AUDIT, [*entries, *self._mark_entries(undo_of, "undone")])
        self._write(table, rows, [k for k in change.deletes if k in current])
        created = tuple(r[key] for r in rows if r[key] not in current)
        updated = tuple(r[key] for r in rows if r[key] in current)
        return Applied(
            change_id,
            seq,
            "undo",
            table,
            created,
            updated,
            tuple(change.deletes),
            tuple(rows),
            change.summary,
            undo_of,
        )

    def history(self, limit: int = 20) -> list[ChangeInfo]:
        """The newest ``limit`` changes, newest first."""
        self.ensure()
        by_change: dict[str, list[dict[str, Any]]] = {}
        for e in self._db.open_table(AUDIT).to_arrow().to_pylist():
            by_change.setdefault(e["change_id"], []).append(e)
        infos = [
            ChangeInfo(
                cid,
                int(es[0]["seq"]),
                es[0]["at"],
                es[0]["action"],
                es[0]["table_name"],
                tuple(e["row_key"] for e in sorted(es, key=lambda e: e["entry_key"])),
                es[0]["state"],
                es[0]["summary"],
                es[0]["undo_of"],
            )
            for cid, es in by_change.items()
        ]
        return sorted(infos, key=lambda c: -c.seq)[:limit]


def schema_version(schema: pa.Schema) -> int:
    """The ``schema_version`` in a table's Arrow metadata (1 when absent: the first layout)."""
    raw = (schema.metadata or {}).get(b"schema_version", b"1")
    try:
        return int(raw.decode())
    except ValueError as exc:
        raise InvalidInputError(f"schema_version {raw!r} is not a number") from exc
