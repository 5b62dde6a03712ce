"""`fashionlens.ingest.images` on crafted bytes and special files (synthetic, fast)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.images import (
    ImageLimits,
    decode_bytes,
    display_path,
    header_size,
    probe_bytes,
    read_image_bytes,
)


def _png(size: tuple[int, int] = (16, 8)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.arange(size[0] * size[1] * 3, dtype=np.uint8).reshape(size[1], size[0], 3)).save(
        buf, format="PNG"
    )
    return buf.getvalue()


def _claiming(width: int, height: int) -> bytes:
    data = bytearray(_png())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _saved(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 8), (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "limits", "message"),
    [
        pytest.param(_claiming(100_000, 100_000), ImageLimits(), r"refused, too many pixels", id="bomb"),
        pytest.param(
            _claiming(9_000, 9_000),
            ImageLimits(),
            r"9000x9000 = 81000000 pixels, over the limit of 64000000",
            id="over-default",
        ),
        pytest.param(
            _png((16, 8)),
            ImageLimits(max_pixels=100),
            r"16x8 = 128 pixels, over the limit of 100 \(max_image_pixels\)",
            id="pixels",
        ),
        pytest.param(
            _png(), ImageLimits(max_bytes=10), r"bytes, over the limit of 10 \(max_image_bytes\)", id="bytes"
        ),
        pytest.param(
            _claiming(16, 0),
            ImageLimits(),
            r"not an image|corrupt image header|empty image size",
            id="zero-height",
        ),
        pytest.param(b"", ImageLimits(), r"empty file", id="empty"),
        pytest.param(
            b"GIF89a" + bytes(40), ImageLimits(), r"not an image|corrupt|empty image size", id="gif89a-zeros"
        ),
        pytest.param(_png()[:60], ImageLimits(), r"corrupt or truncated", id="truncated"),
        pytest.param(_saved("EPS"), ImageLimits(), r"^x: not an image$", id="eps"),  # no Ghostscript
        pytest.param(_saved("PDF"), ImageLimits(), r"^x: not an image$", id="pdf"),
        pytest.param(_saved("PPM"), ImageLimits(), r"^x: not an image$", id="ppm"),  # not accepted
    ],
)
def test_crafted_bytes_are_one_clear_error(data: bytes, limits: ImageLimits, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        probe_bytes(data, "x", limits)
    with pytest.raises(InvalidInputError, match=message):
        decode_bytes(data, "x", limits)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_accepted_formats_decode(fmt: str) -> None:
    probe = probe_bytes(_saved(fmt), "x")
    assert (probe.width, probe.height, probe.format) == (16, 8, fmt)


def test_special_files_are_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(InvalidInputError, match="not a regular file"):
        read_image_bytes(fifo)
    zero = tmp_path / "zero.jpg"
    zero.symlink_to("/dev/zero")
    with pytest.raises(InvalidInputError, match="not a regular file"):
        read_image_bytes(zero)
    with pytest.raises(InvalidInputError, match="a directory"):
        read_image_bytes(tmp_path)
    with pytest.raises(InvalidInputError, match="not a usable file name"):
        read_image_bytes("bad\x00name.jpg")
    loop = tmp_path / "loop.jpg"
    loop.symlink_to(loop)
    with pytest.raises(InvalidInputError, match="cannot read"):
        read_image_bytes(loop)


def test_display_path_prints_any_name(tmp_path: Path) -> None:
    name = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.jpg"))
    shown = display_path(name)
    assert shown.endswith("caf\\xe9.jpg")
    shown.encode("utf-8")
    name.write_bytes(b"junk")
    with pytest.raises(InvalidInputError) as info:
        header_size(name)
    str(info.value).encode("utf-8")


def test_header_size_decodes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cut.png"
    path.write_bytes(_png((40, 30))[:80])  # the header survives, the pixels do not
    assert header_size(path) == (40, 30)
    with pytest.raises(InvalidInputError, match="corrupt or truncated"):
        probe_bytes(path.read_bytes(), "cut.png")
