"""Mask R-CNN: both architectures build offline, one training step, weights errors, checkpoint resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pycocotools  # noqa: F401  (a hard dependency: fail, never skip)
import pytest
import torch
import torchvision  # noqa: F401  (a hard dependency: fail, never skip)
from PIL import Image

from fashionlens.core.errors import InvalidInputError, WeightsNotFoundError
from fashionlens.core.segmentation import GarmentInstances
from fashionlens.ingest.ccp_coco import coco_categories, mask_to_rle
from fashionlens.models.segmenters.maskrcnn import ARCHS, NUM_CLASSES, MaskRCNNSegmenter, build_maskrcnn
from fashionlens.training.maskrcnn import (
    CocoInstanceDataset,
    category_mapping,
    collate,
    train_maskrcnn,
)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _tiny_coco(root: Path, n_images: int = 2) -> Path:
    """``n_images`` 96x64 images, each with a 'top' rectangle and a 'pants' rectangle below it."""
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(n_images):
        arr = rng.integers(0, 60, size=(96, 64, 3), dtype=np.uint8)
        top = np.zeros((96, 64), bool)
        top[10:40, 15:50] = True
        pants = np.zeros((96, 64), bool)
        pants[40:90, 18 + i : 46] = True
        arr[top] = (200, 40, 40)
        arr[pants] = (40, 40, 200)
        Image.fromarray(arr).save(root / f"img{i}.png")
        images.append({"id": i + 1, "file_name": f"img{i}.png", "width": 64, "height": 96})
        for cat, mask in ((9, top), (8, pants)):
            ys, xs = np.nonzero(mask)
            bbox = [float(xs.min()), float(ys.min()), float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)]
            ann = {"id": len(anns) + 1, "image_id": i + 1, "category_id": cat, "bbox": bbox}
            anns.append({**ann, "area": int(mask.sum()), "segmentation": mask_to_rle(mask), "iscrowd": 0})
    path = root / "tiny.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": coco_categories()}))
    return path


@pytest.mark.parametrize("arch", ARCHS)
def test_build_random_init_replaces_predictors(arch: str) -> None:
    model = build_maskrcnn(arch, NUM_CLASSES, weights=None, min_size=128, max_size=192)
    box = model.roi_heads.box_predictor
    assert NUM_CLASSES == 14
    assert box.cls_score.out_features == 14
    assert box.bbox_pred.out_features == 14 * 4
    assert model.roi_heads.mask_predictor.mask_fcn_logits.out_channels == 14
    assert model.transform.min_size == (128,) and model.transform.max_size == 192


def test_one_training_step_gives_finite_losses(tmp_path: Path) -> None:
    ds = CocoInstanceDataset(_tiny_coco(tmp_path), min_size=64, max_size=128, augment=True, seed=1)
    images, targets = collate([ds[0], ds[1]])
    assert images[0].shape == (3, 96, 64)
    assert targets[0]["masks"].shape == (2, 96, 64) and targets[0]["labels"].tolist() == [9, 8]
    model = build_maskrcnn("maskrcnn_mobilenet_v2_fpn", weights=None, min_size=96, max_size=128)
    model.train()
    losses = model(list(images), list(targets))
    assert set(losses) == {
        "loss_classifier",
        "loss_box_reg",
        "loss_mask",
        "loss_objectness",
        "loss_rpn_box_reg",
    }
    total = sum(losses.values())
    assert math.isfinite(total.item())
    total.backward()
    grads = [p.grad for p in model.roi_heads.mask_predictor.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_augmentation_keeps_boxes_on_masks(tmp_path: Path) -> None:
    ds = CocoInstanceDataset(
        _tiny_coco(tmp_path), min_size=192, max_size=300, augment=True, rotate_deg=10, seed=3
    )
    for _ in range(4):
        image, target = ds[0]
        assert image.shape[1:] == (288, 192)  # short side 64 -> 192
        for box, mask in zip(target["boxes"], target["masks"], strict=True):
            ys, xs = torch.nonzero(mask, as_tuple=True)
            assert box.tolist() == [
                xs.min().item(),
                ys.min().item(),
                xs.max().item() + 1,
                ys.max().item() + 1,
            ]


def test_category_mapping_other_schemes() -> None:
    df2 = [
        {"id": 1, "name": "short_sleeved_shirt"},
        {"id": 2, "name": "trousers"},
        {"id": 3, "name": "sling"},
    ]
    assert category_mapping(df2) == {1: 9, 2: 8, 3: 9}  # top=8, pants=7 (+1 for background)
    assert category_mapping(coco_categories()) == {i: i for i in range(1, 14)}


def test_resnet50_coco_weights_offline_missing_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASHIONLENS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch_home" / "hub"))
    with pytest.raises(WeightsNotFoundError) as info:
        build_maskrcnn("maskrcnn_resnet50_fpn_v2", weights="coco", min_size=128, max_size=192)
    msg = str(info.value)
    assert "maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth" in msg
    assert "torch_home" in msg and "FASHIONLENS_WEIGHTS_DIR" in msg  # where it looked, where to put it


def test_checkpoint_resume_continues_at_next_epoch(tmp_path: Path) -> None:
    coco_json = _tiny_coco(tmp_path, n_images=2)
    ckpt = tmp_path / "runs" / "m.pt"
    kw = {"min_size": 96, "max_size": 128, "batch_size": 2, "weights": None, "num_threads": 1}
    first = train_maskrcnn(coco_json, ckpt, epochs=1, **kw)
    assert first["start_epoch"] == 0 and first["epochs_run"] == 1 and first["iterations"] == 1
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert saved["epoch"] == 1 and {"model", "optimizer", "scheduler", "config"} <= set(saved)

    second = train_maskrcnn(coco_json, ckpt, epochs=2, resume=ckpt, **kw)
    assert second["start_epoch"] == 1 and second["epochs_run"] == 1 and second["iterations"] == 1
    resumed = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert resumed["epoch"] == 2 and [h["epoch"] for h in resumed["history"]] == [1, 2]
    assert resumed["scheduler"]["last_epoch"] == 2  # the LR schedule went on, not restarted

    seg = MaskRCNNSegmenter(ckpt, score_threshold=0.0).setup()
    img = np.asarray(Image.open(tmp_path / "img0.png").convert("RGB"))
    (out,) = seg.predict([img])
    assert isinstance(out, GarmentInstances) and out.size_hw == (96, 64)


def test_encoder_from_the_shipped_unet_replaces_blocks_0_to_17_only() -> None:
    from fashionlens.models.segmenters.unet import SHIPPED_WEIGHTS, build_unet, load_unet_weights

    plain = build_maskrcnn("maskrcnn_mobilenet_v2_fpn", NUM_CLASSES, weights=None)
    torch.manual_seed(0)
    seeded = build_maskrcnn("maskrcnn_mobilenet_v2_fpn", NUM_CLASSES, weights=None, encoder="unet")
    unet = build_unet()
    load_unet_weights(unet, SHIPPED_WEIGHTS)
    for index in (0, 9, 17):
        theirs = unet.encoder[index].state_dict()
        ours = seeded.backbone.body[str(index)].state_dict()
        for key, value in ours.items():
            assert torch.equal(value, theirs[key].float()), (index, key)
    # block 18 (the 1x1 conv to 1280 channels) is not in the U-Net: it keeps its own init
    assert seeded.backbone.body["18"][0].weight.shape == plain.backbone.body["18"][0].weight.shape


@pytest.mark.parametrize(
    ("arch", "encoder", "error", "message"),
    [
        ("maskrcnn_resnet50_fpn_v2", "unet", InvalidInputError, "fits maskrcnn_mobilenet_v2_fpn only"),
        ("maskrcnn_mobilenet_v2_fpn", "no/such/unet.pt", WeightsNotFoundError, "U-Net weights file no/such"),
    ],
)
def test_bad_encoder_init_is_a_clear_error(arch: str, encoder: str, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build_maskrcnn(arch, NUM_CLASSES, weights=None, encoder=encoder)


def test_a_file_that_is_not_a_unet_is_refused_as_encoder(tmp_path: Path) -> None:
    from fashionlens.core.errors import InvalidInputError

    junk = tmp_path / "junk.pt"
    torch.save({"weight": torch.zeros(3)}, junk)
    with pytest.raises(InvalidInputError, match=r"junk\.pt: not a U-Net state dict"):
        build_maskrcnn("maskrcnn_mobilenet_v2_fpn", NUM_CLASSES, weights=None, encoder=junk)


def test_fp16_export_predicts_as_the_checkpoint_does(tmp_path: Path) -> None:
    from fashionlens.models.segmenters.maskrcnn import export_maskrcnn
    from fashionlens.training.kit import save_checkpoint

    torch.manual_seed(0)
    arch = "maskrcnn_mobilenet_v2_fpn"
    model = build_maskrcnn(arch, NUM_CLASSES, weights=None, min_size=256, max_size=384)
    config = {"arch": arch, "num_classes": NUM_CLASSES, "min_size": 256, "max_size": 384}
    ckpt = save_checkpoint(
        tmp_path / "train.pt", {"model": model.state_dict(), "optimizer": {}, "epoch": 3}, config=config
    )
    out = export_maskrcnn(ckpt, tmp_path / "exported.pt", extra={"model_id": "m"})
    assert out.stat().st_size < 0.6 * ckpt.stat().st_size
    saved = torch.load(out, weights_only=True)
    assert "optimizer" not in saved and saved["epoch"] == 3 and saved["model_id"] == "m"
    assert {v.dtype for v in saved["model"].values() if v.is_floating_point()} == {torch.float16}
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (300, 200, 3), dtype=np.uint8)
    full = MaskRCNNSegmenter(ckpt, score_threshold=0.0).setup()
    half = MaskRCNNSegmenter(out, score_threshold=0.0).setup()
    a, b = full._model.rpn.head.conv[0][0].weight, half._model.rpn.head.conv[0][0].weight
    assert b.dtype == torch.float32 and torch.allclose(a, b, atol=1e-3)
    (pa,), (pb,) = full.predict([image]), half.predict([image])
    assert pa.masks.shape[1:] == pb.masks.shape[1:] == (300, 200)


def test_shipped_is_the_default_checkpoint_and_names_itself() -> None:
    from fashionlens.models.segmenters.maskrcnn import SHIPPED_CHECKPOINT, SHIPPED_ID

    seg = MaskRCNNSegmenter()
    assert seg.checkpoint == SHIPPED_CHECKPOINT and seg.model_id == SHIPPED_ID
    assert MaskRCNNSegmenter(Path("shipped")).model_id == SHIPPED_ID  # a CLI flag arrives as a Path
    assert MaskRCNNSegmenter("runs/own.pt").model_id == "maskrcnn.own"


def test_a_missing_checkpoint_names_the_file_and_how_to_produce_it(tmp_path: Path) -> None:
    expected = r"Mask R-CNN weights file .*gone\.pt does not exist.*train-maskrcnn"
    with pytest.raises(WeightsNotFoundError, match=expected):
        MaskRCNNSegmenter(tmp_path / "gone.pt").setup()
