"""Ingest any supported dataset into the catalogue: format detection and dispatch to the readers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import guess_label_scheme
from fashionlens.core.settings import Settings
from fashionlens.core.types import IngestResult
from fashionlens.ingest.base import reading_limits
from fashionlens.ingest.images import ImageLimits
from fashionlens.store.catalog import Catalog, WriteCounts

logger = logging.getLogger(__name__)

FORMATS = (
    "folder",
    "coco",
    "roboflow",
    "modanet",
    "deepfashion2",
    "products",
    "ccp",
    "fashion-mnist",
    "video",
)


@dataclass
class IngestReport:
    path: str
    format: str
    result: IngestResult
    written: WriteCounts


def detect_format(path: Path) -> str:
    """Guess the dataset format of ``path`` from its layout."""
    if path.is_file():
        from fashionlens.ingest.video import VIDEO_EXTENSIONS

        if path.suffix.lower() == ".json":
            return "coco"
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            return "video"
        raise InvalidInputError(f"{path}: not a dataset folder or COCO .json file")
    if not path.is_dir():
        raise InvalidInputError(f"{path}: no such file or folder")
    if (path / "styles.csv").is_file():
        return "products"
    if (path / "label_list.mat").is_file() and (path / "photos").is_dir():
        return "ccp"
    if any((path / split / "_annotations.coco.json").is_file() for split in ("train", "valid", "test")):
        return "roboflow"
    if (path / "annos").is_dir() and (path / "image").is_dir():
        return "deepfashion2"
    if any(p.name.endswith("idx3-ubyte.gz") or p.name.endswith("idx3-ubyte") for p in path.iterdir()):
        return "fashion-mnist"
    return "folder"


def read_any(
    path: Path | None,
    fmt: str,
    settings: Settings,
    *,
    source: str | None = None,
    limit: int | None = None,
    **options: Any,
) -> IngestResult:
    """Run the reader for ``fmt`` on ``path`` (``fmt='auto'`` detects it)."""
    if fmt == "fashion-mnist" and path is None:
        with reading_limits(ImageLimits.from_settings(settings)):  # searches the default places
            return _fashion_mnist(None, settings, options)
    if path is None:
        raise InvalidInputError(f"format {fmt} needs a path")
    path = Path(path).expanduser()
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in FORMATS:
        raise InvalidInputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    readers: dict[str, Callable[[], IngestResult]] = {
        "folder": lambda: _folder(path, source, options),
        "coco": lambda: _coco(path, source, options),
        "roboflow": lambda: _roboflow(path, source),
        "modanet": lambda: _modanet(path, options),
        "deepfashion2": lambda: _deepfashion2(path, source),
        "products": lambda: _products(path, source, limit, options),
        "ccp": lambda: _ccp(path, source, limit),
        "fashion-mnist": lambda: _fashion_mnist(path, settings, options),
        "video": lambda: _video(path, settings, source, options),
    }
    logger.info("reading %s as %s", path, fmt)
    with reading_limits(ImageLimits.from_settings(settings)):
        return readers[fmt]()


WRITE_BATCH = 2000  # images per commit: a crash while writing a large dataset keeps what was written


def ingest(catalog: Catalog, path: Path | None, fmt: str, settings: Settings, **kwargs: Any) -> IngestReport:
    """Read a dataset and upsert it into the catalogue (idempotent), committing in batches."""
    if fmt == "auto" and path is not None:
        fmt = detect_format(Path(path).expanduser())
    result = read_any(path, fmt, settings, **kwargs)
    written = _write_batches(catalog, result)
    return IngestReport(str(path) if path else fmt, fmt, result, written)


def _write_batches(catalog: Catalog, result: IngestResult) -> WriteCounts:
    """Images (with their labels and annotations) go in batches of `WRITE_BATCH`, one commit per
    table per batch; an image's labels and annotations never land before the image itself."""
    images = list(result.images)
    if len(images) <= WRITE_BATCH:
        return catalog.add_ingest(result)
    by_image: dict[str, list[Any]] = {}
    by_image_ann: dict[str, list[Any]] = {}
    for label in result.labels:
        by_image.setdefault(label.image_id, []).append(label)
    for ann in result.annotations:
        by_image_ann.setdefault(ann.image_id, []).append(ann)
    totals = [0, 0, 0, 0]
    for start in range(0, len(images), WRITE_BATCH):
        chunk = images[start : start + WRITE_BATCH]
        ids = [r.image_id for r in chunk]
        part = IngestResult(
            images=chunk,
            annotations=[a for i in ids for a in by_image_ann.pop(i, [])],
            labels=[lab for i in ids for lab in by_image.pop(i, [])],
        )
        counts = catalog.add_ingest(part)
        for k, v in enumerate((counts.images, counts.annotations, counts.labels, counts.new_images)):
            totals[k] += v
    rest = IngestResult(  # labels of images not in this result (ModaNet without photos)
        images=[],
        annotations=[a for v in by_image_ann.values() for a in v],
        labels=[lab for v in by_image.values() for lab in v],
    )
    if rest.annotations or rest.labels:
        counts = catalog.add_ingest(rest)
        totals[1] += counts.annotations
        totals[2] += counts.labels
    return WriteCounts(*totals)


def _folder(path: Path, source: str | None, options: dict[str, Any]) -> IngestResult:
    from fashionlens.ingest.folder import read_folder

    return read_folder(
        path,
        source=source or "wardrobe",
        dataset=options.get("dataset"),
        labels_from_subfolders=bool(options.get("labels_from_subfolders")),
        label_scheme=options.get("label_scheme"),
        allow_outside_root=bool(options.get("allow_outside_root")),
    )


def _coco(path: Path, source: str | None, options: dict[str, Any]) -> IngestResult:
    from fashionlens.ingest.coco import peek_coco, read_coco

    scheme, images_dir = options.get("label_scheme"), options.get("images_dir")
    coco = peek_coco(path)  # None for anything that is not a readable COCO object
    if coco is not None:
        try:
            if scheme is None:
                scheme = guess_label_scheme(str(c.get("name", "")) for c in coco.get("categories", []))
            if images_dir is None:
                images_dir = _coco_images_dir(path, coco)
        except (AttributeError, TypeError):
            pass  # read_coco reports the real problem with the file
    return read_coco(
        path,
        images_dir,
        source=source,  # None: the reader's usual source (runway for Fashionpedia, else street)
        allow_outside_root=bool(options.get("allow_outside_root")),
        dataset=options.get("dataset") or path.stem,
        label_scheme=scheme,
    )


def _coco_images_dir(annotations_json: Path, coco: dict[str, Any]) -> Path | None:
    """Where the images of a COCO file are: beside it, in ``images/`` beside it, or in ``../images``."""
    try:
        first = str(coco["images"][0]["file_name"])
    except (KeyError, IndexError, TypeError):
        return None
    here = annotations_json.parent
    for folder in (here, here / "images", here.parent / "images"):
        if (folder / first).is_file():
            return folder
    return None


def _roboflow(path: Path, source: str | None) -> IngestResult:
    from fashionlens.ingest.coco import read_roboflow

    return read_roboflow(path, source=source or "runway")


def _modanet(path: Path, options: dict[str, Any]) -> IngestResult:
    from fashionlens.ingest.coco import read_modanet

    return read_modanet(path, options.get("images_dir"))


def _deepfashion2(path: Path, source: str | None) -> IngestResult:
    from fashionlens.ingest.deepfashion2 import read_deepfashion2

    return read_deepfashion2(path, source=source or "street")


def _products(path: Path, source: str | None, limit: int | None, options: dict[str, Any]) -> IngestResult:
    from fashionlens.ingest.products import read_products

    return read_products(
        path,
        source=source or "product",
        limit=limit,
        allow_outside_root=bool(options.get("allow_outside_root")),
    )


def _ccp(path: Path, source: str | None, limit: int | None) -> IngestResult:
    from fashionlens.ingest.ccp import read_ccp

    return read_ccp(path, source=source or "street", limit=limit)


def _video(path: Path, settings: Settings, source: str | None, options: dict[str, Any]) -> IngestResult:
    from fashionlens.ingest.video import read_video

    every = int(options.get("every") or 30)
    return read_video(path, settings.datasets_dir / "video", every=every, source=source or "video")


def _fashion_mnist(path: Path | None, settings: Settings, options: dict[str, Any]) -> IngestResult:
    from fashionlens.ingest.fashion_mnist import read_fashion_mnist

    return read_fashion_mnist(
        path, settings.datasets_dir / "fashion-mnist", per_class=int(options.get("per_class") or 100)
    )
