"""Match the people in a video to catalogue images.

`match_video` decodes every Nth frame, finds the people (`fashionlens.jobs.video_people`), embeds
each one's image with the backbone and retrieves the top-k most similar catalogue images from that
backbone's search table. Two modes: ``boxes`` (default) crops each detector box, padded a little,
with its background, and searches every catalogue image; ``cutouts`` cuts each person out on white
with the U-Net person path and searches only the person cut-outs `segment people` stored (rows of
``original_dataset = 'fashionlens-people'``), so a person is compared with people, not whole
photos. It returns a `VideoReport` (pure data);
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
from fashionlens.jobs.segment import PEOPLE_DATASET
from fashionlens.jobs.video_people import CROP_PAD_FRAC, BoxPeople, PeopleFinder
from fashionlens.models.registry import Backbone
from fashionlens.models.segmenters.person_detector import HogPersonDetector, PersonDetector
from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import embeddings_table_name, search_table_name
from fashionlens.store.search_table import AnnConfig, query, read_state, sql_literal

logger = logging.getLogger(__name__)

__all__ = ["CROP_PAD_FRAC", "match_video"]
PEOPLE_WHERE = f"original_dataset = {sql_literal(PEOPLE_DATASET)}"  # the person cut-outs of `segment people`


@dataclass(frozen=True)
class Match:
    """One retrieved catalogue image: 1-based ``rank`` and cosine similarity ``score`` (1 - distance)."""

    rank: int
    image_id: str
    image_path: str
    score: float


@dataclass(frozen=True)
class PersonMatches:
    """One person: the box and score, the embedded image's pixel box, its matches, and (cut-outs
    only) the person's mask in the frame as COCO RLE JSON."""

    person_index: int
    box_xyxy: tuple[float, float, float, float]
    detection_score: float
    crop_xyxy: tuple[int, int, int, int]
    matches: tuple[Match, ...]
    mask_rle_json: str = ""


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
    mode: str = "boxes"  # boxes | cutouts (`fashionlens.jobs.video_people`)

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


def _people_space(catalog: Catalog, where: str | None) -> str:
    """``where`` narrowed to the person cut-outs; `NotReadyError` naming the command to run when
    the catalogue has none (`_search_space` then says when none is embedded)."""
    people_where = f"({where}) AND {PEOPLE_WHERE}" if where else PEOPLE_WHERE
    if catalog.count("images", PEOPLE_WHERE) == 0:
        raise NotReadyError(
            f"no person crops in {catalog.path}: cutouts mode matches people against the people "
            "cut out of catalogued photos; run `fashionlens segment people`, then `fashionlens embed`"
        )
    return people_where


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
    people: PeopleFinder | None = None,
    settings: Settings | None = None,
    progress: Progress = NO_PROGRESS,
) -> VideoReport:
    """Find the people on every ``every``-th frame of ``path`` and each one's top-``k`` catalogue images.

    ``where`` filters the candidate images with SQL on the search table's columns (e.g.
    ``source = 'product'``), pushed into each vector query. ``settings``: the home's settings
    (default: those of the catalogue's home), used when the search table must be built.
    ``people``: how people are found and imaged (`fashionlens.jobs.video_people.people_finder`);
    default `BoxPeople` over ``detector`` (default `HogPersonDetector`). A ``cutouts`` finder
    searches only the catalogue's person cut-outs. ``progress.start`` gets the number of frames to
    sample (from the container's frame count; 0 when unknown), ``progress.advance`` one per frame.
    Raises `InvalidInputError` naming the file for a missing, empty or undecodable video, and
    `NotReadyError` when the catalogue has no embeddings of ``backbone`` to search (cutouts: no
    embedded person crops; the message names the command to run).
    """
    if every < 1:
        raise InvalidInputError(f"every must be >= 1; got {every}")
    if k < 1:
        raise InvalidInputError(f"k must be >= 1; got {k}")
    from PIL import Image

    info = probe_video(path)
    settings = settings or Settings(home=catalog.path.parent)
    finder = people or BoxPeople(detector or HogPersonDetector())
    if finder.mode == "cutouts":
        where = _people_space(catalog, where)
    ann = _search_space(catalog, settings, backbone.model_id, where)
    backbone.setup()
    backbone.embed([Image.new("RGB", (64, 128))])  # warm-up: the first forward pass is slow
    finder.setup()
    report = VideoReport(info, backbone.model_id, finder.model_id, every, k, where, mode=finder.mode)
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
        found = finder.find(frame.rgb)
        t1 = time.perf_counter()
        report.timings.detect += t1 - t0
        vectors = (
            backbone.embed([Image.fromarray(p.image) for p in found])
            if found
            else np.zeros((0, backbone.dim), np.float32)
        )
        t2 = time.perf_counter()
        report.timings.embed += t2 - t1
        matched = []
        for i, (person, vector) in enumerate(zip(found, vectors, strict=True)):
            hits, _ = query(catalog, backbone.model_id, vector, k, where, ann=ann)
            matches = tuple(
                Match(rank, row["image_id"], row["image_path"], float(row["score"]))
                for rank, row in enumerate(hits.to_pylist(), start=1)
            )
            matched.append(
                PersonMatches(
                    person_index=i,
                    box_xyxy=person.box_xyxy,
                    detection_score=person.score,
                    crop_xyxy=person.crop_xyxy,
                    matches=matches,
                    mask_rle_json=person.mask_rle_json,
                )
            )
        report.timings.search += time.perf_counter() - t2
        report.frames.append(FrameMatches(frame.frame_index, float(frame.time_s), tuple(matched)))
        progress.advance(1)
    report.frames_read = info.frame_count or last_index + 1
    logger.info(
        "%s (%s): %d sampled frames, %d people, %.2f frames/s (decode %.1fs, detect %.1fs, embed %.1fs, "
        "search %.1fs)",
        path,
        report.mode,
        len(report.frames),
        report.people,
        report.frames_per_second,
        report.timings.decode,
        report.timings.detect,
        report.timings.embed,
        report.timings.search,
    )
    return report
