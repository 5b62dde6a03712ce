"""``POST /v1/generate``: images from the shipped conditional DCGAN as one base64 PNG (a grid or
an interpolation strip) with each image's condition names, and ``GET /v1/generate/options``: the
article types and colour groups it knows.

The generator is not one of the start-up models (`ServerConfig.models`): it loads on the first
request that needs it (about a second), once per server, under a lock, so a server that never
generates never pays for it. An unknown label or colour answers 422 naming the value and the
classes the model knows.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter

from fashionlens.server import schemas
from fashionlens.server.errors import ApiError
from fashionlens.server.routes.common import call, png_base64
from fashionlens.server.state import ServerState


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["generate"])
    lock = threading.Lock()
    loaded: dict[str, Any] = {}

    def generator() -> Any:
        """The shipped generator, loaded on first use (503 when its weights cannot be loaded)."""
        from fashionlens.core.errors import FashionlensError
        from fashionlens.models.generators.dcgan import DCGANGenerator

        with lock:
            if "generator" not in loaded:
                threads = state.settings.num_threads or None
                gen = DCGANGenerator("shipped", device=state.settings.device, num_threads=threads)
                try:
                    gen.setup()
                except FashionlensError as exc:
                    raise ApiError(503, f"model generator failed to load: {exc}") from exc
                loaded["generator"] = gen
            return loaded["generator"]

    def options() -> dict[str, Any]:
        from fashionlens.services.generate import generator_model_id

        gen = generator()
        spec = gen.loaded_spec
        return {
            "status": "success",
            "model_id": generator_model_id(gen),
            "labels": list(spec.labels),
            "colours": list(spec.colours),
            "image_size": spec.image_size,
            "max_n": schemas.GENERATE_MAX_N,
            "max_scale": schemas.GENERATE_MAX_SCALE,
        }

    def run(body: schemas.GenerateRequest) -> Any:
        from fashionlens.core.errors import InvalidInputError
        from fashionlens.services.generate import generate_picture, resolve_conditions

        gen = generator()
        try:  # the request's values, checked against the model: 422, like any other bad value
            resolve_conditions(gen.loaded_spec, body.label, body.colour)
        except InvalidInputError as exc:
            raise ApiError(422, str(exc)) from exc
        return generate_picture(
            gen,
            body.n,
            label=body.label,
            colour=body.colour,
            seed=body.seed,
            interpolate=body.interpolate,
            scale=body.scale,
        )

    @router.post(
        "/generate",
        response_model=schemas.GenerateResponse,
        responses=schemas.errors(400, 422, 503, 504),
        summary="Generate catalogue-style garment images (conditional DCGAN)",
    )
    async def generate(body: schemas.GenerateRequest) -> dict[str, Any]:
        picture = await call(state, run, body, what="image generation")
        return {
            "status": "success",
            "model_id": picture.model_id,
            "png": png_base64(picture.png),
            "width": picture.width,
            "height": picture.height,
            "columns": picture.columns,
            "rows": picture.rows,
            "tile": picture.tile,
            "padding": picture.padding,
            "n": len(picture.conditions),
            "seed": body.seed,
            "interpolate": body.interpolate,
            "label": picture.label,
            "colour": picture.colour,
            "conditions": picture.conditions,
            "seconds": round(picture.seconds, 4),
        }

    @router.get(
        "/generate/options",
        response_model=schemas.GenerateOptionsResponse,
        responses=schemas.errors(503, 504),
        summary="The article types and colour groups the generator knows",
    )
    async def generate_options() -> dict[str, Any]:
        return dict(await call(state, options, what="loading the generator"))

    return router
