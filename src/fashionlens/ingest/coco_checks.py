"""Record-by-record checks of an untrusted COCO instances file (`clean_coco`, `validate_coco`).

Kept apart from the converters in `fashionlens.ingest.coco`, which assume these checks passed.
"""

from __future__ import annotations

import logging
from collections import Counter

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import Skipped
from fashionlens.ingest.records import (
    MAX_COORD,
    coordinate_problem,
    display_text,
    number,
    polygons_problem,
    short_repr,
    text_problem,
    utf8_ok,
    value_problem,
)

logger = logging.getLogger(__name__)

REQUIRED_KEYS = ("images", "annotations", "categories")
# Annotation keys the reader interprets; every other key is passed through in `attributes`.
_KNOWN_ANNOTATION_KEYS = frozenset({"id", "image_id", "category_id", "bbox", "segmentation", "area"})


def _id_problem(value: object, what: str) -> str | None:
    """Ids are integers or non-empty strings (a list, dict, bool or float is not an id)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        return f"has {what} {short_repr(value)}; expected an integer or a string"
    if isinstance(value, str) and not utf8_ok(value):
        return f"has {what} {display_text(value)!r}, not valid UTF-8"
    return None


def _image_problem(img: object) -> str | None:
    if not isinstance(img, dict) or not {"id", "file_name", "width", "height"} <= img.keys():
        return "must be an object with id, file_name, width, height"
    problem = _id_problem(img["id"], "id") or text_problem(img["file_name"], "file_name")
    if problem:
        return problem
    if not img["file_name"]:
        return "has an empty file_name"
    w, h = number(img["width"]), number(img["height"])
    if w is None or h is None or not (0 < w <= MAX_COORD and 0 < h <= MAX_COORD):
        size = f"{short_repr(img['width'])}x{short_repr(img['height'])}"
        return f"({display_text(img['file_name'])}) has size {size}"
    return None


def _category_problem(cat: object) -> str | None:
    if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
        return "must be an object with 'id' and 'name'"
    return _id_problem(cat["id"], "id") or text_problem(cat["name"], "name")


def _rle_problem(seg: dict) -> str | None:
    size, counts = seg.get("size"), seg.get("counts")
    if not (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_COORD for v in size)
    ):
        return f"RLE segmentation has size {short_repr(size)}; expected [height, width]"
    if isinstance(counts, str):
        return None if counts.isascii() else "RLE segmentation has non-ASCII counts"
    ok = isinstance(counts, list) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts
    )
    return None if ok else "RLE segmentation counts must be a string or a list of integers >= 0"


def _geometry_problem(ann: dict) -> str | None:
    seg, bbox = ann.get("segmentation"), ann.get("bbox")
    if bbox is None:
        if not (isinstance(seg, list) and seg and polygons_problem(seg) is None):
            return "has no 'bbox' and no polygon to derive it from"
    elif not (isinstance(bbox, list) and len(bbox) == 4 and all(number(v) is not None for v in bbox)):
        return f"has bbox {short_repr(bbox)}; expected [x, y, w, h] of finite numbers with w, h >= 0"
    elif bbox[2] < 0 or bbox[3] < 0:
        return f"has bbox {short_repr(bbox)}; expected [x, y, w, h] with w, h >= 0"
    else:
        problem = coordinate_problem(bbox, "bbox")
        if problem:
            return problem
    if isinstance(seg, dict):
        problem = _rle_problem(seg)
    elif seg is None or seg == []:
        problem = None
    else:
        problem = polygons_problem(seg)
    if problem:
        return problem
    area = ann.get("area")
    if area is not None and (number(area) is None or area < 0):
        return f"has area {short_repr(area)}; expected a number >= 0"
    return None


def _annotation_problem(ann: object, image_ids: set[object], category_ids: set[object]) -> str | None:
    if not isinstance(ann, dict) or "image_id" not in ann or "category_id" not in ann:
        return "must be an object with image_id, category_id"
    problem = _id_problem(ann["image_id"], "image_id") or _id_problem(ann["category_id"], "category_id")
    if problem:
        return problem
    if ann["image_id"] not in image_ids:
        return f"refers to image_id {ann['image_id']!r}, not in 'images'"
    if ann["category_id"] not in category_ids:
        return f"refers to category_id {ann['category_id']!r}, not in 'categories'"
    problem = _geometry_problem(ann)
    if problem:
        return problem
    for key, value in ann.items():
        if key not in _KNOWN_ANNOTATION_KEYS:
            problem = value_problem(value, f"'{display_text(key)}'")
            if problem:
                return problem
    return None


def clean_coco(coco: object, *, name: str, strict: bool = False) -> tuple[dict, list[Skipped]]:
    """Check a parsed COCO instances file record by record -> ``(usable COCO dict, skipped)``.

    The file as a whole must be a JSON object with ``images``, ``annotations`` and ``categories``
    lists (else `InvalidInputError` naming ``name``). Each record that a reader cannot use is left
    out with a `Skipped` naming the file, the record and the reason: an image without ``id`` /
    ``file_name`` / a positive ``width`` and ``height``, an id that is a list, dict, bool or float,
    a repeated id, a string that is not UTF-8; an annotation on an unknown image or category, a
    ``bbox`` that is not 4 finite numbers within +-1e6 with ``w, h >= 0`` (no NaN, no 1e308, no
    booleans), polygons that are not flat even-length lists of 3+ finite points, a malformed RLE, an
    ``area`` that is not a number >= 0, or a pass-through value nested deeper than 32 levels or
    holding NaN. Annotations of a left-out image are counted in its entry. With ``strict`` the
    first problem raises instead (`validate_coco`).
    """
    if not isinstance(coco, dict):
        raise InvalidInputError(f"{name}: expected a COCO JSON object; got {type(coco).__name__}")
    missing = [k for k in REQUIRED_KEYS if k not in coco]
    if missing:
        raise InvalidInputError(f"{name}: not a COCO instances file, missing key(s) {', '.join(missing)}")
    for key in REQUIRED_KEYS:
        if not isinstance(coco[key], list):
            raise InvalidInputError(f"{name}: '{key}' must be a list; got {type(coco[key]).__name__}")
    skipped: list[Skipped] = []

    def bad(where: str, problem: str) -> None:
        if strict:
            raise InvalidInputError(f"{name}: {where} {problem}")
        skipped.append(Skipped(name, f"{where} {problem}"))

    images, image_ids, bad_images = [], set(), {}  # type: ignore[var-annotated]
    for i, img in enumerate(coco["images"]):
        problem = _image_problem(img)
        if problem is None and img["id"] in image_ids:
            problem = f"has id {img['id']!r}, which appears twice in 'images'; the first is kept"
        if problem:
            if strict:
                bad(f"images[{i}]", problem)
            hashable = isinstance(img, dict) and _id_problem(img.get("id"), "id") is None
            if hashable and img["id"] not in image_ids:
                bad_images[img["id"]] = (f"images[{i}]", problem)
            elif not strict:
                skipped.append(Skipped(name, f"images[{i}] {problem}"))
            continue
        image_ids.add(img["id"])
        images.append(img)
    categories, category_ids = [], set()  # type: ignore[var-annotated]
    for i, cat in enumerate(coco["categories"]):
        problem = _category_problem(cat)
        if problem is None and cat["id"] in category_ids:
            problem = f"has id {cat['id']!r}, which appears twice in 'categories'; the first is kept"
        if problem:
            bad(f"categories[{i}]", problem)
            continue
        category_ids.add(cat["id"])
        categories.append(cat)
    annotations = []
    on_bad_image: Counter[object] = Counter()
    for i, ann in enumerate(coco["annotations"]):
        if (
            isinstance(ann, dict)
            and _id_problem(ann.get("image_id"), "") is None
            and ann["image_id"] in bad_images
        ):
            on_bad_image[ann["image_id"]] += 1
            continue
        problem = _annotation_problem(ann, image_ids, category_ids)
        if problem:
            ann_id = short_repr(ann.get("id")) if isinstance(ann, dict) else "?"
            bad(f"annotations[{i}] (id {ann_id})", problem)
            continue
        annotations.append(ann)
    for image_id, (where, problem) in bad_images.items():
        n = on_bad_image.get(image_id, 0)
        skipped.append(Skipped(name, f"{where} {problem}; left out with its {n} annotations"))
    for s in skipped:
        logger.warning("skipping a record of %s: %s", s.path, s.reason)
    clean = {**coco, "images": images, "annotations": annotations, "categories": categories}
    return clean, skipped


def validate_coco(coco: object, *, name: str) -> None:
    """Check every record a reader relies on; raise `InvalidInputError` naming ``name``, the first
    bad record and the problem (the checks of `clean_coco`, which skips bad records instead)."""
    clean_coco(coco, name=name, strict=True)
