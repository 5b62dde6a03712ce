"""Match the people in a video to catalogue images.

`match_video` decodes every Nth frame, detects people, crops each (box padded a little, clipped to
the frame), embeds the crops with the backbone and retrieves the top-k most similar catalogue
images from that backbone's embedding table. It returns a `VideoReport` (pure data);
`write_video_report` turns one into files: a PNG per sampled frame (the frame with its boxes, then
per person the crop and its top-k matches with scores), ``matches.json`` and ``matches.csv``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.ingest.video import VideoInfo, probe_video, read_video_frames, sampled_frame_count
from fashionlens.models.registry import Backbone
from fashionlens.models.segmenters.person_detector import HogPersonDetector, PersonDetector, pad_xyxy
from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import embeddings_table_name, search_table_name
from fashionlens.store.search_table import AnnConfig, query, read_state

logger = logging.getLogger(__name__)

CROP_PAD_FRAC = 0.08  # each person box grows by 8% of its size on every side before cropping


@dataclass(frozen=True)
class Match:
    """One retrieved catalogue image: 1-based ``rank`` and cosine similarity ``score`` (1 - distance)."""

    rank: int
    image_id: str
    image_path: str
    score: float


@dataclass(frozen=True)
class PersonMatches:
    """One detected person: the detector's box and score, the padded crop box, and its matches."""

    person_index: int
    box_xyxy: tuple[float, float, float, float]
    detection_score: float
    crop_xyxy: tuple[int, int, int, int]
    matches: tuple[Match, ...]


@dataclass(frozen=True)
class FrameMatches:
    frame_index: int
    time_s: float
    people: tuple[PersonMatches, ...]


@dataclass
class VideoTimings:
    """Seconds spent per stage over the whole run (weights loading excluded)."""

    decode: float = 0.0
    detect: float = 0.0
    embed: float = 0.0
    search: float = 0.0

    @property
    def total(self) -> float:
        return self.decode + self.detect + self.embed + self.search


@dataclass
class VideoReport:
    video: VideoInfo
    model_id: str
    detector_id: str
    every: int
    k: int
    where: str | None
    frames: list[FrameMatches] = field(default_factory=list)
    timings: VideoTimings = field(default_factory=VideoTimings)
    frames_read: int = 0  # frames decoded or grabbed, sampled or not
    notes: list[str] = field(default_factory=list)  # e.g. a truncated stream

    @property
    def people(self) -> int:
        return sum(len(f.people) for f in self.frames)

    @property
    def frames_per_second(self) -> float:
        """Sampled frames processed per second (decode + detect + embed + search)."""
        return len(self.frames) / self.timings.total if self.timings.total > 0 else 0.0

    @property
    def video_seconds_per_second(self) -> float:
        """Seconds of video covered per second of processing (> 1: faster than real time)."""
        if self.timings.total <= 0 or self.video.fps <= 0:
            return 0.0
        return self.frames_read / self.video.fps / self.timings.total


def _search_space(catalog: Catalog, settings: Settings, model_id: str, where: str | None) -> AnnConfig:
    """Make sure ``search__<model>`` is there and current, and that ``where`` (SQL on its columns:
    source, split, category, colour, article_type) leaves something to match. The filter is then
    pushed into every vector query: no id list is ever built, whatever the catalogue's size."""
    name = embeddings_table_name(model_id)
    if name not in catalog.table_names():
        raise NotReadyError(
            f"no embeddings for model {model_id!r} in {catalog.path}; ingest images and run "
            f"`fashionlens embed --backbone {model_id}` first"
        )
    from fashionlens.jobs.index import build_search_index, ensure_search_index

    state, notes = ensure_search_index(catalog, settings, model_id)
    if notes and "predates" in notes[-1]:  # embeddings were added since: matching must see them
        build_search_index(catalog, settings, model_id)
        state = read_state(catalog, model_id) or state
    table = catalog.open_table(search_table_name(model_id))
    try:
        n = table.count_rows(where) if where else table.count_rows()
    except Exception as exc:  # lancedb raises its own errors for a bad SQL filter
        raise InvalidInputError(
            f"invalid catalogue filter {where!r} (columns: source, split, category, colour, "
            f"article_type): {exc}"
        ) from exc
    if n == 0:
        what = f"matching {where!r} " if where else ""
        raise NotReadyError(
            f"no catalogue images {what}are embedded with {model_id}; run `fashionlens embed` first"
        )
    return AnnConfig(threshold=int(state.get("ann_threshold") or AnnConfig.threshold))


def _crop_boxes(xyxy: np.ndarray, width: int, height: int) -> list[tuple[int, int, int, int]]:
    padded = pad_xyxy(xyxy, CROP_PAD_FRAC, width, height)
    out = []
    for x1, y1, x2, y2 in padded:
        ix1, iy1 = int(np.floor(x1)), int(np.floor(y1))
        ix2, iy2 = max(int(np.ceil(x2)), ix1 + 1), max(int(np.ceil(y2)), iy1 + 1)
        out.append((ix1, iy1, min(ix2, width), min(iy2, height)))
    return out


def _timed_frames(frames: Iterable[Any], timings: VideoTimings) -> Iterable[Any]:
    it = iter(frames)
    while True:
        t0 = time.perf_counter()
        try:
            frame = next(it)
        except StopIteration:
            timings.decode += time.perf_counter() - t0
            return
        timings.decode += time.perf_counter() - t0
        yield frame


def match_video(
    catalog: Catalog,
    backbone: Backbone,
    path: str | Path,
    *,
    every: int = 30,
    k: int = 5,
    where: str | None = None,
    detector: PersonDetector | None = None,
    settings: Settings | None = None,
    progress: Progress = NO_PROGRESS,
) -> VideoReport:
    """Detect people on every ``every``-th frame of ``path`` and find each one's top-``k`` catalogue images.

    ``where`` filters the candidate images with SQL on the search table's columns (e.g.
    ``source = 'product'``), pushed into each vector query. ``settings``: the home's settings
    (default: those of the catalogue's home), used when the search table must be built.
    ``detector`` defaults to `HogPersonDetector`. ``progress.start`` gets the number of frames to sample
    (from the container's frame count; 0 when unknown), ``progress.advance`` one per frame.
    Raises `InvalidInputError` naming the file for a missing, empty or undecodable video, and
    `NotReadyError` when the catalogue has no embeddings of ``backbone`` to search.
    """
    if every < 1:
        raise InvalidInputError(f"every must be >= 1; got {every}")
    if k < 1:
        raise InvalidInputError(f"k must be >= 1; got {k}")
    from PIL import Image

    info = probe_video(path)
    settings = settings or Settings(home=catalog.path.parent)
    ann = _search_space(catalog, settings, backbone.model_id, where)
    detector = detector or HogPersonDetector()
    backbone.setup()
    backbone.embed([Image.new("RGB", (64, 128))])  # warm-up: the first forward pass is slow
    if hasattr(detector, "setup"):
        detector.setup()
    report = VideoReport(info, backbone.model_id, detector.model_id, every, k, where)
    progress.start(sampled_frame_count(info.frame_count, every), "video frames")
    last_index = -1

    def truncated(read: int, announced: int) -> None:
        report.notes.append(
            f"{path}: truncated, the stream ended at frame {read} of the {announced} announced"
        )

    frames = read_video_frames(path, every, on_truncated=truncated)
    for frame in _timed_frames(frames, report.timings):
        last_index = frame.frame_index
        t0 = time.perf_counter()
        found = detector.detect(frame.rgb)
        t1 = time.perf_counter()
        report.timings.detect += t1 - t0
        height, width = frame.rgb.shape[:2]
        crops = _crop_boxes(found.xyxy, width, height)
        vectors = (
            backbone.embed([Image.fromarray(frame.rgb[y1:y2, x1:x2]) for x1, y1, x2, y2 in crops])
            if crops
            else np.zeros((0, backbone.dim), np.float32)
        )
        t2 = time.perf_counter()
        report.timings.embed += t2 - t1
        people = []
        for i, (box, score, crop, vector) in enumerate(
            zip(found.xyxy, found.scores, crops, vectors, strict=True)
        ):
            hits, _ = query(catalog, backbone.model_id, vector, k, where, ann=ann)
            matches = tuple(
                Match(rank, row["image_id"], row["image_path"], float(row["score"]))
                for rank, row in enumerate(hits.to_pylist(), start=1)
            )
            people.append(
                PersonMatches(
                    person_index=i,
                    box_xyxy=(float(box[0]), float(box[1]), float(box[2]), float(box[3])),
                    detection_score=float(score),
                    crop_xyxy=crop,
                    matches=matches,
                )
            )
        report.timings.search += time.perf_counter() - t2
        report.frames.append(FrameMatches(frame.frame_index, float(frame.time_s), tuple(people)))
        progress.advance(1)
    report.frames_read = info.frame_count or last_index + 1
    logger.info(
        "%s: %d sampled frames, %d people, %.2f frames/s (decode %.1fs, detect %.1fs, embed %.1fs, "
        "search %.1fs)",
        path,
        len(report.frames),
        report.people,
        report.frames_per_second,
        report.timings.decode,
        report.timings.detect,
        report.timings.embed,
        report.timings.search,
    )
    return report
