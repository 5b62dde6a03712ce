"""Heads that sit on top of frozen embeddings. `LinearProbe`: multinomial logistic regression.

A trained probe is saved as numbers, never as a pickle: ``<name>.npz`` (coefficients, intercepts;
loaded with ``allow_pickle=False``) and ``<name>.json`` (classes, settings, metrics). Prediction
is the logistic model itself (softmax, or the sigmoid for two classes), identical to
scikit-learn's ``predict_proba``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError


@dataclass
class LinearProbe:
    """Logistic regression on L2-normalised embeddings of one backbone (``backbone_id``)."""

    backbone_id: str
    task: str
    C: float = 1.0
    class_weight: str | None = "balanced"
    max_iter: int = 3000
    classes: tuple[str, ...] = ()
    metrics: dict[str, object] = field(default_factory=dict)
    coef: np.ndarray | None = None  # (K, D), or (1, D) for two classes
    intercept: np.ndarray | None = None

    @property
    def classifier_id(self) -> str:
        return f"{self.task}-logreg@{self.backbone_id}"

    def fit(self, x: np.ndarray, y: Sequence[str], seed: int = 0) -> LinearProbe:
        from sklearn.linear_model import LogisticRegression

        if len(set(y)) < 2:
            raise InvalidInputError(f"{self.task}: need at least 2 classes to train; got {sorted(set(y))}")
        model = LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, random_state=seed
        )
        model.fit(x, np.asarray(y))
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.intercept = np.asarray(model.intercept_, dtype=np.float64)
        self.classes = tuple(str(c) for c in model.classes_)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self.coef is None or self.intercept is None:
            raise NotReadyError(f"{self.classifier_id} is not trained")
        z = np.asarray(x, dtype=np.float64) @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:  # two classes: sigmoid of the one decision function
            p1 = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1).astype(np.float32)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, x: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Labels, their confidences and the full probability matrix (columns = ``classes``)."""
        proba = self.predict_proba(x)
        best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
        return [self.classes[i] for i in best], proba[np.arange(len(best)), best], proba

    def save(self, path: Path) -> Path:
        """Write ``path`` (``.npz``: the numbers) and ``path.with_suffix('.json')`` (the card)."""
        if self.coef is None or self.intercept is None:
            raise NotReadyError(f"{self.classifier_id} is not trained")
        path = Path(path).with_suffix(".npz")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.tmp.npz")
        np.savez(tmp, coef=self.coef, intercept=self.intercept)
        tmp.replace(path)
        card = {
            "format": "fashionlens-linear-probe/1",
            "classifier_id": self.classifier_id,
            "backbone_id": self.backbone_id,
            "task": self.task,
            "classes": list(self.classes),
            "C": self.C,
            "class_weight": self.class_weight,
            "max_iter": self.max_iter,
            "metrics": self.metrics,
        }
        path.with_suffix(".json").write_text(json.dumps(card, indent=2, default=str), encoding="utf-8")
        return path

    @staticmethod
    def load(path: Path) -> LinearProbe:
        """Load a saved probe (numbers and JSON only: nothing in the files is ever executed)."""
        path = Path(path).with_suffix(".npz")
        card_path = path.with_suffix(".json")
        if not path.is_file() or not card_path.is_file():
            raise NotReadyError(f"{path}: no trained classifier; run `fashionlens train category`")
        try:
            card = json.loads(card_path.read_text(encoding="utf-8"))
            with np.load(path, allow_pickle=False) as data:
                coef, intercept = np.asarray(data["coef"]), np.asarray(data["intercept"])
            classes = tuple(str(c) for c in card["classes"])
            probe = LinearProbe(
                backbone_id=str(card["backbone_id"]),
                task=str(card["task"]),
                C=float(card.get("C", 1.0)),
                class_weight=card.get("class_weight"),
                max_iter=int(card.get("max_iter", 3000)),
                classes=classes,
                metrics=dict(card.get("metrics") or {}),
                coef=coef.astype(np.float64),
                intercept=intercept.astype(np.float64),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}: not a fashionlens linear probe ({exc})") from exc
        rows = 1 if len(classes) == 2 else len(classes)
        if coef.ndim != 2 or coef.shape[0] != rows or intercept.shape != (rows,):
            raise InvalidInputError(
                f"{path}: coefficients {coef.shape} / intercepts {intercept.shape} do not fit "
                f"{len(classes)} classes"
            )
        return probe
