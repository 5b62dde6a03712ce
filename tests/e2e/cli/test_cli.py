"""The CLI end to end on real shared data, through Typer's CliRunner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fashionlens.cli.app import app
from fashionlens.core.labels import coarse_categories

runner = CliRunner()
WATCH_ID, TSHIRT_ID = 17429, 10866  # articleType Watches and Tshirts in styles.csv


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_seed_pipeline_step_by_step(shared_data: Path, tmp_path: Path) -> None:
    ccp = invoke("ingest", "ccp", str(shared_data / "ccp"), "--limit", "60")
    assert ccp.exit_code == 0, ccp.output
    products = invoke("ingest", "products", str(shared_data / "products"), "--limit", "40")
    assert products.exit_code == 0, products.output
    again = invoke("ingest", "ccp", str(shared_data / "ccp"), "--limit", "60")
    assert again.exit_code == 0 and "60" in again.output
    embed = invoke("embed")
    assert embed.exit_code == 0, embed.output
    # runtime auto: the default backbone runs as ONNX int8 (its calibration ships)
    assert "embedded 100 images with mobilenet_v2.imagenet+onnx-int8" in embed.output
    embed_again = invoke("embed")
    assert "embedded 0 images" in embed_again.output and "100 already done" in embed_again.output
    train = invoke("train", "category", "--source", "street")
    assert train.exit_code == 0, train.output
    assert "held-out accuracy" in train.output
    predict = invoke("predict")
    assert predict.exit_code == 0 and "predicted the category of 100 images" in predict.output
    out = tmp_path / "enriched.csv"
    export = invoke("export", "--out", str(out))
    assert export.exit_code == 0, export.output
    frame = pd.read_csv(out)
    assert list(frame.columns[:6]) == [
        "image_id",
        "source",
        "original_dataset",
        "image_path",
        "split",
        "feature_row",
    ]
    assert len(frame) == 100
    assert set(frame["source"]) == {"street", "product"}
    assert set(frame["pred_category"]) <= set(coarse_categories())
    assert frame["feature_row"].is_unique
    labels = invoke("export", "--table", "labels", "--out", str(tmp_path / "labels.csv"))
    assert labels.exit_code == 0
    assert {"image_filename", "modanet_categories", "coarse_category"} <= set(
        pd.read_csv(tmp_path / "labels.csv")
    )


def test_bad_input_is_one_clear_line(tmp_path: Path) -> None:
    result = invoke("ingest", "folder", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert "error:" in result.output and "nowhere" in result.output
    assert "Traceback" not in result.output
    debug = invoke("--debug", "ingest", "folder", str(tmp_path / "nowhere"))
    assert debug.exit_code != 0 and debug.exception is not None


def test_corrupt_file_is_skipped_and_nothing_is_lost(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "wardrobe"
    folder.mkdir()
    shutil.copy(shared_data / "ccp" / "photos" / "0001.jpg", folder / "good.jpg")
    data = (shared_data / "ccp" / "photos" / "0002.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "notes.jpg").write_text("not an image")
    first = invoke("ingest", "folder", str(folder))
    assert first.exit_code == 0, first.output
    assert "truncated.jpg" in first.output and "notes.jpg" in first.output
    info = invoke("info")
    assert "images" in info.output
    # a later failing ingest does not lose what was stored
    invoke("ingest", "folder", str(tmp_path / "missing"))
    out = tmp_path / "images.csv"
    invoke("export", "--table", "images", "--out", str(out))
    assert len(pd.read_csv(out)) == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [(["ingest", "coco", "{tmp}/bad.json"], 1), (["train", "category"], 3), (["predict"], 3)],
)
def test_errors_before_prerequisites(tmp_path: Path, args: list[str], code: int) -> None:
    """Bad input exits 1, a missing earlier step 3 (`core.errors.exit_code`)."""
    (tmp_path / "bad.json").write_text("{not json")
    result = invoke(*[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == code, result.output
    assert "error:" in result.output and "Traceback" not in result.output


def test_run_runway_vs_street_with_sources(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "enriched.csv"
    result = invoke(
        "run",
        f"street={shared_data / 'ccp'}",
        f"runway={shared_data / 'fashionpedia' / 'data' / 'sample.json'}",
        str(shared_data / "products"),
        "--limit",
        "40",
        "--train-source",
        "street",
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame.groupby("source").size().to_dict() == {"product": 40, "runway": 2, "street": 40}
    assert frame["pred_category"].notna().all()
    assert (frame["pred_confidence"].between(0, 1)).all()
    runway = frame[frame["source"] == "runway"]
    assert set(runway["label_coarse_category"]) == {"dress", "top+bottom"}
    assert "predicted category share by source" in result.output


def test_missing_standard_weights_offline_is_one_clear_line(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASHIONLENS_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(shared_data / "ccp" / "photos" / "0003.jpg", folder / "a.jpg")
    assert invoke("ingest", "folder", str(folder)).exit_code == 0
    result = invoke("--backbone", "resnet50.imagenet", "embed")
    assert result.exit_code == 4, result.output  # WeightsNotFoundError
    assert "resnet50-11ad3fa6.pth" in result.output and "download.pytorch.org" in result.output
    assert "Traceback" not in result.output


def test_zero_shot_command(shared_data: Path, tmp_path: Path) -> None:
    images = shared_data / "products" / "images"
    watch, tshirt = images / f"{WATCH_ID}.jpg", images / f"{TSHIRT_ID}.jpg"
    result = invoke(
        "zero-shot", str(watch), str(tshirt), "--labels", "watches,tshirts,casual shoes", "--top", "1"
    )
    assert result.exit_code == 0, result.output
    first, second = result.output.split(str(tshirt))
    assert '"watches"' in first and '"tshirts"' in second
    bad = invoke("zero-shot", str(watch), "--labels", "only-one")
    assert bad.exit_code == 1 and "at least two labels" in bad.output
    missing = invoke("zero-shot", str(tmp_path / "nope.jpg"), "--labels", "a,b")
    assert missing.exit_code == 1 and "nope.jpg" in missing.output


def test_train_text_tower_command(shared_data: Path, tmp_path: Path) -> None:
    assert invoke("ingest", "products", str(shared_data / "products"), "--limit", "150").exit_code == 0
    assert invoke("embed").exit_code == 0
    out = tmp_path / "tower" / "mobilenet_v2_minilm.products.npz"
    result = invoke("train", "text-tower", "--epochs", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file() and "zero-shot articleType" in result.output
    watch = shared_data / "products" / "images" / f"{WATCH_ID}.jpg"
    use = invoke("--weights-dir", str(out.parent), "zero-shot", str(watch), "--labels", "watches,tshirts")
    assert use.exit_code == 0, use.output


def test_ingest_video_frames(shared_data: Path, tmp_path: Path) -> None:
    clip = shared_data / "video" / "one-by-one-person-detection.mp4"
    first = invoke("ingest", "video", str(clip), "--every", "300")
    assert first.exit_code == 0, first.output
    again = invoke("ingest", "auto", str(clip))  # detected as a video; every 30th frame
    assert again.exit_code == 0, again.output
    out = tmp_path / "images.csv"
    assert invoke("export", "--table", "images", "--out", str(out)).exit_code == 0
    frame = pd.read_csv(out)
    # frames 0, 300, ... are the same bytes in both runs, so they are stored once
    assert len(frame) == 47 and set(frame["source"]) == {"video"}  # 1,410+ frames, every 30th


def test_search_through_the_app(shared_data: Path) -> None:
    assert invoke("ingest", "products", str(shared_data / "products"), "--limit", "60").exit_code == 0
    assert invoke("embed").exit_code == 0
    query = shared_data / "products" / "images" / f"{WATCH_ID}.jpg"
    result = invoke("search", str(query), "--k", "3")
    assert result.exit_code == 0, result.output
    first_row = next(line for line in result.output.splitlines() if line.strip().startswith("1 "))
    assert f"{WATCH_ID}.jpg" in first_row and "1.0000" in first_row
    none = invoke("search", str(query), "--source", "runway")
    assert none.exit_code == 0 and "runway" in none.output
