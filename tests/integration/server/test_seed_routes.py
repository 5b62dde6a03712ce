"""The seed routes, kept exactly, on the shipped attribute classifier; health, readiness, metrics."""

from __future__ import annotations

import base64
import re

HEADS = {"articleType", "baseColour", "season", "gender", "usage"}


def test_health_and_ready(client) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["loading"] == [] and body["failed"] == {}
    assert {"backbone", "attributes", "unet", "text"} <= set(body["models"])
    assert all(m["state"] in ("ready", "absent") for m in body["models"].values())


def test_predict_answers_the_seed_json(client, product_jpeg: bytes) -> None:
    r = client.post("/predict", files={"image": ("anything.bin", product_jpeg, "application/octet-stream")})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"predictions", "confidences", "status"}
    assert body["status"] == "success"
    assert set(body["predictions"]) == HEADS == set(body["confidences"])
    assert all(0.0 <= c <= 1.0 for c in body["confidences"].values())
    # styles.csv: Men, Track Pants, Black, Fall, Casual
    assert body["predictions"]["articleType"] == "Track Pants"
    assert body["predictions"]["baseColour"] == "black"
    assert body["predictions"]["gender"] == "Men"


def test_predict_base64_equals_predict(client, product_jpeg: bytes) -> None:
    multipart = client.post("/predict", files={"image": ("p.jpg", product_jpeg, "image/jpeg")}).json()
    encoded = base64.b64encode(product_jpeg).decode()
    r = client.post("/predict_base64", json={"image": encoded})
    assert r.status_code == 200
    assert r.json() == multipart
    data_url = client.post("/predict_base64", json={"image": f"data:image/jpeg;base64,{encoded}"})
    assert data_url.json() == multipart


def _error(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"status", "error"} and body["status"] == "error"
    assert "Traceback" not in body["error"]
    return str(body["error"])


def test_a_non_image_named_jpg_is_415(client) -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n"
    message = _error(client.post("/predict", files={"image": ("photo.jpg", pdf, "image/jpeg")}), 415)
    assert "not an image" in message


def test_a_truncated_image_is_422(client, product_jpeg: bytes) -> None:
    r = client.post("/predict", files={"image": ("p.jpg", product_jpeg[:600], "image/jpeg")})
    _error(r, 422)


def test_too_large_uploads_are_413_in_the_route_and_before_reading(client) -> None:
    limit = client.app.state.fashionlens.config.max_upload_bytes
    just_over = b"\xff\xd8\xff" + b"\0" * limit  # passes the body limit, refused by the route
    _error(client.post("/predict", files={"image": ("big.jpg", just_over, "image/jpeg")}), 413)
    far_over = b"\0" * (2 * limit)  # refused by Content-Length before the body is read
    _error(client.post("/predict", files={"image": ("big.jpg", far_over, "image/jpeg")}), 413)


def test_a_decompression_bomb_is_413(client) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )
    assert "pixels" in _error(client.post("/predict", files={"image": ("b.png", bomb, "image/png")}), 413)


def test_missing_field_and_bad_base64_are_422(client) -> None:
    _error(client.post("/predict", files={"picture": ("p.jpg", b"x", "image/jpeg")}), 422)
    _error(client.post("/predict_base64", json={"image": "***not base64***"}), 422)
    _error(client.post("/predict_base64", json={"img": "AAAA"}), 422)


def test_unknown_route_and_method_use_the_error_body(client) -> None:
    _error(client.get("/v1/nothing-here"), 404)
    _error(client.get("/predict"), 405)


def test_metrics_count_requests_batches_and_model_state(client, product_jpeg: bytes) -> None:
    client.post("/predict", files={"image": ("p.jpg", product_jpeg, "image/jpeg")})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    ok = re.search(
        r'^fashionlens_http_requests_total\{route="/predict",method="POST",status="200"\} (\d+)$', text, re.M
    )
    assert ok and int(ok.group(1)) >= 1
    assert re.search(r'^fashionlens_http_request_duration_seconds_count\{route="/predict"\} \d+$', text, re.M)
    batches = re.search(r"^fashionlens_batch_size_count (\d+)$", text, re.M)
    assert batches and int(batches.group(1)) >= 1
    assert 'fashionlens_model_loaded{model="attributes"} 1' in text
    assert 'fashionlens_model_loaded{model="unet"} 1' in text
