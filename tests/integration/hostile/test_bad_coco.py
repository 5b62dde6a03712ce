"""COCO files with one bad record each, among real photos: the record is skipped naming the file,
the record and the reason; the good images and annotations are stored (nothing NaN, nothing
1e308). `validate_coco` (training's strict check) refuses the same record with the same reason."""

from __future__ import annotations

import copy
import json
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.coco import load_coco_json, read_coco
from fashionlens.store.catalog import Catalog

sys.path.insert(0, str(Path(__file__).parent))
import make_inputs as mk

NAN, INF = float("nan"), float("inf")
HUGE_INT = "1" + "0" * 200  # written raw into the JSON text (json.dumps cannot)


def _base() -> dict:
    return {
        "images": [
            {"id": 1, "file_name": "a.jpg", "width": 550, "height": 830},
            {"id": 2, "file_name": "b.jpg", "width": 550, "height": 830},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 100, 200], "area": 20000},
            {
                "id": 2,
                "image_id": 2,
                "category_id": 1,
                "bbox": [5, 5, 50, 50],
                "segmentation": [[5, 5, 55, 5, 55, 55]],
            },
        ],
        "categories": [{"id": 1, "name": "dress"}],
    }


def _ann(**changes: object) -> Callable[[dict], None]:
    """Add annotation id 3 on image 1 with ``changes`` (a value of ``...`` removes the key)."""

    def edit(coco: dict) -> None:
        ann = {"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40]}
        ann.update(changes)
        coco["annotations"].append({k: v for k, v in ann.items() if v is not ...})

    return edit


def _img(**changes: object) -> Callable[[dict], None]:
    """Add image id 3 (c.jpg, a real photo on disk) and one annotation on it, with ``changes``."""

    def edit(coco: dict) -> None:
        img = {"id": 3, "file_name": "c.jpg", "width": 550, "height": 830}
        img.update(changes)
        coco["images"].append({k: v for k, v in img.items() if v is not ...})
        coco["annotations"].append({"id": 3, "image_id": 3, "category_id": 1, "bbox": [1, 2, 3, 4]})

    return edit


def _set(key: str, value: object) -> Callable[[dict], None]:
    def edit(coco: dict) -> None:
        coco[key].append(value)

    return edit


NESTED: object = 1
for _ in range(50):
    NESTED = [NESTED]

A3 = r"annotations\[2\] \(id 3\) "
CASES = [
    # ids that are not ids
    pytest.param(
        _ann(image_id=[1]),
        A3 + r"has image_id \[1\]; expected an integer or a string",
        id="ann-image-id-list",
    ),
    pytest.param(_ann(image_id={"id": 1}), A3 + r"has image_id \{'id': 1\}", id="ann-image-id-dict"),
    pytest.param(_ann(image_id=True), A3 + r"has image_id True", id="ann-image-id-bool"),
    pytest.param(_ann(category_id=[1]), A3 + r"has category_id \[1\]", id="ann-category-id-list"),
    pytest.param(_ann(image_id="HUGE"), A3 + r"has image_id inf", id="ann-image-id-200-digits"),
    pytest.param(_ann(image_id=99), A3 + r"refers to image_id 99, not in 'images'", id="ann-unknown-image"),
    pytest.param(
        _ann(category_id=7), A3 + r"refers to category_id 7, not in 'categories'", id="ann-unknown-cat"
    ),
    pytest.param(
        _set("annotations", 5), r"annotations\[2\] \(id \?\) must be an object", id="ann-not-object"
    ),
    # polygons
    pytest.param(
        _ann(segmentation="1,2,3,4,5,6"),
        A3 + r"segmentation '1,2,3,4,5,6' is not a list of polygons",
        id="poly-string",
    ),
    pytest.param(
        _ann(segmentation=[["1", "2", "3", "4", "5", "6"]]),
        A3 + r"segmentation polygon 0 has the value '1'",
        id="poly-of-strings",
    ),
    pytest.param(
        _ann(segmentation=[[[1, 2], [3, 4], [5, 6]]]),
        A3 + r"segmentation polygon 0 has the value \[1, 2\]",
        id="poly-nested",
    ),
    pytest.param(
        _ann(segmentation=[[1, NAN, 3, 4, 5, 6]]),
        A3 + r"segmentation polygon 0 has the value nan",
        id="poly-nan",
    ),
    pytest.param(
        _ann(segmentation=[[1, 2, INF, 4, 5, 6]]),
        A3 + r"segmentation polygon 0 has the value inf",
        id="poly-inf",
    ),
    pytest.param(
        _ann(segmentation=[[1, 2, 3, 4, 5, 6, 7]]),
        A3 + r"segmentation polygon 0 .*odd number of values \(7\)",
        id="poly-odd",
    ),
    pytest.param(
        _ann(segmentation=[[1, 2, 3, 4]]),
        A3 + r"segmentation polygon 0 has 2 points; a polygon needs 3",
        id="poly-2-points",
    ),
    pytest.param(
        _ann(segmentation=[[1, 2, 3e300, 4, 5, 6]]),
        A3 + r"segmentation polygon 0 .*beyond \+-1000000 pixels",
        id="poly-3e300",
    ),
    pytest.param(
        _ann(bbox=..., segmentation={"counts": "x"}), A3 + r"has no 'bbox' and no polygon", id="no-bbox-rle"
    ),
    pytest.param(
        _ann(segmentation={"size": [10], "counts": "abc"}),
        A3 + r"RLE segmentation has size \[10\]",
        id="rle-size",
    ),
    pytest.param(
        _ann(segmentation={"size": [830, 550], "counts": [1, -2]}),
        A3 + r"RLE segmentation counts",
        id="rle-counts",
    ),
    pytest.param(_ann(segmentation=7), A3 + r"segmentation 7 is not a list of polygons", id="seg-number"),
    # areas
    pytest.param(_ann(area="12"), A3 + r"has area '12'; expected a number >= 0", id="area-string"),
    pytest.param(_ann(area=-5), A3 + r"has area -5", id="area-negative"),
    pytest.param(_ann(area=NAN), A3 + r"has area nan", id="area-nan"),
    pytest.param(_ann(area=[1]), A3 + r"has area \[1\]", id="area-list"),
    # boxes
    pytest.param(_ann(bbox=[1e308, 0, 10, 10]), A3 + r"bbox has the value 1e\+308, beyond", id="bbox-1e308"),
    pytest.param(_ann(bbox=[0, 0, 1e308, 1e308]), A3 + r"bbox has the value 1e\+308", id="bbox-1e308-wh"),
    pytest.param(
        _ann(bbox=[True, False, True, True]), A3 + r"has bbox \[True, False, True, True\]", id="bbox-bool"
    ),
    pytest.param(_ann(bbox=[NAN, 0, 10, 10]), A3 + r"has bbox \[nan, 0, 10, 10\]", id="bbox-nan"),
    pytest.param(
        _ann(bbox=[0, 0, -5, 10]),
        A3 + r"has bbox \[0, 0, -5, 10\]; expected \[x, y, w, h\] with w, h >= 0",
        id="bbox-negative",
    ),
    pytest.param(_ann(bbox=[1, 2, 3]), A3 + r"has bbox \[1, 2, 3\]", id="bbox-short"),
    pytest.param(_ann(bbox=["1", "2", "3", "4"]), A3 + r"has bbox \['1', '2', '3', '4'\]", id="bbox-strings"),
    pytest.param(_ann(bbox={"x": 1}), A3 + r"has bbox \{'x': 1\}", id="bbox-dict"),
    # pass-through values
    pytest.param(
        _ann(keypoints=NESTED), A3 + r"'keypoints' is nested deeper than 32 levels", id="deep-keypoints"
    ),
    pytest.param(_ann(keypoints=[1, 2, NAN]), A3 + r"'keypoints' holds the number nan", id="nan-keypoints"),
    pytest.param(
        _ann(note="caf\udce9"), A3 + r"'note' holds a string that is not valid UTF-8", id="surrogate"
    ),
    # images
    pytest.param(
        _img(id=[3]), r"images\[2\] has id \[3\]; expected an integer or a string", id="img-id-list"
    ),
    pytest.param(_img(id={"n": 3}), r"images\[2\] has id \{'n': 3\}", id="img-id-dict"),
    pytest.param(_img(id=3.5), r"images\[2\] has id 3\.5", id="img-id-float"),
    pytest.param(
        _img(id=1),
        r"images\[2\] has id 1, which appears twice in 'images'; the first is kept",
        id="img-id-dup",
    ),
    pytest.param(_img(file_name=5), r"images\[2\] file_name 5 is not a string", id="img-name-int"),
    pytest.param(
        _img(file_name="c\x00.jpg"), r"images\[2\] file_name 'c\\x00\.jpg' contains a NUL", id="img-name-nul"
    ),
    pytest.param(
        _img(file_name="c\udce9.jpg"),
        r"images\[2\] file_name 'c\\\\udce9\.jpg' is not valid UTF-8",
        id="img-name-surrogate",
    ),
    pytest.param(_img(file_name=""), r"images\[2\] has an empty file_name", id="img-name-empty"),
    pytest.param(_img(width=-550), r"images\[2\] \(c\.jpg\) has size -550x830", id="img-negative-width"),
    pytest.param(_img(width="550"), r"images\[2\] \(c\.jpg\) has size '550'x830", id="img-string-width"),
    pytest.param(_img(height=1e308), r"images\[2\] \(c\.jpg\) has size 550x1e\+308", id="img-1e308-height"),
    pytest.param(_img(height=NAN), r"images\[2\] \(c\.jpg\) has size 550xnan", id="img-nan-height"),
    pytest.param(
        _img(height=...),
        r"images\[2\] must be an object with id, file_name, width, height",
        id="img-no-height",
    ),
    pytest.param(_set("images", "c.jpg"), r"images\[2\] must be an object", id="img-not-object"),
    # categories
    pytest.param(
        _set("categories", {"id": [2], "name": "x"}), r"categories\[1\] has id \[2\]", id="cat-id-list"
    ),
    pytest.param(
        _set("categories", {"id": 2, "name": ["x"]}),
        r"categories\[1\] name \['x'\] is not a string",
        id="cat-name-list",
    ),
    pytest.param(
        _set("categories", {"id": 1, "name": "again"}),
        r"categories\[1\] has id 1, which appears twice",
        id="cat-dup",
    ),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "coco"
    root.mkdir()
    for n, name in enumerate(("a.jpg", "b.jpg", "c.jpg"), start=1):
        (root / name).write_bytes(mk.real_photo(n))
    return root


def _write(path: Path, coco: dict) -> None:
    path.write_text(json.dumps(coco).replace('"HUGE"', HUGE_INT))


@pytest.mark.parametrize(("edit", "reason"), CASES)
def test_bad_record_is_skipped_and_the_rest_stored(
    folder: Path, tmp_path: Path, edit: Callable[[dict], None], reason: str
) -> None:
    coco = _base()
    edit(coco)
    path = folder / "ann.json"
    _write(path, coco)
    result = read_coco(path, source="street", dataset="hostile")
    assert sorted(Path(r.image_path).name for r in result.images) == ["a.jpg", "b.jpg"]
    assert len(result.annotations) == 2  # the two good ones
    for ann in result.annotations:
        assert all(math.isfinite(v) for v in ann.bbox_xyxy) and math.isfinite(ann.area)
        assert all(math.isfinite(v) for poly in ann.segmentation for v in poly)
    matching = [s for s in result.skipped if s.path == str(path) and re.search(reason, s.reason)]
    assert matching, [s.reason for s in result.skipped]
    catalog = Catalog(tmp_path / "db")
    catalog.add_ingest(result)
    assert catalog.count("images") == 2 and catalog.count("annotations") == 2

    with pytest.raises(InvalidInputError, match=reason):  # training's strict loader: same words
        load_coco_json(path)


def test_many_bad_records_in_one_file(folder: Path) -> None:
    coco = _base()
    for param in CASES:
        edit = param.values[0]
        if edit.__qualname__.startswith("_ann"):
            edit(coco)
    path = folder / "ann.json"
    _write(path, coco)
    result = read_coco(path, source="street", dataset="hostile")
    n_bad = len(coco["annotations"]) - 2
    assert len(result.annotations) == 2 and len(result.images) == 2
    assert len([s for s in result.skipped if s.path == str(path)]) == n_bad


def test_annotations_of_a_bad_image_are_counted_in_its_entry(folder: Path) -> None:
    coco = _base()
    coco["images"][1]["width"] = "wide"
    path = folder / "ann.json"
    _write(path, coco)
    result = read_coco(path, source="street", dataset="hostile")
    assert [Path(r.image_path).name for r in result.images] == ["a.jpg"]
    (entry,) = result.skipped
    assert entry.reason == "images[1] (b.jpg) has size 'wide'x830; left out with its 1 annotations"


def test_clean_file_is_unchanged(folder: Path) -> None:
    path = folder / "ann.json"
    _write(path, copy.deepcopy(_base()))
    result = read_coco(path, source="street", dataset="hostile")
    assert result.skipped == [] and len(result.annotations) == 2
