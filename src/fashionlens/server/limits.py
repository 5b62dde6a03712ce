"""Limits and bad input: upload bytes (413), decompression bombs (413), sniffed content (415),
undecodable images (422), per-request timeout (504).

- `BodyLimitMiddleware` refuses a request whose ``Content-Length`` is over the route's limit before
  reading a byte of it, and stops reading a body (chunked, or lying about its length) as soon as
  it passes the limit.
- `decode_upload` looks at the bytes, never at the file name or the Content-Type: a file whose
  first bytes are not those of JPEG, PNG, GIF, BMP, WebP or TIFF is a 415. The one decoder
  (`fashionlens.ingest.images.decode_bytes`) then checks the header's pixel count against
  `ImageLimits` before any pixel is decoded.
- `within` / `run_in_thread` bound a model call by the request timeout.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fashionlens.core.errors import InvalidInputError
from fashionlens.server.errors import ApiError, error_body

T = TypeVar("T")

IMAGE_TYPES = "JPEG, PNG, GIF, BMP, WebP or TIFF"
VIDEO_TYPES = "MP4/MOV, AVI, Matroska/WebM, MPEG-TS or FLV"


def sniff_image(data: bytes) -> str | None:
    """The image format the bytes start with, or None."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head.startswith(b"BM") and len(data) > 26:
        return "BMP"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    return None


def sniff_video(data: bytes) -> str | None:
    """The video container the bytes start with, or None."""
    head = data[:16]
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "MP4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "AVI"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "MKV"
    if head.startswith(b"FLV"):
        return "FLV"
    if len(data) > 376 and data[0] == 0x47 and data[188] == 0x47 and data[376] == 0x47:
        return "TS"
    return None


def check_size(data: bytes, max_bytes: int, what: str) -> None:
    if len(data) > max_bytes:
        raise ApiError(413, f"{what}: {len(data)} bytes, over the limit of {max_bytes} bytes")
    if not data:
        raise ApiError(422, f"{what}: empty upload")


def _is_pixel_limit(message: str) -> bool:
    return "too many pixels" in message or ("pixels" in message and "over the limit" in message)


def decode_upload(data: bytes, what: str, *, max_bytes: int, max_pixels: int) -> Any:
    """Upload bytes -> RGB PIL image, or `ApiError` 413 / 415 / 422 naming ``what``."""
    from fashionlens.ingest.images import ImageLimits, decode_bytes

    check_size(data, max_bytes, what)
    kind = sniff_image(data)
    if kind is None:
        raise ApiError(415, f"{what}: not an image ({IMAGE_TYPES} expected; the content decides)")
    try:
        return decode_bytes(data, what, ImageLimits(max_pixels=max_pixels, max_bytes=max_bytes))
    except InvalidInputError as exc:
        message = str(exc)
        if _is_pixel_limit(message):
            raise ApiError(413, message) from exc
        raise ApiError(422, message) from exc


def decode_base64(text: str, what: str, max_bytes: int) -> bytes:
    """Standard or URL-safe base64 (a ``data:image/...;base64,`` prefix allowed) -> bytes."""
    if len(text) > (max_bytes * 4) // 3 + 1024:
        raise ApiError(413, f"{what}: base64 text over the limit of {max_bytes} decoded bytes")
    body = text.strip()
    if body.startswith("data:") and "," in body:
        body = body.split(",", 1)[1]
    body = "".join(body.split())
    try:
        if "-" in body or "_" in body:
            return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(422, f"{what}: not valid base64 ({exc})") from exc


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await with the request timeout: 504 when it runs out (the work itself is cancelled if it
    can be; a model call already running finishes in its thread, its result unused)."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError as exc:
        raise ApiError(504, f"{what} took longer than the request timeout of {seconds:g} s") from exc


async def run_in_thread(fn: Callable[..., T], *args: Any, seconds: float, what: str, **kwargs: Any) -> T:
    from starlette.concurrency import run_in_threadpool

    return await within(run_in_threadpool(fn, *args, **kwargs), seconds, what)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """ASGI middleware: 413 for a request body over ``limit_for(path)`` bytes (see module doc)."""

    def __init__(self, app: Any, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await _send_413(send, f"request body of {declared} bytes is over the limit of {limit}")
                    return
        state = {"received": 0, "too_large": False, "sent": False}

        async def limited_receive() -> dict[str, Any]:
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["too_large"] = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if state["too_large"]:
                return  # the app's answer to a cut-off body is replaced by the 413 below
            state["sent"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            pass
        except Exception:
            if not state["too_large"]:
                raise
        if state["too_large"] and not state["sent"]:
            await _send_413(send, f"request body is over the limit of {limit} bytes")


async def _send_413(send: Any, message: str) -> None:
    import json

    body = json.dumps(error_body(message)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
