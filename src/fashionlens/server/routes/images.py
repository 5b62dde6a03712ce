"""Catalogued image files, thumbnails and similar images, looked up by ``image_id`` only: a path
never comes from the request, so nothing outside the catalogue can be served."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, Response

from fashionlens.core.types import Source, Split
from fashionlens.server import schemas
from fashionlens.server.errors import ApiError
from fashionlens.server.limits import sniff_image
from fashionlens.server.routes.common import NO_NUL, call, search_out
from fashionlens.server.routes.search import IMAGE_ID_PATTERN, filters, search_image_id
from fashionlens.server.state import ServerState

MEDIA = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "BMP": "image/bmp",
         "WEBP": "image/webp", "TIFF": "image/tiff"}  # fmt: skip
IMAGE_CONTENT = {"content": {m: {"schema": {"type": "string", "format": "binary"}} for m in MEDIA.values()}}


class ThumbnailSize(IntEnum):
    s64 = 64
    s128 = 128
    s256 = 256
    s512 = 512


ImageId = Path(..., pattern=IMAGE_ID_PATTERN, description="16 hex digits (content-hash prefix).")


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1/images", tags=["images"])

    def file_of(image_id: str) -> Any:
        from fashionlens.services.catalogue import image_file

        try:
            return image_file(state.catalog, image_id)
        except KeyError as exc:
            raise ApiError(404, f"image {image_id} is not in the catalogue (or its file is gone)") from exc

    @router.get(
        "/{image_id}",
        response_class=FileResponse,
        responses={200: IMAGE_CONTENT, **schemas.errors(404, 422)},
        summary="The file of a catalogued image",
    )
    async def image(image_id: str = ImageId) -> FileResponse:
        path = await call(state, file_of, image_id, what="image lookup")
        with open(path, "rb") as f:
            kind = sniff_image(f.read(32))
        if kind is None:
            raise ApiError(404, f"image {image_id}: the catalogued file is no longer an image")
        return FileResponse(path, media_type=MEDIA[kind], headers={"Cache-Control": "max-age=3600"})

    @router.get(
        "/{image_id}/thumbnail",
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
            **schemas.errors(404, 422, 504),
        },
        summary="A JPEG thumbnail of a catalogued image",
    )
    async def thumbnail(
        image_id: str = ImageId,
        size: ThumbnailSize = Query(ThumbnailSize.s256, description="The longer side, in pixels."),
    ) -> Response:
        from fashionlens.ingest.images import ImageLimits
        from fashionlens.services.catalogue import thumbnail as make

        limits = ImageLimits.from_settings(state.settings)

        def run() -> bytes:
            try:
                return make(state.catalog, image_id, int(size), state.settings.cache_dir, limits)
            except KeyError as exc:
                raise ApiError(
                    404, f"image {image_id} is not in the catalogue (or its file is gone)"
                ) from exc

        data = await call(state, run, what="thumbnail")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @router.get(
        "/{image_id}/similar",
        response_model=schemas.SearchResponse,
        responses=schemas.errors(400, 404, 409, 422, 503, 504),
        summary="Catalogue images most similar to a catalogued image (itself left out)",
    )
    async def similar(
        image_id: str = ImageId,
        k: int = Query(12, ge=1, le=100),
        source: Source | None = Query(None),
        split: Split | None = Query(None),
        category: str | None = Query(None, max_length=64, pattern=NO_NUL),
        colour: str | None = Query(None, max_length=64, pattern=NO_NUL),
    ) -> dict[str, Any]:
        flt = filters(source, split, category, colour)

        def run() -> Any:
            return search_image_id(state, image_id, k, flt, exclude_self=True)

        return search_out(await call(state, run, what="similar images"))

    return router
