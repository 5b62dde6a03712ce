"""What every route shares: reading an image upload, the API key, encoding service results."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from fashionlens.server.errors import ApiError
from fashionlens.server.limits import decode_upload, run_in_thread
from fashionlens.server.state import ServerState

NO_NUL = r"^[^\x00]*$"  # filter values: the store refuses a NUL character


async def read_upload(upload: Any, max_bytes: int, what: str) -> bytes:
    """The bytes of an `UploadFile`, at most ``max_bytes`` (413 beyond)."""
    data: bytes = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, f"{what}: over the limit of {max_bytes} bytes")
    return data


async def image_from_bytes(state: ServerState, data: bytes, what: str = "image") -> Any:
    """Decode an uploaded image in a worker thread: 413 / 415 / 422 for bad input."""
    cfg = state.config

    def decode() -> Any:
        return decode_upload(data, what, max_bytes=cfg.max_upload_bytes, max_pixels=cfg.max_pixels)

    return await run_in_thread(decode, seconds=cfg.request_timeout_s, what="decoding the image")


async def image_from_upload(state: ServerState, upload: Any, what: str = "image") -> Any:
    data = await read_upload(upload, state.config.max_upload_bytes, what)
    return await image_from_bytes(state, data, what)


async def call(state: ServerState, fn: Callable[..., Any], *args: Any, what: str, **kwargs: Any) -> Any:
    """Run a blocking service call in a worker thread, bounded by the request timeout."""
    return await run_in_thread(fn, *args, seconds=state.config.request_timeout_s, what=what, **kwargs)


def api_key_dependency(state: ServerState) -> list[Any]:
    """The dependency that writing routes carry when an API key is configured (none otherwise,
    so the OpenAPI document only asks for a key when one is needed)."""
    key = state.config.api_key
    if not key:
        return []
    from fastapi import Depends, Security
    from fastapi.security import APIKeyHeader

    header = APIKeyHeader(name="X-API-Key", auto_error=False, description="FASHIONLENS_API_KEY")

    async def check(given: str | None = Security(header)) -> None:
        if not given or not hmac.compare_digest(given.encode(), key.encode()):
            raise ApiError(401, "missing or wrong X-API-Key header", {"WWW-Authenticate": "X-API-Key"})

    return [Depends(check)]


# -- encoders ---------------------------------------------------------------------------------


def image_urls(image_id: str) -> dict[str, str]:
    return {
        "image_url": f"/v1/images/{image_id}",
        "thumbnail_url": f"/v1/images/{image_id}/thumbnail?size=256",
    }


def colours_out(colours: list[Any]) -> list[dict[str, Any]]:
    return [{"name": c.name, "share": c.share, "hex": c.hex, "rgb": list(c.rgb)} for c in colours]


def people_out(people: list[Any]) -> list[dict[str, Any]]:
    return [{**asdict(p), "box_xyxy": list(p.box_xyxy)} for p in people]


def garments_out(garments: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "index": g.index,
            "category": g.category,
            "score": g.score,
            "box_xyxy": list(g.box_xyxy),
            "area": g.area,
            "person": g.person,
            "colours": colours_out(g.colours),
            "mask_rle": g.mask_rle,
        }
        for g in garments
    ]


def search_out(result: Any) -> dict[str, Any]:
    return {
        "status": "success",
        "query": result.query,
        "query_kind": result.query_kind,
        "model_id": result.model_id,
        "filters": result.filters.as_dict(),
        "method": result.method,
        "seconds": round(float(result.seconds), 4),
        "hits": [
            {
                "rank": h.rank,
                "image_id": h.image_id,
                "score": h.score,
                "source": h.source,
                "split": h.split,
                "category": h.category,
                "colour": h.colour,
                "article_type": h.article_type,
                **image_urls(h.image_id),
            }
            for h in result.hits
        ],
        "notes": list(result.notes),
    }


def png_base64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode("ascii") if data else None
