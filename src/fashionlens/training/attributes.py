"""Product attributes (articleType, colour group, season, gender, usage) from frozen embeddings.

`train_attributes` fits `fashionlens.models.heads.attributes.AttributeClassifier` on the stored
embeddings of one backbone and the catalogue's per-image attribute labels (``styles.csv`` columns):

* a held-out test split, stratified by articleType (classes with fewer than
  ``RARE_FOR_SPLIT`` images all go to train), split by ``image_id``: the catalogue dedupes
  identical photos by content hash, so one photo can never sit on both sides;
* a validation split carved from the train part the same way; early stopping and every tuning
  choice look at it, never at the test split;
* per head, classes with fewer than ``min_class_count`` training images are pruned; their rows,
  like rows without a label, are masked out of that head's loss only;
* AdamW, linear warm-up then cosine decay, class-weighted cross-entropy (weights aligned with
  each head's encoder), checkpoints ``checkpoints/best.pt`` and ``checkpoints/last.pt`` (the
  latter resumable) under ``settings.models_dir/attributes/<backbone>/``;
* a report per head on the test split (accuracy, macro-F1, majority baseline, confusion-matrix PNG).

The colour head may also see a Lab colour histogram of the image (`pipeline.colour_features`),
computed from the image files and cached by content hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.analysis.attributes_report import HeadReport, evaluate_heads, write_report
from fashionlens.core.errors import InvalidInputError, NotReadyError
from fashionlens.core.labels import colour_group
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.core.types import Skipped
from fashionlens.models.artifacts import attribute_classifier_dir, attribute_classifier_path
from fashionlens.models.colour.features import FEATURE_ID as COLOUR_FEATURE_ID
from fashionlens.models.colour.features import colour_features_for
from fashionlens.models.heads.attributes import AttributeClassifier, AttributeConfig, LabelEncoder
from fashionlens.store.catalog import Catalog
from fashionlens.training import attributes_fit as trainer

logger = logging.getLogger(__name__)

ATTRIBUTES: tuple[str, ...] = ("articleType", "baseColour", "season", "gender", "usage")
COLOUR_ATTRIBUTE = "baseColour"
MISSING_VALUES = frozenset({"", "na", "n/a", "nan", "none", "null"})
RARE_FOR_SPLIT = 5  # articleType classes with fewer images than this all go to train
TASK_PREFIX = "attribute:"


@dataclass
class PredictReport:
    predicted: int
    skipped: list[Skipped]


def target_label(attribute: str, raw: object) -> str | None:
    """The label a head learns from a raw catalogue value; None when there is none.

    Missing values (empty, ``NA``...) are None. ``baseColour`` is grouped with
    `fashionlens.core.labels.colour_group` (``Navy Blue`` -> ``blue``); a raw colour without a
    group (``Multi``) is None for that head only.
    """
    if raw is None:
        return None
    value = str(raw).strip()
    if value.lower() in MISSING_VALUES:
        return None
    if attribute == COLOUR_ATTRIBUTE:
        return colour_group(value)
    return value


@dataclass
class AttributeData:
    """Embedded, labelled images: ids, ``float32 (N, D)`` embeddings, per-attribute labels."""

    ids: list[str]
    vectors: np.ndarray
    labels: dict[str, list[str | None]]
    paths: list[str]
    content_hashes: list[str]
    backbone_id: str
    splits: list[str] = field(default_factory=list)  # each image's recorded split (train, valid...)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask: np.ndarray) -> AttributeData:
        keep = np.flatnonzero(mask)
        return AttributeData(
            [self.ids[i] for i in keep],
            self.vectors[keep],
            {a: [v[i] for i in keep] for a, v in self.labels.items()},
            [self.paths[i] for i in keep],
            [self.content_hashes[i] for i in keep],
            self.backbone_id,
            [self.splits[i] for i in keep] if self.splits else [],
        )


def load_attribute_data(
    catalog: Catalog, backbone_id: str, attributes: Sequence[str] = ATTRIBUTES
) -> AttributeData:
    """Catalogued images with at least one attribute label and a ``backbone_id`` embedding."""
    images = {
        r["image_id"]: r
        for r in catalog.read(
            "images", columns=["image_id", "image_path", "content_hash", "split"]
        ).to_pylist()
    }
    raw: dict[str, dict[str, object]] = {}
    seen: set[str] = set()
    for row in catalog.read("labels", columns=["image_id", "attributes_json"]).to_pylist():
        if row["image_id"] not in images or row["image_id"] in raw or not row["attributes_json"]:
            continue
        attrs = json.loads(row["attributes_json"])
        if isinstance(attrs, dict):
            seen.update(str(k) for k in attrs)
            if any(a in attrs for a in attributes):
                raw[row["image_id"]] = attrs
    if not raw:
        have = (
            f"the catalogue's labels have: {', '.join(sorted(seen))}" if seen else "no labels are catalogued"
        )
        raise NotReadyError(
            f"no catalogued images carry any of the attributes {', '.join(attributes)} ({have}); "
            "ingest a product catalogue (`fashionlens ingest products DIR`) or a labelled folder "
            "(`ingest folder DIR --labels-from-subfolders`, attribute `label`)"
        )
    emb = catalog.embeddings(backbone_id)
    # sorted by image id: every backbone's embeddings give the same rows in the same order, so
    # the split (drawn from positions) is the same whichever space the heads learn in
    rows = sorted((i, n) for n, i in enumerate(emb.ids) if i in raw)
    ids = [i for i, _ in rows]
    keep = np.asarray([n for _, n in rows], dtype=np.int64)
    if len(ids) < len(raw):
        logger.warning("%d labelled images have no %s embedding yet", len(raw) - len(ids), backbone_id)
    labels = {a: [target_label(a, raw[i].get(a)) for i in ids] for a in attributes}
    return AttributeData(
        ids,
        emb.vectors[keep],
        labels,
        [images[i]["image_path"] for i in ids],
        [images[i]["content_hash"] for i in ids],
        backbone_id,
        [images[i]["split"] or "unsplit" for i in ids],
    )


def stratified_split(
    strata: Sequence[str | None], test_size: float, seed: int, rare: int = RARE_FOR_SPLIT
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: ``test_size`` held out, stratified by ``strata`` (rows without
    one form one more stratum); rows of a stratum with fewer than ``rare`` members stay in ``keep``."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise InvalidInputError(f"test_size must be in (0, 1); got {test_size}")
    y = np.asarray([s or "" for s in strata], dtype=object)
    counts = Counter(y.tolist())
    index = np.arange(len(y))
    is_rare = np.asarray([counts[s] < max(rare, 2) for s in y], dtype=bool)
    common = index[~is_rare]
    if len(common) < 2 or round(len(common) * test_size) < len(set(y[common].tolist())):
        raise InvalidInputError(
            f"too few labelled images ({len(y)}) to hold out {test_size:.0%} stratified by articleType"
        )
    keep, held = train_test_split(common, test_size=test_size, random_state=seed, stratify=y[common])
    return np.sort(np.concatenate([keep, index[is_rare]])), np.sort(held)


SPLIT_METHODS = ("auto", "recorded", "stratified")


def draw_split(
    data: AttributeData,
    strata: Sequence[str | None],
    method: str,
    test_size: float,
    val_size: float,
    seed: int,
    stratum: str = "articleType",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``(train, validation, test)`` indices and a sentence saying how they were drawn.

    ``recorded``: the splits the images were ingested with (``train/`` and ``validation/``
    folders, a COCO export's splits): ``test`` images are the test set (``valid`` ones then
    validate), else the ``valid`` images are; validation is otherwise carved from ``train``.
    ``stratified``: ``test_size`` held out, stratified by ``strata``. ``auto``: recorded when the
    labelled images have both train and valid/test images, else stratified.
    """
    if method not in SPLIT_METHODS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLIT_METHODS)}; got {method!r}")
    splits = np.asarray(data.splits or ["unsplit"] * len(data), dtype=object)
    recorded = bool((splits == "train").any() and np.isin(splits, ("valid", "test")).any())
    if method == "recorded" and not recorded:
        raise InvalidInputError(
            "split=recorded: the labelled images were not ingested with train and valid/test splits "
            f"(found {', '.join(sorted(set(splits.tolist())))})"
        )
    if method == "recorded" or (method == "auto" and recorded):
        has_test = bool((splits == "test").any())
        test_idx = np.flatnonzero(splits == ("test" if has_test else "valid"))
        train_pool = np.flatnonzero(splits == "train")
        if has_test and (splits == "valid").any():
            val_idx, train_idx = np.flatnonzero(splits == "valid"), train_pool
            how = "the recorded splits: train, valid (validation), test"
        else:
            sub_train, sub_val = stratified_split([strata[int(i)] for i in train_pool], val_size, seed + 1)
            train_idx, val_idx = train_pool[sub_train], train_pool[sub_val]
            how = (
                f"the recorded splits: {'test' if has_test else 'valid'} images are the test set, "
                f"{val_size:.0%} of train validates (seed {seed})"
            )
        return train_idx, val_idx, test_idx, how
    fit_idx, test_idx = stratified_split(strata, test_size, seed)
    sub_train, sub_val = stratified_split([strata[i] for i in fit_idx], val_size, seed + 1)
    how = (
        f"stratified by {stratum}: {test_size:.0%} test, {val_size:.0%} of the rest validation "
        f"(seed {seed}; {stratum} classes with < {RARE_FOR_SPLIT} images kept in train)"
    )
    return fit_idx[sub_train], fit_idx[sub_val], test_idx, how


@dataclass(frozen=True)
class AttributeReport:
    classifier_path: Path
    classifier_id: str
    backbone_id: str
    n_train: int
    n_val: int
    n_test: int
    split_method: str
    heads: dict[str, HeadReport]
    skipped_heads: dict[str, str]
    best_epoch: int
    epochs_run: int
    seconds: float
    report_path: Path
    history: list[dict[str, Any]] = field(default_factory=list)
    skipped_images: list[Skipped] = field(default_factory=list)

    def table(self) -> str:
        """One line per head: accuracy, macro-F1, majority baseline, classes."""
        lines = [f"{'head':<12} {'accuracy':>8} {'macro-F1':>8} {'majority':>8} {'classes':>7} {'n_test':>6}"]
        for name, h in self.heads.items():
            lines.append(
                f"{name:<12} {h.accuracy:>8.3f} {h.macro_f1:>8.3f} {h.majority_accuracy:>8.3f} "
                f"{len(h.classes):>7} {h.n_test:>6}"
            )
        for name, why in self.skipped_heads.items():
            lines.append(f"{name:<12} not trained: {why}")
        return "\n".join(lines)


classifier_dir = attribute_classifier_dir
classifier_path = attribute_classifier_path


def build_encoders(
    labels: dict[str, list[str | None]], fit_idx: np.ndarray, min_class_count: int
) -> tuple[list[LabelEncoder], dict[str, str]]:
    """One encoder per attribute from the training rows; attributes with < 2 classes left are skipped."""
    encoders, skipped = [], {}
    for name, values in labels.items():
        enc = LabelEncoder.fit(name, (values[i] for i in fit_idx), min_count=min_class_count)
        if len(enc) < 2:
            n_labelled = sum(1 for i in fit_idx if values[i])
            skipped[name] = (
                f"{len(enc)} class(es) with >= {min_class_count} training images "
                f"({n_labelled} labelled training images)"
            )
            logger.warning("attribute %s not trained: %s", name, skipped[name])
            continue
        encoders.append(enc)
    if not encoders:
        raise InvalidInputError(f"no attribute has 2 or more trainable classes: {skipped}")
    return encoders, skipped


def train_attributes(
    catalog: Catalog,
    settings: Settings,
    backbone_id: str,
    *,
    attributes: Sequence[str] = ATTRIBUTES,
    epochs: int = 80,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    batch_size: int = 128,
    patience: int = 12,
    min_class_count: int = 10,
    test_size: float = 0.2,
    val_size: float = 0.15,
    seed: int = 0,
    hidden: Sequence[int] = (1024,),
    dropout: float = 0.5,
    input_dropout: float = 0.2,
    label_smoothing: float = 0.1,
    class_weight_power: float = 0.5,
    colour_features: bool = True,
    colour_hidden: int = 256,
    split: str = "auto",
    resume: bool = False,
    progress: Progress = NO_PROGRESS,
) -> AttributeReport:
    """Train the multi-head attribute classifier, report on the held-out split, save it.

    Defaults were chosen on the validation split of the product catalogue (see
    ``benchmarks/bench_attributes.py``): one shared layer of 1024 units, dropout 0.5 (0.2 on the
    input), label smoothing 0.1, square-root class weights (``class_weight_power=0.5``; fully
    balanced weights made the gender head collapse onto the two rare classes), and, with
    ``colour_features``, a Lab colour histogram fed with the trunk's output into a colour head with
    ``colour_hidden`` hidden units.

    ``attributes``: label names in the catalogue's labels (``styles.csv`` columns, or ``label``
    for ``ingest folder --labels-from-subfolders``). ``split``: see `draw_split`.

    ``progress.advance(1)`` after each epoch (``progress.start(epochs)`` first). With ``resume``, a
    ``checkpoints/last.pt`` from an interrupted run on the same data and settings is continued.
    """
    started = time.perf_counter()
    if not attributes or any(not str(a).strip() for a in attributes):
        raise InvalidInputError(
            f"attributes: expected label names (the catalogue's {', '.join(ATTRIBUTES)}, or `label` "
            f"for folder labels); got {list(attributes)}"
        )
    options = trainer.TrainOptions(
        epochs=epochs,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        patience=patience,
        label_smoothing=label_smoothing,
        class_weight_power=class_weight_power,
        seed=seed,
        num_threads=settings.num_threads or 1,  # see attributes_train.torch_threads
    )
    if min_class_count < 1:
        raise InvalidInputError(f"min_class_count must be >= 1; got {min_class_count}")
    data = load_attribute_data(catalog, backbone_id, attributes)
    extra: np.ndarray | None = None
    skipped_images: list[Skipped] = []
    if colour_features and COLOUR_ATTRIBUTE in attributes:
        extra = colour_features_for(data.paths, data.content_hashes, settings.cache_dir, skipped_images)
        ok = np.isfinite(extra).all(axis=1)
        if not ok.all():
            logger.warning("%d images left out: their colour descriptor failed", int((~ok).sum()))
            data, extra = data.subset(ok), extra[ok]
    stratum = "articleType" if "articleType" in data.labels else attributes[0]
    train_idx, val_idx, test_idx, method = draw_split(
        data, data.labels[stratum], split, test_size, val_size, seed, stratum
    )
    encoders, skipped = build_encoders(data.labels, train_idx, min_class_count)
    targets = {e.name: e.encode(data.labels[e.name]) for e in encoders}

    out_dir = classifier_dir(settings, backbone_id)
    use_colour = extra is not None and any(e.name == COLOUR_ATTRIBUTE for e in encoders)
    if not use_colour:
        extra = None
    config = AttributeConfig(
        input_dim=data.vectors.shape[1],
        hidden=tuple(int(h) for h in hidden),
        dropout=dropout,
        input_dropout=input_dropout,
        extra_dim=0 if extra is None else extra.shape[1],
        extra_heads=(COLOUR_ATTRIBUTE,) if use_colour else (),
        extra_feature=COLOUR_FEATURE_ID if use_colour else "",
        extra_hidden=colour_hidden if use_colour else 0,
    )
    train_config = {
        **asdict(options),
        "min_class_count": min_class_count,
        "test_size": test_size,
        "val_size": val_size,
        "attributes": list(attributes),
        "split": split,
    }
    classifier = AttributeClassifier(backbone_id, encoders, config, train_config=train_config)
    signature = _signature(data.ids, train_idx, val_idx, classifier.card())
    progress.start(options.epochs, "train attributes (epochs)")
    fit = trainer.fit(
        classifier,
        data.vectors,
        extra,
        targets,
        train_idx,
        val_idx,
        options,
        checkpoint_dir=out_dir / "checkpoints",
        signature=signature,
        resume=resume,
        progress=progress,
    )
    for old in out_dir.glob("confusion_*.png"):  # a head trained last time may be gone now
        old.unlink()
    heads = evaluate_heads(classifier, data, extra, train_idx, test_idx, out_dir)
    classifier.metrics = {
        "split": method,
        "n_train": len(train_idx),
        "n_val": len(val_idx),
        "n_test": len(test_idx),
        "best_epoch": fit.best_epoch,
        "epochs_run": fit.epochs_run,
        "best_val_score": fit.best_score,
        "skipped_heads": skipped,
        "skipped_images": [asdict(s) for s in skipped_images],
        "heads": {name: h.summary() for name, h in heads.items()},
        "test_ids_sha256": hashlib.sha256("\n".join(data.ids[i] for i in test_idx).encode()).hexdigest(),
    }
    path = classifier.save(classifier_path(settings, backbone_id))
    report = AttributeReport(
        path,
        classifier.classifier_id,
        backbone_id,
        len(train_idx),
        len(val_idx),
        len(test_idx),
        method,
        heads,
        skipped,
        fit.best_epoch,
        fit.epochs_run,
        time.perf_counter() - started,
        out_dir / "report.txt",
        fit.history,
        skipped_images,
    )
    write_report(report.report_path, classifier.classifier_id, method, report.table(), heads)
    logger.info("attribute classifier saved to %s\n%s", path, report.table())
    return report


def _signature(ids: list[str], train_idx: np.ndarray, val_idx: np.ndarray, card: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update("\n".join(ids[i] for i in train_idx).encode())
    h.update(b"|")
    h.update("\n".join(ids[i] for i in val_idx).encode())
    h.update(json.dumps({k: card[k] for k in ("heads", "config", "train_config")}, sort_keys=True).encode())
    return h.hexdigest()
