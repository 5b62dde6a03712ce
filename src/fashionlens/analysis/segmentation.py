"""Segmentation quality: per-class IoU, garment mIoU and person IoU of a semantic segmenter on CCP."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.segmentation import (
    GARMENT_OFFSET,
    confusion,
    iou_per_class,
    seg_classes,
)
from fashionlens.ingest.ccp import ccp_label_names
from fashionlens.training.unet import load_ccp_pair


class _Segmenter(Protocol):
    model_id: str

    def predict(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]: ...


@dataclass
class SegEvalReport:
    """Scores of a segmenter on CCP photos, at the truth masks' original resolution.

    ``per_class_iou``: IoU per `seg_classes` name (None when the class is absent from truth and
    prediction). ``garment_miou``: mean IoU over the garment classes present in the truth.
    ``person_iou``: IoU of "any non-background class" predicted vs true. ``images_per_s``: predict
    throughput (decoding and scoring excluded).
    """

    model_id: str
    n_images: int
    per_class_iou: dict[str, float | None]
    garment_miou: float
    person_iou: float
    pixel_accuracy: float
    images_per_s: float
    garment_classes_scored: list[str] = field(default_factory=list)

    def table(self) -> str:
        """A compact text table of the figures."""
        lines = [f"{'class':<12} {'IoU':>6}"]
        for name, v in self.per_class_iou.items():
            lines.append(f"{name:<12} {'-' if v is None else f'{v:.3f}':>6}")
        lines += [
            f"{'garment mIoU':<12} {self.garment_miou:>6.3f}  "
            f"(over {len(self.garment_classes_scored)} classes)",
            f"{'person IoU':<12} {self.person_iou:>6.3f}",
            f"{'pixel acc':<12} {self.pixel_accuracy:>6.3f}",
            f"{'images/s':<12} {self.images_per_s:>6.2f}  ({self.n_images} images)",
        ]
        return "\n".join(lines)


def evaluate_unet(
    segmenter: _Segmenter,
    ccp_root: str | Path,
    stems: Sequence[str],
    *,
    batch_size: int = 8,
    progress: Progress = NO_PROGRESS,
) -> SegEvalReport:
    """Score ``segmenter.predict`` on CCP ``stems`` against the truth masks at original resolution."""
    root = Path(ccp_root)
    if not stems:
        raise InvalidInputError("no stems to evaluate")
    names = ccp_label_names(root)
    classes = seg_classes()
    k = len(classes)
    conf = np.zeros((k, k), dtype=np.int64)
    person = np.zeros(3, dtype=np.int64)  # intersection, union, unused
    predict_s = 0.0
    progress.start(len(stems), "evaluate U-Net")
    for i in range(0, len(stems), batch_size):
        pairs = [load_ccp_pair(root, s, names) for s in stems[i : i + batch_size]]
        t0 = time.perf_counter()
        preds = segmenter.predict([im for im, _ in pairs])
        predict_s += time.perf_counter() - t0
        for (_, truth), (pred, _) in zip(pairs, preds, strict=True):
            conf += confusion(pred, truth, k)
            p, t = pred > 0, truth > 0
            person[0] += int(np.count_nonzero(p & t))
            person[1] += int(np.count_nonzero(p | t))
        progress.advance(len(pairs))
    iou = iou_per_class(conf)
    present = [c for c in range(GARMENT_OFFSET, k) if conf[c].sum() > 0]
    garment = [float(iou[c]) for c in present]
    return SegEvalReport(
        model_id=segmenter.model_id,
        n_images=len(stems),
        per_class_iou={classes[c]: (None if np.isnan(iou[c]) else round(float(iou[c]), 4)) for c in range(k)},
        garment_miou=round(float(np.mean(garment)) if garment else float("nan"), 4),
        person_iou=round(person[0] / max(1, person[1]), 4),
        pixel_accuracy=round(float(np.trace(conf) / max(1, conf.sum())), 4),
        images_per_s=round(len(stems) / max(predict_s, 1e-9), 3),
        garment_classes_scored=[classes[c] for c in present],
    )
