"""Video uploads run as background jobs: ``POST /v1/video`` (202 with the job), then poll
``GET /v1/jobs/{id}`` for progress and fetch ``GET /v1/jobs/{id}/report`` (`fashionlens.jobs.video`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Path, UploadFile

from fashionlens.core.types import Source
from fashionlens.server import schemas
from fashionlens.server.errors import ApiError
from fashionlens.server.jobs import Job
from fashionlens.server.limits import VIDEO_TYPES, sniff_video
from fashionlens.server.routes.common import api_key_dependency, call
from fashionlens.server.state import ServerState

JobId = Path(..., pattern=r"^[0-9a-f]{16}$", description="The job id (16 hex digits).")
CHUNK = 1024 * 1024


def job_out(job: Job) -> dict[str, Any]:
    return {
        **job.summary(),
        "status_url": f"/v1/jobs/{job.id}",
        "report_url": f"/v1/jobs/{job.id}/report",
    }


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["jobs"])

    def get_job(job_id: str) -> Job:
        job = state.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job {job_id} (finished jobs are kept for a while, then deleted)")
        return job

    @router.post(
        "/video",
        status_code=202,
        response_model=schemas.JobResponse,
        responses=schemas.errors(400, 401, 409, 413, 415, 422, 503),
        dependencies=api_key_dependency(state),
        summary="Match the people in an uploaded video to the catalogue (a background job)",
    )
    async def video(
        video: UploadFile = File(..., description="The video file (MP4, MOV, AVI, MKV/WebM...)."),
        every: int = Form(30, ge=1, le=10_000, description="Process every Nth frame."),
        k: int = Form(5, ge=1, le=50, description="Catalogue matches per person."),
        source: Source | None = Form(None, description="Only match catalogue images of this source."),
    ) -> dict[str, Any]:
        """Accepted at once; the job's ``status_url`` shows its progress, ``report_url`` its report."""
        backbone = state.model("backbone")
        limit = state.config.max_video_bytes
        head = await video.read(512)
        if not head:
            raise ApiError(422, "video: empty upload")
        if sniff_video(head) is None:
            raise ApiError(415, f"video: not a video ({VIDEO_TYPES} expected; the content decides)")
        if backbone.model_id not in await call(state, state.catalog.embedding_models, what="catalogue"):
            raise ApiError(
                409,
                f"the catalogue has no {backbone.model_id} embeddings to match against; "
                "run `fashionlens embed`",
            )
        job = state.jobs.new_job(
            "video", {"filename": video.filename or "", "every": every, "k": k, "source": source}
        )
        path = job.folder / "input.video"
        size = len(head)
        with path.open("wb") as out:
            out.write(head)
            while chunk := await video.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    out.close()
                    path.unlink(missing_ok=True)
                    raise ApiError(413, f"video: over the limit of {limit} bytes")
                out.write(chunk)
        detector = state.optional("detector")

        def work(job: Job) -> dict[str, Any]:
            from fashionlens.jobs.video import match_video
            from fashionlens.render.video import report_to_dict

            report = match_video(
                state.catalog,
                backbone,
                path,
                every=every,
                k=k,
                where=f"source = '{source}'" if source else None,
                detector=detector,
                progress=job.progress,
            )
            data = report_to_dict(report)
            data["video"]["path"] = job.params["filename"]
            return data

        state.jobs.submit(job, work)
        return {"status": "success", "job": job_out(job)}

    @router.get("/jobs", response_model=schemas.JobListResponse, summary="Jobs, newest first")
    async def jobs() -> dict[str, Any]:
        return {"status": "success", "jobs": [job_out(j) for j in state.jobs.list()]}

    @router.get(
        "/jobs/{job_id}",
        response_model=schemas.JobResponse,
        responses=schemas.errors(404, 422),
        summary="A job's state and progress",
    )
    async def job(job_id: str = JobId) -> dict[str, Any]:
        return {"status": "success", "job": job_out(get_job(job_id))}

    @router.get(
        "/jobs/{job_id}/report",
        response_model=schemas.ReportResponse,
        responses=schemas.errors(404, 409, 422),
        summary="A finished job's report",
    )
    async def report(job_id: str = JobId) -> dict[str, Any]:
        found = get_job(job_id)
        if found.state == "failed":
            raise ApiError(409, f"job {job_id} failed: {found.error}")
        if found.state != "done":
            raise ApiError(409, f"job {job_id} is {found.state}; poll {job_out(found)['status_url']}")
        return {
            "status": "success",
            "job_id": job_id,
            "report": await call(state, state.jobs.report, found, what="report"),
        }

    return router
