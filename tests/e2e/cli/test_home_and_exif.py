"""Two bugs a new user hit: `--home` ignored when weights are looked up, and sizes catalogued
before EXIF rotation. Both failed before the fix."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from fashionlens.cli.app import app
from fashionlens.core.settings import load_settings
from fashionlens.ingest.images import open_rgb
from fashionlens.store.catalog import Catalog

runner = CliRunner()


def _rotated_jpeg(shared_data: Path, path: Path) -> Path:
    """A real 60x40 photo crop whose EXIF says "rotate 90 degrees" (orientation 6)."""
    with Image.open(shared_data / "ccp" / "photos" / "0001.jpg") as im:
        crop = im.convert("RGB").resize((60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    path.parent.mkdir(parents=True, exist_ok=True)
    crop.save(path, "JPEG", exif=exif.tobytes())
    return path


def test_sizes_are_catalogued_after_exif_rotation(shared_data: Path, tmp_path: Path) -> None:
    photo = _rotated_jpeg(shared_data, tmp_path / "photos" / "rotated.jpg")
    home = tmp_path / "home"
    result = runner.invoke(app, ["--home", str(home), "ingest", "folder", str(photo.parent)])
    assert result.exit_code == 0, result.output
    row = Catalog(home / "db").read("images").to_pylist()[0]
    assert (row["width"], row["height"]) == (40, 60)
    assert open_rgb(photo).size == (40, 60)  # what every model sees


def test_home_flag_is_where_weights_are_looked_for(shared_data: Path, tmp_path: Path) -> None:
    """ResNet-50 weights are not on this machine: the error must point at --home's models folder."""
    home = tmp_path / "my_home"
    ingest = runner.invoke(
        app, ["--home", str(home), "ingest", "ccp", str(shared_data / "ccp"), "--limit", "2"]
    )
    assert ingest.exit_code == 0, ingest.output
    embed = runner.invoke(
        app, ["--home", str(home), "--backbone", "resnet50.imagenet", "--runtime", "torch", "embed"]
    )
    assert embed.exit_code != 0
    message = " ".join(embed.output.split())
    assert str(home / "models") in message
    assert str(load_settings().models_dir) not in message  # the default home is not involved
