"""The dynamic batcher: coalescing, order, limits, failures, cancellation, stop."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.server.batching import BatcherStopped, DynamicBatcher


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            self.batches.append(list(items))
        time.sleep(self.delay)
        return [x * 10 for x in items]


def test_items_submitted_together_become_one_batch_in_order() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch=16, max_wait_s=0.5).start()
    try:
        futures = [batcher.submit(i) for i in range(8)]
        assert [f.result(5) for f in futures] == [i * 10 for i in range(8)]
    finally:
        batcher.stop()
    assert fn.batches == [list(range(8))]


def test_max_batch_splits_the_queue() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch=3, max_wait_s=0.5).start()
    try:
        futures = [batcher.submit(i) for i in range(8)]
        assert [f.result(5) for f in futures] == [i * 10 for i in range(8)]
    finally:
        batcher.stop()
    assert [len(b) for b in fn.batches] == [3, 3, 2]
    assert [x for batch in fn.batches for x in batch] == list(range(8))


def test_max_batch_one_is_one_call_per_item() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch=1, max_wait_s=0.5).start()
    try:
        assert [batcher(i, timeout=5) for i in range(4)] == [0, 10, 20, 30]
    finally:
        batcher.stop()
    assert fn.batches == [[0], [1], [2], [3]]


def test_a_lone_request_waits_at_most_max_wait() -> None:
    batcher = DynamicBatcher(Recorder(), max_batch=16, max_wait_s=0.05).start()
    try:
        start = time.perf_counter()
        assert batcher(7, timeout=5) == 70
        assert time.perf_counter() - start < 2.0  # not blocked waiting for 15 more
    finally:
        batcher.stop()


def test_concurrent_threads_are_coalesced_under_load() -> None:
    fn = Recorder(delay=0.05)  # while a batch runs, the others queue up
    batcher = DynamicBatcher(fn, max_batch=16, max_wait_s=0.01).start()
    try:
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda i: batcher(i, timeout=10), range(64)))
    finally:
        batcher.stop()
    assert results == [i * 10 for i in range(64)]
    assert max(len(b) for b in fn.batches) > 1
    assert len(fn.batches) < 64
    assert all(len(b) <= 16 for b in fn.batches)


def test_a_failing_batch_fails_each_of_its_requests() -> None:
    def broken(items: list[int]) -> list[int]:
        raise ValueError("model exploded")

    batcher = DynamicBatcher(broken, max_batch=4, max_wait_s=0.2).start()
    try:
        futures = [batcher.submit(i) for i in range(3)]
        for f in futures:
            with pytest.raises(ValueError, match="model exploded"):
                f.result(5)
    finally:
        batcher.stop()


def test_wrong_number_of_results_is_an_error() -> None:
    batcher = DynamicBatcher(lambda items: items[:-1], max_batch=4, max_wait_s=0.2).start()
    try:
        futures = [batcher.submit(i) for i in range(2)]
        with pytest.raises(Exception, match="returned 1 results for 2 inputs"):
            futures[0].result(5)
    finally:
        batcher.stop()


def test_a_cancelled_request_is_not_run() -> None:
    fn = Recorder()
    batcher = DynamicBatcher(fn, max_batch=16, max_wait_s=0.3).start()
    try:
        first, second = batcher.submit(1), batcher.submit(2)
        assert second.cancel()
        assert first.result(5) == 10
        with pytest.raises(CancelledError):
            second.result(1)
    finally:
        batcher.stop()
    assert fn.batches == [[1]]


def test_submit_after_stop_fails_at_once() -> None:
    batcher = DynamicBatcher(Recorder(), max_batch=2, max_wait_s=0.01).start()
    batcher.stop()
    assert not batcher.running
    with pytest.raises(BatcherStopped):
        batcher.submit(1).result(1)


def test_on_batch_sees_each_batch_size() -> None:
    sizes: list[int] = []
    batcher = DynamicBatcher(Recorder(), max_batch=5, max_wait_s=0.3, on_batch=lambda n, s: sizes.append(n))
    batcher.start()
    try:
        for f in [batcher.submit(i) for i in range(7)]:
            f.result(5)
    finally:
        batcher.stop()
    assert sizes == [5, 2]


@pytest.mark.parametrize(("max_batch", "max_wait_s"), [(0, 0.01), (4, -1.0)])
def test_bad_settings_are_refused(max_batch: int, max_wait_s: float) -> None:
    with pytest.raises(InvalidInputError):
        DynamicBatcher(Recorder(), max_batch=max_batch, max_wait_s=max_wait_s)


def test_two_workers_run_two_batches_at_once() -> None:
    active, peak = [0], [0]
    lock = threading.Lock()

    def slow(items: list[int]) -> list[int]:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return items

    batcher = DynamicBatcher(slow, max_batch=1, max_wait_s=0.0, workers=2).start()
    try:
        futures = [batcher.submit(i) for i in range(4)]
        assert [f.result(5) for f in futures] == [0, 1, 2, 3]
    finally:
        batcher.stop()
    assert peak[0] == 2
    assert not batcher.running
