"""The coarse garment category: train a linear probe on labelled embeddings, predict for all images."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.settings import Settings
from fashionlens.core.types import SOURCES
from fashionlens.models.artifacts import category_probe_path
from fashionlens.models.heads.linear_probe import LinearProbe
from fashionlens.store import filters
from fashionlens.store.catalog import Catalog

logger = logging.getLogger(__name__)

TASK = "category"


@dataclass
class CategoryReport:
    classifier_path: Path
    classifier_id: str
    n_train: int
    n_test: int
    accuracy: float
    macro_f1: float
    report_text: str
    split_method: str


classifier_path = category_probe_path


def labelled_images(catalog: Catalog, *, source: str | None = None) -> dict[str, tuple[str, str]]:
    """image_id -> (coarse_category, split) for catalogued images that carry a coarse label."""
    if source is not None and source not in SOURCES:
        raise InvalidInputError(f"source must be one of {', '.join(SOURCES)}; got {source!r}")
    where = filters.eq("source", source) if source else None
    images = catalog.read("images", where=where, columns=["image_id", "split"]).to_pylist()
    split_of = {r["image_id"]: r["split"] for r in images}
    out: dict[str, tuple[str, str]] = {}
    for row in catalog.read("labels", columns=["image_id", "coarse_category"]).to_pylist():
        if row["image_id"] in split_of and row["coarse_category"] and row["image_id"] not in out:
            out[row["image_id"]] = (row["coarse_category"], split_of[row["image_id"]])
    return out


def held_out_split(
    ids: list[str], y: list[str], splits: list[str], test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Use the dataset's own train/test split when both exist; else a stratified split by seed."""
    split_arr = np.asarray(splits)
    train = np.isin(split_arr, ["train"])
    test = np.isin(split_arr, ["test", "valid"])
    if train.any() and test.any() and len(set(np.asarray(y)[train])) >= 2:
        return np.flatnonzero(train), np.flatnonzero(test), "dataset split"
    from sklearn.model_selection import train_test_split

    counts = Counter(y)
    index = np.arange(len(ids))
    rare = np.asarray([counts[label] < 2 for label in y])
    tr, te = train_test_split(
        index[~rare], test_size=test_size, random_state=seed, stratify=np.asarray(y)[~rare]
    )
    return np.concatenate([tr, index[rare]]), te, f"stratified {test_size:.0%} held out (seed {seed})"


def train_category(
    catalog: Catalog,
    settings: Settings,
    backbone_id: str,
    *,
    source: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    C: float = 1.0,
) -> CategoryReport:
    """Fit the coarse-category probe on labelled embeddings; report on a held-out split; save it."""
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    labelled = labelled_images(catalog, source=source)
    embedded = set(catalog.embeddings(backbone_id).ids) if labelled else set()
    ids = sorted(i for i in labelled if i in embedded)
    if len(ids) < 4:
        raise NotReadyError(
            f"only {len(ids)} labelled images with {backbone_id} embeddings"
            f"{' from source ' + source if source else ''}; ingest labelled images "
            "(ccp, products, fashion-mnist, coco...) and run `fashionlens embed` first"
        )
    y = [labelled[i][0] for i in ids]
    x = catalog.embeddings(backbone_id, ids).vectors
    train_idx, test_idx, method = held_out_split(ids, y, [labelled[i][1] for i in ids], test_size, seed)
    probe = LinearProbe(backbone_id=backbone_id, task=TASK, C=C)
    probe.fit(x[train_idx], [y[i] for i in train_idx], seed=seed)
    y_test = [y[i] for i in test_idx]
    pred, _, _ = probe.predict(x[test_idx])
    accuracy = float(accuracy_score(y_test, pred))
    macro_f1 = float(f1_score(y_test, pred, average="macro", zero_division=0))
    text = classification_report(y_test, pred, zero_division=0, digits=3)
    probe.metrics = {
        "held_out_accuracy": accuracy,
        "held_out_macro_f1": macro_f1,
        "n_train": len(train_idx),
        "n_test": len(test_idx),
        "split": method,
        "source_filter": source or "all",
        "train_class_counts": dict(Counter(y[i] for i in train_idx)),
    }
    path = probe.save(classifier_path(settings, backbone_id))
    path.with_suffix(".report.txt").write_text(
        f"{probe.classifier_id}\nsplit: {method}; train {len(train_idx)}, test {len(test_idx)}\n\n{text}",
        encoding="utf-8",
    )
    logger.info("category probe: held-out accuracy %.3f on %d images", accuracy, len(test_idx))
    return CategoryReport(
        path, probe.classifier_id, len(train_idx), len(test_idx), accuracy, macro_f1, text, method
    )
