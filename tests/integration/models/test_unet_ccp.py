"""The SHIPPED U-Net weights on real held-out CCP photos (never seen in training).

On all 200 held-out stems of `ccp_pixel_split` (``models/shipped/unet_mobilenet_v2.ccp.json``):
person IoU 0.944, garment mIoU 0.314, against 0.604 / 0.064 for the location-prior baseline; the
first 16 are checked here against floors well below what was measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch  # noqa: F401  (a hard dependency: fail, never skip)

from fashionlens.analysis.segmentation import evaluate_unet
from fashionlens.core.segmentation import seg_classes
from fashionlens.ingest.ccp import ccp_label_names, ccp_pixel_split
from fashionlens.models.segmenters.unet import SHIPPED_CARD, SHIPPED_WEIGHTS, UNetSegmenter
from fashionlens.training.unet import load_ccp_pair

N_PHOTOS = 16
MIN_PERSON_IOU = 0.89  # measured 0.938
MIN_GARMENT_MIOU = 0.24  # measured 0.287


@pytest.fixture(scope="module")
def segmenter() -> UNetSegmenter:
    assert SHIPPED_WEIGHTS.is_file(), f"shipped U-Net weights missing: {SHIPPED_WEIGHTS}"
    seg = UNetSegmenter(num_threads=1)
    seg.setup()
    return seg


@pytest.fixture(scope="module")
def ccp_root(shared_data: Path) -> Path:
    return shared_data / "ccp"


def test_shipped_files_are_small_and_carded(segmenter: UNetSegmenter) -> None:
    assert segmenter.weights_path == SHIPPED_WEIGHTS
    assert SHIPPED_WEIGHTS.stat().st_size < 10_000_000
    card = json.loads(SHIPPED_CARD.read_text())
    assert card["model_id"] == segmenter.model_id == "unet_mobilenet_v2.ccp"
    assert card["classes"] == list(seg_classes())
    assert tuple(card["input_hw"]) == segmenter.input_hw
    assert "train-unet" in card["command"] and "--loss balanced" in card["command"]
    assert card["evaluation"]["n_images"] == 200


def test_held_out_photos_beat_thresholds(segmenter: UNetSegmenter, ccp_root: Path) -> None:
    train, test = ccp_pixel_split(ccp_root)
    stems = test[:N_PHOTOS]
    assert not set(stems) & set(train)
    report = evaluate_unet(segmenter, ccp_root, stems)
    assert report.n_images == N_PHOTOS
    assert report.person_iou >= MIN_PERSON_IOU, report.table()
    assert report.garment_miou >= MIN_GARMENT_MIOU, report.table()
    # the two dominant garment classes of street photos are found well
    for cls in ("top", "pants"):
        v = report.per_class_iou[cls]
        assert v is not None and v > 0.45, report.table()  # measured 0.572, 0.692


def test_predict_on_a_real_photo_is_original_size_and_plausible(
    segmenter: UNetSegmenter, ccp_root: Path
) -> None:
    _, test = ccp_pixel_split(ccp_root)
    image, truth = load_ccp_pair(ccp_root, test[0], ccp_label_names(ccp_root))
    [(seg, conf)] = segmenter.predict([image])
    assert seg.shape == truth.shape == image.shape[:2]
    assert conf.dtype == np.float32 and conf.shape == truth.shape
    # the person occupies a similar share of the frame in prediction and truth
    assert abs(np.mean(seg > 0) - np.mean(truth > 0)) < 0.1
    # confidence is higher where the prediction is right
    right = seg == truth
    assert conf[right].mean() > conf[~right].mean()
