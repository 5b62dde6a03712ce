"""Heads that sit on top of frozen embeddings. `LinearProbe`: multinomial logistic regression."""

from __future__ import annotations

import json
import pickle
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
    _model: object | None = None

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
        self._model = model
        self.classes = tuple(str(c) for c in model.classes_)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if self._model is None:
            raise NotReadyError(f"{self.classifier_id} is not trained")
        return np.asarray(self._model.predict_proba(x), dtype=np.float32)  # type: ignore[attr-defined]

    def predict(self, x: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Labels, their confidences and the full probability matrix (columns = ``classes``)."""
        proba = self.predict_proba(x)
        best = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=int)
        return [self.classes[i] for i in best], proba[np.arange(len(best)), best], proba

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            pickle.dump(self, fh)
        card = {
            "classifier_id": self.classifier_id,
            "backbone_id": self.backbone_id,
            "task": self.task,
            "classes": list(self.classes),
            "C": self.C,
            "class_weight": self.class_weight,
            "metrics": self.metrics,
        }
        path.with_suffix(".json").write_text(json.dumps(card, indent=2), encoding="utf-8")
        return path

    @staticmethod
    def load(path: Path) -> LinearProbe:
        if not path.is_file():
            raise NotReadyError(f"{path}: no trained classifier; run `fashionlens train category`")
        with path.open("rb") as fh:
            probe = pickle.load(fh)
        if not isinstance(probe, LinearProbe):
            raise InvalidInputError(f"{path}: not a fashionlens LinearProbe")
        return probe
