"""``POST /v1/segment``: people and garments of one image (the webcam page sends its frames here)."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, File, Form, UploadFile

from fashionlens.server import schemas
from fashionlens.server.routes.common import call, garments_out, image_from_upload, people_out
from fashionlens.server.state import ServerState


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["segment"])

    @router.post(
        "/segment",
        response_model=schemas.SegmentResponse,
        responses=schemas.errors(400, 413, 415, 422, 503, 504),
        summary="People and garments with masks (COCO RLE)",
    )
    async def segment(
        image: UploadFile = File(..., description="The image (or video frame)."),
        model: Literal["unet", "maskrcnn"] = Form(
            "unet", description="unet (shipped) or maskrcnn (when a checkpoint is configured)."
        ),
        colours: bool = Form(False, description="Name each garment's colours too (slower)."),
    ) -> dict[str, Any]:
        from fashionlens.services.describe import garment_results, people_results

        picture = await image_from_upload(state, image)
        describer = state.describer(attributes=False, instances=model == "maskrcnn")
        started = time.perf_counter()

        def run() -> dict[str, Any]:
            from fashionlens.ingest.images import to_rgb_array

            rgb = to_rgb_array(picture)
            seg = describer.segment(picture, use_instances=model == "maskrcnn")
            garments = garment_results(rgb, seg.garments, seg.people, colours_k=3 if colours else 0)
            return {
                "segmenter_id": seg.segmenter_id,
                "people": people_out(people_results(seg.people)),
                "garments": garments_out(garments),
            }

        out = await call(state, run, what="segmentation")
        width, height = picture.size
        return {
            "status": "success",
            "width": width,
            "height": height,
            **out,
            "seconds": round(time.perf_counter() - started, 4),
        }

    return router
