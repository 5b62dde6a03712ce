"""Segment catalogued photos: people cut out on white (crops registered as images), garments as records.

`segment_catalog` runs a semantic segmenter (default: the shipped U-Net, `UNetSegmenter`) over the
catalogued photos, in batches, and per photo:

- **people** (`find_people`): one white-background PNG per person, registered in ``images`` (same
  source and split as the photo, ``original_dataset = "fashionlens-people"``) and linked to the photo
  by a ``people`` row (box, mask as COCO RLE, score, crop path);
- **garments** (task ``garments``, which also does people): one ``garments`` row per garment region
  (from the U-Net map, or from an instance model such as `MaskRCNNSegmenter` when given): category,
  score, box, mask, the person it overlaps most, its dominant named colour, and a crop whose vector
  (backbone registry) goes to ``garment_embeddings__<model>``;
- an overlay PNG a person can look at (`render_overlay`) and a ``segment_status`` row.

Idempotent: photos with a status row for the task and segmenter are skipped unless ``force``; a
photo's earlier rows are replaced, never duplicated. Every batch is committed before the next, so
an interruption loses nothing already written. Unreadable and tiny photos are skipped with a reason.

Speed: the networks run on the whole batch; each photo's post-processing (people, garments, colours,
crops, overlay) runs on `default_photo_workers` threads; PNGs are written at zlib level 1. The
stage's `StepTimes` (``stage.times``) has the seconds of every step; `benchmarks/bench_segment.py`
prints them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import pyarrow as pa

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.segmentation import GarmentInstances, People, mask_to_rle, semantic_to_instances
from fashionlens.core.settings import Settings
from fashionlens.core.types import Embeddings, ImageRecord, Skipped
from fashionlens.engines.local import run_stage
from fashionlens.ingest.base import content_hash, image_id_from_hash
from fashionlens.ingest.images import DEFAULT_LIMITS, ImageLimits
from fashionlens.jobs.base import Batch, JobReport, Stage, StepTimes, decode_images
from fashionlens.models.segmenters.people import cutout_on_white, find_people
from fashionlens.store import schemas
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import sql_literal

logger = logging.getLogger(__name__)

Task = Literal["people", "garments"]
TASKS: tuple[str, ...] = ("people", "garments")
PEOPLE_DATASET = "fashionlens-people"
MIN_SIDE_PX = 32  # smaller photos are skipped: nothing to segment


class SemanticSegmenter(Protocol):
    @property
    def model_id(self) -> str: ...

    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]: ...


class InstanceSegmenter(Protocol):
    @property
    def model_id(self) -> str: ...

    def predict(self, images: Sequence[np.ndarray]) -> list[GarmentInstances]: ...


@dataclass
class SegmentReport:
    task: str
    segmenter_id: str
    total: int = 0
    done: int = 0
    already_done: int = 0
    people: int = 0
    garments: int = 0
    no_person: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    overlay_dir: Path | None = None
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Photo:
    row: dict[str, Any]
    rgb: np.ndarray


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# zlib level of every crop and overlay PNG: level 1 encodes a 550x842 photo 3.5x faster than
# Pillow's default 6 for files about 12% larger (benchmarks/bench_segment.py)
PNG_COMPRESS_LEVEL = 1


def default_photo_workers() -> int:
    """Threads that post-process a batch's photos (people, garments, colours, crops, overlays):
    one per CPU core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def _boxes(xyxy: np.ndarray) -> pa.Array:
    return pa.FixedSizeListArray.from_arrays(pa.array(xyxy.reshape(-1).astype(np.float32)), 4)


def _save_png(rgb: np.ndarray, path: Path, level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """Write ``rgb`` to ``path`` as PNG (atomically); return the bytes written."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=level)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def _people_rows(
    photo: _Photo, people: People, segmenter_id: str, crop_dir: Path, png_level: int
) -> tuple[list[dict[str, Any]], list[Any]]:
    rows, records = [], []
    image_id = photo.row["image_id"]
    for i in range(len(people)):
        crop = cutout_on_white(photo.rgb, people.masks[i])
        path = crop_dir / f"{image_id}_{i}.png"
        digest = content_hash(_save_png(crop, path, png_level))
        record = ImageRecord(
            image_id=image_id_from_hash(digest),
            source=photo.row["source"],
            original_dataset=PEOPLE_DATASET,
            image_path=str(path.resolve()),
            split=photo.row["split"] or "unsplit",
            width=crop.shape[1],
            height=crop.shape[0],
            content_hash=digest,
        )
        records.append(record)
        rows.append(
            {
                "person_key": f"{image_id}|{segmenter_id}|{i}",
                "image_id": image_id,
                "person_image_id": record.image_id,
                "segmenter_id": segmenter_id,
                "person_index": i,
                "bbox_xyxy": people.xyxy[i],
                "area": int(people.masks[i].sum()),
                "score": float(people.scores[i]),
                "mask_rle_json": json.dumps(mask_to_rle(people.masks[i])),
                "crop_path": str(path),
            }
        )
    return rows, records


def _garment_rows(
    photo: _Photo,
    garments: GarmentInstances,
    people: People,
    segmenter_id: str,
    crop_dir: Path,
    times: StepTimes,
    png_level: int,
) -> tuple[list[dict[str, Any]], list[np.ndarray]]:
    from fashionlens.models.colour.naming import dominant_colours

    rows, crops = [], []
    image_id = photo.row["image_id"]
    for i in range(len(garments)):
        mask = garments.masks[i]
        overlap = [int((mask & pm).sum()) for pm in people.masks]
        person = int(np.argmax(overlap)) if overlap and max(overlap) > 0 else None
        x1, y1, x2, y2 = (int(v) for v in garments.xyxy[i])
        box = (slice(y1, max(y2, y1 + 1)), slice(x1, max(x2, x1 + 1)))
        with times.step("colour"):
            colours = dominant_colours(photo.rgb[box], mask[box], k=3) if mask[box].any() else []
        with times.step("garment crops"):
            crop = cutout_on_white(photo.rgb, mask, margin_frac=0.02)
            path = crop_dir / f"{image_id}_{i}.png"
            _save_png(crop, path, png_level)
        crops.append(crop)
        rows.append(
            {
                "garment_key": f"{image_id}|{segmenter_id}|{i}",
                "image_id": image_id,
                "person_key": f"{image_id}|{segmenter_id}|{person}" if person is not None else "",
                "segmenter_id": segmenter_id,
                "garment_index": i,
                "category": garments.categories[i],
                "score": float(garments.scores[i]),
                "bbox_xyxy": garments.xyxy[i],
                "area": int(mask.sum()),
                "mask_rle_json": json.dumps(mask_to_rle(mask)),
                "colour": colours[0].name if colours else "",
                "colours_json": json.dumps(
                    [{"name": c.name, "share": round(c.share, 4), "hex": c.hex} for c in colours]
                ),
                "crop_path": str(path),
            }
        )
    return rows, crops


def _table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    if not rows:
        return schema.empty_table()
    cols: dict[str, Any] = {}
    for f in schema:
        values = [r[f.name] for r in rows]
        cols[f.name] = _boxes(np.stack(values)) if f.name == "bbox_xyxy" else pa.array(values, f.type)
    return pa.table(cols, schema=schema)


def select_photos(
    catalog: Catalog, where: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Catalogued photos to segment (never the person crops this module registers), by image_id."""
    clause = f"original_dataset != {sql_literal(PEOPLE_DATASET)}"
    rows = catalog.read("images", where=f"({where}) AND {clause}" if where else clause).to_pylist()
    rows.sort(key=lambda r: r["image_id"])
    return rows[:limit] if limit is not None else rows


@dataclass
class SegmentResults:
    """One batch's rows, ready to commit (plain data: it travels back from a Ray worker). Garment
    crops stay where they were made; only their hashes and vectors travel."""

    image_ids: list[str]
    records: list[Any]
    people_rows: list[dict[str, Any]]
    garment_rows: list[dict[str, Any]]
    garment_hashes: list[str]
    status: list[dict[str, Any]]
    no_person: int
    garment_vectors: np.ndarray | None = None


class SegmentStage(Stage):
    """`segment people|garments` as a stage (see `fashionlens.jobs.base`)."""

    name = "segment"

    def __init__(
        self,
        segmenter: SemanticSegmenter,
        out_dir: Path,
        *,
        task: Task = "people",
        instances: InstanceSegmenter | None = None,
        backbone: Any = None,
        detector: Any = None,
        where: str | None = None,
        limit: int | None = None,
        batch_size: int = 4,
        force: bool = False,
        overlays: bool = True,
        limits: ImageLimits = DEFAULT_LIMITS,
        photo_workers: int | None = None,
        png_level: int = PNG_COMPRESS_LEVEL,
    ) -> None:
        if task not in TASKS:
            raise InvalidInputError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1; got {batch_size}")
        self.segmenter, self.instances, self.backbone, self.detector = (
            segmenter,
            instances,
            backbone,
            detector,
        )
        self.out_dir, self.task, self.where, self.limit = Path(out_dir), task, where, limit
        self.batch_size, self.force, self.overlays, self.limits = batch_size, force, overlays, limits
        self.name = f"segment {task}"
        self.photo_workers = default_photo_workers() if photo_workers is None else photo_workers
        if self.photo_workers < 1:
            raise InvalidInputError(f"photo_workers must be >= 1; got {self.photo_workers}")
        if not 0 <= png_level <= 9:
            raise InvalidInputError(f"png_level must be a zlib level, 0..9; got {png_level}")
        self.png_level = png_level
        self.times = StepTimes()  # seconds per step of this process's batches

    @property
    def model_id(self) -> str:
        seg = self.segmenter.model_id
        return seg if self.instances is None else f"{seg}+{self.instances.model_id}"

    @property
    def overlay_dir(self) -> Path | None:
        return self.out_dir / "overlays" if self.overlays else None

    def select(self, catalog: Catalog) -> tuple[list[dict[str, Any]], int]:
        rows = select_photos(catalog, self.where, self.limit)
        if self.force:
            return rows, 0
        done = catalog.read(
            "segment_status",
            where=f"task = {sql_literal(self.task)} AND segmenter_id = {sql_literal(self.model_id)}",
            columns=["image_id"],
        )
        have = set(done.column("image_id").to_pylist())
        todo = [r for r in rows if r["image_id"] not in have]
        return todo, len(rows) - len(todo)

    def setup(self) -> None:
        for model in (self.segmenter, self.instances, self.backbone, self.detector):
            if model is not None and hasattr(model, "setup"):
                model.setup()
        if self.overlay_dir is not None:
            self.overlay_dir.mkdir(parents=True, exist_ok=True)

    def decode(self, rows: list[dict[str, Any]]) -> Batch:
        with self.times.step("decode"):
            batch = decode_images(rows, self.limits, min_side=MIN_SIDE_PX, purpose="segment")
            batch.items = [np.asarray(im) for im in batch.items]
        return batch

    def infer(self, batch: Batch) -> SegmentResults:
        """Segment the batch; with a backbone, embed its garment crops here too (on the worker)."""
        photos = [_Photo(row, rgb) for row, rgb in zip(batch.rows, batch.items, strict=True)]
        results, crops = _segment_batch(
            photos, self.segmenter, self.instances, self.detector, self.task, self.model_id, self.out_dir,
            self.overlay_dir, self.times, self.photo_workers, self.png_level,
        )  # fmt: skip
        if self.task == "garments" and self.backbone is not None and crops:
            with self.times.step("embed"):
                results.garment_vectors = _embed_crops(self.backbone, crops)
        return results

    def write(self, catalog: Catalog, results: SegmentResults) -> dict[str, int]:
        """Each table's rows of this batch replace the photos' earlier rows in one commit."""
        seg_id = self.model_id
        ids = results.image_ids
        condition = (
            f"image_id IN ({', '.join(sql_literal(i) for i in ids)}) AND segmenter_id = {sql_literal(seg_id)}"
        )
        with self.times.step("store"):
            before = catalog.read("people", where=condition, columns=["person_image_id"])
            catalog.upsert_images(results.records)
            people = _table(results.people_rows, schemas.PEOPLE)
            _replace(catalog, "people", condition, people, "person_key")
            _forget_stale_crops(catalog, set(before.column("person_image_id").to_pylist()))
            if self.task == "garments":
                garments = _table(results.garment_rows, schemas.GARMENTS)
                _replace(catalog, "garments", condition, garments, "garment_key")
            if results.garment_vectors is not None and self.backbone is not None:
                keys = tuple(r["garment_key"] for r in results.garment_rows)
                catalog.add_embeddings(
                    Embeddings(keys, results.garment_vectors, self.backbone.model_id),
                    results.garment_hashes,
                    table=schemas.garment_embeddings_table_name(self.backbone.model_id),
                )
            catalog.upsert("segment_status", _table(results.status, schemas.SEGMENT_STATUS), "status_key")
        return {
            "people": len(results.people_rows),
            "garments": len(results.garment_rows),
            "no_person": results.no_person,
        }

    def finish(self, catalog: Catalog) -> None:
        for name in ("people", "garments", "segment_status", "images"):
            catalog.compact(name)
        if self.times.seconds:  # the split `benchmarks/bench_segment.py` prints, in the log too
            steps = sorted(self.times.seconds.items(), key=lambda kv: -kv[1])
            logger.info("%s, seconds per step: %s", self.name, ", ".join(f"{k} {v:.1f}" for k, v in steps))


def _forget_stale_crops(catalog: Catalog, candidates: set[str]) -> None:
    """Person crops that no ``people`` row points to any more (the photo has fewer people now, or
    a crop's PNG bytes, and so its image id, changed) are forgotten, not left to be found by search.
    A crop another segmenter's rows still point to stays."""
    if not candidates:
        return
    listed = ", ".join(sql_literal(i) for i in sorted(candidates))
    used = catalog.read("people", where=f"person_image_id IN ({listed})", columns=["person_image_id"])
    catalog.delete_images(candidates - set(used.column("person_image_id").to_pylist()))


def _replace(catalog: Catalog, name: str, condition: str, rows: pa.Table, key: str) -> None:
    """The photos' earlier rows of this segmenter give way to ``rows``: one commit."""
    catalog.replace_where(name, condition, rows, key)


def segment_catalog(
    catalog: Catalog,
    segmenter: SemanticSegmenter,
    out_dir: Path,
    *,
    skip_failures: bool = True,
    progress: Progress = NO_PROGRESS,
    **options: Any,
) -> SegmentReport:
    """Segment the catalogue's photos on this machine (see the module doc). ``out_dir`` receives
    ``people/``, ``garments/`` crops and ``overlays/``. ``options`` are `SegmentStage`'s: ``task``,
    ``instances`` (a garment instance model used instead of the semantic map's regions),
    ``backbone`` (embeds garment crops; None: no garment vectors), ``detector`` (a person detector,
    ``detect(rgb) -> PersonBoxes``, that splits wide regions), ``where``, ``limit``, ``batch_size``,
    ``force``, ``overlays``, ``limits``, ``photo_workers`` (threads that post-process each batch's
    photos; default one per core, at most 4) and ``png_level``."""
    stage = SegmentStage(segmenter, out_dir, **options)
    return _report(stage, run_stage(stage, catalog, progress=progress, skip_failures=skip_failures))


def _report(stage: SegmentStage, job: JobReport) -> SegmentReport:
    return SegmentReport(
        stage.task, stage.model_id, total=job.total, done=job.done, already_done=job.already_done,
        people=job.counts.get("people", 0), garments=job.counts.get("garments", 0),
        no_person=job.counts.get("no_person", 0), skipped=job.skipped, overlay_dir=stage.overlay_dir,
        seconds=job.seconds,
    )  # fmt: skip


@dataclass(frozen=True)
class SegmentOptions:
    """What `segment people|garments` is asked to do; `segment_job` builds the models from Settings."""

    task: Task = "people"
    weights: Path | None = None  # own U-Net weights (default: the shipped model)
    maskrcnn: Path | None = None  # a Mask R-CNN checkpoint for the garments
    embed: bool = True  # embed garment crops with the settings' backbone
    out: Path | None = None  # default HOME/segments
    where: str | None = None
    limit: int | None = None
    force: bool = False
    overlays: bool = True


def segment_job(settings: Settings, options: SegmentOptions) -> SegmentStage:
    """The segment stage with its models built from ``settings`` (nothing loads until ``setup``)."""
    from fashionlens.models import factory

    instances = factory.maskrcnn(settings, options.maskrcnn) if options.maskrcnn else None
    embedder = factory.backbone(settings) if options.task == "garments" and options.embed else None
    return SegmentStage(
        factory.unet(settings, options.weights),
        options.out or settings.home / "segments",
        task=options.task,
        instances=instances,
        backbone=embedder,
        detector=factory.person_detector(settings),
        where=options.where,
        limit=options.limit,
        force=options.force,
        overlays=options.overlays,
        limits=ImageLimits.from_settings(settings),
    )


def run_segment(
    settings: Settings, options: SegmentOptions, progress: Progress = NO_PROGRESS
) -> SegmentReport:
    """Build the segment job from ``settings`` and run it on the settings' engine (local or ray)."""
    from fashionlens import engines

    stage = segment_job(settings, options)
    if settings.engine == "local":  # ray: each worker sets up its own copy, after a driver preflight
        stage.setup()  # a missing or broken weights file fails here, before any work
    return _report(stage, engines.run(stage, Catalog(settings.db_path), settings, progress=progress))


@dataclass
class _PhotoResult:
    people_rows: list[dict[str, Any]]
    records: list[Any]
    garment_rows: list[dict[str, Any]]
    garment_crops: list[np.ndarray]
    status: dict[str, Any]
    no_person: bool


def _segment_batch(
    photos: list[_Photo],
    segmenter: SemanticSegmenter,
    instances: InstanceSegmenter | None,
    detector: Any,
    task: str,
    seg_id: str,
    out_dir: Path,
    overlay_dir: Path | None,
    times: StepTimes,
    workers: int = 1,
    png_level: int = PNG_COMPRESS_LEVEL,
) -> tuple[SegmentResults, list[np.ndarray]]:
    """The networks run on the whole batch; then each photo's people, garments, colours, crops and
    overlay, on ``workers`` threads (numpy, OpenCV, k-means and PNG encoding release the GIL).
    Returns the batch's results and its garment crops, in row order."""
    with times.step("U-Net"):
        maps = segmenter.predict([p.rgb for p in photos])
    inst: list[GarmentInstances] | list[None] = [None] * len(photos)
    if task == "garments" and instances:
        with times.step("Mask R-CNN"):
            inst = instances.predict([p.rgb for p in photos])
    lock = threading.Lock()  # one detector, shared by the workers

    def detect_with(rgb: np.ndarray) -> Any:
        with lock:
            return detector.detect(rgb).xyxy

    def one(k: int) -> _PhotoResult:
        seg, conf = maps[k]
        detect = (lambda rgb=photos[k].rgb: detect_with(rgb)) if detector is not None else None
        return _photo_rows(
            photos[k], seg, conf, inst[k], detect, task, seg_id, out_dir, overlay_dir, times, png_level
        )

    if workers > 1 and len(photos) > 1:
        with ThreadPoolExecutor(max_workers=min(workers, len(photos))) as pool:
            done = list(pool.map(one, range(len(photos))))
    else:
        done = [one(k) for k in range(len(photos))]
    crops = [c for d in done for c in d.garment_crops]
    results = SegmentResults(
        [p.row["image_id"] for p in photos],
        [r for d in done for r in d.records],
        [r for d in done for r in d.people_rows],
        [r for d in done for r in d.garment_rows],
        [hashlib.sha256(c.tobytes()).hexdigest() for c in crops],
        [d.status for d in done],
        sum(d.no_person for d in done),
    )
    return results, crops


def _photo_rows(
    photo: _Photo,
    seg: np.ndarray,
    conf: np.ndarray,
    instances: GarmentInstances | None,
    detect: Any,
    task: str,
    seg_id: str,
    out_dir: Path,
    overlay_dir: Path | None,
    times: StepTimes,
    png_level: int,
) -> _PhotoResult:
    from fashionlens.render.overlay import render_overlay

    with times.step("people"):
        people = find_people(seg, conf, detect=detect)
    with times.step("people crops"):
        people_rows, records = _people_rows(photo, people, seg_id, out_dir / "people", png_level)
    garments = None
    garment_rows: list[dict[str, Any]] = []
    crops: list[np.ndarray] = []
    if task == "garments":
        if instances is not None:
            garments = instances
        else:
            with times.step("garments"):
                garments = semantic_to_instances(seg, conf)
        garment_rows, crops = _garment_rows(
            photo, garments, people, seg_id, out_dir / "garments", times, png_level
        )
    overlay = ""
    if overlay_dir is not None:
        with times.step("overlay"):
            path = overlay_dir / f"{photo.row['image_id']}.png"
            render_overlay(photo.rgb, people, garments).save(path, compress_level=png_level)
        overlay = str(path)
    status = {
        "status_key": f"{photo.row['image_id']}|{task}|{seg_id}",
        "image_id": photo.row["image_id"],
        "task": task,
        "segmenter_id": seg_id,
        "found": len(people) if task == "people" else len(garments or []),
        "overlay_path": overlay,
        "done_at": _now(),
    }
    return _PhotoResult(people_rows, records, garment_rows, crops, status, len(people) == 0)


def _embed_crops(backbone: Any, crops: list[np.ndarray]) -> np.ndarray:
    from PIL import Image

    return backbone.embed([Image.fromarray(c) for c in crops])
