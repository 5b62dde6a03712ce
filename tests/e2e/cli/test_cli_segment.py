"""`fashionlens segment people|garments` end to end on held-out CCP photos with the shipped U-Net."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from typer.testing import CliRunner

from fashionlens.cli.app import app
from fashionlens.core.segmentation import rle_to_mask
from fashionlens.ingest.ccp import ccp_pixel_split, load_ccp_mask

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_segment_people_then_garments(shared_data: Path, tmp_path: Path) -> None:
    ccp = shared_data / "ccp"
    _, test = ccp_pixel_split(ccp)
    stems = test[:3]
    folder = tmp_path / "street"
    folder.mkdir()
    for stem in stems:
        shutil.copy(ccp / "photos" / f"{stem}.jpg", folder / f"{stem}.jpg")
    empty = invoke("segment", "people")
    assert empty.exit_code == 0 and "run `fashionlens ingest` first" in empty.output
    assert invoke("ingest", "folder", str(folder), "--source", "street").exit_code == 0

    people = invoke("segment", "people")
    assert people.exit_code == 0, people.output
    assert "segmented 3 photos" in people.output and "3 people" in people.output
    garments = invoke("segment", "garments", "--no-embed")
    assert garments.exit_code == 0, garments.output
    assert "segmented 3 photos" in garments.output
    again = invoke("segment", "garments", "--no-embed")
    assert "segmented 0 photos" in again.output and "3 already done" in again.output

    out = tmp_path / "people.csv"
    assert invoke("export", "--table", "people", "--out", str(out)).exit_code == 0
    rows = pd.read_csv(out)
    assert len(rows) == 3
    images = tmp_path / "images.csv"
    assert invoke("export", "--table", "images", "--out", str(images)).exit_code == 0
    paths = pd.read_csv(images).set_index("image_id")["image_path"].to_dict()
    for _, row in rows.iterrows():
        stem = Path(paths[row["image_id"]]).stem
        truth = load_ccp_mask(ccp / "annotations" / "pixel-level" / f"{stem}.mat") != 0
        mask = rle_to_mask(json.loads(row["mask_rle_json"]))
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou > 0.8, (stem, iou)
        crop = np.asarray(Image.open(row["crop_path"]))
        assert (crop[0, 0] == 255).all()

    gout = tmp_path / "garments.csv"
    assert invoke("export", "--table", "garments", "--out", str(gout)).exit_code == 0
    garments_rows = pd.read_csv(gout)
    assert len(garments_rows) >= 3
    assert set(garments_rows["person_key"].dropna()) <= set(rows["person_key"])
    overlays = list((tmp_path / "fashionlens_home" / "segments" / "overlays").glob("*.png"))
    assert len(overlays) == 3


def test_train_commands_run_and_their_models_load(shared_data: Path, tmp_path: Path) -> None:
    weights = tmp_path / "unet.pt"
    unet = invoke(
        "segment", "train-unet", "--ccp", str(shared_data / "ccp"), "--out", str(weights),
        "--epochs", "1", "--fraction", "0.01", "--input-hw", "96", "64", "--batch-size", "4", "--no-evaluate",
    )  # fmt: skip
    assert unet.exit_code == 0, unet.output
    assert weights.is_file() and weights.with_suffix(".ckpt").is_file()
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(shared_data / "ccp" / "photos" / "0005.jpg", folder / "0005.jpg")
    assert invoke("ingest", "folder", str(folder), "--source", "street").exit_code == 0
    people = invoke("segment", "people", "--weights", str(weights), "--no-overlays")
    assert people.exit_code == 0, people.output
    assert "segmented 1 photos with unet.unet:" in people.output

    coco = shared_data / "deepfashion2-coco" / "tests" / "data" / "deepfasion2" / "deepfasion2.json"
    ckpt = tmp_path / "mrcnn.pt"
    train = invoke(
        "segment", "train-maskrcnn", str(coco), "--out", str(ckpt), "--epochs", "1",
        "--min-size", "128", "--max-size", "192", "--batch-size", "2",
    )  # fmt: skip
    assert train.exit_code == 0, train.output
    evaluate = invoke("segment", "evaluate-maskrcnn", str(ckpt), str(coco))
    assert evaluate.exit_code == 0, evaluate.output
    assert '"segm_ap"' in evaluate.output
    with_mrcnn = invoke("segment", "garments", "--maskrcnn", str(ckpt), "--no-embed", "--no-overlays")
    assert with_mrcnn.exit_code == 0, with_mrcnn.output
    assert "segmented 1 photos with unet_mobilenet_v2.ccp+maskrcnn.mrcnn" in with_mrcnn.output
    shipped = invoke("segment", "garments", "--maskrcnn", "shipped", "--no-embed", "--no-overlays")
    assert shipped.exit_code == 0, shipped.output
    assert "segmented 1 photos with unet_mobilenet_v2.ccp+maskrcnn_mobilenet_v2_fpn.ccp" in shipped.output


def test_missing_weights_file_is_one_clear_line(tmp_path: Path) -> None:
    result = invoke("segment", "people", "--weights", str(tmp_path / "nope.pt"))
    assert result.exit_code == 4  # WeightsNotFoundError
    assert "nope.pt" in result.output
