"""The fine-tuned backbones the package ships, used offline as a new user would.

- ``mobilenet_v2.clothing``: the 10-class garment classifier on photos of clothing/validation
  (its test set: never trained on; measured 0.897 on all 341);
- ``mobilenet_v2.products``: attributes for the default backbone now come from the fine-tuned
  space (the default settings, no classifier of your own).
"""

from __future__ import annotations

import csv
from pathlib import Path

from fashionlens.core.settings import load_settings
from fashionlens.models import factory
from fashionlens.services.attributes import predict_attributes_for_images

PER_CLASS = 4


def test_the_shipped_garment_classifier_on_held_out_photos(shared_data: Path) -> None:
    settings = load_settings({"backbone": "mobilenet_v2.clothing"})
    root = shared_data / "clothing" / "validation"
    photos, truth = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for photo in sorted(folder.iterdir())[:PER_CLASS]:
            photos.append(photo)
            truth.append(folder.name)
    records = predict_attributes_for_images(photos, settings)
    predicted = [r["predictions"]["label"] for r in records]
    accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)
    assert len(set(truth)) == 10 and accuracy >= 0.75, (accuracy, predicted)


def test_default_attributes_come_from_the_fine_tuned_space(shared_data: Path) -> None:
    settings = load_settings({})
    path, space = factory.attribute_classifier_space(
        settings, "mobilenet_v2.imagenet+onnx-int8", allow_finetuned=True
    )
    assert space == "mobilenet_v2.products" and path.name == "mobilenet_v2.products.pt"
    # without the opt-in (callers that reuse the search vector) the classifier stays in the search space
    same = factory.attribute_classifier_space(settings, "mobilenet_v2.imagenet+onnx-int8")
    assert same[1] == "mobilenet_v2.imagenet+onnx-int8"
    with (shared_data / "products" / "styles.csv").open(newline="", encoding="utf-8") as fh:
        rows = [r for _, r in zip(range(40), csv.DictReader(fh), strict=False)]
    photos = [shared_data / "products" / "images" / f"{r['id']}.jpg" for r in rows]
    records = predict_attributes_for_images(photos, settings)
    hits = sum(
        rec["predictions"]["articleType"] == r["articleType"] for rec, r in zip(records, rows, strict=True)
    )
    assert hits / len(rows) >= 0.75  # these are training products: a sanity check, not the figure
