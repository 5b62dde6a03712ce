"""One writer at a time per table, across processes and threads.

LanceDB commits are optimistic: two writers that both decide a key is absent can both insert it
(lance#4585). Every write the store makes runs inside `table_lock`: an exclusive ``fcntl.flock`` on
``<db>/.locks/<table>.lock``. The kernel drops the lock when its process dies (kill -9 included),
so a crashed writer never leaves a stale lock. Within one process a re-entrant thread lock sits
in front of the file lock: threads queue on it, and a thread that already holds a table's lock
can take it again (nested writes do not deadlock). Locks are advisory and need a local file
system (``flock`` is not reliable over NFS).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fashionlens.core.errors import InvalidInputError, StoreError

LOCK_DIR = ".locks"
DEFAULT_TIMEOUT_S = 600.0
_POLL_S = 0.02
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")


@dataclass
class _Held:
    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    fd: int | None = None


_registry: dict[str, _Held] = {}
_registry_guard = threading.Lock()


def _reset_after_fork() -> None:  # a forked child holds none of its parent's locks
    global _registry_guard
    _registry.clear()
    _registry_guard = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def check_table_name(name: str) -> str:
    """``name`` if it can name a table (and its lock file); else `InvalidInputError`."""
    if not _TABLE_NAME.fullmatch(name) or ".." in name:
        raise InvalidInputError(f"{name!r} is not a valid table name (letters, digits, _ . -)")
    return name


def lock_path(db_path: Path, table: str) -> Path:
    return Path(db_path) / LOCK_DIR / f"{check_table_name(table)}.lock"


def _entry(path: Path) -> _Held:
    key = os.path.realpath(path)
    with _registry_guard:
        return _registry.setdefault(key, _Held())


def _flock(path: Path, table: str, deadline: float) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise StoreError(f"{path.parent.parent} is read-only: cannot write table {table}") from exc
        raise StoreError(f"cannot create the writer lock {path} for table {table}: {exc}") from exc
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StoreError(
                    f"table {table} is being written by another process (lock {path} held); "
                    "try again when it has finished"
                ) from None
            time.sleep(_POLL_S)
        except OSError as exc:
            os.close(fd)
            raise StoreError(f"cannot lock {path} for table {table}: {exc}") from exc


@contextlib.contextmanager
def table_lock(db_path: Path, table: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[None]:
    """Hold the writer lock of ``table`` in ``db_path`` (re-entrant within a thread).

    Waits up to ``timeout_s`` for another writer, then raises `StoreError` naming the lock file.
    """
    path = lock_path(db_path, table)
    held = _entry(path)
    deadline = time.monotonic() + timeout_s
    if not held.thread_lock.acquire(timeout=max(timeout_s, 0.0)):
        raise StoreError(f"table {table} is being written by another thread of this process")
    try:
        if held.depth == 0:
            held.fd = _flock(path, table, deadline)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.fd is not None:
                fd, held.fd = held.fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
    finally:
        held.thread_lock.release()


def is_locked(db_path: Path, table: str) -> bool:
    """Whether some process holds ``table``'s writer lock right now (for diagnostics)."""
    path = lock_path(db_path, table)
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe lock
    return False
