"""COCO AP with known answers: the ground truth as detections scores 1, a box off by half scores
less at 0.5:0.95 and nothing at IoU 0.5 when the overlap is below it, nothing found scores 0."""

from __future__ import annotations

import numpy as np
import pytest

from fashionlens.analysis.coco_metrics import SUMMARY, _coco_api, coco_ap
from fashionlens.ingest.ccp_coco import coco_categories, mask_to_rle

H, W = 64, 64


def _square(x: int, y: int, s: int) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[y : y + s, x : x + s] = True
    return m


def _gt() -> tuple[object, list[np.ndarray]]:
    masks = [_square(4, 4, 20), _square(36, 30, 24)]
    anns = []
    for i, m in enumerate(masks, start=1):
        ys, xs = np.nonzero(m)
        x1, y1 = int(xs.min()), int(ys.min())
        w, h = int(xs.max()) - x1 + 1, int(ys.max()) - y1 + 1
        anns.append(
            {"id": i, "image_id": 1, "category_id": 1 + i, "bbox": [x1, y1, w, h], "area": float(m.sum()),
             "iscrowd": 0, "segmentation": mask_to_rle(m)}
        )  # fmt: skip
    api = _coco_api({"images": [{"id": 1, "width": W, "height": H}], "annotations": anns,
                     "categories": coco_categories()})  # fmt: skip
    return api, masks


def _dets(masks: list[np.ndarray], shift: int = 0) -> list[dict]:
    out = []
    for i, m in enumerate(masks, start=1):
        m = np.roll(m, shift, axis=1)
        ys, xs = np.nonzero(m)
        x1, y1 = float(xs.min()), float(ys.min())
        out.append(
            {"image_id": 1, "category_id": 1 + i, "score": 0.9, "segmentation": mask_to_rle(m),
             "bbox": [x1, y1, float(xs.max()) - x1 + 1, float(ys.max()) - y1 + 1]}
        )  # fmt: skip
    return out


def test_ground_truth_as_detections_scores_one() -> None:
    api, masks = _gt()
    ap = coco_ap(api, _dets(masks))
    # both squares are under 32x32 px: COCO's "small"; no medium or large object to find (0)
    perfect = {"ap": 1.0, "ap50": 1.0, "ap_small": 1.0, "ap_medium": 0.0, "ap_large": 0.0}
    want = {f"{kind}_{k}": v for kind in ("bbox", "segm") for k, v in perfect.items()}
    assert ap == pytest.approx(want, abs=1e-6)


def test_shifted_detections_score_less() -> None:
    api, masks = _gt()
    ap = coco_ap(api, _dets(masks, shift=4))  # IoU 16/24 = 0.67 and 20/28 = 0.71 for the masks
    assert ap["segm_ap50"] == pytest.approx(1.0) and 0.05 < ap["segm_ap"] < 0.6
    far = coco_ap(api, _dets(masks, shift=12))  # IoU 8/32 = 0.25 and 12/36 = 0.33: below 0.5
    assert far["segm_ap50"] == pytest.approx(0.0) and far["segm_ap"] == pytest.approx(0.0)


def test_nothing_found_scores_zero() -> None:
    api, _ = _gt()
    ap = coco_ap(api, [])
    assert set(ap) == {f"{kind}_{k}" for kind in ("bbox", "segm") for k in SUMMARY}
    assert all(v == 0.0 for v in ap.values())
