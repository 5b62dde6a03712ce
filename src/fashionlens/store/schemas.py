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


# -- search ---------------------------------------------------------------------------------
SEARCH_METADATA_COLUMNS: tuple[str, ...] = (
    "image_id",
    "content_hash",
    "source",
    "original_dataset",
    "split",
    "category",
    "category_from",
    "colour",
    "colour_from",
    "article_type",
    "image_path",
)
"""The denormalised columns of a search table, beside ``vector``; filters run on them."""


def search_schema(dim: int, model_id: str, fingerprint: str = "") -> pa.Schema:
    """One search table per embedding space: the vector plus the metadata that filters need.

    ``category`` is the predicted coarse category (``category_from = "prediction"``), else the
    labelled one (``"label"``); ``colour`` is the catalogue colour group (``"label"``), else a
    colour prediction (``"prediction"``). Missing values are empty strings, so SQL filters on
    them never meet NULL.
    """
    fields = [pa.field("image_id", pa.string(), nullable=False)]
    fields += [pa.field(name, pa.string()) for name in SEARCH_METADATA_COLUMNS[1:]]
    fields.append(pa.field("vector", pa.list_(pa.float32(), dim)))
    return pa.schema(fields, metadata={"model_id": model_id, "dim": str(dim), "fingerprint": fingerprint})


def search_table_name(model_id: str) -> str:
    """``search__mobilenet_v2_imagenet``: the search table of one embedding space."""
    return "search__" + embeddings_table_name(model_id).removeprefix("embeddings__")


SEARCH_STATE = pa.schema(
    [
        pa.field("model_id", pa.string(), nullable=False),
        pa.field("table_name", pa.string()),
        pa.field("fingerprint", pa.string()),
        pa.field("rows", pa.int64()),
        pa.field("ann_index", pa.string()),  # "" when searched exactly
        pa.field("ann_threshold", pa.int64()),  # rows from which queries use the index
        pa.field("source_versions_json", pa.string()),  # table -> LanceDB version at build time
        pa.field("built_at", pa.string()),
    ]
)

SEARCH_RESULTS = pa.schema(
    [
        pa.field("result_key", pa.string(), nullable=False),  # "<model_id>|<query>|<rank>"
        pa.field("query", pa.string()),
        pa.field("query_kind", pa.string()),  # image | image_id | text
        pa.field("model_id", pa.string()),
        pa.field("rank", pa.int32()),
        pa.field("image_id", pa.string()),
        pa.field("score", pa.float32()),
        pa.field("image_path", pa.string()),
        pa.field("filters", pa.string()),
        pa.field("searched_at", pa.string()),
    ]
)


# -- segmentation ---------------------------------------------------------------------------
PEOPLE = pa.schema(
    [
        pa.field("person_key", pa.string(), nullable=False),  # "<image_id>|<segmenter_id>|<index>"
        pa.field("image_id", pa.string()),  # the photo the person was found in
        pa.field("person_image_id", pa.string()),  # the white-background crop, an image of its own
        pa.field("segmenter_id", pa.string()),
        pa.field("person_index", pa.int32()),  # left to right
        pa.field("bbox_xyxy", pa.list_(pa.float32(), 4)),
        pa.field("area", pa.int64()),  # mask pixels
        pa.field("score", pa.float32()),
        pa.field("mask_rle_json", pa.string()),  # COCO uncompressed RLE over the full photo
        pa.field("crop_path", pa.string()),
    ]
)

GARMENTS = pa.schema(
    [
        pa.field("garment_key", pa.string(), nullable=False),  # "<image_id>|<segmenter_id>|<index>"
        pa.field("image_id", pa.string()),
        pa.field("person_key", pa.string()),  # "" when the garment overlaps no person
        pa.field("segmenter_id", pa.string()),
        pa.field("garment_index", pa.int32()),
        pa.field("category", pa.string()),  # one of the 13 ModaNet categories
        pa.field("score", pa.float32()),
        pa.field("bbox_xyxy", pa.list_(pa.float32(), 4)),
        pa.field("area", pa.int64()),
        pa.field("mask_rle_json", pa.string()),
        pa.field("colour", pa.string()),  # dominant named colour of the masked pixels
        pa.field("colours_json", pa.string()),  # [{name, share, hex}, ...]
        pa.field("crop_path", pa.string()),
    ]
)

SEGMENT_STATUS = pa.schema(
    [
        pa.field("status_key", pa.string(), nullable=False),  # "<image_id>|<task>|<segmenter_id>"
        pa.field("image_id", pa.string()),
        pa.field("task", pa.string()),  # people | garments
        pa.field("segmenter_id", pa.string()),
        pa.field("found", pa.int32()),
        pa.field("overlay_path", pa.string()),
        pa.field("done_at", pa.string()),
    ]
)


def garment_embeddings_table_name(model_id: str) -> str:
    """Garment-crop vectors of one embedding space (keyed by ``garment_key``)."""
    return "garment_" + embeddings_table_name(model_id)
