"""``POST /v1/colour``: the dominant named colours of an image (studio background ignored)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, UploadFile

from fashionlens.server import schemas
from fashionlens.server.routes.common import call, colours_out, image_from_upload
from fashionlens.server.state import ServerState


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["colour"])

    @router.post(
        "/colour",
        response_model=schemas.ColourResponse,
        responses=schemas.errors(400, 413, 415, 422, 504),
        summary="Dominant named colours of one image",
    )
    async def colour(
        image: UploadFile = File(..., description="The image file."),
        k: int = Form(4, ge=1, le=12, description="Colour clusters (clusters with the same name merge)."),
    ) -> dict[str, Any]:
        from fashionlens.services.describe import named_colours

        picture = await image_from_upload(state, image)
        colours = await call(state, named_colours, picture, None, k, what="colour naming")
        width, height = picture.size
        return {"status": "success", "width": width, "height": height, "colours": colours_out(colours)}

    return router
