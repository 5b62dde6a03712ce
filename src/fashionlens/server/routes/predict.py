"""The seed routes, kept exactly: ``POST /predict`` (multipart ``image``) and ``POST /predict_base64``
(JSON ``{"image": "<base64>"}``) answer ``{"predictions": {...}, "confidences": {...},
"status": "success"}`` with the attribute heads. Both go through the dynamic batcher."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, UploadFile

from fashionlens.server import schemas
from fashionlens.server.limits import decode_base64
from fashionlens.server.routes.common import image_from_bytes, image_from_upload
from fashionlens.server.state import ServerState

ERRORS = schemas.errors(400, 413, 415, 422, 503, 504)


def _out(attrs: Any) -> dict[str, Any]:
    return {"predictions": attrs.predictions, "confidences": attrs.confidences, "status": "success"}


def build(state: ServerState) -> APIRouter:
    router = APIRouter(tags=["predict"])

    @router.post(
        "/predict",
        response_model=schemas.PredictResponse,
        responses=ERRORS,
        summary="Attributes of one uploaded image (seed route)",
    )
    async def predict(image: UploadFile = File(..., description="The image file.")) -> dict[str, Any]:
        """articleType, baseColour group, season, gender and usage with their confidences."""
        picture = await image_from_upload(state, image)
        return _out(await state.attributes(picture))

    @router.post(
        "/predict_base64",
        response_model=schemas.PredictResponse,
        responses=ERRORS,
        summary="Attributes of one base64 image (seed route)",
    )
    async def predict_base64(body: schemas.Base64Request) -> dict[str, Any]:
        """The same as /predict, for an image sent as base64 in JSON."""
        data = decode_base64(body.image, "image", state.config.max_upload_bytes)
        picture = await image_from_bytes(state, data)
        return _out(await state.attributes(picture))

    return router
