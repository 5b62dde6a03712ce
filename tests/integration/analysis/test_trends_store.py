"""Trends on a real store: 40 CCP street photos, 40 products, Fashionpedia's 2 runway photos.

The photos of people are segmented by the shipped U-Net (as `fashionlens trends` does first), so
street and runway categories come from the garments, products' from their catalogue labels.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashionlens.analysis.trends.analyse import TrendConfig
from fashionlens.analysis.trends.outfit import GarmentRule, outfits_from_segmentation
from fashionlens.analysis.trends.report import build_report
from fashionlens.analysis.trends.signals import read_signals
from fashionlens.core.settings import load_settings
from fashionlens.ingest.ccp import read_ccp
from fashionlens.ingest.coco import read_coco, read_roboflow
from fashionlens.ingest.images import open_rgb
from fashionlens.ingest.products import read_products
from fashionlens.store.catalog import Catalog


@pytest.fixture(scope="module")
def store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalog, object]:
    from fashionlens.jobs.segment import SegmentOptions, run_segment

    home = tmp_path_factory.mktemp("trends_home")
    settings = load_settings({"home": home}, env={})
    catalog = Catalog(settings.db_path)
    catalog.add_ingest(read_ccp(shared_data / "ccp", limit=40))
    catalog.add_ingest(read_products(shared_data / "products", limit=40))
    fashionpedia = shared_data / "fashionpedia"
    runway = read_coco(
        fashionpedia / "data" / "sample.json",
        fashionpedia / "images",
        dataset="fashionpedia",
        label_scheme="fashionpedia",
    )
    catalog.add_ingest(runway)
    options = SegmentOptions(
        task="garments", embed=False, overlays=False, where="source IN ('runway', 'street', 'video')"
    )
    run_segment(settings, options)
    return catalog, settings


def test_fashionpedia_comes_in_as_runway(shared_data: Path) -> None:
    fashionpedia = shared_data / "fashionpedia"
    result = read_coco(fashionpedia / "data" / "sample.json", fashionpedia / "images", dataset="sample")
    assert len(result.images) == 2 and {r.source for r in result.images} == {"runway"}
    explicit = read_coco(
        fashionpedia / "data" / "sample.json", fashionpedia / "images", dataset="s", source="street"
    )
    assert {r.source for r in explicit.images} == {"street"}  # an explicit source wins
    df2 = shared_data / "deepfashion2-coco" / "tests" / "data" / "deepfasion2" / "deepfasion2.json"
    assert {r.source for r in read_coco(df2, dataset="df2").images} == {"street"}


def _roboflow_export(root: Path, photos: list[Path]) -> Path:
    """Exactly Roboflow's COCO layout: train/ valid/ test/ each with _annotations.coco.json and the
    images beside it (Roboflow's renamed files, its project supercategory with id 0, its info)."""
    from PIL import Image

    for split, chunk in (("train", photos[:2]), ("valid", photos[2:3]), ("test", photos[3:4])):
        folder = root / split
        folder.mkdir(parents=True)
        images, annotations = [], []
        for k, photo in enumerate(chunk):
            name = f"{photo.stem}_jpg.rf.{k:032x}.jpg"
            shutil.copy(photo, folder / name)
            with Image.open(folder / name) as im:
                width, height = im.size
            images.append(
                {
                    "id": k,
                    "license": 1,
                    "file_name": name,
                    "height": height,
                    "width": width,
                    "date_captured": "2024-03-11T10:21:45+00:00",
                }
            )
            annotations.append(
                {
                    "id": k,
                    "image_id": k,
                    "category_id": 1 + k % 2,
                    "bbox": [100, 150, 300, 500],
                    "area": 150000,
                    "segmentation": [],
                    "iscrowd": 0,
                }
            )
        coco = {
            "info": {
                "year": "2024",
                "version": "1",
                "description": "Exported from roboflow.com",
                "contributor": "",
                "url": "https://public.roboflow.com/object-detection/undefined",
                "date_created": "2024-03-11T10:21:45+00:00",
            },
            "licenses": [
                {"id": 1, "url": "https://creativecommons.org/licenses/by/4.0/", "name": "CC BY 4.0"}
            ],
            "categories": [
                {"id": 0, "name": "runway-looks", "supercategory": "none"},
                {"id": 1, "name": "dress", "supercategory": "runway-looks"},
                {"id": 2, "name": "outer", "supercategory": "runway-looks"},
            ],
            "images": images,
            "annotations": annotations,
        }
        (folder / "_annotations.coco.json").write_text(json.dumps(coco))
    (root / "README.roboflow.txt").write_text("Exported from roboflow.com\n")
    return root


def test_a_roboflow_export_comes_in_as_runway(shared_data: Path, tmp_path: Path) -> None:
    from fashionlens.jobs.ingest import detect_format, read_any

    photos = [shared_data / "ccp" / "photos" / f"{i:04d}.jpg" for i in (5, 10, 15, 20)]
    root = _roboflow_export(tmp_path / "shows", photos)
    assert detect_format(root) == "roboflow"
    result = read_any(root, "auto", load_settings({"home": tmp_path / "home"}, env={}))
    assert len(result.images) == 4 and {r.source for r in result.images} == {"runway"}
    assert {r.split for r in result.images} == {"train", "valid", "test"}
    assert {lab.coarse_category for lab in read_roboflow(root, label_scheme="modanet").labels} == {
        "dress",
        "outerwear",
    }
    # one split's file alone is recognised as Roboflow's too
    single = read_coco(root / "train" / "_annotations.coco.json", dataset="shows")
    assert {r.source for r in single.images} == {"runway"}


def test_trends_report_on_street_products_and_runway(store, tmp_path: Path) -> None:
    catalog, _ = store
    tables, report = build_report(catalog, tmp_path / "trends", TrendConfig(by="source", signal="category"))
    assert set(tables.totals.index) == {"product", "runway", "street"}
    assert tables.totals["runway"] == 2 and tables.totals["product"] == 40
    assert tables.totals["street"] >= 40  # people, one or more per photo
    how = tables.coverage
    assert how.loc["street", "garments"] == tables.totals["street"]
    assert how.loc["runway", "garments"] == 2 and how.loc["product", "label"] == 40
    gap = tables.gaps[(tables.gaps["proposed"] == "runway") & (tables.gaps["adopted"] == "street")]
    assert not gap.empty and gap["verdict"].str.startswith("not significant").all()
    assert (gap["proposed_high"] - gap["proposed_low"] > 0.5).all()  # two photos: wide intervals
    assert tables.chi_square is not None
    for name in ("shares", "residuals", "colours"):
        assert report.plots[name].read_bytes()[:4] == b"\x89PNG"
    html = report.html_path.read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "https://cdn" not in html and "runway n=2" in html
    for name in ("shares", "pairwise", "adoption_gap", "chi_square", "residuals", "category_from"):
        assert not pd.read_csv(report.tables[name]).empty, name
    for signal in ("garment", "colour", "silhouette", "articleType"):
        t, r = build_report(catalog, tmp_path / signal, TrendConfig(signal=signal, garment="any"))
        assert not t.shares.empty and r.html_path.is_file(), signal


def test_store_signals_are_the_benchmarks_categories(store, shared_data: Path) -> None:
    """`segment garments` rows -> signals give the category `bench_street_category.py` measures."""
    from fashionlens.models.segmenters.unet import UNetSegmenter

    catalog, _ = store
    signals = read_signals(catalog)
    street = signals[(signals["source"] == "street") & (signals["unit"] == "person")]
    per_photo = street.groupby("image_id").filter(lambda g: len(g) == 1).head(6)
    unet = UNetSegmenter(batch_size=4)
    for row in per_photo.itertuples():
        seg, conf = unet.predict([np.asarray(open_rgb(row.image_path))])[0]
        (outfit,) = [o for o in outfits_from_segmentation(seg, conf) if o.person_area > 0]
        assert GarmentRule().category(outfit.shares) == row.garment_category
        for category, share in outfit.shares.items():
            assert getattr(row, f"share_{category.replace('/', '_')}") == pytest.approx(share, abs=0.01)
