"""Liveness, readiness, the loaded models and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from fashionlens import __version__
from fashionlens.server import schemas
from fashionlens.server.metrics import CONTENT_TYPE
from fashionlens.server.state import ServerState


def _models(state: ServerState) -> dict[str, dict[str, Any]]:
    return {
        s.name: {"state": s.state, "model_id": s.model_id, "seconds": round(s.seconds, 3), "error": s.error}
        for s in state.slots.values()
    }


def build(state: ServerState) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health", response_model=schemas.HealthResponse, summary="Liveness")
    async def health() -> dict[str, Any]:
        """The process answers (models may still be loading: see /ready)."""
        return {"status": "ok", "version": __version__}

    @router.get(
        "/ready",
        response_model=schemas.ReadyResponse,
        summary="Readiness: every model answered a real probe",
        responses={503: {"model": schemas.ReadyResponse, "description": "Models still loading or failed."}},
    )
    async def ready() -> Any:
        ok, loading, failed = state.readiness()
        body = {
            "status": "ready" if ok else ("loading" if loading else "failed"),
            "loading": loading,
            "failed": failed,
            "models": _models(state),
        }
        return body if ok else JSONResponse(body, status_code=503)

    @router.get("/v1/models", response_model=schemas.ModelsResponse, summary="Loaded models and settings")
    async def models() -> dict[str, Any]:
        from fashionlens.models.factory import resolve_runtime

        try:
            runtime = resolve_runtime(state.settings)
        except Exception:  # an unknown backbone: the backbone slot says why
            runtime = state.settings.runtime
        return {
            "status": "success",
            "models": _models(state),
            "image_model_id": state.image_model_id(),
            "text_model_id": state.text_model_id(),
            "runtime": runtime,
            "batching": {
                "max_batch": state.config.batch_size(state.settings.device),
                "max_wait_ms": state.config.max_wait_ms,
                "workers": state.config.batch_workers,
            },
            "maskrcnn": state.optional("maskrcnn") is not None,
            "api_key_required": bool(state.config.api_key),
        }

    @router.get(
        "/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus metrics",
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> PlainTextResponse:
        """Requests and latency by route, batch sizes, model load state, jobs (text format 0.0.4)."""
        models = {s.name: (s.state == "ready", s.seconds) for s in state.slots.values()}
        text = state.metrics.render(models, state.jobs.counts())
        return PlainTextResponse(text, media_type=CONTENT_TYPE)

    return router
