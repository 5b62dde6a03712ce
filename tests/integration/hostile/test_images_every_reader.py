"""Crafted images through every reader: each is skipped with its reason, the good photos are stored.

The inputs come from real CCP photos at test time (`make_inputs`): decompression bombs (PNG, JPEG,
TIFF, GIF under 10 KB claiming up to 100,000 x 100,000 pixels), ``GIF89a`` + random bytes, a 1-bit
12000 x 12000 PNG, a zTXt bomb, truncated files, PostScript / MP4 / text under ``.jpg``. Every
reader registers images through `ingest.base.make_record` -> `ingest.images.probe_image`, so each
must give the same reasons; the limits come from `Settings` through `reading_limits`.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fashionlens.core.settings import Settings
from fashionlens.core.types import IngestResult
from fashionlens.ingest.base import reading_limits
from fashionlens.ingest.ccp import read_ccp
from fashionlens.ingest.coco import read_coco, read_roboflow
from fashionlens.ingest.deepfashion2 import read_deepfashion2
from fashionlens.ingest.folder import read_folder
from fashionlens.ingest.images import ImageLimits
from fashionlens.ingest.products import read_products
from fashionlens.store.catalog import Catalog

sys.path.insert(0, str(Path(__file__).parent))
import make_inputs as mk

Files = list[tuple[str, bytes, str]]  # (case name, bytes, suffix)
Layout = Callable[[Path, Files], tuple[dict[str, Path], Callable[[], IngestResult]]]


@pytest.fixture(scope="module")
def good() -> Files:
    """Three real photos and the unusual-but-valid variants (CMYK, 16-bit, palette, WebP...)."""
    photos = [(f"real-{n}", mk.real_photo(n), ".jpg") for n in (1, 2, 3)]
    return photos + [(c.name, c.build(mk.real_photo(4)), c.suffix) for c in mk.GOOD_VARIANTS]


@pytest.fixture(scope="module")
def hostile() -> Files:
    photo = mk.real_photo(5)
    return [(c.name, c.build(photo), c.suffix) for c in mk.HOSTILE_IMAGES]


def _folder(root: Path, files: Files) -> tuple[dict[str, Path], Callable[[], IngestResult]]:
    paths = {name: root / f"{name}{suffix}" for name, _, suffix in files}
    for name, data, _ in files:
        paths[name].write_bytes(data)
    return paths, lambda: read_folder(root, source="street")


def _coco_json(names: list[str]) -> dict:
    return {
        "images": [{"id": i, "file_name": n, "width": 64, "height": 96} for i, n in enumerate(names, 1)],
        "annotations": [
            {"id": i, "image_id": i, "category_id": 1, "bbox": [1, 2, 10, 20], "area": 200.0}
            for i in range(1, len(names) + 1)
        ],
        "categories": [{"id": 1, "name": "dress"}],
    }


def _coco(root: Path, files: Files) -> tuple[dict[str, Path], Callable[[], IngestResult]]:
    paths, _ = _folder(root, files)
    (root / "ann.json").write_text(json.dumps(_coco_json([p.name for p in paths.values()])))
    return paths, lambda: read_coco(root / "ann.json", source="street", dataset="hostile")


def _roboflow(root: Path, files: Files) -> tuple[dict[str, Path], Callable[[], IngestResult]]:
    (root / "train").mkdir()
    paths, _ = _folder(root / "train", files)
    names = [p.name for p in paths.values()]
    (root / "train" / "_annotations.coco.json").write_text(json.dumps(_coco_json(names)))
    return paths, lambda: read_roboflow(root)


def _products(root: Path, files: Files) -> tuple[dict[str, Path], Callable[[], IngestResult]]:
    header, row = (mk.SHARED / "products" / "styles.csv").read_text(encoding="utf-8").splitlines()[:2]
    (root / "images").mkdir()
    lines, paths = [header], {}
    for i, (name, data, _) in enumerate(files):
        pid = 90_000 + i
        lines.append(",".join([str(pid), *row.split(",")[1:]]))
        paths[name] = root / "images" / f"{pid}.jpg"
        paths[name].write_bytes(data)
    (root / "styles.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths, lambda: read_products(root)


def _deepfashion2(root: Path, files: Files) -> tuple[dict[str, Path], Callable[[], IngestResult]]:
    (root / "image").mkdir()
    (root / "annos").mkdir()
    item = {"category_id": 1, "bounding_box": [1, 2, 11, 22], "segmentation": [], "landmarks": []}
    paths = {}
    for i, (name, data, _) in enumerate(files, start=1):
        paths[name] = root / "image" / f"{i:06d}.jpg"
        paths[name].write_bytes(data)
        anno = {"source": "user", "pair_id": i, "item1": item}
        (root / "annos" / f"{i:06d}.json").write_text(json.dumps(anno))
    return paths, lambda: read_deepfashion2(root)


def _ccp(root: Path, files: Files) -> tuple[dict[str, Path], Callable[[], IngestResult]]:
    (root / "photos").mkdir()
    shutil.copy(mk.SHARED / "ccp" / "label_list.mat", root / "label_list.mat")
    paths = {}
    for i, (name, data, _) in enumerate(files, start=1):
        paths[name] = root / "photos" / f"{i:04d}.jpg"
        paths[name].write_bytes(data)
    return paths, lambda: read_ccp(root)


READERS: dict[str, Layout] = {
    "folder": _folder,
    "coco": _coco,
    "roboflow": _roboflow,
    "products": _products,
    "deepfashion2": _deepfashion2,
    "ccp": _ccp,
}


def _reasons(result: IngestResult) -> dict[Path, str]:
    return {Path(s.path): s.reason for s in result.skipped}


@pytest.mark.parametrize("reader", list(READERS))
def test_every_crafted_image_is_skipped_with_its_reason(
    reader: str, tmp_path: Path, good: Files, hostile: Files
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    paths, read = READERS[reader](root, good + hostile)
    result = read()
    stored = {Path(r.image_path).name for r in result.images}
    assert stored == {paths[name].name for name, _, _ in good}
    reasons = _reasons(result)
    for case in mk.HOSTILE_IMAGES:
        path = paths[case.name]
        assert path in reasons, f"{case.name}: not listed as skipped"
        assert re.search(case.reason, reasons[path]), f"{case.name}: {reasons[path]!r}"
    catalog = Catalog(tmp_path / "db")
    catalog.add_ingest(result)
    assert catalog.count("images") == len(good)


@pytest.mark.parametrize("reader", list(READERS))
def test_pixel_and_byte_limits_come_from_settings(reader: str, tmp_path: Path, good: Files) -> None:
    """Real 550 x 825 photos are refused under a lower ``max_image_pixels`` / ``max_image_bytes``;
    the 64 x 96 variants pass."""
    root = tmp_path / "data"
    root.mkdir()
    paths, read = READERS[reader](root, good)
    real = [paths[name] for name, _, _ in good if name.startswith("real-")]
    small = {paths[name].name for name, _, _ in good if not name.startswith("real-")}
    for settings, message in (
        (Settings(max_image_pixels=100_000), r"over the limit of 100000 \(max_image_pixels\)"),
        (Settings(max_image_bytes=20_000), r"over the limit of 20000 \(max_image_bytes\)"),
    ):
        with reading_limits(ImageLimits.from_settings(settings)):
            result = read()
        assert {Path(r.image_path).name for r in result.images} == small
        reasons = _reasons(result)
        assert all(re.search(message, reasons[p]) for p in real), reasons
    default = read()  # outside the block the defaults apply again
    assert len(default.images) == len(good)
