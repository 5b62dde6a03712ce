"""Core containers. Plain dataclasses validated at construction; numpy only, no torch.

Boxes inside the library are absolute pixel ``xyxy``; COCO ``bbox_xywh`` lives only in the COCO
reader/writer (`fashionlens.ingest.coco`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from fashionlens.core.errors import InvalidInputError

Source = Literal["runway", "street", "product", "wardrobe", "video"]
Split = Literal["train", "valid", "test", "unsplit"]
SOURCES: tuple[str, ...] = get_args(Source)
SPLITS: tuple[str, ...] = get_args(Split)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise InvalidInputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class ImageRecord:
    """One image of the catalogue. ``image_id`` is derived from the content hash."""

    image_id: str
    source: str
    original_dataset: str
    image_path: str
    split: str
    width: int
    height: int
    content_hash: str

    def __post_init__(self) -> None:
        _check_choice("source", self.source, SOURCES)
        _check_choice("split", self.split, SPLITS)
        if self.width <= 0 or self.height <= 0:
            raise InvalidInputError(
                f"{self.image_path}: size must be positive; got {self.width}x{self.height}"
            )
        if not self.image_id or not self.content_hash:
            raise InvalidInputError(f"{self.image_path}: image_id and content_hash are required")


@dataclass(frozen=True)
class ObjectAnnotation:
    """One labelled object (garment, person...) on an image.

    ``bbox_xyxy`` is absolute pixels, already clipped to the image. ``segmentation`` is COCO
    polygons (list of flat [x, y, ...] lists) or empty.
    """

    image_id: str
    category: str
    bbox_xyxy: tuple[float, float, float, float]
    dataset: str
    segmentation: list[list[float]] = field(default_factory=list)
    area: float = 0.0
    attributes: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        x1, y1, x2, y2 = self.bbox_xyxy
        if not (x2 >= x1 and y2 >= y1):
            raise InvalidInputError(
                f"bbox_xyxy must have x2>=x1 and y2>=y1; got {self.bbox_xyxy} on {self.image_id}"
            )


@dataclass(frozen=True)
class ImageLabel:
    """Image-level labels: garment categories present and the coarse category derived from them.

    ``attributes`` holds other per-image labels (e.g. a product's articleType, baseColour, season).
    """

    image_id: str
    image_filename: str
    label_source: str
    modanet_categories: tuple[str, ...]
    coarse_category: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    """A file an ingest or batch job did not take, and why."""

    path: str
    reason: str


@dataclass
class IngestResult:
    """What a reader produced. Readers never raise on one bad file; they add it to ``skipped``."""

    images: list[ImageRecord] = field(default_factory=list)
    annotations: list[ObjectAnnotation] = field(default_factory=list)
    labels: list[ImageLabel] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def extend(self, other: IngestResult) -> None:
        self.images.extend(other.images)
        self.annotations.extend(other.annotations)
        self.labels.extend(other.labels)
        self.skipped.extend(other.skipped)


@dataclass(frozen=True)
class Embeddings:
    """L2-normalised ``float32 (N, D)`` vectors, the ids they belong to and the model that made them."""

    ids: tuple[str, ...]
    vectors: np.ndarray
    model_id: str

    def __post_init__(self) -> None:
        v = self.vectors
        if not isinstance(v, np.ndarray) or v.ndim != 2:
            raise InvalidInputError(
                f"vectors must be a 2-D numpy array; got {type(v).__name__} "
                f"with shape {getattr(v, 'shape', None)}"
            )
        if v.dtype != np.float32:
            raise InvalidInputError(f"vectors must be float32; got {v.dtype}")
        if len(self.ids) != v.shape[0]:
            raise InvalidInputError(
                f"expected {v.shape[0]} ids for {v.shape[0]} vectors; got {len(self.ids)}"
            )
        if not self.model_id:
            raise InvalidInputError("model_id is required: embeddings always carry the model that made them")
        if v.shape[0]:
            if not np.isfinite(v).all():
                raise InvalidInputError(f"vectors from {self.model_id} contain NaN or inf")
            norms = np.linalg.norm(v, axis=1)
            if not np.allclose(norms, 1.0, atol=1e-3):
                raise InvalidInputError(
                    f"vectors must be L2-normalised; got norms in [{norms.min():.4f}, {norms.max():.4f}]"
                )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def empty(cls, model_id: str, dim: int) -> Embeddings:
        return cls((), np.zeros((0, dim), dtype=np.float32), model_id)

    def __getitem__(self, mask: np.ndarray) -> Embeddings:
        mask = np.asarray(mask)
        ids = np.asarray(self.ids, dtype=object)[mask]
        return Embeddings(tuple(ids.tolist()), self.vectors[mask], self.model_id)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Row-wise L2 normalisation to float32; zero rows stay zero-safe."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def clip_xyxy(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[float, float, float, float]:
    """Clip an absolute ``xyxy`` box to the image (ModaNet has boxes that overrun the edge)."""
    x1, y1, x2, y2 = box
    x1 = min(max(x1, 0.0), float(width))
    x2 = min(max(x2, 0.0), float(width))
    y1 = min(max(y1, 0.0), float(height))
    y2 = min(max(y2, 0.0), float(height))
    return (x1, y1, max(x1, x2), max(y1, y2))


def as_path(p: str | Path) -> Path:
    return p if isinstance(p, Path) else Path(p)
