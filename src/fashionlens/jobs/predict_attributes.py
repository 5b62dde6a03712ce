"""Store attribute predictions for every embedded catalogue image."""

from __future__ import annotations

import numpy as np

from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.models.heads.attributes import AttributeClassifier, extra_features_for
from fashionlens.store.catalog import Catalog, Prediction
from fashionlens.training.attributes import TASK_PREFIX, PredictReport, classifier_path


def predict_catalog_attributes(
    catalog: Catalog,
    settings: Settings,
    backbone_id: str,
    *,
    batch: int = 2048,
    progress: Progress = NO_PROGRESS,
) -> PredictReport:
    """Predict every attribute of every embedded image; upsert into the predictions table as
    ``task = "attribute:<name>"``. An image whose file the colour descriptor cannot read is
    skipped and listed (``settings.skip_failures``; else the error is raised)."""
    classifier = AttributeClassifier.load(classifier_path(settings, backbone_id))
    emb = catalog.embeddings(backbone_id)
    rows = {
        r["image_id"]: r
        for r in catalog.read("images", columns=["image_id", "image_path", "content_hash"]).to_pylist()
    }
    ids = [i for i in emb.ids if i in rows]
    progress.start(len(ids), "predict attributes")
    keep = np.asarray([i in rows for i in emb.ids], dtype=bool)
    vectors = emb.vectors[keep]
    report = PredictReport(0, [])
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        x = vectors[start : start + batch]
        extra = extra_features_for(
            classifier,
            [rows[i]["image_path"] for i in chunk],
            [rows[i]["content_hash"] for i in chunk],
            settings.cache_dir,
            report.skipped if settings.skip_failures else None,
        )
        if extra is not None:
            ok = np.isfinite(extra).all(axis=1)
            chunk, x, extra = [i for i, k in zip(chunk, ok, strict=True) if k], x[ok], extra[ok]
        pred = classifier.predict(x, extra)
        catalog.upsert_predictions(
            Prediction(
                image_id,
                f"{TASK_PREFIX}{name}",
                classifier.classifier_id,
                backbone_id,
                pred.labels[name][k],
                float(pred.confidences[name][k]),
                dict(
                    zip(classifier.encoders[name].classes, pred.probabilities[name][k].tolist(), strict=True)
                ),
            )
            for k, image_id in enumerate(chunk)
            for name in classifier.heads
        )
        report.predicted += len(chunk)
        progress.advance(min(batch, len(ids) - start))
    return report
