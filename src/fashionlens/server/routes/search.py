"""Search the catalogue by text, by a catalogued ``image_id`` or by an uploaded image, with the
CLI's filters (`fashionlens.services.search.Searcher`, `SearchFilters`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Path, Query, UploadFile

from fashionlens.core.types import Source, Split
from fashionlens.server import schemas
from fashionlens.server.errors import ApiError
from fashionlens.server.routes.common import NO_NUL, call, image_from_upload, search_out
from fashionlens.server.state import ServerState

IMAGE_ID_PATTERN = r"^[0-9a-f]{16}$"


def filters(source: str | None, split: str | None, category: str | None, colour: str | None) -> Any:
    from fashionlens.services.search import SearchFilters

    return SearchFilters(source=source or None, split=split or None, category=category, colour=colour)


def search_text(state: ServerState, text: str, k: int, flt: Any) -> Any:
    backbone = state.model("text")
    searcher = state.searcher(state.text_model_id())
    vector = backbone.embed_text([text])[0]
    return searcher.search_vector(vector, text, "text", k, flt)


def search_image_id(state: ServerState, image_id: str, k: int, flt: Any, *, exclude_self: bool) -> Any:
    searcher = state.searcher(state.image_model_id())
    vector = searcher.stored_vector(image_id)
    if vector is None:
        raise ApiError(404, f"image {image_id} is not in the {searcher.model_id} search index")
    result = searcher.search_vector(vector, image_id, "image_id", k + int(exclude_self), flt)
    if exclude_self:
        hits = [h for h in result.hits if h.image_id != image_id][:k]
        result.hits = [type(h)(**{**h.__dict__, "rank": i}) for i, h in enumerate(hits, start=1)]
    return result


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["search"])

    @router.get(
        "/search",
        response_model=schemas.SearchResponse,
        responses=schemas.errors(409, 422, 503, 504),
        summary="Search by text",
    )
    async def search(
        text: str = Query(..., min_length=1, max_length=500, pattern=r"\S", description="Text query."),
        k: int = Query(10, ge=1, le=100),
        source: Source | None = Query(None),
        split: Split | None = Query(None),
        category: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Coarse category."),
        colour: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Colour group."),
    ) -> dict[str, Any]:
        """Top-k catalogue images for a text query (the joint image-text space), with cosine scores."""
        flt = filters(source, split, category, colour)
        return search_out(await call(state, search_text, state, text, k, flt, what="text search"))

    @router.get(
        "/search/image/{image_id}",
        response_model=schemas.SearchResponse,
        responses=schemas.errors(404, 409, 422, 503, 504),
        summary="Search by a catalogued image (itself included, as the CLI does)",
    )
    async def search_by_id(
        image_id: str = Path(..., pattern=IMAGE_ID_PATTERN, description="A catalogued image_id."),
        k: int = Query(10, ge=1, le=100),
        source: Source | None = Query(None),
        split: Split | None = Query(None),
        category: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Coarse category."),
        colour: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Colour group."),
    ) -> dict[str, Any]:
        flt = filters(source, split, category, colour)
        return search_out(await call(state, _by_id, state, image_id, k, flt, what="search"))

    @router.post(
        "/search",
        response_model=schemas.SearchResponse,
        responses=schemas.errors(400, 409, 413, 415, 422, 503, 504),
        summary="Search by an uploaded image",
    )
    async def search_upload(
        image: UploadFile = File(..., description="The query image."),
        k: int = Form(10, ge=1, le=100),
        source: Source | None = Form(None),
        split: Split | None = Form(None),
        category: str | None = Form(None, max_length=64, pattern=NO_NUL),
        colour: str | None = Form(None, max_length=64, pattern=NO_NUL),
    ) -> dict[str, Any]:
        """Top-k catalogue images most similar to the upload (embedded through the batcher)."""
        flt = filters(source, split, category, colour)
        picture = await image_from_upload(state, image)
        attrs = await state.attributes(picture)
        searcher = await call(state, state.searcher, attrs.model_id, what="opening the search index")
        result = await call(
            state, searcher.search_vector, attrs.vector, "upload", "image", k, flt, what="search"
        )
        return search_out(result)

    return router


def _by_id(state: ServerState, image_id: str, k: int, flt: Any) -> Any:
    return search_image_id(state, image_id, k, flt, exclude_self=False)
