"""COCO box and mask AP of a Mask R-CNN checkpoint (pycocotools)."""

from __future__ import annotations

import contextlib
import io
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import require
from fashionlens.ingest.images import open_rgb
from fashionlens.training.maskrcnn import category_mapping, load_coco

logger = logging.getLogger(__name__)


# COCOeval.stats positions: AP@[.5:.95], AP50, then AP over small (< 32^2 px), medium, large objects
SUMMARY = {"ap": 0, "ap50": 1, "ap_small": 3, "ap_medium": 4, "ap_large": 5}


def _coco_api(data: dict[str, Any]) -> Any:
    coco_mod = require("pycocotools.coco", extra="seg", package="pycocotools")
    api = coco_mod.COCO()
    api.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        api.createIndex()
    return api


def coco_ap(gt_api: Any, dets: list[dict[str, Any]]) -> dict[str, float]:
    """``bbox_ap``, ``bbox_ap50``, ``bbox_ap_small|medium|large`` and the same for ``segm_``, of
    detections (COCO results format:
    ``image_id``, ``category_id``, ``bbox`` xywh, ``score``, ``segmentation`` RLE) against a
    ground-truth COCO API object. No detections, or no ground truth: 0."""
    eval_mod = require("pycocotools.cocoeval", extra="seg", package="pycocotools")
    result: dict[str, float] = {}
    has_gt = bool(gt_api.dataset.get("annotations"))
    for iou_type in ("bbox", "segm"):
        if not dets or not has_gt:
            for name in SUMMARY:
                result[f"{iou_type}_{name}"] = 0.0
            continue
        with contextlib.redirect_stdout(io.StringIO()) as out:
            dt_api = gt_api.loadRes([dict(d) for d in dets])
            ev = eval_mod.COCOeval(gt_api, dt_api, iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        logger.info("COCO %s:\n%s", iou_type, out.getvalue())
        # -1 means "no ground truth" (of that size); report 0 then
        for name, index in SUMMARY.items():
            result[f"{iou_type}_{name}"] = max(0.0, float(ev.stats[index]))
    return result


class UNetInstances:
    """The U-Net's garment regions as instances (`semantic_to_instances`: one per connected region,
    scored by its mean confidence), so the semantic model is scored by the same COCO AP as Mask R-CNN."""

    def __init__(self, segmenter: Any) -> None:
        self.segmenter = segmenter

    def setup(self) -> UNetInstances:
        self.segmenter.setup()
        return self

    def predict(self, images: Any) -> list[Any]:
        from fashionlens.core.segmentation import semantic_to_instances

        return [semantic_to_instances(seg, conf) for seg, conf in self.segmenter.predict(images)]


def evaluate_maskrcnn(
    segmenter_or_checkpoint: Any,
    coco_json: Path,
    images_root: Path | None = None,
    limit: int | None = None,
    *,
    num_threads: int | None = None,
) -> dict[str, Any]:
    """`coco_ap`'s figures (box and mask AP, AP50, AP by object size; in [0, 1]) and ``images_per_s``.

    ``segmenter_or_checkpoint``: anything with ``setup()`` and ``predict(images) -> [GarmentInstances]``
    (a `MaskRCNNSegmenter`, `UNetInstances`), or a checkpoint path / ``"shipped"`` (then a Mask
    R-CNN evaluated with score threshold 0.05). Ground truth categories are mapped to ModaNet as
    in `CocoInstanceDataset`; ``limit`` evaluates the first ``limit`` images.
    """

    from fashionlens.ingest.ccp_coco import coco_categories, mask_to_rle
    from fashionlens.models.segmenters.maskrcnn import MaskRCNNSegmenter

    seg = segmenter_or_checkpoint
    if isinstance(seg, str | Path):
        seg = MaskRCNNSegmenter(seg, score_threshold=0.05, num_threads=num_threads)
    seg.setup()
    coco, root = load_coco(coco_json, images_root)
    label_of = category_mapping(coco["categories"])
    images = coco["images"][:limit] if limit is not None else coco["images"]
    ids = {img["id"] for img in images}
    gt_anns = []
    for ann in coco["annotations"]:
        if ann["image_id"] in ids and ann["category_id"] in label_of:
            gt = {**ann, "category_id": label_of[ann["category_id"]], "iscrowd": ann.get("iscrowd", 0)}
            gt.setdefault("area", float(ann["bbox"][2] * ann["bbox"][3]))
            gt_anns.append(gt)
    gt_api = _coco_api({"images": images, "annotations": gt_anns, "categories": coco_categories()})
    dets: list[dict[str, Any]] = []
    seconds = 0.0
    for img in images:
        arr = np.asarray(open_rgb(root / img["file_name"], exif=False))  # the pixels the masks are on
        t0 = time.perf_counter()
        (inst,) = seg.predict([arr])
        seconds += time.perf_counter() - t0
        for k in range(len(inst)):
            x1, y1, x2, y2 = (float(v) for v in inst.xyxy[k])
            dets.append(
                {
                    "image_id": img["id"],
                    "category_id": int(inst.class_id[k]) + 1,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(inst.scores[k]),
                    "segmentation": mask_to_rle(inst.masks[k]),
                }
            )
    result: dict[str, Any] = {"images": len(images), "detections": len(dets), "gt_instances": len(gt_anns)}
    result["images_per_s"] = len(images) / seconds if seconds > 0 else 0.0
    result.update(coco_ap(gt_api, dets))
    return result
