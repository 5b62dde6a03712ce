"""Arrow schemas of the catalogue tables. Boxes are absolute pixel xyxy; JSON columns are strings."""

from __future__ import annotations

import re

import pyarrow as pa

IMAGES = pa.schema(
    [
        pa.field("image_id", pa.string(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("original_dataset", pa.string()),
        pa.field("image_path", pa.string()),
        pa.field("split", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("content_hash", pa.string()),
    ]
)

ANNOTATIONS = pa.schema(
    [
        pa.field("annotation_key", pa.string(), nullable=False),
        pa.field("image_id", pa.string()),
        pa.field("dataset", pa.string()),
        pa.field("category", pa.string()),
        pa.field("bbox_xyxy", pa.list_(pa.float32(), 4)),
        pa.field("area", pa.float32()),
        pa.field("segmentation_json", pa.string()),
        pa.field("attributes_json", pa.string()),
    ]
)

LABELS = pa.schema(
    [
        pa.field("label_key", pa.string(), nullable=False),
        pa.field("image_id", pa.string()),
        pa.field("image_filename", pa.string()),
        pa.field("label_source", pa.string()),
        pa.field("modanet_categories", pa.string()),  # "|"-joined, sorted
        pa.field("coarse_category", pa.string()),
        pa.field("attributes_json", pa.string()),
    ]
)

PREDICTIONS = pa.schema(
    [
        pa.field("prediction_key", pa.string(), nullable=False),
        pa.field("image_id", pa.string()),
        pa.field("task", pa.string()),
        pa.field("classifier_id", pa.string()),
        pa.field("backbone_id", pa.string()),
        pa.field("label", pa.string()),
        pa.field("confidence", pa.float32()),
        pa.field("scores_json", pa.string()),
    ]
)


def embeddings_schema(dim: int, model_id: str) -> pa.Schema:
    return pa.schema(
        [
            pa.field("image_id", pa.string(), nullable=False),
            pa.field("content_hash", pa.string()),
            pa.field("model_id", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
        ],
        metadata={"model_id": model_id, "dim": str(dim)},
    )


def embeddings_table_name(model_id: str) -> str:
    """One table per embedding space: ``embeddings__resnet50_imagenet``."""
    return "embeddings__" + re.sub(r"[^0-9A-Za-z]+", "_", model_id).strip("_").lower()
