"""The wardrobe and trends routes on real photos: digitise an upload, read, edit with a stale
version (409), remove, undo; trends shares with intervals and the HTML report."""

from __future__ import annotations

from typing import Any


def test_wardrobe_round_trip(client: Any, street_jpeg: bytes) -> None:
    added = client.post("/v1/wardrobe/items", files={"image": ("street.jpg", street_jpeg, "image/jpeg")})
    assert added.status_code == 201, added.text
    items = added.json()["items"]
    assert items and all(i["category"] for i in items)
    item = items[0]
    again = client.post("/v1/wardrobe/items", files={"image": ("street.jpg", street_jpeg, "image/jpeg")})
    assert again.status_code == 201 and again.json()["items"] == []  # the same photo adds nothing

    listed = client.get("/v1/wardrobe/items").json()["items"]
    assert {i["item_id"] for i in items} <= {i["item_id"] for i in listed}
    shown = client.get(f"/v1/wardrobe/items/{item['item_id']}").json()["item"]
    crop = client.get(shown["crop_url"])
    assert crop.status_code == 200 and crop.content[:8] == b"\x89PNG\r\n\x1a\n"

    edited = client.patch(f"/v1/wardrobe/items/{item['item_id']}", params={"version": shown["version"]},
                          json={"brand": "Uniqlo"})  # fmt: skip
    assert edited.status_code == 200, edited.text
    assert edited.json()["item"]["brand"] == "Uniqlo" and edited.json()["item"]["version"] > shown["version"]
    stale = client.patch(f"/v1/wardrobe/items/{item['item_id']}", params={"version": shown["version"]},
                         json={"brand": "Zara"})  # fmt: skip
    assert stale.status_code == 409 and stale.json()["status"] == "error"
    assert client.get(f"/v1/wardrobe/items/{item['item_id']}").json()["item"]["brand"] == "Uniqlo"

    assert client.delete(f"/v1/wardrobe/items/{item['item_id']}").status_code == 200
    assert client.get(f"/v1/wardrobe/items/{item['item_id']}").status_code == 404
    assert client.post("/v1/wardrobe/undo").json()["undone"] is True
    assert client.get(f"/v1/wardrobe/items/{item['item_id']}").status_code == 200

    bad = client.post("/v1/wardrobe/items", files={"image": ("notes.jpg", b"not an image", "image/jpeg")})
    assert bad.status_code in (415, 422) and bad.json()["status"] == "error"


def test_trends_route_and_report(client: Any) -> None:
    got = client.get("/v1/trends", params={"by": "source", "signal": "category"})
    assert got.status_code == 200, got.text
    body = got.json()
    groups = {r["group"] for r in body["shares"]}
    assert {"product", "street"} <= groups
    for row in body["shares"]:
        assert 0.0 <= row["ci_low"] <= row["share"] <= row["ci_high"] <= 1.0
    report = client.get(body["report_url"])
    assert report.status_code == 200 and "<html" in report.text.lower()
    assert client.get("/v1/trends", params={"by": "planet"}).status_code == 422
