"""The stage contract every batch job follows, and the one skip log.

A job is a `Stage` object:

- ``select(catalog)``: the rows still to do (idempotency: content hash + model id decide what is
  done) and how many were already done; runs where the store is (the driver);
- ``setup()``: load the models, once per worker (the local process, or each Ray actor);
- ``decode(rows)``: read the inputs of one batch; anything undecodable goes to the batch's skip
  list with its reason (never an exception);
- ``infer(batch)``: run the models; returns plain, picklable results (numpy arrays, dicts);
- ``write(catalog, results)``: commit one batch's results (one commit per table), return counts;
- ``finish(catalog)``: after the last batch (compaction).

Engines (`fashionlens.engines`) run these objects unchanged: `engines.local` on this machine, a
Ray actor pool on a cluster. A stage holds model *specs* until ``setup()``, so it can be shipped
to a worker before any weights load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import Skipped
from fashionlens.ingest.images import DEFAULT_LIMITS, ImageLimits, open_rgb


@dataclass
class Batch:
    """One batch after ``decode``: the rows whose inputs decoded, the inputs, and the skips."""

    rows: list[dict[str, Any]]
    items: list[Any]
    skipped: list[Skipped] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class StepTimes:
    """Seconds a stage spent in each named step, summed over its batches (``with times.step("x"):``).
    Steps of ``infer``/``write`` run one after another, or on worker threads where a stage uses them
    (then a step's seconds are thread-seconds); ``decode`` overlaps them in the local engine.
    On Ray each worker keeps its own copy, so the driver's stays empty."""

    seconds: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            with self._lock:
                self.seconds[name] = self.seconds.get(name, 0.0) + spent

    def __getstate__(self) -> dict[str, Any]:  # a stage travels to Ray workers: locks do not pickle
        return {"seconds": dict(self.seconds)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.seconds, self._lock = dict(state["seconds"]), threading.Lock()


@dataclass
class JobReport:
    """What one run of a job did; ``skipped`` is the one skip log (path, reason)."""

    job: str
    model_id: str
    total: int = 0  # rows the job looked at
    already_done: int = 0
    done: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = "local"

    @property
    def items_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def add(self, counts: dict[str, int]) -> None:
        for k, v in counts.items():
            self.counts[k] = self.counts.get(k, 0) + int(v)


def skip(path: str, exc: Exception) -> Skipped:
    return Skipped(str(path), str(exc).removeprefix(f"{path}: "))


def decode_images(
    rows: Sequence[dict[str, Any]],
    limits: ImageLimits = DEFAULT_LIMITS,
    *,
    min_side: int = 1,
    purpose: str = "use",
) -> Batch:
    """Open every row's ``image_path`` with the one decoder; failures become skips (an image
    with a side under ``min_side`` is "too small to <purpose>")."""
    batch = Batch([], [])
    for row in rows:
        path = row["image_path"]
        try:
            image = open_rgb(path, limits)
            if min(image.size) < min_side:
                raise InvalidInputError(
                    f"{path}: too small to {purpose} ({image.size[0]}x{image.size[1]} px)"
                )
        except InvalidInputError as exc:
            batch.skipped.append(skip(path, exc))
            continue
        batch.rows.append(row)
        batch.items.append(image)
    return batch


class Stage:
    """Base class of batch jobs (see the module doc). Subclasses set ``name`` and implement the
    methods; ``batch_size`` is the rows per batch."""

    name: str = "stage"
    batch_size: int = 32

    @property
    def model_id(self) -> str:
        return ""

    def select(self, catalog: Any) -> tuple[list[dict[str, Any]], int]:
        raise NotImplementedError

    def setup(self) -> None:
        return None

    def decode(self, rows: list[dict[str, Any]]) -> Batch:
        raise NotImplementedError

    def infer(self, batch: Batch) -> Any:
        raise NotImplementedError

    def write(self, catalog: Any, results: Any) -> dict[str, int]:
        raise NotImplementedError

    def finish(self, catalog: Any) -> None:
        return None


def batches(rows: Sequence[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    return [list(rows[i : i + size]) for i in range(0, len(rows), size)]


def now() -> float:
    return time.perf_counter()
