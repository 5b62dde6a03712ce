"""Multi-head attribute classifier on frozen backbone embeddings.

One shared MLP trunk on the L2-normalised embedding of one backbone, then one linear head per
attribute (articleType, baseColour group, season, gender, usage). A head may also see an extra
per-image descriptor (``AttributeConfig.extra_dim``; the pipeline feeds a Lab colour histogram
to the colour head), concatenated to the trunk's output.

Labels travel as `LabelEncoder` (class names <-> indices). Index ``-1`` means "no label for this
head": missing, not groupable, pruned as too rare, or unseen in training. Such rows are masked
out of that head's loss only (`masked_loss`), never dropped from the other heads.

A checkpoint is one file (``torch.save`` of plain tensors, lists and dicts, so it loads with
``weights_only=True``): state dict + encoders + config + metrics; `AttributeClassifier.save`
writes a JSON card beside it. torch is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError, require
from fashionlens.core.types import Skipped

FORMAT = "fashionlens.attributes/1"
MISSING = -1  # encoded label of a row a head has no (usable) label for


# -- label encoders ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelEncoder:
    """The classes of one head, in index order, and the classes pruned as too rare.

    ``pruned`` maps each class left out (fewer than ``min_count`` training examples) to its count.
    """

    name: str
    classes: tuple[str, ...]
    pruned: dict[str, int] = field(default_factory=dict)
    min_count: int = 1

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError("a label encoder needs an attribute name")
        if any(not isinstance(c, str) or not c for c in self.classes):
            raise InvalidInputError(f"{self.name}: class names must be non-empty strings; got {self.classes}")
        if len(set(self.classes)) != len(self.classes):
            raise InvalidInputError(f"{self.name}: duplicate class names in {self.classes}")

    def __len__(self) -> int:
        return len(self.classes)

    @classmethod
    def fit(cls, name: str, labels: Iterable[str | None], min_count: int = 1) -> LabelEncoder:
        """Classes with at least ``min_count`` examples, sorted by name; ``None``/``""`` are missing."""
        if min_count < 1:
            raise InvalidInputError(f"min_count must be >= 1; got {min_count}")
        counts = Counter(label for label in labels if label)
        kept = tuple(sorted(c for c, n in counts.items() if n >= min_count))
        pruned = {c: n for c, n in sorted(counts.items()) if n < min_count}
        return cls(name, kept, pruned, min_count)

    @property
    def _lookup(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def encode(self, labels: Iterable[str | None]) -> np.ndarray:
        """``int64`` indices; ``-1`` for a missing, pruned or unseen label (masked from the loss)."""
        lookup = self._lookup
        return np.asarray([lookup.get(label, MISSING) if label else MISSING for label in labels], np.int64)

    def index(self, label: str) -> int:
        """The index of one class; an unknown class is an error naming the known ones."""
        lookup = self._lookup
        if label not in lookup:
            why = (
                f" (pruned: {self.pruned[label]} < {self.min_count} examples)" if label in self.pruned else ""
            )
            raise InvalidInputError(
                f"{self.name}: unknown class {label!r}{why}; known: {', '.join(self.classes)}"
            )
        return lookup[label]

    def decode(self, indices: Iterable[int]) -> list[str]:
        out = []
        for i in indices:
            if not 0 <= int(i) < len(self.classes):
                raise InvalidInputError(
                    f"{self.name}: class index {i} out of range 0..{len(self.classes) - 1}"
                )
            out.append(self.classes[int(i)])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classes": list(self.classes),
            "pruned": dict(self.pruned),
            "min_count": self.min_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LabelEncoder:
        return cls(
            str(data["name"]),
            tuple(str(c) for c in data["classes"]),
            {str(k): int(v) for k, v in dict(data.get("pruned", {})).items()},
            int(data.get("min_count", 1)),
        )


def class_weights(encoder: LabelEncoder, y: np.ndarray, power: float = 1.0) -> np.ndarray:
    """Per-class loss weights ``float32 (K,)`` aligned with ``encoder.classes``.

    ``power=1`` is sklearn's "balanced" (``n / (K * count)``), ``0.5`` its square root (milder),
    ``0`` no weighting. Rows with ``y == -1`` are ignored. Weights are scaled so that the mean
    weight over the labelled rows is 1 (the loss keeps its scale). A class with no labelled row
    gets the largest weight of the others (it never contributes to the loss anyway).
    """
    if power < 0:
        raise InvalidInputError(f"class weight power must be >= 0; got {power}")
    k = len(encoder)
    y = np.asarray(y)
    labelled = y[y >= 0]
    if labelled.size and labelled.max() >= k:
        raise InvalidInputError(f"{encoder.name}: label index {labelled.max()} for {k} classes")
    counts = np.bincount(labelled, minlength=k).astype(np.float64)
    if not labelled.size:
        return np.ones(k, dtype=np.float32)
    present = counts > 0
    w = np.zeros(k, dtype=np.float64)
    w[present] = (labelled.size / (k * counts[present])) ** power
    w /= w[labelled].mean()
    w[~present] = w[present].max()
    return w.astype(np.float32)


# -- config and network -----------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeConfig:
    """The network's shape. ``extra_heads`` see ``extra_dim`` extra input features each, next to
    the shared trunk's output (through a hidden layer of ``extra_hidden`` units when > 0)."""

    input_dim: int
    hidden: tuple[int, ...] = (512,)
    dropout: float = 0.3
    input_dropout: float = 0.1
    extra_dim: int = 0
    extra_heads: tuple[str, ...] = ()
    extra_hidden: int = 0  # > 0: the extra heads get a hidden layer of this width on [trunk, extra]
    extra_feature: str = ""  # what the extra features are (documentation, checked at predict)

    def __post_init__(self) -> None:
        if self.input_dim < 1:
            raise InvalidInputError(f"input_dim must be >= 1; got {self.input_dim}")
        if any(h < 1 for h in self.hidden):
            raise InvalidInputError(f"hidden sizes must be >= 1; got {self.hidden}")
        for name in ("dropout", "input_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise InvalidInputError(f"{name} must be in [0, 1); got {value}")
        if self.extra_dim < 0 or self.extra_hidden < 0:
            raise InvalidInputError(
                f"extra_dim and extra_hidden must be >= 0; got {self.extra_dim}, {self.extra_hidden}"
            )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        data["extra_heads"] = list(self.extra_heads)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributeConfig:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["hidden"] = tuple(int(h) for h in kwargs.get("hidden", (512,)))
        kwargs["extra_heads"] = tuple(str(h) for h in kwargs.get("extra_heads", ()))
        return cls(**kwargs)


def build_network(config: AttributeConfig, n_classes: Mapping[str, int]) -> Any:
    """The torch module: ``forward(x, extra=None) -> {head: logits (N, K)}``."""
    torch = require("torch")
    nn = torch.nn

    class AttributeNet(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = [nn.Dropout(config.input_dropout)] if config.input_dropout else []
            width = config.input_dim
            for h in config.hidden:
                layers += [nn.Linear(width, h), nn.LayerNorm(h), nn.GELU(), nn.Dropout(config.dropout)]
                width = h
            self.trunk = nn.Sequential(*layers)
            self.extra_heads = tuple(config.extra_heads)
            self.heads = nn.ModuleDict({name: self._head(name, width, k) for name, k in n_classes.items()})

        def _head(self, name: str, width: int, k: int) -> Any:
            if name not in config.extra_heads:
                return nn.Linear(width, k)
            if not config.extra_hidden:
                return nn.Linear(width + config.extra_dim, k)
            return nn.Sequential(
                nn.Linear(width + config.extra_dim, config.extra_hidden),
                nn.LayerNorm(config.extra_hidden),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.extra_hidden, k),
            )

        def forward(self, x: Any, extra: Any = None) -> dict[str, Any]:
            z = self.trunk(x)
            out = {}
            for name, head in self.heads.items():
                if name in self.extra_heads:
                    if extra is None:
                        raise InvalidInputError(f"head {name} needs the extra features; got none")
                    out[name] = head(torch.cat([z, extra], dim=1))
                else:
                    out[name] = head(z)
            return out

    return AttributeNet()


def masked_loss(
    logits: Mapping[str, Any],
    targets: Mapping[str, Any],
    weights: Mapping[str, Any] | None = None,
    label_smoothing: float = 0.0,
) -> tuple[Any, dict[str, float]]:
    """Sum over heads of the weighted cross-entropy on the rows labelled for that head.

    ``targets[head]`` is ``int64 (N,)`` with ``-1`` where the head has no label; a batch without any
    labelled row for a head adds nothing for it. Each head's term is the weighted mean over its own
    labelled rows. Returns the total (a tensor) and each head's value.
    """
    torch = require("torch")
    f = torch.nn.functional
    total = None
    per_head: dict[str, float] = {}
    for name, out in logits.items():
        y = targets[name]
        keep = y >= 0
        if not bool(keep.any()):
            continue
        loss = f.cross_entropy(
            out[keep],
            y[keep],
            weight=None if weights is None else weights[name],
            label_smoothing=label_smoothing,
        )
        per_head[name] = float(loss.detach())
        total = loss if total is None else total + loss
    if total is None:
        total = next(iter(logits.values())).sum() * 0.0
    return total, per_head


# -- the trained classifier -------------------------------------------------------------------


@dataclass
class AttributePredictions:
    """Per head: predicted labels, their confidences ``float32 (N,)`` and probabilities ``(N, K)``."""

    labels: dict[str, list[str]]
    confidences: dict[str, np.ndarray]
    probabilities: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.labels.values()))) if self.labels else 0

    def records(self) -> list[dict[str, dict[str, Any]]]:
        """One ``{"predictions": {attr: label}, "confidences": {attr: float}}`` per image."""
        return [
            {
                "predictions": {name: labels[i] for name, labels in self.labels.items()},
                "confidences": {name: round(float(c[i]), 4) for name, c in self.confidences.items()},
            }
            for i in range(len(self))
        ]


class AttributeClassifier:
    """Encoders + config + trained network for one backbone's embeddings."""

    def __init__(
        self,
        backbone_id: str,
        encoders: Sequence[LabelEncoder],
        config: AttributeConfig,
        *,
        state_dict: Mapping[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        train_config: dict[str, Any] | None = None,
    ) -> None:
        if not encoders:
            raise InvalidInputError("an attribute classifier needs at least one head")
        for enc in encoders:
            if len(enc) < 2:
                raise InvalidInputError(f"head {enc.name}: need at least 2 classes; got {list(enc.classes)}")
        bad = set(config.extra_heads) - {e.name for e in encoders}
        if bad:
            raise InvalidInputError(f"extra_heads {sorted(bad)} are not heads of this classifier")
        self.backbone_id = backbone_id
        self.encoders = {e.name: e for e in encoders}
        self.config = config
        self.metrics: dict[str, Any] = metrics or {}
        self.train_config: dict[str, Any] = train_config or {}
        self.net = build_network(config, {e.name: len(e) for e in encoders})
        if state_dict is not None:
            self.net.load_state_dict(state_dict)
        self.net.eval()

    @property
    def heads(self) -> tuple[str, ...]:
        return tuple(self.encoders)

    @property
    def classifier_id(self) -> str:
        return f"attributes-mlp@{self.backbone_id}"

    def _check_input(self, x: np.ndarray, extra: np.ndarray | None, what: str) -> None:
        if x.ndim != 2 or x.shape[1] != self.config.input_dim:
            raise InvalidInputError(
                f"{what}: expected (N, {self.config.input_dim}) {self.backbone_id} embeddings; got {x.shape}"
            )
        if self.config.extra_dim:
            if extra is None:
                raise InvalidInputError(
                    f"this classifier needs {self.config.extra_feature or 'extra'} features "
                    f"(N, {self.config.extra_dim}) next to the embeddings"
                )
            if extra.shape != (x.shape[0], self.config.extra_dim):
                raise InvalidInputError(
                    f"extra features: expected ({x.shape[0]}, {self.config.extra_dim}); got {extra.shape}"
                )

    def logits(
        self, embeddings: np.ndarray, extra: np.ndarray | None = None, batch: int = 4096
    ) -> dict[str, Any]:
        torch = require("torch")
        x = np.asarray(embeddings, dtype=np.float32)
        e = None if extra is None else np.asarray(extra, dtype=np.float32)
        self._check_input(x, e, "embeddings")
        self.net.eval()
        outs: dict[str, list[np.ndarray]] = {h: [] for h in self.heads}
        with torch.inference_mode():
            for start in range(0, len(x), batch):
                xb = torch.from_numpy(x[start : start + batch])
                eb = (
                    None
                    if e is None or not self.config.extra_dim
                    else torch.from_numpy(e[start : start + batch])
                )
                for name, out in self.net(xb, eb).items():
                    outs[name].append(out.numpy())
        return {
            h: np.concatenate(v) if v else np.zeros((0, len(self.encoders[h])), np.float32)
            for h, v in outs.items()
        }

    def predict_proba(self, embeddings: np.ndarray, extra: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Softmax probabilities per head, ``float32 (N, K)``, columns in encoder order."""
        return {h: _softmax(v) for h, v in self.logits(embeddings, extra).items()}

    def predict(self, embeddings: np.ndarray, extra: np.ndarray | None = None) -> AttributePredictions:
        """Labels, confidences and probabilities per head for ``(N, D)`` embeddings."""
        probs = self.predict_proba(embeddings, extra)
        labels, confidences = {}, {}
        for name, p in probs.items():
            best = p.argmax(axis=1) if len(p) else np.zeros(0, dtype=int)
            labels[name] = self.encoders[name].decode(best)
            confidences[name] = p[np.arange(len(best)), best].astype(np.float32)
        return AttributePredictions(labels, confidences, probs)

    # -- persistence --------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "backbone_id": self.backbone_id,
            "encoders": [e.to_dict() for e in self.encoders.values()],
            "config": self.config.to_dict(),
            "train_config": _plain(self.train_config),
            "metrics": _plain(self.metrics),
            "state_dict": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
        }

    def card(self) -> dict[str, Any]:
        return {
            "classifier_id": self.classifier_id,
            "backbone_id": self.backbone_id,
            "heads": {
                e.name: {"classes": list(e.classes), "pruned": e.pruned, "min_count": e.min_count}
                for e in self.encoders.values()
            },
            "config": self.config.to_dict(),
            "train_config": _plain(self.train_config),
            "metrics": _plain(self.metrics),
        }

    def save(self, path: Path) -> Path:
        """Write the checkpoint (``.pt``) and its JSON card (same stem, ``.json``)."""
        torch = require("torch")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        torch.save(self.checkpoint(), tmp)
        tmp.replace(path)  # a crash mid-write never leaves a half checkpoint
        path.with_suffix(".json").write_text(json.dumps(self.card(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def from_checkpoint(cls, data: Mapping[str, Any], where: str = "checkpoint") -> AttributeClassifier:
        if data.get("format") != FORMAT:
            raise InvalidInputError(f"{where}: not a {FORMAT} checkpoint (format {data.get('format')!r})")
        return cls(
            str(data["backbone_id"]),
            [LabelEncoder.from_dict(e) for e in data["encoders"]],
            AttributeConfig.from_dict(data["config"]),
            state_dict=data["state_dict"],
            metrics=dict(data.get("metrics") or {}),
            train_config=dict(data.get("train_config") or {}),
        )

    @classmethod
    def load(cls, path: Path) -> AttributeClassifier:
        torch = require("torch")
        path = Path(path)
        if not path.is_file():
            raise NotReadyError(
                f"{path}: no trained attribute classifier; run `fashionlens train attributes`"
            )
        try:
            data = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise InvalidInputError(f"{path}: cannot read checkpoint ({str(exc).splitlines()[0]})") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: not a fashionlens attribute checkpoint")
        return cls.from_checkpoint(data, str(path))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True) if len(z) else z
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def _plain(value: Any) -> Any:
    """JSON/``weights_only``-safe copy: numpy scalars and arrays to Python, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def extra_features_for(
    classifier: AttributeClassifier,
    paths: Sequence[str],
    hashes: Sequence[str] | None,
    cache_dir: Path,
    skipped: list[Skipped] | None = None,
) -> np.ndarray | None:
    """The extra per-image features ``classifier`` was trained with (the colour histogram), or None."""
    if not classifier.config.extra_dim:
        return None
    from fashionlens.models.colour.features import FEATURE_ID, colour_features_for

    if classifier.config.extra_feature != FEATURE_ID:
        raise InvalidInputError(
            f"the classifier was trained with {classifier.config.extra_feature!r} features; "
            f"this version computes {FEATURE_ID!r}: retrain with `fashionlens train attributes`"
        )
    return colour_features_for(paths, hashes, cache_dir, skipped)
