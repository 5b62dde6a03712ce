"""`fashionlens serve`: the HTTP API and the web app (FastAPI + uvicorn)."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli import common


def serve(
    ctx: typer.Context,
    host: str = typer.Option(
        "127.0.0.1", help="Interface to bind; 0.0.0.0 exposes the server to the network."
    ),
    port: int = typer.Option(8000, min=1, max=65535, help="TCP port."),
    max_batch: int | None = typer.Option(
        None, min=0, help="Requests per backbone batch; 1: no batching; 0 (default): 16 on a GPU, 1 on a CPU."
    ),
    max_wait_ms: float | None = typer.Option(
        None, min=0, max=1000, help="How long a batch waits for more requests (default 10)."
    ),
    timeout: float | None = typer.Option(
        None, min=0.001, help="Per-request model timeout in seconds, then 504 (default 30)."
    ),
    maskrcnn: Path | None = typer.Option(
        None, help="A Mask R-CNN checkpoint, or 'shipped': the webcam page shows it beside the U-Net."
    ),
    cors_origin: list[str] | None = typer.Option(
        None, "--cors-origin", help="Allow this browser origin (repeatable); CORS is off without one."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve the API (seed routes /predict, /predict_base64; /v1/...) and the web app at /.

    Set FASHIONLENS_API_KEY to require an X-API-Key header on routes that write (video jobs).
    """
    from fashionlens.core.errors import require
    from fashionlens.server.config import ServerConfig

    with common.errors(ctx):
        uvicorn = require("uvicorn", extra="serve")
        from fashionlens.server.app import create_app

        settings = common.state(ctx).settings()
        config = ServerConfig.from_env(
            host=host,
            port=port,
            max_batch=max_batch,
            max_wait_ms=max_wait_ms,
            request_timeout_s=timeout,
            maskrcnn_checkpoint=maskrcnn,
            cors_origins=tuple(cors_origin) if cors_origin else None,
        )
        app = create_app(settings, config)
        common.console.print(
            f"fashionlens serving {settings.home} on http://{host}:{port} (web app at /, API docs at /docs)",
            highlight=False,
        )
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
