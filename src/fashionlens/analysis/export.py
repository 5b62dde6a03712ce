"""The enriched CSV for runway-vs-street analysis, with its feature matrix beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashionlens.core.errors import NotReadyError
from fashionlens.store import filters
from fashionlens.store.catalog import Catalog

logger = logging.getLogger(__name__)

COLUMNS = [
    "image_id",
    "source",
    "original_dataset",
    "image_path",
    "split",
    "feature_row",
    "pred_category",
    "pred_confidence",
    "label_coarse_category",
]


@dataclass
class ExportReport:
    csv_path: Path
    features_path: Path
    rows: int
    category_share: dict[str, dict[str, float]]  # source -> category -> share


def export_enriched(catalog: Catalog, backbone_id: str, out_csv: Path) -> ExportReport:
    """Write ``image_id,source,original_dataset,image_path,split,feature_row,pred_category,...``.

    ``feature_row`` indexes ``<out_csv stem>.features.npy`` (float32, L2-normalised, model
    ``backbone_id``). Images without a prediction are still written, with empty prediction columns.
    """

    emb = catalog.embeddings(backbone_id)
    if len(emb) == 0:
        raise NotReadyError(f"no {backbone_id} embeddings to export; run `fashionlens embed`")
    images = catalog.read("images").to_pandas()
    frame = images[images["image_id"].isin(set(emb.ids))].copy()
    row_of = {image_id: i for i, image_id in enumerate(emb.ids)}
    frame["feature_row"] = frame["image_id"].map(row_of).astype(int)
    preds = catalog.read(
        "predictions",
        where=filters.and_(filters.eq("task", "category"), filters.eq("backbone_id", backbone_id)),
    ).to_pandas()
    preds = preds.rename(columns={"label": "pred_category", "confidence": "pred_confidence"})
    frame = frame.merge(
        preds[["image_id", "pred_category", "pred_confidence"]].drop_duplicates("image_id"),
        on="image_id",
        how="left",
    )
    labels = catalog.read("labels").to_pandas()
    labels = labels[labels["coarse_category"] != ""].drop_duplicates("image_id")
    labels = labels.rename(columns={"coarse_category": "label_coarse_category"})
    frame = frame.merge(labels[["image_id", "label_coarse_category"]], on="image_id", how="left")
    frame = frame.sort_values("feature_row")[COLUMNS]
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_csv, index=False, float_format="%.4f")
    features_path = out_csv.with_suffix(".features.npy")
    np.save(features_path, emb.vectors)
    share = (
        frame.dropna(subset=["pred_category"])
        .groupby("source")["pred_category"]
        .value_counts(normalize=True)
        .round(4)
    )
    category_share: dict[str, dict[str, float]] = {}
    for (source, category), value in share.items():
        category_share.setdefault(str(source), {})[str(category)] = float(value)
    logger.info("wrote %d rows to %s and features to %s", len(frame), out_csv, features_path)
    return ExportReport(out_csv, features_path, len(frame), category_share)
