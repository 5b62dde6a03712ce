"""The catalogue: what it holds (``GET /v1/catalogue``) and a filtered page of its images
(``GET /v1/catalogue/images``) for the web app's browser (`fashionlens.services.catalogue`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from fashionlens.core.types import Source, Split
from fashionlens.server import schemas
from fashionlens.server.routes.common import NO_NUL, call, image_urls
from fashionlens.server.state import ServerState


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1/catalogue", tags=["catalogue"])

    @router.get("", response_model=schemas.CatalogueResponse, summary="Tables, sources, embedding spaces")
    async def catalogue() -> dict[str, Any]:
        from fashionlens.services.catalogue import summary

        info = await call(state, summary, state.catalog, what="catalogue summary")
        return {"status": "success", **asdict(info)}

    @router.get(
        "/images",
        response_model=schemas.ImagePageResponse,
        responses=schemas.errors(400, 409, 422),
        summary="A page of catalogued images, filtered",
    )
    async def images(
        source: Source | None = Query(None),
        split: Split | None = Query(None),
        category: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Coarse category."),
        colour: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Colour group."),
        limit: int = Query(48, ge=1, le=500),
        offset: int = Query(0, ge=0, le=10_000_000),
    ) -> dict[str, Any]:
        """Images by image_id with the count of each filter value among the matches (facets).
        Category and colour come from the search index of the server's image backbone."""
        from fashionlens.services.catalogue import browse

        wanted = {"source": source, "split": split, "category": category, "colour": colour}
        page = await call(
            state,
            browse,
            state.catalog,
            state.image_model_id(),
            {k: v for k, v in wanted.items() if v},
            what="catalogue page",
            limit=limit,
            offset=offset,
        )
        return {
            "status": "success",
            "total": page.total,
            "offset": page.offset,
            "limit": page.limit,
            "model_id": page.model_id,
            "items": [{**item, **image_urls(item["image_id"])} for item in page.items],
            "facets": page.facets,
        }

    return router
