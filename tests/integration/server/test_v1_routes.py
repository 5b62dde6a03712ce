"""The /v1 routes through TestClient on the real shipped models and a real catalogue."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
from PIL import Image

from fashionlens.core.segmentation import rle_to_mask


def _ok(r) -> dict:
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "success"
    return body


def _error(r, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.json()["status"] == "error"
    return str(r.json()["error"])


def _upload(data: bytes, name: str = "image.jpg") -> dict:
    return {"image": (name, data, "image/jpeg")}


# -- describe ---------------------------------------------------------------------------------


def test_describe_a_street_photo_finds_a_person_and_garments(client, street_jpeg: bytes) -> None:
    body = _ok(client.post("/v1/describe", files=_upload(street_jpeg)))
    w, h = Image.open(io.BytesIO(street_jpeg)).size
    assert (body["width"], body["height"]) == (w, h)
    assert set(body["predictions"]) == {"articleType", "baseColour", "season", "gender", "usage"}
    assert len(body["people"]) == 1
    person = body["people"][0]
    mask = rle_to_mask(person["mask_rle"])
    assert mask.shape == (h, w) and mask.sum() == person["area"] > 0.1 * w * h
    x1, y1, x2, y2 = person["box_xyxy"]
    ys, xs = np.nonzero(mask)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x1, y1, x2, y2)
    assert body["garments"] and all(g["person"] == 0 for g in body["garments"])
    assert body["category_source"] == "garments"
    assert body["colours"] and abs(sum(c["share"] for c in body["colours"]) - 1.0) < 0.01
    overlay = Image.open(io.BytesIO(base64.b64decode(body["overlay_png"])))
    assert overlay.format == "PNG" and overlay.size == (w, h)


def test_describe_a_product_shot_takes_the_category_from_its_article_type(
    client, product_jpeg: bytes
) -> None:
    body = _ok(
        client.post("/v1/describe", files=_upload(product_jpeg), data={"overlay": "false", "masks": "false"})
    )
    assert body["predictions"]["articleType"] == "Track Pants"
    assert (body["category"], body["category_source"]) == ("bottoms", "articleType")
    assert body["colours"][0]["name"] == "black"
    assert body["overlay_png"] is None
    assert all(p["mask_rle"] is None for p in body["people"])


def test_colour_and_zero_shot(client, product_jpeg: bytes) -> None:
    colours = _ok(client.post("/v1/colour", files=_upload(product_jpeg), data={"k": "3"}))
    assert colours["colours"][0]["name"] == "black" and colours["colours"][0]["hex"].startswith("#")
    zs = _ok(
        client.post("/v1/zeroshot", files=_upload(product_jpeg), data={"labels": "dress, track pants, watch"})
    )
    assert zs["labels"][0]["label"] == "track pants"
    assert zs["labels"][0]["score"] >= zs["labels"][1]["score"] >= zs["labels"][2]["score"]
    _error(client.post("/v1/zeroshot", files=_upload(product_jpeg), data={"labels": "dress"}), 422)
    _error(
        client.post(
            "/v1/zeroshot", files=_upload(product_jpeg), data={"labels": "a,b", "template": "no field"}
        ),
        422,
    )
    braces = client.post(
        "/v1/zeroshot", files=_upload(product_jpeg), data={"labels": "a,b", "template": "{x} {label}"}
    )
    assert _ok(braces)["template"] == "{x} {label}"


def test_segment_returns_masks_at_the_frame_size(client, street_jpeg: bytes) -> None:
    body = _ok(client.post("/v1/segment", files=_upload(street_jpeg)))
    assert body["segmenter_id"] == "unet_mobilenet_v2.ccp"
    assert len(body["people"]) == 1
    assert rle_to_mask(body["people"][0]["mask_rle"]).shape == (body["height"], body["width"])
    assert all(g["colours"] == [] for g in body["garments"])
    _error(client.post("/v1/segment", files=_upload(street_jpeg), data={"model": "maskrcnn"}), 503)
    _error(client.post("/v1/segment", files=_upload(street_jpeg), data={"model": "yolo"}), 422)


# -- search -----------------------------------------------------------------------------------


def test_search_by_upload_finds_the_same_product_first(client, product_jpeg: bytes) -> None:
    body = _ok(client.post("/v1/search", files=_upload(product_jpeg), data={"k": "5"}))
    assert body["query_kind"] == "image" and len(body["hits"]) == 5
    top = body["hits"][0]
    assert top["score"] > 0.99 and top["article_type"] == "Track Pants"
    assert top["image_url"] == f"/v1/images/{top['image_id']}"
    scores = [h["score"] for h in body["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_search_by_text_and_by_image_id_with_filters(client) -> None:
    text = _ok(client.get("/v1/search", params={"text": "a photo of a watch", "k": 5}))
    assert text["query_kind"] == "text" and text["model_id"] == "mobilenet_v2_minilm.products"
    assert sum(h["article_type"] == "Watches" for h in text["hits"]) >= 3
    footwear = _ok(client.get("/v1/search", params={"text": "shoes", "k": 8, "category": "footwear"}))
    assert footwear["hits"] and all(h["category"] == "footwear" for h in footwear["hits"])
    street = _ok(client.get("/v1/search", params={"text": "a woman", "k": 4, "source": "street"}))
    assert street["hits"] and all(h["source"] == "street" for h in street["hits"])
    first = text["hits"][0]["image_id"]
    by_id = _ok(client.get(f"/v1/search/image/{first}", params={"k": 3}))
    assert by_id["query_kind"] == "image_id" and by_id["hits"][0]["image_id"] == first


def test_similar_images_leave_the_query_out(client) -> None:
    first = _ok(client.get("/v1/search", params={"text": "a photo of a watch", "k": 1}))["hits"][0][
        "image_id"
    ]
    body = _ok(client.get(f"/v1/images/{first}/similar", params={"k": 6}))
    ids = [h["image_id"] for h in body["hits"]]
    assert len(ids) == 6 and first not in ids
    assert [h["rank"] for h in body["hits"]] == list(range(1, 7))


def test_search_errors(client) -> None:
    _error(client.get("/v1/search", params={"k": 3}), 422)
    _error(client.get("/v1/search", params={"text": "   "}), 422)
    _error(client.get("/v1/search/image/0123456789abcdef"), 404)
    _error(client.get("/v1/search/image/..%2F..%2Fetc%2Fpasswd"), 404)
    _error(client.get("/v1/search/image/0123456789ABCDEF"), 422)
    _error(client.get("/v1/search", params={"text": "x", "source": "moon"}), 422)
    _error(client.get("/v1/search", params={"text": "x", "k": 0}), 422)


# -- images and catalogue ---------------------------------------------------------------------


def test_image_files_and_thumbnails_of_catalogued_images_only(client, server_home: Path) -> None:
    from fashionlens.store.catalog import Catalog

    row = Catalog(server_home / "db").read("images").to_pylist()[0]
    r = client.get(f"/v1/images/{row['image_id']}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == Path(row["image_path"]).read_bytes()
    thumb = client.get(f"/v1/images/{row['image_id']}/thumbnail", params={"size": 64})
    assert thumb.status_code == 200 and max(Image.open(io.BytesIO(thumb.content)).size) <= 64
    _error(client.get("/v1/images/0123456789abcdef"), 404)
    _error(client.get(f"/v1/images/{row['image_id']}/thumbnail", params={"size": 100}), 422)
    for attempt in ("..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "0123456789ABCDEF", "x" * 16):
        r = client.get(f"/v1/images/{attempt}")
        assert r.status_code in (404, 422) and b"root:" not in r.content


def test_catalogue_summary_and_browser(client, server_home: Path) -> None:
    from collections import Counter

    from fashionlens.store.catalog import Catalog

    sources = Counter(Catalog(server_home / "db").read("images").column("source").to_pylist())
    assert sources["product"] > 200 and sources["street"] == 6  # products deduplicated by content
    info = _ok(client.get("/v1/catalogue"))
    assert info["images"] == sum(sources.values())
    assert info["sources"] == dict(sources)
    page = _ok(client.get("/v1/catalogue/images", params={"limit": 10, "offset": 5}))
    assert page["total"] == sum(sources.values()) and len(page["items"]) == 10 and page["offset"] == 5
    assert page["facets"]["source"] == dict(sources)
    footwear = _ok(client.get("/v1/catalogue/images", params={"category": "footwear", "limit": 500}))
    assert footwear["total"] == len(footwear["items"]) > 0
    assert all(i["category"] == "footwear" for i in footwear["items"])
    assert footwear["total"] == page["facets"]["category"]["footwear"]
    _error(client.get("/v1/catalogue/images", params={"limit": 0}), 422)


def test_models_route(client) -> None:
    body = _ok(client.get("/v1/models"))
    assert body["image_model_id"] == body["models"]["backbone"]["model_id"]
    assert body["batching"] == {"max_batch": 1, "max_wait_ms": 10.0, "workers": 2}  # CPU defaults
    assert body["maskrcnn"] is False and body["api_key_required"] is False
