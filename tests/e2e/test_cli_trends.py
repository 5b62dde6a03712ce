"""`fashionlens trends` end to end on the sample shipped in the package (street vs product)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from fashionlens.cli.app import app
from fashionlens.datasets import sample_dataset_paths

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_sample_is_small_real_and_attributed() -> None:
    sample = sample_dataset_paths()
    files = [p for p in sample.root.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 3_000_000
    assert len(list((sample.street.parent / "images").glob("*.jpg"))) == 60
    assert len(list((sample.product.parent / "images").glob("*.jpg"))) == 60
    text = sample.attribution.read_text(encoding="utf-8")
    assert "Apache" in text and "CC0" in text
    assert (sample.root / "LICENSE-CCP").is_file() and (sample.root / "LICENSE-clothing").is_file()
    assert sample.run_paths() == [f"street={sample.street}", f"product={sample.product}"]


def test_trends_on_the_sample_run(tmp_path: Path) -> None:
    empty = invoke("trends", "--out", str(tmp_path / "none"), "--no-segment")
    assert empty.exit_code not in (0, 2) and "run `fashionlens ingest` first" in empty.output

    sample = sample_dataset_paths()
    ran = invoke("run", *sample.run_paths(), "--out", str(tmp_path / "enriched.csv"))
    assert ran.exit_code == 0, ran.output
    out = tmp_path / "trends"
    result = invoke("trends", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "segmented 60 photos" in result.output
    assert "street" in result.output and "product" in result.output
    for name in ("report.html", "shares.png", "residuals.png", "colours.png", "shares.csv", "pairwise.csv"):
        assert (out / name).is_file(), name
    shares = pd.read_csv(out / "shares.csv")
    assert set(shares["group"]) == {"product", "street"}
    assert set(shares.drop_duplicates("group").set_index("group")["n"]) >= {60}
    how = pd.read_csv(out / "category_from.csv").set_index("source")
    assert how.loc["street", "garments"] >= 60 and how.loc["product", "label"] == 60
    gap = pd.read_csv(out / "adoption_gap.csv")
    assert set(zip(gap["proposed"], gap["adopted"], strict=True)) == {("product", "street")}

    again = invoke("trends", "--out", str(tmp_path / "colour"), "--signal", "colour", "--garment", "any")
    assert again.exit_code == 0, again.output
    assert "segmented" not in again.output  # already done: nothing segmented twice
    by_dataset = invoke("trends", "--out", str(tmp_path / "ds"), "--by", "dataset", "--signal", "garment")
    assert by_dataset.exit_code == 0, by_dataset.output
    assert "multi-valued" in by_dataset.output
    bad = invoke("trends", "--by", "weather", "--no-segment")
    assert bad.exit_code not in (0, 2) and "by must be one of" in bad.output
