"""LanceDB and Arrow failures become the project's errors, naming the table and the problem.

Every LanceDB call in `fashionlens.store` runs inside `guard`: a read-only home, a full disk, a
damaged table or a filter that does not parse reach the caller as `StoreError` (or
`InvalidInputError` for a bad ``where``), never as a raw ``RuntimeError: lance error: ...``.
"""

from __future__ import annotations

import contextlib
import errno
import re
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from fashionlens.core.errors import FashionlensError, InvalidInputError, StoreError

READ_ONLY_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
_READ_ONLY = re.compile(r"permission denied|read-only file system|os error (13|30|1)\b", re.I)
_NO_SPACE = re.compile(r"no space left|os error 28\b|disk quota", re.I)
_BAD_FILTER = re.compile(
    r"pars(e|ing)|sql|no field named|schema error|predicate|invalid (user )?input|unterminated", re.I
)
_SOURCE_PATH = re.compile(r",?\s*/\S+\.rs:\d+:\d+")


def detail(exc: BaseException, limit: int = 300) -> str:
    """The first line of ``exc``'s message, without Rust source locations and ``lance error:``."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = _SOURCE_PATH.sub("", text)
    text = re.sub(r"^(lance error: )+", "", text, flags=re.I)
    text = re.sub(r"LanceError\(\w+\): |Generic \S+ error: |Wrapped error: ", "", text).strip()
    text = re.sub(r"(Not found: )+", "Not found: ", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def translate(
    exc: BaseException, db_path: Path, table: str | None, action: str, where: str | None = None
) -> FashionlensError:
    """The project error that stands for ``exc``, raised while ``action`` ran on ``table``."""
    what = f"table {table}" if table else "the catalogue"
    text = str(exc)
    writing = action not in ("read", "open", "count", "list", "search")
    code = getattr(exc, "errno", None)
    if code in READ_ONLY_ERRNOS or _READ_ONLY.search(text):
        if writing:
            return StoreError(f"{db_path} is read-only: cannot write {what}")
        return StoreError(f"{db_path}: permission denied reading {what}")
    if code == errno.ENOSPC or _NO_SPACE.search(text):
        return StoreError(
            f"{db_path}: no space left on the device while writing {what}; "
            "the rows committed before are intact"
        )
    if where and isinstance(exc, ValueError) and _BAD_FILTER.search(text):
        return InvalidInputError(f"invalid filter {where!r} on {what}: {detail(exc)}")
    return StoreError(
        f"{what} in {db_path}: {action} failed: {detail(exc)} "
        "(if the table is damaged, `fashionlens doctor` says what can still be read)"
    )


@contextlib.contextmanager
def guard(db_path: Path, table: str | None, action: str, where: str | None = None) -> Iterator[None]:
    """Run LanceDB calls; their failures leave as `StoreError` / `InvalidInputError`."""
    try:
        yield
    except FashionlensError:
        raise
    except (OSError, RuntimeError, ValueError, pa.ArrowException) as exc:
        raise translate(exc, db_path, table, action, where) from exc
