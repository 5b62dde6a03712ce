"""Background jobs: progress through CountingProgress, reports, failures, pruning."""

from __future__ import annotations

import time
from pathlib import Path

from fashionlens.server.jobs import Job, JobRunner


def _wait(runner: JobRunner, job: Job, timeout: float = 10.0) -> None:
    start = time.perf_counter()
    while job.state in ("queued", "running") and time.perf_counter() - start < timeout:
        time.sleep(0.01)


def test_a_job_reports_progress_and_its_report(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path)
    runner.start()
    try:
        job = runner.new_job("count", {"n": 3})

        def work(job: Job) -> dict:
            job.progress.start(3, "steps")
            for _ in range(3):
                job.progress.advance(1)
            return {"counted": 3}

        runner.submit(job, work)
        _wait(runner, job)
        assert job.state == "done"
        summary = job.summary()
        assert summary["progress"] == {"done": 3, "total": 3, "fraction": 1.0, "what": "steps"}
        assert runner.report(job) == {"counted": 3}
        assert runner.counts()["done"] == 1
    finally:
        runner.stop()


def test_a_failing_job_is_failed_with_its_message(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path)
    runner.start()
    try:
        job = runner.submit(runner.new_job("bad", {}), lambda job: 1 / 0)  # type: ignore[arg-type,return-value]
        _wait(runner, job)
        assert job.state == "failed" and "division by zero" in (job.error or "")
        assert not job.report_path.exists()
    finally:
        runner.stop()


def test_old_finished_jobs_are_pruned_with_their_files(tmp_path: Path) -> None:
    runner = JobRunner(tmp_path, max_kept=2)
    runner.start()
    try:
        jobs = []
        for i in range(4):
            job = runner.submit(runner.new_job("n", {"i": i}), lambda job: {})
            _wait(runner, job)
            jobs.append(job)
        runner.submit(runner.new_job("n", {}), lambda job: {})  # pruning happens on submit
        kept = {j.id for j in runner.list()}
        assert jobs[0].id not in kept and not jobs[0].folder.exists()
        assert jobs[3].id in kept
    finally:
        runner.stop()
