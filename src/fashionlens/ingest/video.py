"""Video files: probe, read every Nth frame as RGB, and register sampled frames in the catalogue.

OpenCV (``opencv-python-headless``, the ``video`` extra) decodes. It fails silently: a missing,
empty or non-video file just yields no frames. `probe_video` turns each of those into an
`InvalidInputError` naming the file (missing, a folder, empty, not opened, no decodable first
frame); a stream that breaks off later ends early with a warning. FFmpeg's own log lines are
silenced (``OPENCV_FFMPEG_LOGLEVEL=-8`` unless set).
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.types import SOURCES, IngestResult, Skipped
from fashionlens.ingest.base import display_path, make_record
from fashionlens.ingest.records import utf8_ok

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})


def _cv2() -> Any:
    # FFmpeg's own complaints ("moov atom not found") would go straight to stderr before our one-line
    # error says the same; keep them quiet unless the user asked for a level.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    return require("cv2", extra="video", package="opencv-python-headless")


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video. ``frame_count`` is OpenCV's estimate (may be 0 or off)."""

    path: str
    frame_count: int
    fps: float
    size_wh: tuple[int, int]

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


class VideoFrame(NamedTuple):
    """One decoded frame: 0-based index in the stream, time in seconds, RGB ``uint8 (H, W, 3)``."""

    frame_index: int
    time_s: float
    rgb: np.ndarray


def _open(path: Path) -> Any:
    """An opened ``cv2.VideoCapture`` for ``path``, or `InvalidInputError` saying why not.

    Only a regular file is handed to FFmpeg: a FIFO named ``x.mp4`` would block it forever, and a
    link to ``/dev/zero`` would stream zeros forever. A name that is not valid UTF-8 is refused
    before OpenCV sees it (it segfaults on one).
    """
    name = display_path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{name}: file not found") from exc
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{name}: cannot read ({getattr(exc, 'strerror', None) or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise InvalidInputError(f"{name}: is a folder, not a video file")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInputError(f"{name}: not a regular file (FIFO, device or socket)")
    if st.st_size == 0:
        raise InvalidInputError(f"{name}: empty file (0 bytes), not a video")
    cv2 = _cv2()
    # An absolute path: FFmpeg reads "http:x.mp4" or "concat:a|b" as a protocol, never "/.../x.mp4".
    target = os.path.abspath(path)
    if not utf8_ok(target):  # OpenCV 4.x crashes the process (SIGSEGV) on such a str
        raise InvalidInputError(f"{name}: the file name is not valid UTF-8; rename the file to read it")
    try:
        cap = cv2.VideoCapture(target)
    except Exception as exc:
        raise InvalidInputError(f"{name}: not a video OpenCV can open ({type(exc).__name__})") from exc
    if not cap.isOpened():
        cap.release()
        raise InvalidInputError(f"{name}: not a video OpenCV can open (corrupt or unsupported format)")
    return cap


def probe_video(path: str | Path) -> VideoInfo:
    """Open ``path``, check that a first frame decodes, and return its `VideoInfo`."""
    path = Path(path)
    cv2 = _cv2()
    cap = _open(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None or frame.size == 0:
            raise InvalidInputError(f"{path}: no decodable video frames (corrupt, truncated or not a video)")
        frame_count = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        height, width = frame.shape[:2]
    finally:
        cap.release()
    if not np.isfinite(fps) or fps < 0:
        fps = 0.0
    return VideoInfo(str(path), frame_count, fps, (int(width), int(height)))


def read_video_frames(
    path: str | Path,
    every: int = 1,
    *,
    start: int = 0,
    on_truncated: Callable[[int, int], None] | None = None,
) -> Iterator[VideoFrame]:
    """Yield ``(index, time_s, rgb)`` for frames ``start, start + every, ...`` in stream order.

    Skipped frames are only grabbed (demuxed and decoded, not converted). ``time_s`` is
    ``index / fps`` (the container's time stamp when the frame rate is unknown). Raises
    `InvalidInputError` naming the file before the first frame when it is missing, empty or not a
    decodable video; a stream that breaks off later ends, logged and reported to
    ``on_truncated(frames_read, frames_announced)`` so the caller can put it in its summary.
    """
    if every < 1:
        raise InvalidInputError(f"every must be >= 1; got {every}")
    if start < 0:
        raise InvalidInputError(f"start must be >= 0; got {start}")
    path = Path(path)
    cv2 = _cv2()
    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps if np.isfinite(fps) and fps > 0 else 0.0
        expected = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        index = 0
        yielded = 0
        while True:
            wanted = index >= start and (index - start) % every == 0
            if wanted:
                ok, bgr = cap.read()
            else:
                ok, bgr = cap.grab(), None
            if not ok:
                break
            if wanted:
                if bgr is None or bgr.size == 0:
                    break
                time_s = index / fps if fps else float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0) / 1000.0
                yield VideoFrame(index, time_s, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                yielded += 1
            index += 1
        if index == 0:
            raise InvalidInputError(f"{path}: no decodable video frames (corrupt, truncated or not a video)")
        if expected and index < expected - 1:
            logger.warning("%s: the stream ended at frame %d of the %d announced", path, index, expected)
            if on_truncated is not None:
                on_truncated(index, expected)
        logger.debug("%s: read %d frames, yielded %d (every %d)", path, index, yielded, every)
    finally:
        cap.release()


def sampled_frame_count(frame_count: int, every: int, start: int = 0) -> int:
    """How many frames ``read_video_frames(every=, start=)`` yields from ``frame_count`` frames."""
    if frame_count <= start:
        return 0
    return (frame_count - start - 1) // every + 1


def read_video(
    path: str | Path,
    frames_dir: str | Path,
    *,
    every: int = 30,
    source: str = "video",
    dataset: str | None = None,
    quality: int = 95,
) -> IngestResult:
    """Save every Nth frame of ``path`` as JPEG under ``frames_dir/<video stem>/`` and catalogue them.

    Frames are named ``frame_000030.jpg`` (the stream index), so re-running writes the same files
    (same bytes, same ``image_id``) and the catalogue upsert is idempotent. Frames that cannot be
    written are skipped with the reason, and a stream that ends before the frame count its container
    announced adds one `Skipped` for the video saying where it ended (it is in the run's summary,
    not only the log). ``source`` defaults to "video"; ``dataset`` to the stem.
    """
    from PIL import Image

    if source not in SOURCES:
        raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    path = Path(path)
    out = Path(frames_dir) / path.stem
    out.mkdir(parents=True, exist_ok=True)
    dataset = dataset or path.stem
    result = IngestResult()

    def truncated(read: int, announced: int) -> None:
        reason = (
            f"truncated: the stream ended at frame {read} of the {announced} announced; "
            f"frames {read}-{announced - 1} not read"
        )
        result.skipped.append(Skipped(display_path(path), reason))

    for frame in read_video_frames(path, every, on_truncated=truncated):
        target = out / f"frame_{frame.frame_index:06d}.jpg"
        try:
            Image.fromarray(frame.rgb).save(target, quality=quality)
        except OSError as exc:
            result.skipped.append(Skipped(str(target), f"cannot write frame {frame.frame_index} ({exc})"))
            continue
        record = make_record(target, source=source, dataset=dataset)
        if isinstance(record, Skipped):
            result.skipped.append(record)
        else:
            result.images.append(record)
    logger.info(
        "%s: %d frames catalogued (every %d), %d skipped",
        path,
        len(result.images),
        every,
        len(result.skipped),
    )
    return result
