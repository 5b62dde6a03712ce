"""CCP pixel-level label maps -> COCO instance annotations (and back), for instance segmenters.

Pure converters (round-trip tested)::

    CCP label map --ccp_to_semantic--> seg_classes map --semantic_to_instances--> GarmentInstances
        --instances_to_coco_annotations--> COCO annotations --coco_annotations_to_semantic--> garment map

COCO categories are the 13 ModaNet classes, ids ``1..13`` in `modanet_categories` order (so
``category_id - 1`` is the `GarmentInstances` class index and ``category_id + 1`` the `seg_classes`
index). Masks are written as **compressed RLE** (pycocotools ``mask.encode``, ``counts`` as an ASCII
string), not polygons: RLE is lossless, so the round trip is exact, including holes (a garment
with a hole cannot be one COCO polygon) and one-pixel-wide parts; polygons from ``cv2.findContours``
lose pixels on every boundary. ``iscrowd`` is 0; ``bbox`` is ``[x, y, w, h]`` of the mask.

`write_ccp_coco` writes a Roboflow-like tree that `fashionlens.ingest.coco.read_roboflow` reads::

    out_dir/train/_annotations.coco.json   out_dir/train/0001.jpg -> <ccp_root>/photos/0001.jpg (symlink)
    out_dir/test/_annotations.coco.json    out_dir/test/0005.jpg  -> ...

``file_name`` is the photo's name, relative to ``<ccp_root>/photos`` and to the split folder (the
symlinks); every json also records ``"image_root"``: the absolute ``photos`` folder, for readers
that do not follow the layout. The split is `ccp_pixel_split` (every 5th photo held out).
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, require
from fashionlens.core.labels import modanet_categories
from fashionlens.core.segmentation import (
    GARMENT_OFFSET,
    GarmentInstances,
    ccp_to_semantic,
    mask_to_xyxy,
    semantic_to_instances,
)
from fashionlens.ingest.base import current_limits
from fashionlens.ingest.ccp import PIXEL_DIR, ccp_label_names, ccp_pixel_split, load_ccp_mask
from fashionlens.ingest.coco import ROBOFLOW_ANNOTATIONS, xyxy_to_bbox_xywh
from fashionlens.ingest.images import header_size

logger = logging.getLogger(__name__)

PHOTOS_DIR = "photos"
SPLITS = ("train", "test")


def coco_categories() -> list[dict[str, Any]]:
    """The 13 ModaNet classes as COCO categories, ids 1..13."""
    return [
        {"id": i, "name": name, "supercategory": "garment"}
        for i, name in enumerate(modanet_categories(), start=1)
    ]


def _mask_api() -> Any:
    # pycocotools 2.0.x calls np.array(copy=False) on numpy 2: a DeprecationWarning per decode
    warnings.filterwarnings("ignore", category=DeprecationWarning, module="pycocotools")
    return require("pycocotools.mask", extra="seg", package="pycocotools")


def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """Boolean ``(h, w)`` mask -> compressed COCO RLE ``{"size": [h, w], "counts": str}``."""
    rle = _mask_api().encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def annotation_mask(ann: dict[str, Any], height: int, width: int) -> np.ndarray:
    """Boolean ``(height, width)`` mask of one COCO annotation (polygons, RLE or uncompressed RLE)."""
    api = _mask_api()
    seg = ann.get("segmentation")
    if isinstance(seg, list):
        polys = [[float(v) for v in p] for p in seg if len(p) >= 6]
        if not polys:
            return np.zeros((height, width), dtype=bool)
        rle = api.merge(api.frPyObjects(polys, height, width))
    elif isinstance(seg, dict) and "counts" in seg:
        if list(seg.get("size", [height, width])) != [height, width]:
            raise InvalidInputError(
                f"annotation {ann.get('id')!r}: RLE size {seg.get('size')} differs from the image "
                f"{height}x{width} (h x w)"
            )
        counts = seg["counts"]
        if isinstance(counts, list):
            rle = api.frPyObjects(seg, height, width)
        else:
            rle = {
                "size": [height, width],
                "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
            }
    else:
        raise InvalidInputError(f"annotation {ann.get('id')!r} has no polygon or RLE segmentation")
    return np.asarray(api.decode(rle), dtype=bool)


def instances_to_coco_annotations(
    instances: GarmentInstances, image_id: int, start_ann_id: int
) -> list[dict[str, Any]]:
    """`GarmentInstances` of one image -> COCO annotation dicts with ids ``start_ann_id, +1, ...``.

    ``category_id`` = ModaNet index + 1; ``segmentation`` compressed RLE; ``bbox`` the mask's tight
    ``[x, y, w, h]`` (the instance's ``xyxy`` is not trusted: a predicted box may differ from its mask);
    ``area`` the mask's pixel count; ``score`` kept when below 1 (predictions).
    """
    anns: list[dict[str, Any]] = []
    for k in range(len(instances)):
        mask = instances.masks[k]
        area = int(mask.sum())
        if area == 0:
            continue
        ann: dict[str, Any] = {
            "id": start_ann_id + len(anns),
            "image_id": image_id,
            "category_id": int(instances.class_id[k]) + 1,
            "bbox": xyxy_to_bbox_xywh(mask_to_xyxy(mask).tolist()),
            "area": area,
            "segmentation": mask_to_rle(mask),
            "iscrowd": 0,
        }
        if float(instances.scores[k]) < 1.0:
            ann["score"] = float(instances.scores[k])
        anns.append(ann)
    return anns


def coco_annotations_to_semantic(anns: Sequence[dict[str, Any]], height: int, width: int) -> np.ndarray:
    """COCO annotations (ModaNet category ids 1..13) -> ``uint8 (height, width)`` `seg_classes` map.

    Garment classes only: pixels no annotation covers are 0 (background); a later annotation is
    painted over an earlier one.
    """
    n = len(modanet_categories())
    seg = np.zeros((height, width), dtype=np.uint8)
    for ann in anns:
        cat = int(ann["category_id"])
        if not 1 <= cat <= n:
            raise InvalidInputError(f"annotation {ann.get('id')!r}: category_id {cat}; expected 1..{n}")
        seg[annotation_mask(ann, height, width)] = GARMENT_OFFSET + cat - 1
    return seg


def _image_id(stem: str, index: int) -> int:
    return int(stem) if stem.isdigit() else 100_000 + index


def ccp_to_coco(ccp_root: Path, stems: Sequence[str], *, min_area_frac: float = 0.0005) -> dict[str, Any]:
    """COCO instances dict of CCP's pixel-labelled photos ``stems`` (e.g. one `ccp_pixel_split` list).

    ``images[].file_name`` is ``<stem>.jpg`` relative to ``<ccp_root>/photos`` (recorded as
    ``image_root``); ``id`` is the photo number. One annotation per 8-connected garment region;
    regions under ``min_area_frac`` of the image are dropped (speckle, as in `semantic_to_instances`).
    A map whose size differs from its photo is skipped with a warning.
    """
    root = Path(ccp_root)
    names = ccp_label_names(root)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for index, stem in enumerate(stems):
        photo = root / PHOTOS_DIR / f"{stem}.jpg"
        label_map = load_ccp_mask(root / PIXEL_DIR / f"{stem}.mat")
        h, w = label_map.shape
        size_wh = header_size(photo, current_limits())
        if size_wh != (w, h):
            logger.warning("%s: photo is %dx%d, label map %dx%d; skipped", stem, *size_wh, w, h)
            continue
        image_id = _image_id(stem, index)
        images.append({"id": image_id, "file_name": photo.name, "width": int(w), "height": int(h)})
        instances = semantic_to_instances(ccp_to_semantic(label_map, names), min_area_frac=min_area_frac)
        annotations += instances_to_coco_annotations(instances, image_id, len(annotations) + 1)
    return {
        "info": {"description": "Clothing Co-Parsing pixel-level maps as ModaNet-class instances"},
        "image_root": str((root / PHOTOS_DIR).resolve()),
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }


def write_ccp_coco(
    ccp_root: Path, out_dir: Path, *, link_images: bool = True, limit: int | None = None
) -> dict[str, Path]:
    """Write ``out_dir/{train,test}/_annotations.coco.json`` for the `ccp_pixel_split` split.

    With ``link_images`` each split folder gets a symlink per photo, so the tree is a Roboflow
    export without copying the photos; the links lead out of the tree, so read it with
    ``read_roboflow(..., allow_outside_root=True)`` (``ingest coco --allow-outside-root``).
    ``limit`` keeps the first ``limit`` photos of each split (tests). Returns
    ``{"train": path, "test": path}``.
    """
    root = Path(ccp_root).resolve()
    out_dir = Path(out_dir)
    train, test = ccp_pixel_split(root)
    paths: dict[str, Path] = {}
    for split, stems in zip(SPLITS, (train, test), strict=True):
        folder = out_dir / split
        folder.mkdir(parents=True, exist_ok=True)
        coco = ccp_to_coco(root, stems[:limit] if limit is not None else stems)
        if link_images:
            for img in coco["images"]:
                link = folder / img["file_name"]
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(root / PHOTOS_DIR / img["file_name"])
        path = folder / ROBOFLOW_ANNOTATIONS
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(coco), encoding="utf-8")
        tmp.replace(path)
        paths[split] = path
        logger.info("%s: %d images, %d instances", path, len(coco["images"]), len(coco["annotations"]))
    return paths
