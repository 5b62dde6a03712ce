"""``/v1/wardrobe/...``: the personal wardrobe (`fashionlens.services.wardrobe`): items from an
uploaded photo, list / show / edit (optimistic version: 409 on a stale one) / remove / undo, the
crop of an item and the photo it came from, the values filters and edits accept, and outfit
suggestions. Every route that writes needs the API key when one is set."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Body, File, Form, Path, Query, UploadFile
from fastapi.responses import FileResponse

from fashionlens.server import schemas
from fashionlens.server.errors import ApiError
from fashionlens.server.routes.common import NO_NUL, api_key_dependency, call, image_from_bytes, read_upload
from fashionlens.server.state import ServerState

ItemId = Path(..., pattern=r"^[0-9A-Za-z_-]{1,64}$", description="The wardrobe item's id.")


def build(state: ServerState) -> APIRouter:
    router = APIRouter(prefix="/v1/wardrobe", tags=["wardrobe"])
    lock = threading.Lock()
    holder: dict[str, Any] = {}

    def wardrobe() -> Any:
        """One `Wardrobe` per server (its models load on the first photo)."""
        with lock:
            if "w" not in holder:
                from fashionlens.services.wardrobe import Wardrobe

                holder["w"] = Wardrobe(state.settings)
                holder["w"].store.recover()
            return holder["w"]

    async def run(fn: Any, what: str) -> Any:
        """A wardrobe call; a well-formed request with a value the wardrobe refuses (a status it
        does not know, a field it cannot edit) is 422, a missing item 404, a stale version 409."""
        from fashionlens.core.errors import InvalidInputError
        from fashionlens.services.wardrobe_items import NotFoundError

        try:
            return await call(state, fn, what=what)
        except NotFoundError:
            raise
        except InvalidInputError as exc:
            raise ApiError(422, str(exc)) from exc

    def item_out(item: Any) -> dict[str, Any]:
        base = f"/v1/wardrobe/items/{item.item_id}"
        return {**item.to_dict(), "crop_url": f"{base}/crop", "photo_url": f"{base}/photo"}

    @router.get("/options", summary="The values the wardrobe's filters and edits accept")
    async def options() -> dict[str, Any]:
        from fashionlens.core.labels import modanet_categories
        from fashionlens.services.outfits import FORMALITY_LEVELS, SEASONS
        from fashionlens.services.wardrobe_items import EDITABLE, colour_names
        from fashionlens.store.wardrobe import ROLES, STATUSES

        return {
            "status": "success",
            "categories": list(modanet_categories()),
            "roles": list(ROLES),
            "colours": list(colour_names()),
            "statuses": list(STATUSES),
            "seasons": list(SEASONS),
            "formality": list(FORMALITY_LEVELS),
            "editable": [f for f in EDITABLE if f != "mask"],
        }

    @router.get("/items", responses=schemas.errors(400, 422, 504), summary="The wardrobe's items, filtered")
    async def list_items(
        status: str | None = Query(None, pattern=NO_NUL, description="closet | wishlist | gone"),
        role: str | None = Query(None, pattern=NO_NUL, description="top, bottom, dress, outerwear..."),
        category: str | None = Query(None, pattern=NO_NUL, description="A garment class: top, pants..."),
        colour: str | None = Query(None, pattern=NO_NUL, description="A colour name."),
        season: str | None = Query(None, pattern=NO_NUL, description="spring | summer | autumn | winter"),
        tag: str | None = Query(None, pattern=NO_NUL, description="Items carrying this tag."),
        text: str | None = Query(None, pattern=NO_NUL, description="Words in the name, notes or tags."),
    ) -> dict[str, Any]:
        items = await run(
            lambda: wardrobe().list_items(
                status=status, role=role, category=category, colour=colour, season=season, tag=tag, text=text
            ),
            "wardrobe",
        )
        return {"status": "success", "items": [item_out(i) for i in items]}

    @router.post(
        "/items",
        status_code=201,
        responses=schemas.errors(400, 401, 413, 415, 422, 504),
        dependencies=api_key_dependency(state),
        summary="Digitise an uploaded photo: one item per garment found",
    )
    async def add(
        image: UploadFile = File(..., description="A photo of a person, or of one garment with single."),
        single: bool = Form(False, description="The photo shows one garment (flat lay, hanger)."),
        category: str = Form("", pattern=NO_NUL, max_length=64, description="Force this class."),
    ) -> dict[str, Any]:
        data = await read_upload(image, state.config.max_upload_bytes, "image")
        await image_from_bytes(state, data, "image")  # sniffed and checked: 413 / 415 / 422
        name = image.filename or "photo.jpg"
        report = await run(
            lambda: wardrobe().add_upload(data, name, single=single, category=category), "wardrobe add"
        )
        return {
            "status": "success",
            "items": [item_out(i) for i in report.created],
            "duplicates": [asdict(d) for d in report.duplicates],
            "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
        }

    @router.get("/items/{item_id}", responses=schemas.errors(400, 404, 422, 504), summary="One item")
    async def show(item_id: str = ItemId) -> dict[str, Any]:
        item = await run(lambda: wardrobe().get(item_id), "wardrobe")
        return {"status": "success", "item": item_out(item)}

    @router.get(
        "/items/{item_id}/crop",
        response_class=FileResponse,
        responses={200: {"content": {"image/png": {}}}, **schemas.errors(400, 404, 422, 504)},
        summary="The item cut out on white (PNG)",
    )
    async def crop(item_id: str = ItemId) -> Any:
        path = await run(lambda: wardrobe().crop_file(item_id), "wardrobe")
        return FileResponse(path, media_type="image/png")

    @router.get(
        "/items/{item_id}/photo",
        response_class=FileResponse,
        responses={
            200: {"content": {"image/jpeg": {}, "image/png": {}}},
            **schemas.errors(400, 404, 422, 504),
        },
        summary="The photo the item was cut from",
    )
    async def photo(item_id: str = ItemId) -> Any:
        import mimetypes

        path = await run(lambda: wardrobe().photo_file(item_id), "wardrobe")
        return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream")

    @router.patch(
        "/items/{item_id}",
        responses=schemas.errors(400, 401, 404, 409, 422, 504),
        dependencies=api_key_dependency(state),
        summary="Edit fields of an item (409 when its version changed since you read it)",
    )
    async def edit(
        item_id: str = ItemId,
        changes: dict[str, Any] = Body(..., description='Fields to set, e.g. {"brand": "Uniqlo"}.'),
        version: int | None = Query(None, ge=0, description="The version you read (optimistic check)."),
    ) -> dict[str, Any]:
        item = await run(lambda: wardrobe().edit(item_id, changes, expected_version=version), "wardrobe edit")
        return {"status": "success", "item": item_out(item)}

    @router.delete(
        "/items/{item_id}",
        responses=schemas.errors(400, 401, 404, 409, 422, 504),
        dependencies=api_key_dependency(state),
        summary="Remove an item (undo brings it back)",
    )
    async def remove(
        item_id: str = ItemId,
        version: int | None = Query(None, ge=0, description="The version you read (optimistic check)."),
    ) -> dict[str, Any]:
        await run(lambda: wardrobe().remove(item_id, expected_version=version), "wardrobe remove")
        return {"status": "success", "removed": item_id}

    @router.post(
        "/undo",
        responses=schemas.errors(400, 401, 409, 422, 504),
        dependencies=api_key_dependency(state),
        summary="Revert the newest change to the wardrobe",
    )
    async def undo() -> dict[str, Any]:
        applied = await run(lambda: wardrobe().undo(), "wardrobe undo")
        return {"status": "success", "undone": applied is not None}

    @router.get(
        "/outfits", responses=schemas.errors(400, 422, 504), summary="Complete outfits from the closet"
    )
    async def outfits(
        season: str | None = Query(None, pattern=NO_NUL, description="spring | summer | autumn | winter"),
        occasion: str | None = Query(None, pattern=NO_NUL, description="e.g. casual, work, party"),
        n: int = Query(5, ge=1, le=50, description="How many outfits."),
    ) -> dict[str, Any]:
        from fashionlens.services.outfits import OutfitRequest

        found = await run(
            lambda: wardrobe().outfits(OutfitRequest(season=season, occasion=occasion, n=n)), "outfits"
        )
        return {"status": "success", "outfits": [o.to_dict() for o in found]}

    return router
