"""Run a job's stages on this machine: decode of the next batch overlaps inference on this one,
every batch is committed before the next, and one skip log collects what could not be read."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.jobs.base import JobReport, Stage, batches

logger = logging.getLogger(__name__)


def run_stage(
    stage: Stage,
    catalog: Any,
    *,
    progress: Progress = NO_PROGRESS,
    skip_failures: bool = True,
) -> JobReport:
    """Run ``stage`` over what it selects; with ``skip_failures=False`` the first skip raises."""
    rows, already = stage.select(catalog)
    report = JobReport(stage.name, stage.model_id, total=len(rows) + already, already_done=already)
    progress.start(len(rows), stage.name)
    if not rows:
        return report
    stage.setup()
    start = time.perf_counter()
    chunks = batches(rows, stage.batch_size)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(stage.decode, chunks[0])
        for i in range(len(chunks)):
            batch = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(stage.decode, chunks[i + 1])
            if batch.skipped and not skip_failures:
                first = batch.skipped[0]
                raise InvalidInputError(f"{first.path}: {first.reason}")
            report.skipped.extend(batch.skipped)
            if len(batch):
                report.add(stage.write(catalog, stage.infer(batch)))
                report.done += len(batch)
            progress.advance(len(chunks[i]))
    stage.finish(catalog)
    report.seconds = time.perf_counter() - start
    logger.info(
        "%s: %d done in %.1fs (%.1f/s), %d already done, %d skipped",
        stage.name, report.done, report.seconds, report.items_per_second, already, len(report.skipped),
    )  # fmt: skip
    return report
