"""DeepFashion2 items, styles.csv rows and CCP .mat files that are bad, among real ones: each is
skipped naming the file, the record and the reason; the run never aborts and the rest is read."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from fashionlens.ingest.base import reading_limits
from fashionlens.ingest.ccp import read_ccp
from fashionlens.ingest.deepfashion2 import deepfashion2_to_coco, read_deepfashion2
from fashionlens.ingest.images import ImageLimits
from fashionlens.ingest.products import read_products
from fashionlens.store.catalog import Catalog

sys.path.insert(0, str(Path(__file__).parent))
import make_inputs as mk

NAN = float("nan")
GOOD_ITEM = {
    "category_id": 1,
    "bounding_box": [10, 20, 200, 300],
    "segmentation": [[10, 20, 200, 20, 200, 300]],
}
NESTED: object = 0
for _ in range(50):
    NESTED = {"v": NESTED}


def _item(**changes: object) -> dict:
    return {**GOOD_ITEM, **changes}


# --- DeepFashion2 -----------------------------------------------------------------------------

DF2_CASES = [
    pytest.param("item²", GOOD_ITEM, r"key 'item²' is not item1, item2\.\.\.", id="item-superscript"),
    pytest.param("item٣", GOOD_ITEM, r"key 'item٣' is not item1, item2", id="item-arabic-digit"),
    pytest.param("item_2", GOOD_ITEM, r"key 'item_2' is not item1", id="item-underscore"),
    pytest.param("items", [GOOD_ITEM], r"key 'items' is not item1", id="items"),
    pytest.param(
        "item2",
        _item(bounding_box=[NAN, 20, 200, 300]),
        r"item2 has bounding_box \[nan, 20, 200, 300\]",
        id="nan-box",
    ),
    pytest.param(
        "item2",
        _item(bounding_box=[0, 0, 1e308, 1e308]),
        r"item2 has bounding_box \[0, 0, 1e\+308, 1e\+308\]",
        id="1e308-box",
    ),
    pytest.param(
        "item2",
        _item(bounding_box=[True, 0, True, 1]),
        r"item2 has bounding_box \[True, 0, True, 1\]",
        id="bool-box",
    ),
    pytest.param(
        "item2", _item(bounding_box="10,20,30,40"), r"item2 has bounding_box '10,20,30,40'", id="string-box"
    ),
    pytest.param(
        "item2",
        _item(segmentation="abc"),
        r"item2 has a segmentation that is not a list of polygons",
        id="seg-string",
    ),
    pytest.param(
        "item2",
        _item(segmentation=[[1, 2, 3, 4, 5, 6, 7]]),
        r"item2 has a bad segmentation: .*odd number",
        id="seg-odd",
    ),
    pytest.param(
        "item2",
        _item(segmentation=[[1, NAN, 3, 4, 5, 6]]),
        r"item2 has a bad segmentation: .*nan",
        id="seg-nan",
    ),
    pytest.param(
        "item2",
        _item(landmarks=[NAN] * 75),
        r"item2 has landmarks that are not a list of finite numbers",
        id="marks-nan",
    ),
    pytest.param(
        "item2", _item(category_id=1.0), r"item2 has category_id 1\.0; expected an integer", id="cat-float"
    ),
    pytest.param(
        "item2",
        _item(viewpoint=NESTED),
        r"item2: viewpoint is nested deeper than 32 levels",
        id="deep-viewpoint",
    ),
    pytest.param("item2", 5, r"item2 is not an object", id="not-an-object"),
]


@pytest.fixture
def df2_root(tmp_path: Path) -> Path:
    """Two real photos with one good item each (000001, 000002)."""
    root = tmp_path / "df2"
    (root / "image").mkdir(parents=True)
    (root / "annos").mkdir()
    for n in (1, 2):
        (root / "image" / f"{n:06d}.jpg").write_bytes(mk.real_photo(n))
        (root / "annos" / f"{n:06d}.json").write_text(
            json.dumps({"source": "user", "pair_id": n, "item1": GOOD_ITEM})
        )
    return root


@pytest.mark.parametrize(("key", "item", "reason"), DF2_CASES)
def test_deepfashion2_bad_item_is_skipped_naming_the_file(
    df2_root: Path, tmp_path: Path, key: str, item: object, reason: str
) -> None:
    bad = df2_root / "annos" / "000002.json"
    bad.write_text(
        json.dumps({"source": "shop", "pair_id": 2, "item1": GOOD_ITEM, key: item}, ensure_ascii=False)
    )
    result = read_deepfashion2(df2_root)
    assert len(result.images) == 2 and len(result.annotations) == 2  # both files, item1 of each
    assert all(math.isfinite(v) for a in result.annotations for v in a.bbox_xyxy)
    (skipped,) = result.skipped
    assert skipped.path == str(bad)
    assert re.search(reason, skipped.reason) and skipped.reason.endswith("left out, the other items read")
    Catalog(tmp_path / "db").add_ingest(result)
    converted = deepfashion2_to_coco(df2_root)
    assert len(converted["images"]) == 2 and len(converted["annotations"]) == 2


def test_deepfashion2_file_whose_only_item_is_bad_does_not_abort_the_run(df2_root: Path) -> None:
    bad = df2_root / "annos" / "000002.json"
    bad.write_text(json.dumps({"pair_id": 2, "item1": _item(bounding_box=[NAN, NAN, NAN, NAN])}))
    result = read_deepfashion2(df2_root)
    assert [Path(r.image_path).name for r in result.images] == ["000001.jpg"]
    (skipped,) = result.skipped
    assert skipped.path == str(bad) and skipped.reason.startswith(
        "no usable item: item1 has bounding_box [nan"
    )


def test_deepfashion2_header_nested_too_deep(df2_root: Path) -> None:
    bad = df2_root / "annos" / "000002.json"
    bad.write_text(json.dumps({"pair_id": NESTED, "item1": GOOD_ITEM}))
    result = read_deepfashion2(df2_root)
    assert len(result.images) == 1
    assert result.skipped[0].path == str(bad) and "pair_id is nested deeper" in result.skipped[0].reason


# --- styles.csv -------------------------------------------------------------------------------

HUGE = "x" * 200_000
CSV_CASES = [
    pytest.param(
        "{id},Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual," + HUGE,
        r"a field of 200000 characters, over the limit of 131072",
        id="field-200k",
    ),
    pytest.param(
        '{id},Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual,"' + ("y" * 70_000 + "\n") * 3 + '"',
        r"a field of 210003 characters",
        id="quoted-multiline-210k",
    ),
    pytest.param(
        "{id},Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual,Nul\x00Shirt",
        r"a field holds a NUL character",
        id="nul",
    ),
    pytest.param(
        "١٢٣,Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual,Arabic id",
        r"non-integer id '١٢٣'",
        id="arabic-digits-id",
    ),
    pytest.param(
        "1e3,Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual,Float id",
        r"non-integer id '1e3'",
        id="float-id",
    ),
    pytest.param(
        "+5,Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual,Signed id",
        r"non-integer id '\+5'",
        id="signed-id",
    ),
    pytest.param(
        "9" * 5000 + ",Men,Apparel,Topwear,Tshirts,Blue,Summer,2012,Casual,Huge",
        r"non-integer id '9999",
        id="5000-digit-id",
    ),
    pytest.param("{id},Men,Apparel", r"3 fields, expected 10", id="short"),
]


@pytest.fixture
def products(tmp_path: Path) -> tuple[Path, list[str]]:
    """A products folder: the real header and three real rows with their photos."""
    src = mk.SHARED / "products"
    header, *rows = (src / "styles.csv").read_text(encoding="utf-8").splitlines()[:4]
    root = tmp_path / "products"
    (root / "images").mkdir(parents=True)
    for row in rows:
        pid = row.split(",")[0]
        shutil.copy(src / "images" / f"{pid}.jpg", root / "images" / f"{pid}.jpg")
    return root, [header, *rows]


@pytest.mark.parametrize(("line", "reason"), CSV_CASES)
def test_styles_csv_bad_row_is_skipped(products: tuple[Path, list[str]], line: str, reason: str) -> None:
    root, (header, first, *rest) = products
    (root / "images" / "77777.jpg").write_bytes(mk.real_photo(1))
    bad_line = line.replace("{id}", "77777")
    (root / "styles.csv").write_text("\n".join([header, first, bad_line, *rest]) + "\n", encoding="utf-8")
    limit = csv.field_size_limit()
    result = read_products(root)
    assert csv.field_size_limit() == limit  # raised for the parse only, then restored
    assert len(result.images) == 3 and len(result.labels) == 3  # the rows before and after
    (skipped,) = result.skipped
    assert skipped.path == str(root / "styles.csv")
    assert skipped.reason.startswith("line 3: ") and re.search(reason, skipped.reason), skipped.reason
    assert len(skipped.reason) < 300


# --- CCP .mat ---------------------------------------------------------------------------------


def _hdf5_mat() -> bytes:
    header = (
        b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    )
    return header.ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + bytes(512)


MAT_CASES = [
    pytest.param(lambda real: b"", r"not a readable MAT file", id="empty"),
    pytest.param(
        lambda real: b"MATLAB 5.0 MAT-file" + bytes(20), r"not a readable MAT file", id="short-header"
    ),
    pytest.param(lambda real: real[:200], r"not a readable MAT file", id="truncated"),
    pytest.param(
        lambda real: real[:128] + mk.gif89a_random(7, 3000), r"not a readable MAT file", id="random-body"
    ),
    pytest.param(lambda real: mk.gif89a_random(8, 3000), r"not a readable MAT file", id="random"),
    pytest.param(lambda real: _hdf5_mat(), r"not a readable MAT file", id="hdf5-v7.3"),
    pytest.param(lambda real: b"groundtruth = [1 2 3]\n", r"not a readable MAT file", id="text"),
]


@pytest.fixture
def ccp_root(tmp_path: Path) -> Path:
    """Photos 0001-0003 with their real pixel-level maps."""
    src = mk.SHARED / "ccp"
    root = tmp_path / "ccp"
    (root / "photos").mkdir(parents=True)
    (root / "annotations" / "pixel-level").mkdir(parents=True)
    shutil.copy(src / "label_list.mat", root / "label_list.mat")
    for stem in ("0001", "0002", "0003"):
        shutil.copy(src / "photos" / f"{stem}.jpg", root / "photos" / f"{stem}.jpg")
        shutil.copy(
            src / "annotations" / "pixel-level" / f"{stem}.mat",
            root / "annotations" / "pixel-level" / f"{stem}.mat",
        )
    return root


@pytest.mark.parametrize(("build", "reason"), MAT_CASES)
def test_ccp_corrupt_mat_is_skipped(ccp_root: Path, build: object, reason: str) -> None:
    mat = ccp_root / "annotations" / "pixel-level" / "0002.mat"
    mat.write_bytes(build(mat.read_bytes()))  # type: ignore[operator]
    result = read_ccp(ccp_root)
    assert len(result.images) == 3  # the photo itself is fine
    assert [lab.image_filename for lab in result.labels] == ["photos/0001.jpg", "photos/0003.jpg"]
    (skipped,) = result.skipped
    assert skipped.path == str(mat) and re.search(reason, skipped.reason), skipped.reason


def test_ccp_mat_too_large_is_refused_before_loading(ccp_root: Path) -> None:
    """A compressed map of 2000 x 2000 (a few KB on disk) under a 1 M pixel limit."""
    mat = ccp_root / "annotations" / "pixel-level" / "0002.mat"
    savemat(mat, {"groundtruth": np.zeros((2000, 2000), dtype=np.uint8)}, do_compression=True)
    assert mat.stat().st_size < 20_000
    with reading_limits(ImageLimits(max_pixels=1_000_000)):
        result = read_ccp(ccp_root)
    (skipped,) = result.skipped
    assert skipped.path == str(mat)
    assert re.search(r"refused, .*2000.*over the limit of 1000000", skipped.reason), skipped.reason
