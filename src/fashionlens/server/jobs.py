"""Background jobs (video uploads): one worker thread, progress to poll, a JSON report to fetch.

A job's input and report live under ``root/<job id>/``; the newest ``max_kept`` finished jobs are
kept, older ones are deleted with their files. Progress goes through the one progress protocol
(`fashionlens.core.progress.CountingProgress`); a job record is what ``GET /v1/jobs/{id}`` shows.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import shutil
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fashionlens.core.progress import CountingProgress

logger = logging.getLogger(__name__)

STATES = ("queued", "running", "done", "failed")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass
class Job:
    id: str
    kind: str
    params: dict[str, Any]
    folder: Path
    state: str = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    progress: CountingProgress = field(default_factory=CountingProgress)

    @property
    def report_path(self) -> Path:
        return self.folder / "report.json"

    def summary(self) -> dict[str, Any]:
        p = self.progress
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "params": self.params,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "error": self.error,
            "progress": {"done": p.done, "total": p.total, "fraction": p.fraction, "what": p.what},
        }


Work = Callable[[Job], dict[str, Any]]


class JobRunner:
    def __init__(self, root: Path, max_kept: int = 20) -> None:
        self.root = Path(root)
        self.max_kept = max_kept
        self._jobs: dict[str, Job] = {}
        self._work: dict[str, Work] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fashionlens-jobs", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def new_job(self, kind: str, params: dict[str, Any]) -> Job:
        """A queued job with its own folder (write its input there, then `submit` it)."""
        job_id = uuid.uuid4().hex[:16]
        folder = self.root / job_id
        folder.mkdir(parents=True, exist_ok=True)
        return Job(job_id, kind, dict(params), folder)

    def submit(self, job: Job, work: Work) -> Job:
        with self._lock:
            self._jobs[job.id] = job
            self._work[job.id] = work
        self._queue.put(job.id)
        self._prune()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return sorted(self._jobs.values(), key=lambda j: j.created_at, reverse=True)

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(STATES, 0)
            for job in self._jobs.values():
                out[job.state] += 1
            return out

    def report(self, job: Job) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(job.report_path.read_text(encoding="utf-8"))
        return data

    def _run(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            with self._lock:
                job = self._jobs.get(job_id)
                work = self._work.pop(job_id, None)
            if job is None or work is None:
                continue
            job.state, job.started_at = "running", _now()
            try:
                report = work(job)
                tmp = job.report_path.with_suffix(".tmp")
                tmp.write_text(json.dumps(report), encoding="utf-8")
                tmp.replace(job.report_path)
                job.state = "done"
            except Exception as exc:  # the job fails, the server does not
                logger.warning("job %s failed: %s", job.id, exc)
                job.state, job.error = "failed", str(exc) or type(exc).__name__
            job.finished_at = _now()

    def _prune(self) -> None:
        with self._lock:
            finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
            finished.sort(key=lambda j: j.finished_at or "")
            drop = finished[: max(0, len(finished) - self.max_kept)]
            for job in drop:
                self._jobs.pop(job.id, None)
        for job in drop:
            shutil.rmtree(job.folder, ignore_errors=True)
