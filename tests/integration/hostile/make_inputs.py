"""Hostile inputs made at test time from real photos (no binary junk in the repository).

Each builder takes the bytes of a real photo (a JPEG from ``shared/data``) and returns the bytes of
a crafted file: a decompression bomb whose header claims a huge size, a truncated file, random
bytes behind a GIF signature, a real image of another format under a misleading extension, a PNG
with a zTXt chunk that inflates to megabytes... `HOSTILE_IMAGES` lists them with the reason a
reader must give when it skips one; `GOOD_VARIANTS` lists unusual but valid images that must be
stored. Special files (FIFOs, links to ``/dev/zero``, names that are not UTF-8) and bad annotation
files are made by the helpers at the end.
"""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"


def real_photo(n: int = 1) -> bytes:
    """The bytes of CCP street photo number ``n`` (a real 550 x 825 JPEG)."""
    return (SHARED / "ccp" / "photos" / f"{n:04d}.jpg").read_bytes()


def _small(photo: bytes, size: tuple[int, int] = (32, 48)) -> Image.Image:
    with Image.open(io.BytesIO(photo)) as im:
        return im.convert("RGB").resize(size)


def _save(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(photo: bytes, width: int, height: int) -> bytes:
    """A small real PNG whose IHDR (CRC fixed) claims ``width x height``."""
    data = bytearray(_save(_small(photo), "PNG"))
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)


def jpeg_claiming(photo: bytes, width: int, height: int) -> bytes:
    """A small real JPEG whose SOF0 marker claims ``width x height`` (each at most 65535)."""
    data = bytearray(_save(_small(photo), "JPEG", quality=80))
    at = data.index(b"\xff\xc0")
    data[at + 5 : at + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_claiming(photo: bytes, width: int, height: int) -> bytes:
    """A small real TIFF whose ImageWidth / ImageLength tags claim ``width x height``."""
    data = bytearray(_save(_small(photo), "TIFF"))
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from(order + "HH", data, at)
        if tag in (256, 257):
            value = width if tag == 256 else height
            fmt = order + ("H" if kind == 3 else "I")
            struct.pack_into(fmt, data, at + 8, value)
    return bytes(data)


def gif_claiming(photo: bytes, width: int, height: int) -> bytes:
    """A small real GIF whose logical screen claims ``width x height`` (each at most 65535)."""
    data = bytearray(_save(_small(photo).convert("P"), "GIF"))
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


def gif89a_random(seed: int, n: int = 4000) -> bytes:
    """``GIF89a`` followed by ``n`` random bytes."""
    return b"GIF89a" + random.Random(seed).randbytes(n)


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    return data[: int(len(data) * keep)]


def png_ztxt_bomb(photo: bytes, inflated: int = 8 << 20) -> bytes:
    """A small real PNG with a zTXt chunk that inflates to ``inflated`` bytes (8 MB by default)."""
    data = _save(_small(photo), "PNG")
    at = data.index(b"IDAT") - 4
    text = b"Comment\x00\x00" + zlib.compress(b"\x00" * inflated, 9)
    return data[:at] + _png_chunk(b"zTXt", text) + data[at:]


def one_bit_png(photo: bytes, side: int = 12_000) -> bytes:
    """A 1-bit ``side x side`` PNG (a thresholded real photo in one corner): tens of KB on disk,
    ``side**2`` pixels once decoded."""
    canvas = Image.new("1", (side, side), 1)
    canvas.paste(_small(photo, (550, 825)).convert("1"), (0, 0))
    return _save(canvas, "PNG", optimize=True)


def eps_of(photo: bytes) -> bytes:
    """The photo as Encapsulated PostScript: decoding it would run Ghostscript."""
    return _save(_small(photo), "EPS")


def video_head(n: int = 64_000) -> bytes:
    """The first ``n`` bytes of the real MP4 clip."""
    clip = next((SHARED / "video").glob("*.mp4"))
    with clip.open("rb") as f:
        return f.read(n)


# --- valid but unusual images (must be stored) ------------------------------------------------


def cmyk_jpeg(photo: bytes) -> bytes:
    return _save(_small(photo, (64, 96)).convert("CMYK"), "JPEG")


def png16(photo: bytes) -> bytes:
    return _save(_small(photo, (64, 96)).convert("I;16"), "PNG")


def palette_alpha_png(photo: bytes) -> bytes:
    im = _small(photo, (64, 96)).convert("P")
    return _save(im, "PNG", transparency=0)


def png_bytes(photo: bytes) -> bytes:
    return _save(_small(photo, (64, 96)), "PNG")


def webp(photo: bytes) -> bytes:
    return _save(_small(photo, (64, 96)), "WEBP")


def avif(photo: bytes) -> bytes:
    return _save(_small(photo, (64, 96)), "AVIF")


@dataclass(frozen=True)
class Case:
    """A crafted file: how to make it from a real photo, its extension, and the skip reason."""

    name: str
    build: Callable[[bytes], bytes]
    suffix: str
    reason: str  # a regular expression the Skipped reason must match


BOMB = r"too many pixels|over the limit of \d+ \(max_image_pixels\)"
HOSTILE_IMAGES = (
    Case("png-bomb", lambda p: png_claiming(p, 100_000, 100_000), ".png", BOMB),
    Case(
        "png-over-limit", lambda p: png_claiming(p, 9_000, 9_000), ".png", r"81000000 pixels, over the limit"
    ),
    Case("jpeg-bomb", lambda p: jpeg_claiming(p, 65_000, 65_000), ".jpg", BOMB),
    Case("tiff-bomb", lambda p: tiff_claiming(p, 60_000, 60_000), ".tif", BOMB),
    Case("gif-bomb", lambda p: gif_claiming(p, 65_000, 65_000), ".gif", BOMB),
    Case("gif89a-random-1", lambda p: gif89a_random(1), ".gif", r"not an image|corrupt|truncated|" + BOMB),
    Case("gif89a-random-2", lambda p: gif89a_random(2), ".gif", r"not an image|corrupt|truncated|" + BOMB),
    Case("gif89a-random-3", lambda p: gif89a_random(3), ".gif", r"not an image|corrupt|truncated|" + BOMB),
    Case("one-bit-12000", one_bit_png, ".png", BOMB),
    Case("png-ztxt-bomb", png_ztxt_bomb, ".png", r"corrupt.*(Decompressed|too large)"),
    Case("jpeg-truncated", lambda p: truncated(p, 0.3), ".jpg", r"corrupt or truncated"),
    Case("png-truncated", lambda p: truncated(png_bytes(p), 0.5), ".png", r"corrupt or truncated"),
    Case("empty", lambda p: b"", ".png", r"^empty file"),
    Case("text-as-jpg", lambda p: b"this is not a photo\n" * 20, ".jpg", r"^not an image"),
    Case("eps-as-jpg", eps_of, ".jpg", r"^not an image"),
    Case("mp4-as-jpg", lambda p: video_head(), ".jpg", r"^not an image"),
)
# Valid images under surprising names or in unusual modes: stored, size measured on the file.
GOOD_VARIANTS = (
    Case("cmyk-jpeg", cmyk_jpeg, ".jpg", ""),
    Case("png16", png16, ".png", ""),
    Case("palette-alpha", palette_alpha_png, ".png", ""),
    Case("png-named-jpg", png_bytes, ".jpg", ""),
    Case("webp", webp, ".webp", ""),
)


# --- special files --------------------------------------------------------------------------


def make_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def link_to_dev_zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def non_utf8_name(folder: Path, stem: bytes = b"caf\xe9", suffix: bytes = b".jpg") -> Path:
    """A path in ``folder`` whose name is Latin-1 bytes (not valid UTF-8), as os.listdir gives it."""
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + stem + suffix))


def nested_json(depth: int) -> str:
    """A JSON array nested ``depth`` levels deep: ``[[[...]]]``."""
    return "[" * depth + "]" * depth
