"""Predict the coarse category of every embedded image with the trained probe."""

from __future__ import annotations

from fashionlens.core.settings import Settings
from fashionlens.models.heads.linear_probe import LinearProbe
from fashionlens.store.catalog import Catalog, Prediction
from fashionlens.training.category import TASK, classifier_path


def predict_category(catalog: Catalog, settings: Settings, backbone_id: str, batch: int = 4096) -> int:
    """Label every embedded image with the trained probe; upsert into the predictions table."""
    probe = LinearProbe.load(classifier_path(settings, backbone_id))
    emb = catalog.embeddings(backbone_id)
    written = 0
    for start in range(0, len(emb), batch):
        ids = emb.ids[start : start + batch]
        labels, conf, proba = probe.predict(emb.vectors[start : start + batch])
        catalog.upsert_predictions(
            Prediction(
                i,
                TASK,
                probe.classifier_id,
                backbone_id,
                lab,
                float(c),
                dict(zip(probe.classes, p, strict=True)),
            )
            for i, lab, c, p in zip(ids, labels, conf, proba, strict=True)
        )
        written += len(ids)
    return written
