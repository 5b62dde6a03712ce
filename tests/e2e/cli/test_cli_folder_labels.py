"""A labelled photo folder (train/ + validation/, one sub-folder per class) to a 10-class
classifier from the CLI: all the classes are kept (not the 6 coarse ones), train/ trains and
validation/ is the test set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from fashionlens.cli.app import app

runner = CliRunner()
PER_CLASS = {"train": 14, "validation": 4}


def _subset(shared_data: Path, dst: Path) -> list[str]:
    classes = sorted(p.name for p in (shared_data / "clothing" / "train").iterdir() if p.is_dir())
    for split, n in PER_CLASS.items():
        for name in classes:
            (dst / split / name).mkdir(parents=True)
            for photo in sorted((shared_data / "clothing" / split / name).iterdir())[:n]:
                shutil.copy(photo, dst / split / name / photo.name)
    return classes


def test_folder_labels_train_a_classifier_of_every_class(shared_data: Path, tmp_path: Path) -> None:
    classes = _subset(shared_data, tmp_path / "clothing")
    assert len(classes) == 10
    home = str(tmp_path / "home")
    done = runner.invoke(
        app,
        ["--home", home, "ingest", "folder", str(tmp_path / "clothing"), "--source", "street",
         "--labels-from-subfolders", "--label-scheme", "clothing"],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert runner.invoke(app, ["--home", home, "embed"]).exit_code == 0
    train = runner.invoke(
        app,
        ["--home", home, "train", "attributes", "--attribute", "label", "--min-class-count", "5",
         "--epochs", "30", "--hidden", "256"],
    )  # fmt: skip
    assert train.exit_code == 0, train.output
    assert "recorded splits" in train.output
    card_path = next((tmp_path / "home" / "models" / "attributes").glob("*/attributes.json"))
    card = json.loads(card_path.read_text())
    assert card["heads"]["label"]["classes"] == classes  # every folder class, not the coarse ones
    metrics = card["metrics"]
    assert metrics["n_test"] == 10 * PER_CLASS["validation"]
    assert metrics["n_train"] + metrics["n_val"] == 10 * PER_CLASS["train"]
    assert metrics["heads"]["label"]["accuracy"] > 0.3  # chance is 0.1

    refused = runner.invoke(
        app, ["--home", home, "train", "attributes", "--attribute", "label", "--split", "x"]
    )
    assert refused.exit_code != 0 and "split must be one of" in refused.output
