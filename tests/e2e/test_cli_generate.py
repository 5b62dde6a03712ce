"""`fashionlens generate` with the shipped generator (offline), and `fashionlens train gan` end to end."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from fashionlens.cli.app import app

runner = CliRunner()
TILE = 64 + 2  # image + grid padding


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network access in an offline test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_generate_tshirts_offline(tmp_path: Path, no_network: None) -> None:
    out = tmp_path / "x.png"
    result = invoke("generate", "--n", "16", "--label", "Tshirts", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 16 images" in result.output and "Tshirts" in result.output
    with Image.open(out) as im:
        grid = np.asarray(im.convert("RGB"))
    assert grid.shape == ((4 * TILE + 2) * 2, (4 * TILE + 2) * 2, 3)  # 4 x 4 grid, upscaled 2x
    tiles = [grid[2 * (2 + r * TILE) : 2 * (2 + r * TILE + 64), 2 * (2 + c * TILE) : 2 * (2 + c * TILE + 64)]
             for r in range(4) for c in range(4)]  # fmt: skip
    # catalogue style: a light background around the garment, and 16 different images
    corners = np.mean([t[:6, :6].mean() for t in tiles])
    assert corners > 180
    assert len({t.tobytes() for t in tiles}) == 16
    again = tmp_path / "y.png"
    assert invoke("generate", "--n", "16", "--label", "Tshirts", "--out", str(again)).exit_code == 0
    assert again.read_bytes() == out.read_bytes()  # same seed, same images


def test_generate_colour_and_interpolation(tmp_path: Path, no_network: None) -> None:
    strip = tmp_path / "strip.png"
    result = invoke(
        "generate", "--n", "8", "--colour", "blue", "--interpolate", "--out", str(strip), "--scale", "1"
    )
    assert result.exit_code == 0, result.output
    with Image.open(strip) as im:
        assert im.size == (8 * TILE + 2, TILE + 2)
    grid = tmp_path / "blue.png"
    assert (
        invoke("generate", "--n", "4", "--colour", "blue", "--label", "Shirts", "--out", str(grid)).exit_code
        == 0
    )


def test_generate_errors_are_one_line(tmp_path: Path) -> None:
    result = invoke("generate", "--label", "Spacesuits", "--out", str(tmp_path / "x.png"))
    assert result.exit_code == 1
    assert "unknown label 'Spacesuits'" in result.output and "Tshirts" in result.output
    assert "Traceback" not in result.output
    missing = invoke("generate", "--weights", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "x.png"))
    assert missing.exit_code == 4 and "does not exist" in missing.output  # WeightsNotFoundError


def test_train_gan_then_generate_with_it(shared_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "gan", "--root", str(shared_data / "products"), "--max-images", "64", "--epochs", "1"]
    result = invoke(*args, "--kid-n", "0", "--conditional", "label", "--out", str(run))
    assert result.exit_code == 0, result.output
    assert "trained 1 epochs" in result.output
    assert (run / "samples" / "epoch_001.png").is_file() and (run / "losses.png").is_file()
    again = invoke(*args, "--kid-n", "0", "--conditional", "label", "--out", str(run))
    assert again.exit_code == 1 and "resume" in again.output
    out = tmp_path / "mine.png"
    made = invoke("generate", "--weights", str(run / "generator.pt"), "--n", "4", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert out.is_file()
    bad = invoke("train", "gan", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r2"))
    assert bad.exit_code == 1 and "nowhere" in bad.output
