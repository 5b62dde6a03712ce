"""The per-head report of the attribute classifier on the held-out split, and its confusion matrices.

Per head, on the test images that carry a label the head knows (a class it was trained on):
accuracy, macro-F1 over the head's classes, the majority-class baseline (the most common
training class), a classification report, and a row-normalised confusion-matrix PNG
(matplotlib's Agg canvas; no global backend is touched). ``strict_accuracy`` also counts the
test images whose label the head cannot predict (a pruned class) as errors.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fashionlens.render.confusion import save_confusion_png

if TYPE_CHECKING:
    from fashionlens.models.heads.attributes import AttributeClassifier
    from fashionlens.training.attributes import AttributeData


@dataclass(frozen=True)
class HeadReport:
    name: str
    classes: tuple[str, ...]
    n_train: int
    n_test: int  # test images with a label of one of ``classes``
    n_test_unscored: int  # test images with a label the head does not know (pruned class)
    accuracy: float
    macro_f1: float
    strict_accuracy: float
    majority_label: str
    majority_accuracy: float
    report_text: str
    confusion_png: Path | None

    def summary(self) -> dict[str, Any]:
        return {
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "strict_accuracy": round(self.strict_accuracy, 4),
            "majority_label": self.majority_label,
            "majority_accuracy": round(self.majority_accuracy, 4),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_test_unscored": self.n_test_unscored,
            "n_classes": len(self.classes),
        }


def evaluate_heads(
    classifier: AttributeClassifier,
    data: AttributeData,
    extra: np.ndarray | None,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    out_dir: Path | None,
) -> dict[str, HeadReport]:
    """Score every head of ``classifier`` on ``test_idx``; write confusion PNGs into ``out_dir``."""
    from sklearn.metrics import classification_report, confusion_matrix, f1_score

    pred = classifier.predict(data.vectors[test_idx], None if extra is None else extra[test_idx])
    reports = {}
    for name in classifier.heads:
        enc = classifier.encoders[name]
        labels = data.labels[name]
        y_true = [labels[i] for i in test_idx]
        y_pred = pred.labels[name]
        known = set(enc.classes)
        scored = [k for k, y in enumerate(y_true) if y in known]
        labelled = [k for k, y in enumerate(y_true) if y]
        t = [y_true[k] for k in scored]
        p = [y_pred[k] for k in scored]
        train_counts = Counter(labels[i] for i in train_idx if labels[i] in known)
        majority = train_counts.most_common(1)[0][0] if train_counts else enc.classes[0]
        n = max(len(scored), 1)
        png = None
        if out_dir is not None and scored:
            matrix = confusion_matrix(t, p, labels=list(enc.classes))
            png = save_confusion_png(matrix, enc.classes, out_dir / f"confusion_{name}.png", name)
        reports[name] = HeadReport(
            name=name,
            classes=enc.classes,
            n_train=sum(train_counts.values()),
            n_test=len(scored),
            n_test_unscored=len(labelled) - len(scored),
            accuracy=sum(a == b for a, b in zip(t, p, strict=True)) / n,
            macro_f1=float(f1_score(t, p, labels=list(enc.classes), average="macro", zero_division=0))
            if scored
            else 0.0,
            strict_accuracy=sum(y_true[k] == y_pred[k] for k in labelled) / max(len(labelled), 1),
            majority_label=majority,
            majority_accuracy=sum(y == majority for y in t) / n,
            report_text=classification_report(t, p, labels=list(enc.classes), zero_division=0, digits=3)
            if scored
            else "",
            confusion_png=png,
        )
    return reports


def write_report(
    path: Path, classifier_id: str, split: str, table: str, heads: dict[str, HeadReport]
) -> Path:
    parts = [classifier_id, f"split: {split}", "", table, ""]
    for name, h in heads.items():
        parts += [
            f"== {name} ({len(h.classes)} classes; {h.n_test} held-out images scored, "
            f"{h.n_test_unscored} with a pruned class; strict accuracy {h.strict_accuracy:.3f})",
            h.report_text,
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
