"""``POST /v1/describe``: everything about one image (`fashionlens.services.describe`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, UploadFile

from fashionlens.server import schemas
from fashionlens.server.routes.common import (
    call,
    colours_out,
    garments_out,
    image_from_upload,
    people_out,
    png_base64,
)
from fashionlens.server.state import ServerState


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["describe"])

    @router.post(
        "/describe",
        response_model=schemas.DescribeResponse,
        responses=schemas.errors(400, 413, 415, 422, 503, 504),
        summary="Attributes, colours, category, people and garments of one image",
    )
    async def describe(
        image: UploadFile = File(..., description="The image file."),
        overlay: bool = Form(True, description="Include the overlay PNG (base64)."),
        masks: bool = Form(True, description="Include people and garment masks as COCO RLE."),
        colours_k: int = Form(4, ge=1, le=12, description="Colour clusters of the whole image."),
    ) -> dict[str, Any]:
        """Attribute heads with confidences, dominant named colours, a coarse category, each person
        and garment (box, score, RLE mask, garment colours) and an overlay PNG."""
        from fashionlens.services.describe import DescribeOptions

        picture = await image_from_upload(state, image)
        describer = state.describer()
        options = DescribeOptions(colours_k=colours_k, overlay=overlay, masks=masks)
        result = await call(state, describer.describe, picture, options, what="describing the image")
        attrs = result.attributes
        return {
            "status": "success",
            "width": result.width,
            "height": result.height,
            "predictions": attrs.predictions if attrs else {},
            "confidences": attrs.confidences if attrs else {},
            "classifier_id": state.slots["attributes"].model_id,
            "model_id": attrs.model_id if attrs else "",
            "colours": colours_out(result.colours),
            "category": result.category,
            "category_source": result.category_source,
            "people": people_out(result.people),
            "garments": garments_out(result.garments),
            "segmenter_id": result.segmenter_id,
            "overlay_png": png_base64(result.overlay_png),
            "seconds": result.seconds,
        }

    return router
