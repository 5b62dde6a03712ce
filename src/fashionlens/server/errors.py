"""One error body for every failure: ``{"status": "error", "error": "..."}``, never a traceback.

Library exceptions get the status `fashionlens.core.errors.http_status` gives them
(`InvalidInputError` 400, `NotReadyError` and `ConflictError` 409, missing weights 503, ...).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fashionlens.core.errors import http_status

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An HTTP error with a message for the client."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_body(message: str) -> dict[str, str]:
    return {"status": "error", "error": message}


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Any:
    from fastapi.responses import JSONResponse

    return JSONResponse(error_body(message), status_code=status, headers=dict(headers or {}))


def status_for(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    return http_status(exc)


def _validation_message(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",)) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return "invalid request: " + "; ".join(parts) + more


def install_error_handlers(app: Any) -> None:
    """Register the handlers that give every error the one body."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from fashionlens.core.errors import FashionlensError

    async def api_error(_request: Any, exc: ApiError) -> Any:
        return error_response(exc.status, exc.message, exc.headers)

    async def http_error(_request: Any, exc: HTTPException) -> Any:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "not found"
        return error_response(exc.status_code, detail, getattr(exc, "headers", None))

    async def validation_error(_request: Any, exc: RequestValidationError) -> Any:
        return error_response(422, _validation_message(list(exc.errors())))

    async def library_error(_request: Any, exc: FashionlensError) -> Any:
        status = status_for(exc)
        if status >= 500:
            logger.warning("request failed: %s", exc)
        return error_response(status, str(exc))

    async def unexpected(_request: Any, exc: Exception) -> Any:
        logger.exception("unexpected error")
        return error_response(500, f"internal error ({type(exc).__name__}: {exc})")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(FashionlensError, library_error)
    app.add_exception_handler(Exception, unexpected)
