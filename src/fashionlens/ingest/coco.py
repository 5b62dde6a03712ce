"""COCO instances JSON: pure converters and the COCO, ModaNet and Roboflow readers.

COCO's ``bbox`` is ``[x, y, w, h]`` (``bbox_xywh``) and exists only in this module; readers return
absolute pixel ``xyxy`` boxes clipped to the image with `clip_xyxy`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import coarse_category, guess_label_scheme, map_to_modanet
from fashionlens.core.types import (
    SOURCES,
    SPLITS,
    ImageLabel,
    ImageRecord,
    IngestResult,
    ObjectAnnotation,
    Skipped,
    clip_xyxy,
)
from fashionlens.ingest.base import display_path, make_record
from fashionlens.ingest.coco_checks import (
    _KNOWN_ANNOTATION_KEYS,
    clean_coco,
    validate_coco,
)
from fashionlens.ingest.records import is_within, load_json, outside_root

logger = logging.getLogger(__name__)

ROBOFLOW_SPLITS = {"train": "train", "valid": "valid", "validation": "valid", "test": "test"}
ROBOFLOW_ANNOTATIONS = "_annotations.coco.json"

BoxXYXY = tuple[float, float, float, float]


def bbox_xywh_to_xyxy(bbox_xywh: Sequence[float]) -> BoxXYXY:
    """COCO ``[x, y, w, h]`` to absolute ``(x1, y1, x2, y2)``."""
    x, y, w, h = (float(v) for v in bbox_xywh)
    return (x, y, x + w, y + h)


def xyxy_to_bbox_xywh(xyxy: Sequence[float]) -> list[float]:
    """Absolute ``(x1, y1, x2, y2)`` to COCO ``[x, y, w, h]``."""
    x1, y1, x2, y2 = (float(v) for v in xyxy)
    return [x1, y1, x2 - x1, y2 - y1]


def polygons_xyxy(polygons: Iterable[Sequence[float]]) -> BoxXYXY | None:
    """The box around COCO polygons (flat ``[x, y, ...]`` lists), or None if they hold no point."""
    xs = [float(v) for poly in polygons for v in poly[0::2]]
    ys = [float(v) for poly in polygons for v in poly[1::2]]
    return (min(xs), min(ys), max(xs), max(ys)) if xs and ys else None


def _is_polygons(segmentation: object) -> bool:
    return isinstance(segmentation, list) and all(isinstance(p, list) for p in segmentation)


def used_categories(coco: dict) -> list[str]:
    """Names of the categories at least one annotation uses, in ``categories`` order.

    Roboflow exports list a supercategory (``id`` 0, named after the project) that no box uses.
    """
    used = {ann["category_id"] for ann in coco["annotations"]}
    return [cat["name"] for cat in coco["categories"] if cat["id"] in used]


def coco_to_objects(
    coco: dict, *, dataset: str, image_ids: dict[int, str], sizes_wh: dict[int, tuple[int, int]] | None = None
) -> list[ObjectAnnotation]:
    """Turn COCO annotations into `ObjectAnnotation`s with clipped absolute ``xyxy`` boxes.

    ``image_ids`` maps a COCO image id to the library ``image_id``; annotations of COCO images not
    in it are left out. ``sizes_wh`` overrides the COCO ``width``/``height`` used for clipping
    (e.g. the size measured on the file). Polygon segmentations go to ``segmentation``; an RLE one
    goes to ``attributes["segmentation_rle"]``. Other annotation keys (iscrowd, attribute_ids,
    pair_id, style, keypoints...) pass through in ``attributes``. Assumes `validate_coco` passed.
    """
    categories = {cat["id"]: str(cat["name"]) for cat in coco["categories"]}
    sizes = {img["id"]: (img["width"], img["height"]) for img in coco["images"]}
    if sizes_wh:
        sizes.update(sizes_wh)
    objects = []
    for ann in coco["annotations"]:
        coco_image = ann["image_id"]
        if coco_image not in image_ids:
            continue
        seg = ann.get("segmentation")
        polygons = [[float(v) for v in poly] for poly in seg] if _is_polygons(seg) else []
        raw = bbox_xywh_to_xyxy(ann["bbox"]) if ann.get("bbox") is not None else polygons_xyxy(polygons)
        if raw is None:  # validate_coco rules this out
            raise InvalidInputError(f"annotation {ann.get('id')!r} has no bbox and no polygon")
        width, height = sizes[coco_image]
        attributes = {k: v for k, v in ann.items() if k not in _KNOWN_ANNOTATION_KEYS}
        if isinstance(seg, dict):
            attributes["segmentation_rle"] = seg
        area = ann.get("area")
        if area is None:
            area = (raw[2] - raw[0]) * (raw[3] - raw[1])
        objects.append(
            ObjectAnnotation(
                image_id=image_ids[coco_image],
                category=categories[ann["category_id"]],
                bbox_xyxy=clip_xyxy(raw, width, height),
                dataset=dataset,
                segmentation=polygons,
                area=float(area),
                attributes=attributes,
            )
        )
    return objects


def objects_to_labels(
    objects: Iterable[ObjectAnnotation],
    filenames: dict[str, str],
    *,
    label_source: str,
    label_scheme: str | None,
) -> list[ImageLabel]:
    """One `ImageLabel` per ``image_id`` of ``filenames`` (in its order), from the objects on it.

    ``attributes["categories"]`` lists the dataset's own category names joined by ``|``; with a
    ``label_scheme`` they are also mapped to ModaNet classes and a coarse category.
    """
    per_image: dict[str, set[str]] = {image_id: set() for image_id in filenames}
    for obj in objects:
        if obj.image_id in per_image:
            per_image[obj.image_id].add(obj.category)
    labels = []
    for image_id, cats in per_image.items():
        modanet = map_to_modanet(cats, label_scheme) if label_scheme else ()
        labels.append(
            ImageLabel(
                image_id=image_id,
                image_filename=filenames[image_id],
                label_source=label_source,
                modanet_categories=modanet,
                coarse_category=coarse_category(modanet) if label_scheme else "",
                attributes={"categories": "|".join(sorted(cats))},
            )
        )
    return labels


def objects_to_coco(
    images: list[ImageRecord], annotations: list[ObjectAnnotation], categories: list[str]
) -> dict:
    """Write images and annotations as a COCO instances dict (ids numbered from 1).

    ``file_name`` is the image's file name; ``bbox`` is ``[x, y, w, h]``. ``attributes`` are written
    back as annotation keys (``segmentation_rle`` becomes the ``segmentation``); ``iscrowd``
    defaults to 0. Raises `InvalidInputError` for an annotation on an unknown image or category.
    """
    if len(set(categories)) != len(categories):
        raise InvalidInputError(f"categories must be unique; got {categories}")
    category_ids = {name: i for i, name in enumerate(categories, start=1)}
    coco_images: list[dict] = []
    image_index: dict[str, int] = {}
    for record in images:
        if record.image_id in image_index:
            continue
        image_index[record.image_id] = len(coco_images) + 1
        name, size_wh = Path(record.image_path).name, {"width": record.width, "height": record.height}
        coco_images.append({"id": image_index[record.image_id], "file_name": name, **size_wh})
    coco_annotations = []
    for i, obj in enumerate(annotations, start=1):
        if obj.image_id not in image_index:
            raise InvalidInputError(f"annotation {i} is on image {obj.image_id!r}, which is not in images")
        if obj.category not in category_ids:
            raise InvalidInputError(f"annotation {i} has category {obj.category!r}, not in {categories}")
        attributes = dict(obj.attributes)
        rle = attributes.pop("segmentation_rle", None)
        coco_annotations.append(
            {
                **attributes,
                "id": i,
                "image_id": image_index[obj.image_id],
                "category_id": category_ids[obj.category],
                "bbox": xyxy_to_bbox_xywh(obj.bbox_xyxy),
                "area": obj.area,
                "segmentation": rle if rle is not None else [list(p) for p in obj.segmentation],
                "iscrowd": attributes.get("iscrowd", 0),
            }
        )
    coco_categories = [{"id": i, "name": name, "supercategory": ""} for name, i in category_ids.items()]
    return {"images": coco_images, "annotations": coco_annotations, "categories": coco_categories}


def load_coco_json(path: Path) -> dict:
    """Read and validate a COCO instances JSON; `InvalidInputError` names the file and the first
    bad record (for training, which wants a clean file; readers skip bad records instead)."""
    coco = load_json(Path(path), "COCO annotations file")
    validate_coco(coco, name=display_path(path))
    return coco  # type: ignore[return-value]  # validate_coco checked it is a dict


def peek_coco(path: Path) -> dict | None:
    """The parsed JSON object of a COCO file for format guessing, or None if it is not one.

    Never raises and never blocks: the same checks as `load_json` (regular file, size, nesting).
    `read_coco` then reports the real problem with the file.
    """
    try:
        data = load_json(Path(path), "COCO annotations file")
    except InvalidInputError:
        return None
    return data if isinstance(data, dict) else None


def load_coco_records(path: Path) -> tuple[dict, list[Skipped]]:
    """Read a COCO instances JSON -> ``(its usable records, the bad ones skipped)`` (`clean_coco`)."""
    return clean_coco(load_json(Path(path), "COCO annotations file"), name=display_path(path))


def _check_args(source: str, split: str, label_scheme: str | None) -> None:
    """Fail on a bad argument before reading anything."""
    if source not in SOURCES:
        raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    if label_scheme:
        map_to_modanet((), label_scheme)  # raises for an unknown scheme


def coco_source(coco: dict) -> str:
    """The usual source of a COCO file: ``runway`` for Fashionpedia (a top-level ``attributes``
    list and Fashionpedia's garment names) and Roboflow exports (the seed's runway input), else
    ``street``."""
    info = coco.get("info")
    info = info if isinstance(info, dict) else {}
    if "roboflow" in f"{info.get('description', '')} {info.get('url', '')}".lower():
        return "runway"
    names = [str(c.get("name", "")) for c in coco.get("categories", []) if isinstance(c, dict)]
    if isinstance(coco.get("attributes"), list) and guess_label_scheme(names) == "fashionpedia":
        return "runway"
    return "street"


def read_coco(
    annotations_json: Path,
    images_dir: Path | None = None,
    *,
    source: str | None = None,
    dataset: str,
    split: str = "unsplit",
    label_scheme: str | None = None,
    allow_outside_root: bool = False,
) -> IngestResult:
    """Read a COCO instances file and the images it lists.

    ``images_dir`` defaults to the JSON's folder. Each image on disk becomes an `ImageRecord`
    (its annotations use the content-hash ``image_id``); a corrupt one is a `Skipped` with its
    annotations. Images not on disk keep annotations and labels under ``f"{dataset}/{file_name}"``,
    summarised by one `Skipped`. Every image gets one `ImageLabel` (``label_scheme`` maps the
    categories to ModaNet, e.g. "modanet", "deepfashion2", "fashionpedia").

    Bad records are skipped with the file, the record and the reason (`clean_coco`); only a file
    that is not a COCO instances JSON at all raises. A ``file_name`` that is absolute or climbs out
    of ``images_dir`` with ``..`` is not read (one reason, whether or not such a file exists)
    unless ``allow_outside_root``.
    """
    _check_args(source or "street", split, label_scheme)
    annotations_json = Path(annotations_json)
    coco, bad = load_coco_records(annotations_json)
    source = source or coco_source(coco)  # None: Fashionpedia and Roboflow files are runway
    images_dir = Path(images_dir) if images_dir is not None else annotations_json.parent
    where = _Where(annotations_json, images_dir, allow_outside_root)
    result = _read_loaded(coco, where, source, dataset, split, label_scheme)
    result.skipped[:0] = bad
    return result


@dataclass(frozen=True)
class _Where:
    """Where a COCO file's images are, and whether ``file_name`` may lead out of that folder."""

    json_path: Path
    images_dir: Path
    allow_outside_root: bool = False


OUTSIDE_REASON = "is outside the images folder; not read (allow_outside_root=True reads it)"


def _on_disk(path: Path) -> bool | str:
    """True / False for a file that is or is not there; a reason if the path cannot be checked."""
    try:
        return path.is_file()
    except (OSError, ValueError) as exc:  # EACCES, ENAMETOOLONG...
        return f"cannot check the file ({getattr(exc, 'strerror', None) or exc})"


def _read_loaded(
    coco: dict, where: _Where, source: str, dataset: str, split: str, scheme: str | None
) -> IngestResult:
    """`read_coco` on a dict `clean_coco` returned."""
    json_path, images_dir = where.json_path, where.images_dir
    n_objects = Counter(ann["image_id"] for ann in coco["annotations"])
    result = IngestResult()
    image_ids: dict[int, str] = {}
    sizes_wh: dict[int, tuple[int, int]] = {}
    filenames: dict[str, str] = {}
    first_path: dict[str, str] = {}
    not_on_disk: list[str] = []
    for img in coco["images"]:
        file_name = str(img["file_name"])
        path = images_dir / file_name
        n = n_objects.get(img["id"], 0)
        if not where.allow_outside_root and outside_root(file_name, images_dir):
            reason = f"image id {img['id']!r}: file_name {file_name!r} {OUTSIDE_REASON}"
            reason += f"; its {n} annotations left out"
            result.skipped.append(Skipped(display_path(json_path), reason))
            continue
        if not where.allow_outside_root and not is_within(path, images_dir):
            reason = "a symlink out of the images folder; not followed (allow_outside_root=True follows it)"
            result.skipped.append(Skipped(display_path(path), f"{reason}; its {n} annotations not read"))
            continue
        on_disk = _on_disk(path)
        if isinstance(on_disk, str):
            result.skipped.append(Skipped(display_path(path), f"{on_disk}; its {n} annotations not read"))
            continue
        if not on_disk:
            not_on_disk.append(file_name)
            image_id = f"{dataset}/{file_name}"
        else:
            record = make_record(path, source=source, dataset=dataset, split=split)
            if isinstance(record, Skipped):
                result.skipped.append(Skipped(record.path, f"{record.reason}; its {n} annotations not read"))
                continue
            if record.image_id in first_path:
                result.skipped.append(Skipped(str(path), f"same bytes as {first_path[record.image_id]}"))
                continue
            first_path[record.image_id] = str(path)
            size_wh = (record.width, record.height)
            if size_wh != (img["width"], img["height"]):
                logger.warning("%s: file is %dx%d, the JSON says otherwise; using the file", path, *size_wh)
                sizes_wh[img["id"]] = size_wh
            result.images.append(record)
            image_id = record.image_id
        image_ids[img["id"]] = image_id
        filenames[image_id] = file_name
    result.annotations = coco_to_objects(coco, dataset=dataset, image_ids=image_ids, sizes_wh=sizes_wh)
    result.labels = objects_to_labels(
        result.annotations, filenames, label_source=dataset, label_scheme=scheme
    )
    if not_on_disk:
        kept = sum(1 for a in result.annotations if a.image_id.startswith(f"{dataset}/"))
        reason = (
            f"{len(not_on_disk)} of {len(coco['images'])} images listed in {json_path.name} are not on disk "
            f"(e.g. {not_on_disk[0]}); their {kept} annotations and labels were kept with image_id "
            f"'{dataset}/<file_name>'"
        )
        result.skipped.append(Skipped(str(images_dir), reason))
    counts = (len(result.images), len(result.annotations), len(result.labels), len(result.skipped))
    logger.info("%s: %d images, %d annotations, %d labels, %d skipped entries", json_path, *counts)
    return result


def read_modanet(
    annotations_json: Path,
    images_dir: Path | None = None,
    *,
    split: str = "unsplit",
    allow_outside_root: bool = False,
) -> IngestResult:
    """ModaNet's COCO file (street photos, 13 classes): `read_coco` with the "modanet" scheme."""
    return read_coco(
        annotations_json,
        images_dir,
        source="street",
        dataset="modanet",
        split=split,
        label_scheme="modanet",
        allow_outside_root=allow_outside_root,
    )


def read_roboflow(
    root: Path,
    *,
    source: str = "runway",
    dataset: str | None = None,
    label_scheme: str | None = None,
    allow_outside_root: bool = False,
) -> IngestResult:
    """A Roboflow COCO export: ``root/{train,valid,test}/_annotations.coco.json`` with images beside.

    The split comes from the folder. Roboflow lists its project name as a supercategory that no
    annotation uses; unused categories are left out of the logged category list and of the labels.
    """
    root = Path(root)
    if not root.is_dir():
        raise InvalidInputError(f"{root}: Roboflow export folder not found")
    dataset = dataset or root.name
    found = [
        (folder, ROBOFLOW_SPLITS[folder.name.lower()])
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        if folder.name.lower() in ROBOFLOW_SPLITS and (folder / ROBOFLOW_ANNOTATIONS).is_file()
    ]
    if not found:
        raise InvalidInputError(
            f"{root}: not a Roboflow COCO export; expected {{train,valid,test}}/{ROBOFLOW_ANNOTATIONS}"
        )
    _check_args(source, "unsplit", label_scheme)
    result = IngestResult()
    for folder, split in found:
        json_path = folder / ROBOFLOW_ANNOTATIONS
        coco, bad = load_coco_records(json_path)
        result.skipped.extend(bad)
        used = used_categories(coco)
        unused = [c["name"] for c in coco["categories"] if c["name"] not in used]
        logger.info("%s: categories %s; unused, left out: %s", json_path, used, unused)
        where = _Where(json_path, folder, allow_outside_root)
        result.extend(_read_loaded(coco, where, source, dataset, split, label_scheme))
    return result
