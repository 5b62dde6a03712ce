"""Attributes of a few images (files, PIL images or arrays) from the trained multi-head classifier."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings
from fashionlens.models.heads.attributes import extra_features_for


def predict_attributes_for_images(
    paths: Sequence[str | Path], settings: Settings, backbone_id: str | None = None, *, chunk: int = 256
) -> list[dict[str, dict[str, Any]]]:
    """Embed image files and predict their attributes.

    Returns one ``{"predictions": {attr: label}, "confidences": {attr: float}}`` per path, in
    order. A path that does not exist or is not an image raises `InvalidInputError` naming it.
    """
    from fashionlens.ingest.images import open_rgb
    from fashionlens.models import factory
    from fashionlens.models.registry import get_spec

    if not paths:
        raise InvalidInputError("no image paths given")
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InvalidInputError(f"{missing[0]}: file not found{more}")
    # the classifier's own embedding space: fp32 vectors (torch or ONNX fp32, identical)
    model_id = backbone_id or get_spec(settings.backbone).name
    from fashionlens.models.heads.attributes import AttributeClassifier

    path, space = factory.attribute_classifier_space(settings, model_id, allow_finetuned=True)
    classifier = AttributeClassifier.load(path)
    backbone = factory.backbone_for_model_id(settings, space)
    records: list[dict[str, dict[str, Any]]] = []
    for start in range(0, len(paths), chunk):
        part = [str(p) for p in paths[start : start + chunk]]
        vectors = backbone.embed([open_rgb(p) for p in part])
        records += classifier.predict(
            vectors, extra_features_for(classifier, part, None, settings.cache_dir)
        ).records()
    return records
