"""Dynamic batching: concurrent single-image requests become one model batch on a worker thread.

`DynamicBatcher.submit(item)` queues one item and returns a `concurrent.futures.Future`. The worker
takes the first queued item and adds more, up to ``max_batch``, until ``max_wait_s`` after that
first item was *submitted*; then it calls ``fn(items)`` once for all of them. Under load the queue
fills while a batch runs, so its items are already past their wait and the next batch starts at
once, full; a lone request waits at most ``max_wait_s``. ``max_batch = 1`` turns batching off (one
model call per request, in order).

``workers`` threads take batches from the one queue, so two model calls can run at once (each on
one core, when the model runs single-threaded: on a busy 2-core machine two single-threaded calls
beat one call on two threads, which waits for its slower thread).

A failure of ``fn`` fails every request of that batch with the same exception; a request whose
future was cancelled (its client timed out) is dropped before the batch runs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from fashionlens.core.errors import FashionlensError, InvalidInputError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class BatcherStopped(FashionlensError, RuntimeError):
    """The batcher was stopped before it ran the request."""


class DynamicBatcher(Generic[T, R]):
    """Coalesce items submitted from many threads (or an event loop) into calls of ``fn``."""

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 16,
        max_wait_s: float = 0.01,
        name: str = "batcher",
        on_batch: Callable[[int, float], None] | None = None,
        workers: int = 1,
    ) -> None:
        if max_batch < 1:
            raise InvalidInputError(f"max_batch must be >= 1; got {max_batch}")
        if workers < 1:
            raise InvalidInputError(f"workers must be >= 1; got {workers}")
        if max_wait_s < 0:
            raise InvalidInputError(f"max_wait_s must be >= 0; got {max_wait_s}")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.name = name
        self.on_batch = on_batch
        self.workers = workers
        self._queue: queue.Queue[tuple[T, Future[R], float] | None] = queue.Queue()  # None: stop
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._stopped = False
        self.batches = 0
        self.items = 0

    def start(self) -> DynamicBatcher[T, R]:
        with self._lock:
            if not self._threads:
                self._stopped = False
                self._threads = [
                    threading.Thread(target=self._run, name=f"fashionlens-{self.name}-{i}", daemon=True)
                    for i in range(self.workers)
                ]
                for thread in self._threads:
                    thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batches in flight, fail whatever is still queued, end the workers."""
        with self._lock:
            threads, self._threads = self._threads, []
            self._stopped = True
        if not threads:
            return
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout)
        self._fail_queued()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        if self._stopped or not self._threads:
            future.set_exception(BatcherStopped(f"the {self.name} batcher is not running"))
            return future
        self._queue.put((item, future, time.monotonic()))
        return future

    def __call__(self, item: T, timeout: float | None = None) -> R:
        """Submit one item and wait for its result (from a worker thread, never the event loop)."""
        return self.submit(item).result(timeout)

    # -- worker -------------------------------------------------------------------------------
    def _collect(self, first: tuple[T, Future[R], float]) -> tuple[list[tuple[T, Future[R], float]], bool]:
        batch = [first]
        deadline = first[2] + self.max_wait_s
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            try:
                entry = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if entry is None:
                return batch, True
            batch.append(entry)
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            entry = self._queue.get()
            if entry is None:
                break
            batch, stop = self._collect(entry)
            live = [(item, fut) for item, fut, _ in batch if fut.set_running_or_notify_cancel()]
            if not live:
                continue
            started = time.perf_counter()
            try:
                results = list(self.fn([item for item, _ in live]))
                if len(results) != len(live):
                    raise FashionlensError(
                        f"{self.name}: the model returned {len(results)} results for {len(live)} inputs"
                    )
            except BaseException as exc:  # every request of the batch gets the failure
                logger.warning("%s: a batch of %d failed: %s", self.name, len(live), exc)
                for _, fut in live:
                    fut.set_exception(exc)
            else:
                for (_, fut), result in zip(live, results, strict=True):
                    fut.set_result(result)
            seconds = time.perf_counter() - started
            with self._count_lock:
                self.batches += 1
                self.items += len(live)
            if self.on_batch is not None:
                try:
                    self.on_batch(len(live), seconds)
                except Exception:  # metrics never break serving
                    logger.exception("%s: on_batch callback failed", self.name)

    def _fail_queued(self) -> None:
        while True:
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return
            if entry is None:
                continue
            fut = entry[1]
            if fut.set_running_or_notify_cancel():
                fut.set_exception(BatcherStopped(f"the {self.name} batcher stopped"))
