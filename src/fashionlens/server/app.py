"""`create_app(settings)`: the FastAPI app with every route, the web app, limits and metrics.

Models load at start-up (in a background thread by default, so ``/health`` answers at once and
``/ready`` says 503 until every model has answered a real probe). Middleware, outermost first:
metrics (every request, by route template), the request-body limit (413 before reading), CORS
(only when origins are configured).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from typing import Any

from fashionlens import __version__
from fashionlens.core.errors import require
from fashionlens.core.settings import Settings
from fashionlens.server.config import ServerConfig

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Turn fashion images into structured data over HTTP: attributes (the seed routes `/predict` and
`/predict_base64`), a full description (colours, category, people and garments with masks and an
overlay), search by image, text or image id, zero-shot labels, segmentation, video jobs, the
catalogue and generated garment images (a conditional DCGAN).
Every error answers `{"status": "error", "error": "..."}`.
"""


def create_app(settings: Settings, config: ServerConfig | None = None) -> Any:
    """The app for ``settings`` (home, backbone, runtime...) and ``config`` (batching, limits,
    security; default: `ServerConfig.from_env`, which reads ``FASHIONLENS_API_KEY``)."""
    require("fastapi", extra="serve")
    if importlib.util.find_spec("python_multipart") is None:  # its import name before 0.0.13
        require("multipart", extra="serve", package="python-multipart")
    from fastapi import FastAPI
    from fastapi.staticfiles import StaticFiles

    from fashionlens.server.errors import install_error_handlers
    from fashionlens.server.limits import BodyLimitMiddleware
    from fashionlens.server.metrics import MetricsMiddleware
    from fashionlens.server.routes import (
        catalogue,
        colour,
        describe,
        generate,
        health,
        images,
        jobs,
        predict,
        search,
        segment,
        trends,
        wardrobe,
        web,
        zeroshot,
    )
    from fashionlens.server.state import ServerState

    config = config or ServerConfig.from_env()
    state = ServerState(settings, config)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(title="fashionlens", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.fashionlens = state
    install_error_handlers(app)
    modules = (
        health,
        predict,
        describe,
        search,
        images,
        zeroshot,
        colour,
        segment,
        jobs,
        catalogue,
        trends,
        wardrobe,
        generate,
    )
    for module in modules:
        app.include_router(module.build(state))
    app.include_router(web.build())
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    if config.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-API-Key"],
        )
    image_body = config.max_upload_bytes * 4 // 3 + 64 * 1024  # base64 JSON and multipart framing
    video_body = config.max_video_bytes + 1024 * 1024

    def limit_for(path: str) -> int:
        return video_body if path.startswith("/v1/video") else image_body

    app.add_middleware(BodyLimitMiddleware, limit_for=limit_for)
    app.add_middleware(MetricsMiddleware, metrics=state.metrics)
    return app
