"""People from a semantic segmentation: instances, splitting touching people, white-background cut-outs.

A garment segmenter labels every person pixel (`seg_classes` index >= 1: skin, hair or a garment).
`find_people` turns that into one instance per person:

1. the person mask is split into 8-connected regions; regions under ``min_area_frac`` of the image
   are speckle and dropped;
2. a region that a person detector (`HogPersonDetector`, optional) sees as two or more people,
   side by side, is split between them: each pixel goes to the detection whose horizontal centre is
   nearest (people standing next to each other touch at the shoulders or hands, not at the centre).

`cutout_on_white` pastes the person's pixels on white and crops to their box plus a margin.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.segmentation import BACKGROUND, People, mask_to_xyxy

MIN_PERSON_AREA_FRAC = 0.02  # a person smaller than 2% of the photo is not worth a crop
WIDE_REGION = 0.75  # a person region wider than this x its height may hold several people


def _overlap_frac(mask_cols: np.ndarray, box: np.ndarray) -> float:
    x1, x2 = int(box[0]), int(np.ceil(box[2]))
    return float(mask_cols[max(x1, 0) : max(x2, 0)].sum() / max(mask_cols.sum(), 1))


MIN_PART_AREA = 0.25  # a split is kept only if every part holds this share of the region...
MIN_PART_HEIGHT = 0.6  # ...and is this tall relative to it (a bag or an arm is not a person)


def _split_by_boxes(region: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
    """Split a region between detections by nearest horizontal box centre; the region whole if any
    part is too small or too short to be a person (a false detection beside a wide bag or coat)."""
    centres = np.sort((boxes[:, 0] + boxes[:, 2]) / 2.0)
    cols = np.arange(region.shape[1], dtype=np.float32)
    owner = np.abs(cols[:, None] - centres[None, :]).argmin(axis=1)  # (W,) nearest centre per column
    parts = [p for p in (region & (owner == k)[None, :] for k in range(len(centres))) if p.any()]
    area = region.sum()
    rows = np.flatnonzero(region.any(axis=1))
    height = rows[-1] - rows[0] + 1
    for p in parts:
        prow = np.flatnonzero(p.any(axis=1))
        if p.sum() < MIN_PART_AREA * area or prow[-1] - prow[0] + 1 < MIN_PART_HEIGHT * height:
            return [region]
    return parts


def find_people(
    seg: np.ndarray,
    confidence: np.ndarray | None = None,
    detections_xyxy: np.ndarray | None = None,
    *,
    detect: Callable[[], np.ndarray] | None = None,
    min_area_frac: float = MIN_PERSON_AREA_FRAC,
) -> People:
    """One `People` instance per person in a `seg_classes` map (see the module doc).

    ``confidence``: per-pixel probability of the predicted class (a person's score is its mean over
    the mask; 1.0 without). ``detections_xyxy``: person boxes from a detector, used only to split a
    region that holds several people. ``detect``: instead of boxes, a call that returns them; it is
    made (once) only when some person region is wider than `WIDE_REGION` times its height, so the
    detector costs nothing on photos of one standing person. People are ordered left to right.
    """
    from scipy import ndimage

    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise InvalidInputError(f"segmentation map must be 2-D (h, w); got shape {seg.shape}")
    if not 0 < min_area_frac < 1:
        raise InvalidInputError(f"min_area_frac must be in (0, 1); got {min_area_frac}")
    h, w = seg.shape
    min_area = max(1, round(min_area_frac * h * w))
    regions, n = ndimage.label(seg != BACKGROUND, structure=np.ones((3, 3), dtype=bool))
    if n == 0:
        return People.empty((h, w))
    areas = np.bincount(regions.ravel(), minlength=n + 1)
    kept = [(r, sl) for r, sl in enumerate(ndimage.find_objects(regions), start=1) if areas[r] >= min_area]
    boxes_in = np.zeros((0, 4), np.float32) if detections_xyxy is None else np.asarray(detections_xyxy)
    if detect is not None and any(
        (sl[1].stop - sl[1].start) > WIDE_REGION * (sl[0].stop - sl[0].start) for _, sl in kept
    ):
        boxes_in = np.asarray(detect())
    masks: list[np.ndarray] = []
    for region in _merge_fragments([regions == r for r, _ in kept]):
        parts = [region]
        if len(boxes_in) >= 2:
            cols = region.sum(axis=0)
            inside = np.array([_overlap_frac(cols, b) >= 0.15 for b in boxes_in], dtype=bool)
            if inside.sum() >= 2:
                parts = _split_by_boxes(region, boxes_in[inside])
        masks += [p for p in parts if p.sum() >= min_area]
    if not masks:
        return People.empty((h, w))
    xyxy = np.stack([mask_to_xyxy(m) for m in masks])
    order = np.argsort(xyxy[:, 0], kind="stable")
    scores = [float(confidence[m].mean()) if confidence is not None else 1.0 for m in masks]
    return People(xyxy[order], np.stack(masks)[order], np.asarray(scores)[order])


FRAGMENT_AREA = 0.35  # a region under this share of a neighbour's area may be a piece of it
FRAGMENT_GAP = 0.1  # ... when the vertical gap between them is under this share of its height
FRAGMENT_OVERLAP = 0.5  # ... and this share of its width lies over the neighbour's columns


def _merge_fragments(regions: list[np.ndarray]) -> list[np.ndarray]:
    """Regions with a small piece of one person joined to that person: a head cut off by a
    masked face or a scarf, feet below a long coat. A small region joins a larger one when it sits
    directly above or below it (a vertical gap under `FRAGMENT_GAP` of the larger one's height)
    over its columns (`FRAGMENT_OVERLAP` of its width); people side by side never merge."""
    if len(regions) < 2:
        return regions
    boxes = [mask_to_xyxy(m) for m in regions]
    areas = [int(m.sum()) for m in regions]
    order = sorted(range(len(regions)), key=lambda i: -areas[i])
    merged = dict(enumerate(regions))  # a region merged into another leaves the dict
    for i in order[::-1]:  # smallest first
        x1, y1, x2, y2 = boxes[i]
        for j in order:
            if j == i or j not in merged or areas[i] >= FRAGMENT_AREA * areas[j]:
                continue
            bx1, by1, bx2, by2 = boxes[j]
            overlap = max(0.0, min(x2, bx2) - max(x1, bx1)) / max(1.0, x2 - x1)
            gap = max(by1 - y2, y1 - by2)  # negative: they overlap vertically
            if overlap >= FRAGMENT_OVERLAP and gap <= FRAGMENT_GAP * (by2 - by1):
                merged[j] = merged[j] | merged.pop(i)
                break
    return [merged[k] for k in sorted(merged)]


def cutout_xyxy(mask: np.ndarray, margin_frac: float = 0.05) -> tuple[int, int, int, int]:
    """The pixel box `cutout_on_white` crops to: the mask's box plus ``margin_frac`` of its larger
    side, clipped to the image."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        raise InvalidInputError("empty mask: nothing to cut out")
    x1, y1, x2, y2 = mask_to_xyxy(mask)
    pad = round(margin_frac * max(x2 - x1, y2 - y1))
    h, w = mask.shape
    return max(0, int(x1) - pad), max(0, int(y1) - pad), min(w, int(x2) + pad), min(h, int(y2) + pad)


def cutout_on_white(rgb: np.ndarray, mask: np.ndarray, margin_frac: float = 0.05) -> np.ndarray:
    """``uint8 (h, w, 3)``: the masked pixels of ``rgb`` on white, cropped to the mask's box plus a
    margin of ``margin_frac`` of the box's larger side (clipped to the image)."""
    rgb = np.asarray(rgb)
    mask = np.asarray(mask, dtype=bool)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or mask.shape != rgb.shape[:2]:
        raise InvalidInputError(
            f"need an (H, W, 3) image and an (H, W) mask; got {rgb.shape} and {mask.shape}"
        )
    x1, y1, x2, y2 = cutout_xyxy(mask, margin_frac)
    out = np.full((y2 - y1, x2 - x1, 3), 255, dtype=np.uint8)
    m = mask[y1:y2, x1:x2]
    out[m] = rgb[y1:y2, x1:x2][m]
    return out
