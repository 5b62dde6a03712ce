"""DeepFashion2's per-image JSON format, and its official conversion to COCO.

Layout: ``root/image/000001.jpg`` with ``root/annos/000001.json`` beside it. Each JSON holds
``source`` ("user" or "shop"), ``pair_id`` and ``item1``, ``item2``... with ``category_id`` (1-13),
``category_name``, ``style``, ``bounding_box`` ``[x1, y1, x2, y2]``, ``segmentation`` (polygons),
``landmarks`` (``[x, y, v, ...]``), ``scale``, ``occlusion``, ``zoom_in`` and ``viewpoint``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import SOURCES, SPLITS, IngestResult, ObjectAnnotation, Skipped, clip_xyxy
from fashionlens.ingest.base import display_path, make_record, probe_image
from fashionlens.ingest.coco import objects_to_labels, xyxy_to_bbox_xywh
from fashionlens.ingest.records import (
    coordinate_problem,
    display_text,
    load_json,
    number,
    polygons_problem,
    short_repr,
    value_problem,
)

logger = logging.getLogger(__name__)

DATASET = "deepfashion2"
# Category names as the per-image files spell them; category_id is the index + 1.
CATEGORIES = (
    "short sleeve top", "long sleeve top", "short sleeve outwear", "long sleeve outwear", "vest", "sling",
    "shorts", "trousers", "skirt", "short sleeve dress", "long sleeve dress", "vest dress", "sling dress",
)  # fmt: skip
# The same categories as the official COCO conversion names them.
COCO_CATEGORIES = (
    "short_sleeved_shirt", "long_sleeved_shirt", "short_sleeved_outwear", "long_sleeved_outwear", "vest",
    "sling", "shorts", "trousers", "skirt", "short_sleeved_dress", "long_sleeved_dress", "vest_dress",
    "sling_dress",
)  # fmt: skip
# Landmarks per category; in COCO all 294 share one keypoint vector, each category in its own slice.
NUM_LANDMARKS = (25, 33, 31, 39, 15, 15, 10, 14, 8, 29, 37, 19, 19)
LANDMARK_OFFSETS = tuple(sum(NUM_LANDMARKS[:i]) for i in range(len(NUM_LANDMARKS)))
NUM_KEYPOINTS = sum(NUM_LANDMARKS)  # 294
_PASS_THROUGH = ("style", "scale", "occlusion", "zoom_in", "viewpoint", "landmarks")


ITEM_KEY = re.compile(r"item([0-9]{1,6})", re.ASCII)  # item1, item2... (not item², not item٣)


def _check_item(key: str, item: object) -> None:
    """Raise `InvalidInputError` (message without the file name) if ``item`` is not a usable item."""
    if not isinstance(item, dict):
        raise InvalidInputError(f"{key} is not an object")
    cat = item.get("category_id")
    if cat is None:
        raise InvalidInputError(f"{key} has no category_id")
    if not (isinstance(cat, int) and not isinstance(cat, bool) and 1 <= cat <= len(CATEGORIES)):
        raise InvalidInputError(f"{key} has category_id {short_repr(cat)}; expected an integer in 1-13")
    box = item.get("bounding_box")
    if not (isinstance(box, list) and len(box) == 4) or coordinate_problem(box, "bounding_box"):
        raise InvalidInputError(
            f"{key} has bounding_box {short_repr(box)}; expected [x1, y1, x2, y2] of finite numbers"
        )
    if box[2] < box[0] or box[3] < box[1]:
        raise InvalidInputError(f"{key} has bounding_box {box}; x2 < x1 or y2 < y1")
    seg = item.get("segmentation", [])
    if not (isinstance(seg, list) and all(isinstance(p, list) for p in seg)):
        raise InvalidInputError(f"{key} has a segmentation that is not a list of polygons")
    problem = polygons_problem(seg)
    if problem:
        raise InvalidInputError(f"{key} has a bad segmentation: {problem}")
    marks = item.get("landmarks", [])
    expected = 3 * NUM_LANDMARKS[cat - 1]
    if not isinstance(marks, list) or not all(number(v) is not None for v in marks):
        raise InvalidInputError(f"{key} has landmarks that are not a list of finite numbers")
    if marks and len(marks) != expected:
        raise InvalidInputError(f"{key} has {len(marks)} landmark values; category {cat} needs {expected}")
    for name in _PASS_THROUGH:
        problem = value_problem(item.get(name), name) if name != "landmarks" else None
        if problem:
            raise InvalidInputError(f"{key}: {problem}")


def parse_annotation(path: Path) -> tuple[dict, list[tuple[str, dict]]]:
    """Read one per-image JSON: ``(header, [(item_key, item), ...])``, items in numeric order.

    Raises `InvalidInputError` naming the file and the problem: not JSON, no items, or any bad
    item (`parse_items` keeps the good items instead).
    """
    header, items, bad = parse_items(path)
    if bad:
        raise InvalidInputError(f"{display_path(path)}: {bad[0]}")
    return header, items


def parse_items(path: Path) -> tuple[dict, list[tuple[str, dict]], list[str]]:
    """Read one per-image JSON: ``(header, good items in numeric order, reasons for bad items)``.

    A key that starts with ``item`` but is not ``item<N>`` (``item²``, ``item_1``, ``items``) is a
    bad item, as is an item with a wrong category, a non-finite or inverted box (NaN, 1e308),
    malformed polygons or landmarks. Raises `InvalidInputError` naming the file when the file
    itself is unusable (not JSON, not an object, no item at all, a header value nested too deep).
    """
    path = Path(path)
    name = display_path(path)
    data = load_json(path, "annotation file")
    if not isinstance(data, dict):
        raise InvalidInputError(f"{name}: expected a JSON object; got {type(data).__name__}")
    item_keys = [k for k in data if k.startswith("item")]
    if not item_keys:
        raise InvalidInputError(f"{name}: no item1, item2... entries")
    numbered: list[tuple[int, str]] = []
    bad: list[str] = []
    for key in item_keys:
        match = ITEM_KEY.fullmatch(key)
        if match is None:
            bad.append(f"key {display_text(key)!r} is not item1, item2...; that entry left out")
        else:
            numbered.append((int(match.group(1)), key))
    items = []
    for _, key in sorted(numbered):
        try:
            _check_item(key, data[key])
        except InvalidInputError as exc:
            bad.append(str(exc))
            continue
        items.append((key, data[key]))
    header = {k: v for k, v in data.items() if not k.startswith("item")}
    for key in ("source", "pair_id"):
        problem = value_problem(header.get(key), key, max_depth=0)
        if problem:
            raise InvalidInputError(f"{name}: {problem}")
    return header, items, bad


def _annotation_files(root: Path) -> list[Path]:
    root = Path(root)
    if not (root / "image").is_dir() or not (root / "annos").is_dir():
        raise InvalidInputError(f"{root}: not a DeepFashion2 folder; expected image/ and annos/ in it")
    files = sorted((root / "annos").glob("*.json"))
    if not files:
        raise InvalidInputError(f"{root / 'annos'}: no .json annotation files")
    return files


def _image_for(root: Path, anno: Path) -> Path | None:
    for ext in (".jpg", ".jpeg", ".png", ".JPG"):
        if (candidate := root / "image" / f"{anno.stem}{ext}").is_file():
            return candidate
    return None


def read_deepfashion2(root: Path, *, source: str = "street", split: str = "unsplit") -> IngestResult:
    """Read ``root/image`` + ``root/annos``: records, garment annotations and one label per image.

    A JSON that cannot be used (not JSON, no usable item) or without its image is a `Skipped`
    naming the file; a bad item (wrong ``category_id``, NaN or inverted box, ``item²`` key...) is a
    `Skipped` naming the file and the item, and the file's other items are read. The other files
    are always read.
    Boxes are clipped to the image. Labels map the categories to ModaNet ("deepfashion2" scheme).
    """
    if source not in SOURCES:
        raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    root = Path(root)
    result = IngestResult()
    filenames: dict[str, str] = {}
    extra: dict[str, dict[str, str]] = {}
    for anno in _annotation_files(root):
        name = display_path(anno)
        try:
            header, items, bad = parse_items(anno)
            if not items:
                raise InvalidInputError(f"{name}: no usable item: {'; '.join(bad)}")
        except InvalidInputError as exc:
            logger.warning("skipping %s", exc)
            result.skipped.append(Skipped(name, str(exc).removeprefix(f"{name}: ")))
            continue
        for reason in bad:
            logger.warning("%s: %s; left out, the other items read", name, reason)
            result.skipped.append(Skipped(name, f"{reason}; left out, the other items read"))
        image_path = _image_for(root, anno)
        if image_path is None:
            result.skipped.append(Skipped(name, f"no image/{anno.stem}.jpg for this annotation file"))
            continue
        record = make_record(image_path, source=source, dataset=DATASET, split=split)
        if isinstance(record, Skipped):
            result.skipped.append(record)
            continue
        if record.image_id in filenames:
            result.skipped.append(Skipped(display_path(image_path), "same bytes as an image read before"))
            continue
        result.images.append(record)
        filenames[record.image_id] = image_path.name
        extra[record.image_id] = {f"df2_{k}": str(v) for k, v in header.items() if k in ("source", "pair_id")}
        for _key, item in items:
            x1, y1, x2, y2 = (float(v) for v in item["bounding_box"])
            attributes = {k: item[k] for k in _PASS_THROUGH if k in item}
            attributes.update({"pair_id": header.get("pair_id"), "df2_source": header.get("source")})
            result.annotations.append(
                ObjectAnnotation(
                    image_id=record.image_id,
                    category=CATEGORIES[item["category_id"] - 1],
                    bbox_xyxy=clip_xyxy((x1, y1, x2, y2), record.width, record.height),
                    dataset=DATASET,
                    segmentation=[[float(v) for v in poly] for poly in item.get("segmentation", [])],
                    area=(x2 - x1) * (y2 - y1),  # as the official COCO conversion: the box area
                    attributes=attributes,
                )
            )
    labels = objects_to_labels(result.annotations, filenames, label_source=DATASET, label_scheme=DATASET)
    result.labels = [
        dataclasses.replace(lab, attributes={**lab.attributes, **extra[lab.image_id]}) for lab in labels
    ]
    logger.info(
        "%s: %d images, %d garments, %d skipped",
        root, len(result.images), len(result.annotations), len(result.skipped),
    )  # fmt: skip
    return result


def _keypoints(category_id: int, landmarks: list[float]) -> tuple[list[float], int]:
    """The 294 x 3 COCO keypoint vector with this category's landmarks in its slice."""
    points = [0.0] * (3 * NUM_KEYPOINTS)
    start = 3 * LANDMARK_OFFSETS[category_id - 1]
    points[start : start + len(landmarks)] = [float(v) for v in landmarks]
    return points, sum(1 for v in landmarks[2::3] if v > 0)


def deepfashion2_to_coco(root: Path, *, skip_failures: bool = True) -> dict:
    """The official DeepFashion2-to-COCO conversion of ``root/image`` + ``root/annos``.

    Image ids are the file numbers (``000264.jpg`` -> 264); annotation ids count from 1; ``bbox``
    is ``[x, y, w, h]``, ``area`` is ``w * h``; ``keypoints`` is the 294-point vector; ``pair_id``
    and ``style`` are kept. A bad file or item is logged and left out (the file's good items are
    kept, as `read_deepfashion2` does), or raises with ``skip_failures=False``.
    """
    root = Path(root)
    files = _annotation_files(root)
    numeric = all(re.fullmatch(r"[0-9]{1,12}", f.stem) for f in files)
    numeric = numeric and len({int(f.stem) for f in files}) == len(files)
    coco: dict = {"info": {}, "licenses": [], "images": [], "annotations": [], "categories": []}
    for n, anno in enumerate(files, start=1):
        try:
            header, items, bad = parse_items(anno)
            if bad and (not skip_failures or not items):
                raise InvalidInputError(f"{display_path(anno)}: {'; '.join(bad)}")
            for reason in bad:
                logger.warning("leaving out %s: %s", display_path(anno), reason)
            image_path = _image_for(root, anno)
            if image_path is None:
                raise InvalidInputError(f"{anno}: no image/{anno.stem}.jpg for this annotation file")
            width, height, _ = probe_image(image_path)
        except InvalidInputError as exc:
            if not skip_failures:
                raise
            logger.warning("leaving out %s", exc)
            continue
        image_id = int(anno.stem) if numeric else n
        coco["images"].append(
            {
                "coco_url": "", "date_captured": "", "file_name": image_path.name, "flickr_url": "",
                "id": image_id, "license": 0, "width": width, "height": height,
            }
        )  # fmt: skip
        for _key, item in items:
            bbox = xyxy_to_bbox_xywh(item["bounding_box"])
            keypoints, num_keypoints = _keypoints(item["category_id"], item.get("landmarks", []))
            coco["annotations"].append(
                {
                    "area": bbox[2] * bbox[3],
                    "bbox": bbox,
                    "category_id": item["category_id"],
                    "id": len(coco["annotations"]) + 1,
                    "pair_id": header.get("pair_id"),
                    "image_id": image_id,
                    "iscrowd": 0,
                    "style": item.get("style", 0),
                    "num_keypoints": num_keypoints,
                    "keypoints": keypoints,
                    "segmentation": item.get("segmentation", []),
                }
            )
    coco["categories"] = [
        {
            "id": i,
            "name": name,
            "supercategory": "clothes",
            "keypoints": [str(k) for k in range(1, NUM_KEYPOINTS + 1)],
            "skeleton": [],
        }
        for i, name in enumerate(COCO_CATEGORIES, start=1)
    ]
    return coco
