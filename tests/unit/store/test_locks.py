"""The per-table writer lock: exclusive across threads and processes, re-entrant, gone with its process."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError, StoreError
from fashionlens.store.locks import is_locked, lock_path, table_lock

HOLDER = """
import sys
from pathlib import Path
from fashionlens.store.locks import table_lock
with table_lock(Path(sys.argv[1]), "images"):
    print("held", flush=True)
    sys.stdin.read()  # until the parent closes stdin (or kills us)
"""


def _holder(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_lock_file_lives_under_the_database(tmp_path: Path) -> None:
    assert lock_path(tmp_path, "embeddings__x") == tmp_path / ".locks" / "embeddings__x.lock"
    for bad in ("../images", "a/b", "", ".hidden", "x" * 300, "name\n"):
        with pytest.raises(InvalidInputError, match="not a valid table name"):
            lock_path(tmp_path, bad)


def test_reentrant_within_a_thread(tmp_path: Path) -> None:
    with table_lock(tmp_path, "images"), table_lock(tmp_path, "images"), table_lock(tmp_path, "labels"):
        assert is_locked(tmp_path, "images") and is_locked(tmp_path, "labels")
    assert not is_locked(tmp_path, "images") and not is_locked(tmp_path, "labels")


def test_threads_take_turns(tmp_path: Path) -> None:
    inside, most, done = [0], [0], []
    guard = threading.Lock()

    def work(n: int) -> None:
        for _ in range(20):
            with table_lock(tmp_path, "images"):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.001)  # widen the window a second holder would need
                with guard:
                    inside[0] -= 1
        done.append(n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(done) == [0, 1, 2, 3] and most[0] == 1


def test_another_process_holds_it_until_it_dies(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        assert is_locked(tmp_path, "images")
        with (
            pytest.raises(StoreError, match="being written by another process"),
            table_lock(tmp_path, "images", timeout_s=0.2),
        ):
            pass
        with table_lock(tmp_path, "labels", timeout_s=0.2):  # other tables are free
            pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # kill -9 leaves no stale lock: the kernel dropped it with the process
    with table_lock(tmp_path, "images", timeout_s=5):
        assert is_locked(tmp_path, "images")


def test_waiting_writer_gets_the_lock_when_released(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    got = threading.Event()

    def wait_for_it() -> None:
        with table_lock(tmp_path, "images", timeout_s=30):
            got.set()

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not got.wait(0.3)  # still held by the other process
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait()
    waiter.join(30)
    assert got.is_set()
