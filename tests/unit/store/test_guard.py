"""LanceDB/Arrow failures become project errors that name the table and the problem."""

from __future__ import annotations

import errno
from pathlib import Path

import pyarrow as pa
import pytest

from fashionlens.core.errors import FashionlensError, InvalidInputError, StoreError
from fashionlens.store.guard import detail, guard, translate

DB = Path("/home/me/.fashionlens/db")


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(errno.EACCES, "Permission denied"),
        OSError(errno.EROFS, "Read-only file system"),
        RuntimeError("lance error: LanceError(IO): Permission denied (os error 13), /root/.cargo/x.rs:1:2"),
    ],
)
def test_read_only_home(exc: Exception) -> None:
    err = translate(exc, DB, "images", "write")
    assert isinstance(err, StoreError) and str(err) == f"{DB} is read-only: cannot write table images"
    assert "permission denied reading table images" in str(translate(exc, DB, "images", "read"))


def test_disk_full() -> None:
    err = translate(OSError(errno.ENOSPC, "No space left on device"), DB, "labels", "write")
    assert isinstance(err, StoreError) and "no space left" in str(err) and "table labels" in str(err)
    assert "intact" in str(err)


def test_bad_filter_is_invalid_input() -> None:
    exc = ValueError("Invalid input, Error parsing statement: SELECT 1 FROM t WHERE k === (sql parser error)")
    err = translate(exc, DB, "images", "read", where="k ===")
    assert isinstance(err, InvalidInputError) and "invalid filter 'k ==='" in str(err)


def test_other_failures_name_table_and_cause() -> None:
    exc = RuntimeError(
        "lance error: LanceError(IO): Generic N/A error: Wrapped error: Not found: /db/x.lance/data/1.lance, "
        "/root/.cargo/registry/src/lance-core/src/x.rs:10:3\nstack backtrace: ..."
    )
    err = translate(exc, DB, "people", "read")
    assert isinstance(err, StoreError)
    assert str(err).startswith(f"table people in {DB}: read failed: Not found: /db/x.lance/data/1.lance")
    assert ".rs:" not in str(err) and "backtrace" not in str(err)
    assert len(detail(RuntimeError("y" * 1000))) == 300


def test_guard_passes_project_errors_and_wraps_the_rest() -> None:
    with pytest.raises(InvalidInputError, match="mine"), guard(DB, "images", "write"):
        raise InvalidInputError("mine")
    with pytest.raises(StoreError, match="table images") as info, guard(DB, "images", "write"):
        raise pa.ArrowInvalid("bad batch")
    assert isinstance(info.value, FashionlensError) and isinstance(info.value.__cause__, pa.ArrowInvalid)
    with pytest.raises(TypeError), guard(DB, "images", "write"):  # a bug stays a bug
        raise TypeError("not a store failure")
