"""Upload limits: sniffing (415), bytes and pixels (413), corrupt images (422), base64, body limit."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from fashionlens.server.errors import ApiError
from fashionlens.server.limits import (
    BodyLimitMiddleware,
    decode_base64,
    decode_upload,
    sniff_image,
    sniff_video,
)


def _encoded(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    buf = io.BytesIO()
    rgb = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("fmt", "name"), [("JPEG", "JPEG"), ("PNG", "PNG"), ("GIF", "GIF"), ("BMP", "BMP"),
                                           ("WEBP", "WEBP"), ("TIFF", "TIFF")])  # fmt: skip
def test_sniff_image_knows_each_format_by_its_bytes(fmt: str, name: str) -> None:
    assert sniff_image(_encoded(fmt)) == name


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world", b"%PDF-1.7 ...", b"%!PS-Adobe-3.0 EPSF", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
     b"RIFF\x00\x00\x00\x00AVI LIST", b"\x00\x00\x00\x18ftypmp42"],
)  # fmt: skip
def test_sniff_image_refuses_what_is_not_an_image(data: bytes) -> None:
    assert sniff_image(data) is None


@pytest.mark.parametrize(
    ("data", "kind"),
    [(b"\x00\x00\x00\x18ftypisom" + b"\0" * 20, "MP4"), (b"RIFF\x10\x00\x00\x00AVI LIST", "AVI"),
     (b"\x1a\x45\xdf\xa3\x01\x00", "MKV"), (b"FLV\x01\x05", "FLV"), (b"\xff\xd8\xff\xe0", None),
     (b"text", None)],
)  # fmt: skip
def test_sniff_video(data: bytes, kind: str | None) -> None:
    assert sniff_video(data) == kind


def test_decode_upload_trusts_the_bytes_not_the_name() -> None:
    image = decode_upload(_encoded("PNG"), "photo.txt", max_bytes=10_000_000, max_pixels=10_000_000)
    assert image.size == (40, 30) and image.mode == "RGB"


def _status(data: bytes, **limits: int) -> tuple[int, str]:
    kwargs = {"max_bytes": 10_000_000, "max_pixels": 10_000_000, **limits}
    with pytest.raises(ApiError) as info:
        decode_upload(data, "image", **kwargs)
    return info.value.status, info.value.message


def test_not_an_image_is_415() -> None:
    status, message = _status(b"%PDF-1.4 this is a pdf named photo.jpg")
    assert status == 415 and "not an image" in message


def test_too_many_bytes_is_413() -> None:
    assert _status(_encoded("PNG"), max_bytes=100)[0] == 413


def test_a_decompression_bomb_is_413_before_decoding() -> None:
    bomb = _png_header_only(30_000, 30_000)  # 900 M pixels claimed in ~100 bytes
    assert len(bomb) < 200
    status, message = _status(bomb, max_pixels=40_000_000)
    assert status == 413 and "pixels" in message


def test_over_the_pixel_limit_is_413() -> None:
    status, message = _status(_encoded("PNG", (400, 300)), max_pixels=100_000)
    assert status == 413 and "120000" in message


def test_a_truncated_image_is_422() -> None:
    data = _encoded("JPEG", (200, 200))
    assert _status(data[: len(data) // 3])[0] == 422


def test_empty_upload_is_422() -> None:
    assert _status(b"")[0] == 422


def test_decode_base64_accepts_standard_urlsafe_and_data_urls() -> None:
    raw = bytes(range(256)) * 3
    text = base64.b64encode(raw).decode()
    assert decode_base64(text, "image", 10_000) == raw
    assert decode_base64(base64.urlsafe_b64encode(raw).decode().rstrip("="), "image", 10_000) == raw
    assert decode_base64("data:image/png;base64," + text, "image", 10_000) == raw


def test_decode_base64_refuses_garbage_and_oversize() -> None:
    with pytest.raises(ApiError) as bad:
        decode_base64("not base64 at all!!", "image", 10_000)
    assert bad.value.status == 422
    with pytest.raises(ApiError) as big:
        decode_base64("A" * 20_000, "image", 1_000)
    assert big.value.status == 413


def _app_with_limit(limit: int):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"n": len(await request.body())})

    app = Starlette(routes=[Route("/echo", echo, methods=["POST"])])
    return BodyLimitMiddleware(app, limit_for=lambda path: limit)


def test_body_limit_by_content_length_and_by_stream() -> None:
    from starlette.testclient import TestClient

    client = TestClient(_app_with_limit(1000))
    assert client.post("/echo", content=b"x" * 1000).json() == {"n": 1000}
    r = client.post("/echo", content=b"x" * 1001)
    assert r.status_code == 413 and r.json()["status"] == "error"

    def chunks():  # no Content-Length: the limit is counted while reading
        for _ in range(10):
            yield b"y" * 300

    r = client.post("/echo", content=chunks())
    assert r.status_code == 413 and "over the limit" in r.json()["error"]
