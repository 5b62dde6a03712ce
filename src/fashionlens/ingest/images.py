"""The one image decoder and prober: every reader, model, training loop and server route opens
images here.

- Only regular files are read (a FIFO, a device or a directory named ``x.jpg`` is refused, never
  waited on or read forever; checked again on the open descriptor); at most
  ``ImageLimits.max_bytes`` bytes.
- Only the formats of `ACCEPTED_FORMATS` are parsed, whatever the extension says: a PostScript,
  PDF or other file named ``x.jpg`` is "not an image", and no external program (Ghostscript) ever
  runs on a user's file.
- The header is checked before any pixel is decoded: more than ``ImageLimits.max_pixels`` pixels
  is refused (decompression bombs: a 10 KB PNG that claims 100,000 x 100,000 pixels), and again
  after decoding (formats whose size is only known then). Pillow's own bomb guard stays on, so the
  effective cap is the lower of ``max_pixels`` and Pillow's ``Image.MAX_IMAGE_PIXELS`` (89.5 M).
- EXIF orientation is applied, so width and height are those of the image models see.
- Every mode becomes RGB: alpha composited on white (product shots are on white), 16-bit and
  float scaled to 0-255, palette, CMYK, YCbCr, 1-bit converted.
- Any failure is an `InvalidInputError` that names the file and the problem; nothing else
  escapes (Pillow raises a dozen exception types on crafted files). File names in messages go
  through `display_path`, so a name that is not valid UTF-8 can still be printed.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError

DEFAULT_MAX_PIXELS = 64_000_000  # 8000 x 8000
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
# formats a user may hand us that this Pillow cannot decode: listed as skipped with the reason
UNSUPPORTED_EXTENSIONS = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF", ".jxl": "JPEG XL"}
# Pillow plugins allowed to parse a user's bytes (content decides, not the extension; MPO, the
# multi-picture JPEG of phone cameras, comes through the JPEG plugin). Everything else (EPS, PDF,
# PSD, FITS, ...) is refused: fewer parsers on untrusted bytes, and EPS would run Ghostscript.
ACCEPTED_FORMATS = ("JPEG", "PNG", "GIF", "BMP", "WEBP", "TIFF", "AVIF")


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if self.max_pixels < 1 or self.max_bytes < 1:
            raise InvalidInputError(
                f"image limits must be >= 1; got max_pixels={self.max_pixels}, max_bytes={self.max_bytes}"
            )

    @classmethod
    def from_settings(cls, settings: Any) -> ImageLimits:
        return cls(int(settings.max_image_pixels), int(settings.max_image_bytes))


DEFAULT_LIMITS = ImageLimits()


@dataclass(frozen=True)
class ImageProbe:
    width: int  # after EXIF rotation
    height: int
    content_hash: str  # sha256 of the file bytes
    format: str


def display_path(path: str | Path) -> str:
    """``path`` as printable text: bytes that are not UTF-8 shown as ``\\xe9`` (never raises)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def content_hash(data: bytes) -> str:
    """sha256 hex digest of the file bytes."""
    return hashlib.sha256(data).hexdigest()


def read_image_bytes(
    path: str | Path, limits: ImageLimits = DEFAULT_LIMITS, *, allow_empty: bool = False
) -> bytes:
    """The bytes of a regular file of at most ``limits.max_bytes``, or `InvalidInputError` naming it."""
    path = Path(path)
    name = display_path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{name}: file not found") from exc
    except OSError as exc:
        raise InvalidInputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    except ValueError as exc:  # a NUL in the name
        raise InvalidInputError(f"{name}: not a usable file name ({exc})") from exc
    _check_regular(st, name, limits, allow_empty)
    try:
        # O_NONBLOCK: a file swapped for a FIFO after the stat above cannot block the open
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            _check_regular(os.fstat(f.fileno()), name, limits, allow_empty)  # what was really opened
            data = f.read(limits.max_bytes + 1)
    except OSError as exc:
        raise InvalidInputError(f"{name}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > limits.max_bytes:
        raise InvalidInputError(f"{name}: over the limit of {limits.max_bytes} bytes (max_image_bytes)")
    return data


def _check_regular(st: os.stat_result, name: str, limits: ImageLimits, allow_empty: bool) -> None:
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file (FIFO, device or socket)"
        raise InvalidInputError(f"{name}: {kind}")
    if st.st_size == 0 and not allow_empty:
        raise InvalidInputError(f"{name}: empty file")
    if st.st_size > limits.max_bytes:
        raise InvalidInputError(
            f"{name}: {st.st_size} bytes, over the limit of {limits.max_bytes} (max_image_bytes)"
        )


def unsupported_reason(path: Path) -> str | None:
    """Why a file with an image extension this build cannot decode is skipped (HEIC, AVIF...)."""
    name = UNSUPPORTED_EXTENSIONS.get(path.suffix.lower())
    if name is None:
        return None
    from PIL import features

    if name == "AVIF" and features.check("avif"):
        return None
    return f"{name} images are not supported by this install (convert to JPEG or PNG)"


def _open(data: bytes, name: str, limits: ImageLimits) -> Any:
    """A Pillow image whose header passed the pixel limit (pixels not decoded yet)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InvalidInputError(f"{name}: empty file")
    Image.init()  # once; registers every plugin this Pillow has (AVIF only where built in)
    formats = tuple(f for f in ACCEPTED_FORMATS if f in Image.OPEN)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as exc:
        raise InvalidInputError(f"{name}: not an image") from exc  # or not one of ACCEPTED_FORMATS
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidInputError(f"{name}: refused, too many pixels ({exc})") from exc
    except Exception as exc:
        raise InvalidInputError(f"{name}: corrupt image header ({type(exc).__name__}: {exc})") from exc
    _check_size(im.size, name, limits)
    return im


def _check_size(size: tuple[int, int], name: str, limits: ImageLimits) -> None:
    w, h = size
    if w < 1 or h < 1:
        raise InvalidInputError(f"{name}: empty image size {w}x{h}")
    if w * h > limits.max_pixels:
        raise InvalidInputError(
            f"{name}: {w}x{h} = {w * h} pixels, over the limit of {limits.max_pixels} (max_image_pixels)"
        )


def _decoded(im: Any, name: str, limits: ImageLimits = DEFAULT_LIMITS, exif: bool = True) -> Any:
    """Decode every pixel and apply EXIF orientation (unless ``exif`` is False: pixel-aligned
    annotations such as COCO masks and CCP label maps refer to the stored pixels); any Pillow
    failure names the file."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im.load()
            try:
                if exif and im.getexif().get(0x0112, 1) != 1:
                    im = ImageOps.exif_transpose(im)
            except Exception:  # broken EXIF never blocks an image: keep it unrotated
                pass
    except Exception as exc:
        raise InvalidInputError(f"{name}: corrupt or truncated image ({type(exc).__name__}: {exc})") from exc
    _check_size(im.size, name, limits)  # some formats only know their size once decoded
    return im


def normalise_mode(image: Any) -> Any:
    """Any PIL mode -> RGB (alpha on white, 16-bit/float scaled, palette/CMYK/1-bit converted)."""
    from PIL import Image

    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
        if mode == "RGB":
            return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def decode_bytes(
    data: bytes, name: str = "image", limits: ImageLimits = DEFAULT_LIMITS, *, exif: bool = True
) -> Any:
    """Bytes -> RGB PIL image (EXIF-rotated unless ``exif=False``), or `InvalidInputError` naming ``name``."""
    if len(data) > limits.max_bytes:
        raise InvalidInputError(
            f"{name}: {len(data)} bytes, over the limit of {limits.max_bytes} (max_image_bytes)"
        )
    im = _decoded(_open(data, name, limits), name, limits, exif)
    try:
        return normalise_mode(im)
    except Exception as exc:
        raise InvalidInputError(f"{name}: cannot convert {im.mode} to RGB ({exc})") from exc


def open_rgb(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS, *, exif: bool = True) -> Any:
    """Decode ``path`` to an RGB PIL image (EXIF-rotated unless ``exif=False``; every mode converted)."""
    path = Path(path)
    return decode_bytes(read_image_bytes(path, limits), display_path(path), limits, exif=exif)


def probe_bytes(data: bytes, name: str = "image", limits: ImageLimits = DEFAULT_LIMITS) -> ImageProbe:
    """Fully decode (catches truncated files) and return the size *after* EXIF rotation."""
    if len(data) > limits.max_bytes:
        raise InvalidInputError(
            f"{name}: {len(data)} bytes, over the limit of {limits.max_bytes} (max_image_bytes)"
        )
    im = _open(data, name, limits)
    fmt = str(im.format or "")
    im = _decoded(im, name, limits)
    w, h = im.size
    return ImageProbe(width=int(w), height=int(h), content_hash=content_hash(data), format=fmt)


def header_size(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> tuple[int, int]:
    """``(width, height)`` as stored (no EXIF rotation), from the header only: no pixel decoded."""
    path = Path(path)
    im = _open(read_image_bytes(path, limits), display_path(path), limits)
    return int(im.size[0]), int(im.size[1])


def probe_image(path: str | Path, limits: ImageLimits = DEFAULT_LIMITS) -> ImageProbe:
    """Probe one file: its size after EXIF rotation and the sha256 of its bytes."""
    path = Path(path)
    reason = unsupported_reason(path)
    if reason:
        raise InvalidInputError(f"{display_path(path)}: {reason}")
    return probe_bytes(read_image_bytes(path, limits), display_path(path), limits)


def to_rgb(image: Any, limits: ImageLimits = DEFAULT_LIMITS) -> Any:
    """An RGB PIL image from a path, bytes, a PIL image of any mode, or an HxW[xC] uint8 array."""
    from PIL import Image

    if isinstance(image, str | Path):
        return open_rgb(image, limits)
    if isinstance(image, bytes | bytearray | memoryview):
        return decode_bytes(bytes(image), "image", limits)
    if isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise InvalidInputError(f"image array: expected dtype uint8; got {arr.dtype}")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
            raise InvalidInputError(f"image array: expected HxW, HxWx3 or HxWx4; got shape {arr.shape}")
        if arr.size == 0:
            raise InvalidInputError(f"image array: empty shape {arr.shape}")
        return normalise_mode(Image.fromarray(arr))
    if not isinstance(image, Image.Image):
        raise InvalidInputError(
            f"expected a PIL image, uint8 array, bytes or path; got {type(image).__name__}"
        )
    if image.size[0] < 1 or image.size[1] < 1:
        raise InvalidInputError(f"image has an empty size {image.size}")
    if image.size[0] * image.size[1] > limits.max_pixels:
        raise InvalidInputError(f"image of {image.size[0]}x{image.size[1]} pixels is over the limit")
    try:
        if image.getexif().get(0x0112, 1) != 1:
            from PIL import ImageOps

            image = ImageOps.exif_transpose(image)
    except Exception:
        pass
    return normalise_mode(image)


def to_rgb_array(image: Any, limits: ImageLimits = DEFAULT_LIMITS) -> np.ndarray:
    """``uint8 (H, W, 3)`` from anything `to_rgb` takes (an RGB uint8 array passes through)."""
    if isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        return image
    return np.asarray(to_rgb(image, limits))
