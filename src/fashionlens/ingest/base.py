"""Shared helpers for readers: probe an image file into an `ImageRecord`, or say why not."""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import ImageRecord, Skipped
from fashionlens.ingest.images import (
    DEFAULT_LIMITS,
    IMAGE_EXTENSIONS,
    ImageLimits,
    content_hash,
    display_path,
    read_image_bytes,
)
from fashionlens.ingest.images import probe_image as _probe

__all__ = [
    "IMAGE_EXTENSIONS",
    "content_hash",
    "display_path",
    "image_id_from_hash",
    "make_record",
    "probe_image",
    "probe_progress",
    "read_bytes",
    "reading_limits",
]

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


_limits: contextvars.ContextVar[ImageLimits] = contextvars.ContextVar("image_limits", default=DEFAULT_LIMITS)


@contextlib.contextmanager
def reading_limits(limits: ImageLimits) -> Iterator[None]:
    """Readers probe images under ``limits`` (bytes and pixels) inside this block."""
    token = _limits.set(limits)
    try:
        yield
    finally:
        _limits.reset(token)


def current_limits() -> ImageLimits:
    return _limits.get()


def image_id_from_hash(digest: str) -> str:
    """``image_id`` is the first 16 hex digits of the content hash: same bytes, same id."""
    return digest[:16]


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file (annotation, idx...), or `InvalidInputError` naming it."""
    return read_image_bytes(path, current_limits(), allow_empty=True)


def probe_image(path: Path) -> tuple[int, int, str]:
    """Fully decode an image; ``(width, height, content_hash)``, the size after EXIF rotation.

    Raises `InvalidInputError` naming the file for a missing, empty, truncated, oversized,
    special or non-image file.
    """
    probe = _probe(path, current_limits())
    return probe.width, probe.height, probe.content_hash


def make_record(path: Path, *, source: str, dataset: str, split: str = "unsplit") -> ImageRecord | Skipped:
    """Probe ``path`` and build its `ImageRecord`, or a `Skipped` with the reason.

    Every reader registers images here, so every reader gets the same checks: `probe_image`
    under the `reading_limits` in force (regular file, byte and pixel limits, full decode), and a
    path that can be stored (valid UTF-8: a name made of other bytes is skipped, asking for a
    rename, rather than failing the whole write).
    """
    callback = _on_probe.get()
    try:
        record = _record(Path(path), source, dataset, split)
    except InvalidInputError as exc:
        logger.warning("skipping %s", exc)
        return Skipped(display_path(path), str(exc).removeprefix(f"{display_path(path)}: "))
    finally:
        if callback:
            callback(1)
    return record


def _record(path: Path, source: str, dataset: str, split: str) -> ImageRecord:
    try:
        resolved = str(path.resolve())
        resolved.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(
            f"{display_path(path)}: the file name is not valid UTF-8, so it cannot be stored; "
            "rename the file (e.g. convmv -f latin1 -t utf8)"
        ) from exc
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise InvalidInputError(f"{display_path(path)}: cannot resolve the path ({exc})") from exc
    width, height, digest = probe_image(path)
    return ImageRecord(
        image_id=image_id_from_hash(digest),
        source=source,
        original_dataset=dataset,
        image_path=resolved,
        split=split,
        width=width,
        height=height,
        content_hash=digest,
    )
