"""Pure COCO converters: xywh <-> xyxy, COCO dict <-> ObjectAnnotation, validation messages."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import ImageRecord, ObjectAnnotation
from fashionlens.ingest.coco import (
    bbox_xywh_to_xyxy,
    coco_to_objects,
    objects_to_coco,
    objects_to_labels,
    polygons_xyxy,
    used_categories,
    validate_coco,
    xyxy_to_bbox_xywh,
)


def _record(image_id: str, name: str, width: int = 400, height: int = 600) -> ImageRecord:
    return ImageRecord(
        image_id=image_id,
        source="street",
        original_dataset="test",
        image_path=f"/data/{name}",
        split="unsplit",
        width=width,
        height=height,
        content_hash=image_id * 4,
    )


def _coco(annotation: dict, width: int = 400, height: int = 600) -> dict:
    """A one-image, one-annotation COCO dict; ``annotation`` overrides the defaults."""
    ann = {"id": 1, "image_id": 7, "category_id": 0, "bbox": [10, 20, 30, 40], "area": 1200, "iscrowd": 0}
    ann.update(annotation)
    ann = {k: v for k, v in ann.items() if v is not None}
    return {
        "images": [{"id": 7, "file_name": "a.jpg", "width": width, "height": height}],
        "annotations": [ann],
        "categories": [{"id": 0, "name": "shirt, blouse"}, {"id": 5, "name": "dress"}],
    }


@pytest.mark.parametrize(
    ("bbox_xywh", "xyxy"),
    [
        ([0, 0, 10, 20], (0.0, 0.0, 10.0, 20.0)),
        ([154, 147, 63, 65], (154.0, 147.0, 217.0, 212.0)),
        ([1.5, 2.25, 0, 0], (1.5, 2.25, 1.5, 2.25)),
        ([0.5, 0.25, 100.75, 50.5], (0.5, 0.25, 101.25, 50.75)),
    ],
)
def test_bbox_xywh_xyxy_round_trip(bbox_xywh: list[float], xyxy: tuple[float, ...]) -> None:
    assert bbox_xywh_to_xyxy(bbox_xywh) == xyxy
    assert xyxy_to_bbox_xywh(xyxy) == [float(v) for v in bbox_xywh]


def test_objects_to_coco_round_trip() -> None:
    images = [_record("aaaa000011112222", "one.jpg"), _record("bbbb000011112222", "two.jpg", 300, 200)]
    objects = [
        ObjectAnnotation(
            image_id="aaaa000011112222",
            category="top",
            bbox_xyxy=(10.0, 20.0, 110.0, 220.0),
            dataset="test",
            segmentation=[[10.0, 20.0, 110.0, 20.0, 110.0, 220.0], [12.0, 22.0, 14.0, 24.0, 12.0, 24.0]],
            area=20000.0,
            attributes={"iscrowd": 0, "pair_id": 22, "style": 1, "attribute_ids": [3, 9]},
        ),
        ObjectAnnotation(
            image_id="aaaa000011112222",
            category="pants",
            bbox_xyxy=(0.0, 300.0, 400.0, 600.0),
            dataset="test",
            area=120000.0,
            attributes={"iscrowd": 0},
        ),
        ObjectAnnotation(
            image_id="bbbb000011112222",
            category="top",
            bbox_xyxy=(0.5, 0.25, 299.5, 199.75),
            dataset="test",
            area=1.0,
            attributes={"iscrowd": 1, "segmentation_rle": {"size": [200, 300], "counts": [0, 5, 59995]}},
        ),
    ]
    coco = objects_to_coco(images, objects, ["top", "pants"])
    validate_coco(coco, name="written")
    assert [img["file_name"] for img in coco["images"]] == ["one.jpg", "two.jpg"]
    assert coco["annotations"][1]["bbox"] == [0.0, 300.0, 400.0, 300.0]
    assert coco["annotations"][2]["segmentation"] == {"size": [200, 300], "counts": [0, 5, 59995]}
    assert "segmentation_rle" not in coco["annotations"][2]
    ids = {img["id"]: rec.image_id for img, rec in zip(coco["images"], images, strict=True)}
    assert coco_to_objects(coco, dataset="test", image_ids=ids) == objects


@pytest.mark.parametrize(
    ("annotation", "size_wh", "expected_xyxy"),
    [
        pytest.param({}, (400, 600), (10.0, 20.0, 40.0, 60.0), id="inside"),
        pytest.param({"bbox": [350, 550, 100, 80]}, (400, 600), (350.0, 550.0, 400.0, 600.0), id="overruns"),
        pytest.param({"bbox": [-5, -10, 20, 30]}, (400, 600), (0.0, 0.0, 15.0, 20.0), id="negative"),
        pytest.param({"bbox": [500, 700, 10, 10]}, (400, 600), (400.0, 600.0, 400.0, 600.0), id="outside"),
        pytest.param({"bbox": [5, 5, 0, 0]}, (400, 600), (5.0, 5.0, 5.0, 5.0), id="zero-size"),
        pytest.param(
            {"bbox": None, "segmentation": [[194, 890, 232, 914, 185, 935]]},
            (618, 1000),
            (185.0, 890.0, 232.0, 935.0),
            id="bbox-from-polygon",
        ),
        pytest.param(
            {"bbox": None, "segmentation": [[600, 990, 700, 990, 700, 1100]]},
            (618, 1000),
            (600.0, 990.0, 618.0, 1000.0),
            id="polygon-overruns",
        ),
    ],
)
def test_coco_to_objects_clips_boxes(
    annotation: dict, size_wh: tuple[int, int], expected_xyxy: tuple[float, ...]
) -> None:
    (obj,) = coco_to_objects(_coco(annotation, *size_wh), dataset="d", image_ids={7: "img"})
    assert obj.bbox_xyxy == expected_xyxy
    assert obj.image_id == "img"
    assert obj.category == "shirt, blouse"  # category id 0 is a real category (Fashionpedia)


def test_coco_to_objects_fields_and_pass_through() -> None:
    ann = {
        "category_id": 5,
        "segmentation": [[10, 20, 40, 20, 40, 60]],
        "attribute_ids": [1, 2],
        "pair_id": 3,
        "style": 2,
    }
    (obj,) = coco_to_objects(_coco(ann), dataset="d", image_ids={7: "img"})
    assert obj.category == "dress"
    assert obj.segmentation == [[10.0, 20.0, 40.0, 20.0, 40.0, 60.0]]
    assert obj.area == 1200.0
    assert obj.attributes == {"iscrowd": 0, "attribute_ids": [1, 2], "pair_id": 3, "style": 2}


def test_coco_to_objects_rle_and_missing_area() -> None:
    rle = {"size": [600, 400], "counts": "abc"}
    (obj,) = coco_to_objects(_coco({"segmentation": rle, "area": None}), dataset="d", image_ids={7: "img"})
    assert obj.segmentation == []
    assert obj.attributes["segmentation_rle"] == rle
    assert obj.area == 30 * 40


def test_coco_to_objects_leaves_out_unmapped_images_and_uses_size_override() -> None:
    coco = _coco({"bbox": [300, 0, 200, 10]})
    assert coco_to_objects(coco, dataset="d", image_ids={}) == []
    (obj,) = coco_to_objects(coco, dataset="d", image_ids={7: "img"}, sizes_wh={7: (350, 600)})
    assert obj.bbox_xyxy == (300.0, 0.0, 350.0, 10.0)


def _break(mutate: Callable[[dict], object]) -> dict:
    coco = _coco({})
    mutate(coco)
    return coco


@pytest.mark.parametrize(
    ("coco", "message"),
    [
        pytest.param([1, 2], "expected a COCO JSON object", id="not-an-object"),
        pytest.param(_break(lambda c: c.pop("annotations")), "missing key.*annotations", id="no-annotations"),
        pytest.param(_break(lambda c: c.pop("images")), "missing key.*images", id="no-images"),
        pytest.param(_break(lambda c: c.pop("categories")), "missing key.*categories", id="no-categories"),
        pytest.param(_break(lambda c: c.update(images={})), "'images' must be a list", id="images-dict"),
        pytest.param(
            _break(lambda c: c["annotations"][0].update(image_id=99)),
            "image_id 99, not in 'images'",
            id="bad-img",
        ),
        pytest.param(
            _break(lambda c: c["annotations"][0].update(category_id=42)),
            "category_id 42, not in 'categories'",
            id="bad-category",
        ),
        pytest.param(
            _break(lambda c: c["annotations"][0].pop("category_id")),
            "with image_id, category_id",
            id="no-cat",
        ),
        pytest.param(_break(lambda c: c["annotations"][0].update(bbox=[1, 2, 3])), "has bbox", id="bbox-len"),
        pytest.param(
            _break(lambda c: c["annotations"][0].update(bbox=[1, 2, -3, 4])), "w, h >= 0", id="neg-w"
        ),
        pytest.param(
            _break(lambda c: c["annotations"][0].update(bbox=None, segmentation={"counts": "x"})),
            "no 'bbox' and no polygon",
            id="no-bbox-rle",
        ),
        pytest.param(_break(lambda c: c["images"][0].pop("width")), r"images\[0\] must be", id="no-width"),
        pytest.param(_break(lambda c: c["images"][0].update(height=0)), "has size 400x0", id="zero-height"),
        pytest.param(
            _break(lambda c: c["images"].append(dict(c["images"][0]))), "appears twice", id="dup-img"
        ),
        pytest.param(_break(lambda c: c["categories"].append({"id": 5, "name": "x"})), "twice", id="dup-cat"),
    ],
)
def test_validate_coco_names_the_file_and_problem(coco: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=rf"^bad\.json: .*{message}"):
        validate_coco(copy.deepcopy(coco), name="bad.json")


def test_validate_coco_accepts_the_minimal_file() -> None:
    validate_coco(_coco({}), name="ok.json")


def test_objects_to_coco_rejects_unknown_image_or_category() -> None:
    images = [_record("aaaa000011112222", "one.jpg")]
    obj = ObjectAnnotation(image_id="aaaa000011112222", category="top", bbox_xyxy=(0, 0, 1, 1), dataset="t")
    with pytest.raises(InvalidInputError, match="category 'top'"):
        objects_to_coco(images, [obj], ["pants"])
    stray = ObjectAnnotation(image_id="elsewhere", category="top", bbox_xyxy=(0, 0, 1, 1), dataset="t")
    with pytest.raises(InvalidInputError, match="'elsewhere', which is not in images"):
        objects_to_coco(images, [stray], ["top"])
    with pytest.raises(InvalidInputError, match="unique"):
        objects_to_coco(images, [], ["top", "top"])


def test_objects_to_labels_maps_to_modanet_and_coarse() -> None:
    objects = [
        ObjectAnnotation(image_id="a", category=c, bbox_xyxy=(0, 0, 1, 1), dataset="t")
        for c in ("top", "pants", "top", "bag")
    ]
    filenames = {"a": "a.jpg", "b": "b.jpg"}
    a, b = objects_to_labels(objects, filenames, label_source="t", label_scheme="modanet")
    assert (a.image_filename, a.modanet_categories, a.coarse_category) == (
        "a.jpg",
        ("bag", "pants", "top"),
        "top+bottom",
    )
    assert a.attributes == {"categories": "bag|pants|top"}
    assert (b.modanet_categories, b.coarse_category) == ((), "other")
    (plain, _) = objects_to_labels(objects, filenames, label_source="t", label_scheme=None)
    assert (plain.modanet_categories, plain.coarse_category) == ((), "")


def test_used_categories_drops_roboflow_supercategory() -> None:
    coco = _coco({"category_id": 5})
    coco["categories"].insert(0, {"id": 99, "name": "clothes-xyz", "supercategory": "none"})
    assert used_categories(coco) == ["dress"]


@pytest.mark.parametrize(
    ("polygons", "expected"),
    [
        ([[1, 2, 3, 4, 0, 9]], (0.0, 2.0, 3.0, 9.0)),
        ([[1, 2], [5, 0]], (1.0, 0.0, 5.0, 2.0)),
        ([], None),
        ([[]], None),
    ],
)
def test_polygons_xyxy(polygons: list[list[float]], expected: tuple[float, ...] | None) -> None:
    assert polygons_xyxy(polygons) == expected
