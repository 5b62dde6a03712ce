"""The record checks refuse nothing in the real datasets: every real COCO file passes
`validate_coco` strictly, and the readers skip no record of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashionlens.ingest.coco import load_coco_json, load_coco_records

REAL_COCO = (
    ("modanet", "modanetAnnotations", "instances_val.json"),
    ("modanet", "modanetAnnotations", "instances_test.json"),
    ("fashionpedia", "data", "sample.json"),
    ("deepfashion2-coco", "tests", "data", "deepfasion2", "deepfasion2.json"),
)


@pytest.mark.parametrize("parts", REAL_COCO, ids=lambda p: p[-1])
def test_real_coco_files_pass(shared_data: Path, parts: tuple[str, ...]) -> None:
    path = shared_data.joinpath(*parts)
    coco = load_coco_json(path)  # strict: raises on the first bad record
    clean, skipped = load_coco_records(path)
    assert skipped == []
    assert len(clean["annotations"]) == len(coco["annotations"]) > 0
    assert len(clean["images"]) == len(coco["images"])
