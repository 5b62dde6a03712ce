"""Shared helpers for readers: probe an image file into an `ImageRecord`, or say why not."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import ImageRecord, Skipped

logger = logging.getLogger(__name__)

_on_probe: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "on_probe", default=None
)


@contextlib.contextmanager
def probe_progress(callback: Callable[[int], None]) -> Iterator[None]:
    """Call ``callback(1)`` after each image a reader probes (drives a progress bar, any reader)."""
    token = _on_probe.set(callback)
    try:
        yield
    finally:
        _on_probe.reset(token)


IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def content_hash(data: bytes) -> str:
    """sha256 hex digest of the file bytes."""
    return hashlib.sha256(data).hexdigest()


def image_id_from_hash(digest: str) -> str:
    """``image_id`` is the first 16 hex digits of the content hash: same bytes, same id."""
    return digest[:16]


def read_bytes(path: Path) -> bytes:
    """The bytes of ``path``, or `InvalidInputError` naming it (missing, unreadable)."""
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{path}: file not found") from exc
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def probe_image(path: Path) -> tuple[int, int, str]:
    """Open and fully decode an image; return ``(width, height, content_hash)``.

    Raises `InvalidInputError` naming the file for a missing, empty, truncated or non-image file.
    """
    from PIL import Image, UnidentifiedImageError

    data = read_bytes(path)
    if not data:
        raise InvalidInputError(f"{path}: empty file")
    import io

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # full decode: catches truncated files
            width, height = im.size
    except UnidentifiedImageError as exc:
        raise InvalidInputError(f"{path}: not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError(f"{path}: corrupt or truncated image ({exc})") from exc
    return width, height, content_hash(data)


def make_record(path: Path, *, source: str, dataset: str, split: str = "unsplit") -> ImageRecord | Skipped:
    """Probe ``path`` and build its `ImageRecord`, or a `Skipped` with the reason."""
    callback = _on_probe.get()
    try:
        width, height, digest = probe_image(path)
    except InvalidInputError as exc:
        if callback:
            callback(1)
        logger.warning("skipping %s", exc)
        return Skipped(str(path), str(exc).removeprefix(f"{path}: "))
    if callback:
        callback(1)
    return ImageRecord(
        image_id=image_id_from_hash(digest),
        source=source,
        original_dataset=dataset,
        image_path=str(path.resolve()),
        split=split,
        width=width,
        height=height,
        content_hash=digest,
    )
