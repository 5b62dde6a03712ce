"""``POST /v1/zeroshot``: label an image from text, no training (a backbone with a text tower)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, UploadFile

from fashionlens.server import schemas
from fashionlens.server.routes.common import call, image_from_upload
from fashionlens.server.state import ServerState


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["zero-shot"])

    @router.post(
        "/zeroshot",
        response_model=schemas.ZeroShotResponse,
        responses=schemas.errors(400, 413, 415, 422, 503, 504),
        summary="Zero-shot labels of one image",
    )
    async def zeroshot(
        image: UploadFile = File(..., description="The image file."),
        labels: str = Form(
            ...,
            max_length=4000,
            pattern=r"[^,\s][^,]*,[^,]*[^,\s]",
            description="Two or more comma-separated labels, e.g. 'dress,jeans,watch'.",
        ),
        template: str = Form(
            "a photo of a {label}", max_length=200, pattern=r"\{label\}", description="Prompt with {label}."
        ),
    ) -> dict[str, Any]:
        """Every label with its cosine score against the image, best first."""
        from fashionlens.services.describe import zero_shot_labels

        names = [label.strip() for label in labels.split(",") if label.strip()]
        picture = await image_from_upload(state, image)
        backbone = state.model("text")
        scored = await call(state, zero_shot_labels, picture, backbone, names, template, what="zero-shot")
        return {
            "status": "success",
            "model_id": str(backbone.model_id),
            "template": template,
            "labels": [{"label": label, "score": score} for label, score in scored],
        }

    return router
