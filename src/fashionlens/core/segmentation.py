"""Segmentation types and label schemes (pure numpy; no torch).

Semantic class scheme `SEG_CLASSES` shared by every garment segmenter (U-Net, Mask R-CNN) and the
CCP ground truth::

    0 background   1 person (skin, hair, and person pixels with no garment class: jewellery, tights...)
    2.. the 13 ModaNet categories in ``label_maps.json`` order (bag, belt, boots, footwear, outer, ...)

CCP's 59 labels map into it through ``ccp_to_modanet`` in ``label_maps.json`` (the one data file of
label mappings): ``null`` -> background, a mapped label -> its ModaNet class, anything else -> person.
So "person" in the sense of the person-mask metric is every non-background class.

`GarmentInstances` holds per-garment results: absolute pixel ``xyxy`` boxes, full-image boolean
masks, a ModaNet class index (into `modanet_categories`, *not* `SEG_CLASSES`) and a score.
`semantic_to_instances` turns a semantic map into instances, one per connected garment region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import label_maps, modanet_categories

BACKGROUND = 0
PERSON = 1
GARMENT_OFFSET = 2  # SEG_CLASSES[GARMENT_OFFSET + k] == modanet_categories()[k]


@lru_cache(maxsize=1)
def seg_classes() -> tuple[str, ...]:
    """``("background", "person", <13 ModaNet categories>)``."""
    return ("background", "person", *modanet_categories())


def ccp_lut(label_names: Sequence[str]) -> np.ndarray:
    """``uint8 (len(label_names),)`` lookup: CCP label index -> `seg_classes` index.

    ``label_names`` are CCP's names in index order (``ccp_label_names``; index 0 = ``null``).
    """
    mapping: dict[str, str] = label_maps()["ccp_to_modanet"]  # type: ignore[assignment]
    garments = {name: i for i, name in enumerate(modanet_categories())}
    lut = np.full(len(label_names), PERSON, dtype=np.uint8)
    for i, name in enumerate(label_names):
        if i == 0 or name in ("null", ""):
            lut[i] = BACKGROUND
        elif name in mapping and mapping[name] is not None:
            lut[i] = GARMENT_OFFSET + garments[mapping[name]]
    return lut


def ccp_to_semantic(label_map: np.ndarray, label_names: Sequence[str]) -> np.ndarray:
    """A CCP ``(h, w)`` label map -> ``uint8 (h, w)`` `seg_classes` map."""
    label_map = np.asarray(label_map)
    if label_map.ndim != 2:
        raise InvalidInputError(f"label map must be 2-D (h, w); got shape {label_map.shape}")
    lut = ccp_lut(label_names)
    if label_map.size and int(label_map.max()) >= len(lut):
        raise InvalidInputError(f"label map has index {int(label_map.max())}; only {len(lut)} labels known")
    return lut[label_map.astype(np.intp, copy=False)]


def _check(name: str, arr: np.ndarray, shape: tuple[int | None, ...]) -> None:
    if arr.ndim != len(shape) or any(s is not None and a != s for a, s in zip(arr.shape, shape, strict=True)):
        want = "(" + ", ".join("?" if s is None else str(s) for s in shape) + ")"
        raise InvalidInputError(f"{name} must have shape {want}; got {arr.shape}")


@dataclass(frozen=True)
class GarmentInstances:
    """Garments found in one image of size ``(height, width)``.

    ``xyxy float32 (N, 4)`` absolute pixels; ``masks bool (N, H, W)``; ``class_id int64 (N,)`` indices
    into `modanet_categories`; ``scores float32 (N,)`` in [0, 1]. Supports ``len``, boolean-mask or
    index-array indexing, and `empty`.
    """

    xyxy: np.ndarray
    masks: np.ndarray
    class_id: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        object.__setattr__(self, "xyxy", xyxy.reshape(0, 4) if xyxy.size == 0 else xyxy)
        object.__setattr__(self, "masks", np.asarray(self.masks, dtype=bool))
        object.__setattr__(self, "class_id", np.asarray(self.class_id, dtype=np.int64).reshape(-1))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32).reshape(-1))
        n = len(self.class_id)
        _check("xyxy", self.xyxy, (n, 4))
        _check("masks", self.masks, (n, None, None))
        _check("scores", self.scores, (n,))
        k = len(modanet_categories())
        if n and (self.class_id.min() < 0 or self.class_id.max() >= k):
            lo, hi = int(self.class_id.min()), int(self.class_id.max())
            raise InvalidInputError(f"class_id must be in 0..{k - 1}; got {lo}..{hi}")

    @classmethod
    def empty(cls, size_hw: tuple[int, int]) -> GarmentInstances:
        h, w = size_hw
        return cls(np.zeros((0, 4)), np.zeros((0, h, w), bool), np.zeros(0, np.int64), np.zeros(0))

    @property
    def size_hw(self) -> tuple[int, int]:
        return int(self.masks.shape[1]), int(self.masks.shape[2])

    @property
    def categories(self) -> tuple[str, ...]:
        names = modanet_categories()
        return tuple(names[i] for i in self.class_id.tolist())

    def __len__(self) -> int:
        return len(self.class_id)

    def __getitem__(self, index: Any) -> GarmentInstances:
        idx = np.asarray(index)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise InvalidInputError(f"boolean index must have shape ({len(self)},); got {idx.shape}")
        idx = np.atleast_1d(idx)
        return GarmentInstances(self.xyxy[idx], self.masks[idx], self.class_id[idx], self.scores[idx])


def mask_to_xyxy(mask: np.ndarray) -> np.ndarray:
    """Tight ``float32 (4,)`` box of a boolean mask (x2/y2 exclusive, so a 1-pixel mask is 1x1)."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if not len(ys):
        return np.zeros(4, dtype=np.float32)
    return np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], dtype=np.float32)


def semantic_to_instances(
    seg: np.ndarray, confidence: np.ndarray | None = None, min_area_frac: float = 0.0005
) -> GarmentInstances:
    """One instance per 8-connected region of each garment class in a `seg_classes` map.

    ``confidence float (h, w)``: the per-pixel probability of the predicted class (the instance
    score is its mean over the region; 1.0 without it, as for ground truth). Regions smaller than
    ``min_area_frac`` of the image are dropped (speckle).
    """
    from scipy import ndimage

    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise InvalidInputError(f"segmentation map must be 2-D (h, w); got shape {seg.shape}")
    h, w = seg.shape
    min_area = max(1, round(min_area_frac * h * w))
    boxes, masks, classes, scores = [], [], [], []
    for cls in np.unique(seg).tolist():
        if cls < GARMENT_OFFSET:
            continue
        regions, n = ndimage.label(seg == cls, structure=np.ones((3, 3), dtype=bool))
        if n == 0:
            continue
        areas = np.bincount(regions.ravel(), minlength=n + 1)
        for r in np.flatnonzero(areas >= min_area).tolist():
            if r == 0:
                continue
            mask = regions == r
            boxes.append(mask_to_xyxy(mask))
            masks.append(mask)
            classes.append(cls - GARMENT_OFFSET)
            scores.append(float(confidence[mask].mean()) if confidence is not None else 1.0)
    if not masks:
        return GarmentInstances.empty((h, w))
    return GarmentInstances(np.stack(boxes), np.stack(masks), np.array(classes), np.array(scores))


def confusion(pred: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """``int64 (C, C)`` confusion matrix, rows = truth, columns = prediction."""
    pred = np.asarray(pred).ravel().astype(np.int64)
    truth = np.asarray(truth).ravel().astype(np.int64)
    if pred.shape != truth.shape:
        raise InvalidInputError(f"prediction and truth differ in size: {pred.shape} vs {truth.shape}")
    return np.bincount(truth * num_classes + pred, minlength=num_classes * num_classes).reshape(
        num_classes, num_classes
    )


def iou_per_class(conf: np.ndarray) -> np.ndarray:
    """Per-class IoU from a confusion matrix (NaN for a class absent from both truth and prediction)."""
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    denom = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, tp / denom, np.nan)


@dataclass(frozen=True)
class People:
    """People found in one image: ``xyxy float32 (N, 4)``, ``masks bool (N, H, W)``, ``scores float32 (N,)``
    (the mean person probability over the mask). Supports ``len`` and indexing."""

    xyxy: np.ndarray
    masks: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        object.__setattr__(self, "xyxy", xyxy.reshape(0, 4) if xyxy.size == 0 else xyxy)
        object.__setattr__(self, "masks", np.asarray(self.masks, dtype=bool))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32).reshape(-1))
        n = len(self.scores)
        _check("xyxy", self.xyxy, (n, 4))
        _check("masks", self.masks, (n, None, None))

    @classmethod
    def empty(cls, size_hw: tuple[int, int]) -> People:
        h, w = size_hw
        return cls(np.zeros((0, 4)), np.zeros((0, h, w), bool), np.zeros(0))

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: Any) -> People:
        idx = np.atleast_1d(np.asarray(index))
        return People(self.xyxy[idx], self.masks[idx], self.scores[idx])


# -- COCO run-length encoding (uncompressed; column-major, starts with a run of zeros) ---------------
def mask_to_rle(mask: np.ndarray) -> dict[str, Any]:
    """A boolean ``(H, W)`` mask -> COCO uncompressed RLE ``{"size": [H, W], "counts": [...]}``."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise InvalidInputError(f"mask must be 2-D (h, w); got shape {mask.shape}")
    flat = mask.ravel(order="F").astype(np.int8)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0, *counts]
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(c) for c in counts]}


def rle_to_mask(rle: dict[str, Any]) -> np.ndarray:
    """COCO uncompressed RLE -> boolean ``(H, W)`` mask (inverse of `mask_to_rle`)."""
    try:
        h, w = (int(v) for v in rle["size"])
        counts = np.asarray(rle["counts"], dtype=np.int64)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"not an uncompressed COCO RLE ({exc})") from exc
    if counts.sum() != h * w or (counts < 0).any():
        raise InvalidInputError(f"RLE counts sum to {int(counts.sum())}; expected {h}x{w} = {h * w}")
    values = np.arange(len(counts)) % 2 == 1
    return np.repeat(values, counts).reshape((h, w), order="F")
