"""Mask R-CNN on real CCP photos: dataset targets match the ground truth; a tiny train + COCO eval runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pycocotools  # noqa: F401  (a hard dependency: fail, never skip)
import pytest
import torch

from fashionlens.analysis.coco_metrics import evaluate_maskrcnn
from fashionlens.core.segmentation import GARMENT_OFFSET, ccp_to_semantic
from fashionlens.ingest.ccp import PIXEL_DIR, ccp_label_names, load_ccp_mask
from fashionlens.ingest.ccp_coco import write_ccp_coco
from fashionlens.training.maskrcnn import CocoInstanceDataset, train_maskrcnn


@pytest.fixture(scope="module")
def ccp_root(shared_data: Path) -> Path:
    return shared_data / "ccp"


@pytest.fixture(scope="module")
def ccp_json(ccp_root: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """train/test COCO files of the first 4 photos of each CCP split, photos symlinked beside them."""
    return write_ccp_coco(ccp_root, tmp_path_factory.mktemp("ccp_coco"), limit=4)


def test_dataset_targets_match_ccp_ground_truth(ccp_root: Path, ccp_json: dict[str, Path]) -> None:
    # min_size 550 / max_size 832 keeps CCP's 550x832 photos at their own size: compare pixel for pixel
    ds = CocoInstanceDataset(ccp_json["train"], min_size=550, max_size=832, augment=False)
    assert len(ds) == 4
    names = ccp_label_names(ccp_root)
    for i in range(len(ds)):
        image, target = ds[i]
        stem = Path(ds.images[i]["file_name"]).stem
        truth = ccp_to_semantic(load_ccp_mask(ccp_root / PIXEL_DIR / f"{stem}.mat"), names)
        assert image.shape == (3, *truth.shape)
        painted = np.zeros(truth.shape, np.uint8)
        for label, mask in zip(target["labels"].tolist(), target["masks"].numpy().astype(bool), strict=True):
            painted[mask] = GARMENT_OFFSET + label - 1
        garment = truth >= GARMENT_OFFSET
        assert (painted[garment] == truth[garment]).mean() >= 0.99
        assert not painted[~garment].any()
        boxes = target["boxes"].numpy()
        assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


def test_tiny_training_and_coco_evaluation(ccp_json: dict[str, Path], tmp_path: Path) -> None:
    torch.set_num_threads(1)
    ckpt = tmp_path / "maskrcnn.pt"
    report = train_maskrcnn(
        ccp_json["train"], ckpt, arch="maskrcnn_mobilenet_v2_fpn", epochs=1, batch_size=2, lr=0.005,
        min_size=256, max_size=384, num_threads=1, max_iters=2,
    )  # fmt: skip
    assert report["iterations"] == 2 and ckpt.is_file()
    losses = report["history"][0]
    assert all(np.isfinite(v) for k, v in losses.items() if k.startswith("loss_"))
    metrics = evaluate_maskrcnn(ckpt, ccp_json["test"], None, limit=2)
    assert metrics["images"] == 2 and metrics["gt_instances"] > 0
    # the scores themselves are checked with known answers in tests/unit/analysis/test_coco_ap.py
    assert set(metrics) >= {"bbox_ap", "bbox_ap50", "segm_ap", "segm_ap50", "detections", "images_per_s"}


def test_dataset_maps_deepfashion2_polygons_to_modanet(shared_data: Path) -> None:
    path = shared_data / "deepfashion2-coco" / "tests" / "data" / "deepfasion2" / "deepfasion2.json"
    ds = CocoInstanceDataset(path, min_size=320, max_size=512)
    assert len(ds) == 2
    for i in range(len(ds)):
        image, target = ds[i]
        assert image.shape[0] == 3 and min(image.shape[1:]) == 320
        assert target["labels"].tolist() == [6]  # long_sleeved_dress -> dress (ModaNet index 5, +1)
        mask = target["masks"][0].bool()
        assert 0.1 < mask.float().mean() < 0.9  # a polygon filled, not a box or nothing
        x1, y1, x2, y2 = (int(v) for v in target["boxes"][0].tolist())
        assert mask[y1:y2, x1:x2].sum() == mask.sum()  # the box holds the whole mask...
        assert (
            mask[y1].any() and mask[y2 - 1].any() and mask[:, x1].any() and mask[:, x2 - 1].any()
        )  # tightly
