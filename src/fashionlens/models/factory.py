"""The one place that turns `Settings` into models: backbones, segmenters, detectors, trained heads.

The CLI, the server, the jobs and (later) Ray workers all build models here, so the settings'
device, runtime, weights dir and home are honoured everywhere. Nothing here loads weights: every
object loads lazily in ``setup()``.

``runtime = auto`` (the default) picks the fastest runtime that gives the same retrieval quality:
ONNX Runtime static int8 where the backbone ships an int8 calibration and onnxruntime is
installed, fp32 ONNX where only the export works, torch otherwise. Its choice is logged once.
Int8 vectors keep their own model id (``+onnx-int8``), never mixed with fp32 ones.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from pathlib import Path
from typing import Any

from fashionlens.core.settings import Settings
from fashionlens.models.registry import Backbone, backbone_runtimes, create_backbone, get_spec

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def _auto_runtime(name: str, device: str) -> str:
    if device != "cpu":
        return "torch"
    runtimes = backbone_runtimes(name)
    has_ort = importlib.util.find_spec("onnxruntime") is not None
    has_onnx = importlib.util.find_spec("onnx") is not None
    if not (has_ort and has_onnx):
        choice = "torch"
    elif "onnx-int8" in runtimes and _ships_calibration(name):
        choice = "onnx-int8"
    elif "onnx" in runtimes:
        choice = "onnx"
    else:
        choice = "torch"
    logger.info("runtime auto: %s runs on %s", name, choice)
    return choice


def _ships_calibration(name: str) -> bool:
    from fashionlens.models.backbones.onnx_runtime import shipped_calibration_path

    return shipped_calibration_path(get_spec(name)).is_file()


def device(settings: Settings) -> str:
    """The settings' device, checked (``cuda`` without a GPU is one clear error, not a crash later)."""
    if settings.device == "cpu":
        return "cpu"
    from fashionlens.training.kit import resolve_device

    return resolve_device(settings.device)


def resolve_runtime(settings: Settings, name: str | None = None) -> str:
    """The concrete runtime (torch | onnx | onnx-int8) backbone ``name`` runs on under ``settings``."""
    name = get_spec(name or settings.backbone).name
    if settings.runtime != "auto":
        return settings.runtime
    return _auto_runtime(name, settings.device)


def backbone(
    settings: Settings, name: str | None = None, *, runtime: str | None = None, **kwargs: Any
) -> Backbone:
    """The settings' backbone (or ``name``) on the settings' device, runtime, weights dir and home."""
    name = name or settings.backbone
    chosen = runtime or resolve_runtime(settings, name)
    if settings.num_threads and "num_threads" not in kwargs and _takes_threads(name):
        kwargs["num_threads"] = settings.num_threads
    return create_backbone(
        name,
        runtime=chosen,
        device=device(settings),
        weights_dir=settings.weights_dir,
        models_dir=settings.models_dir,
        cache_dir=settings.cache_dir,
        **kwargs,
    )


def _takes_threads(name: str) -> bool:
    return "onnx" in backbone_runtimes(name)


def backbone_model_id(settings: Settings, name: str | None = None) -> str:
    """The model id the settings' backbone stores its vectors under (no weights are loaded)."""
    return backbone(settings, name).model_id


def unet(settings: Settings, weights: str | Path | None = None) -> Any:
    """The U-Net garment parser: the shipped CCP model, or your own weights file (its own model id,
    so its records are never mistaken for the shipped model's)."""
    from fashionlens.models.segmenters.unet import MODEL_ID, UNetSegmenter

    model_id = f"unet.{Path(weights).stem}" if weights else MODEL_ID
    return UNetSegmenter(
        weights=weights or "shipped",
        num_threads=settings.num_threads or None,
        device=device(settings),
        model_id=model_id,
    )


def maskrcnn(settings: Settings, checkpoint: str | Path, **kwargs: Any) -> Any:
    """A Mask R-CNN garment instance model from a `train-maskrcnn` checkpoint."""
    from fashionlens.models.segmenters.maskrcnn import MaskRCNNSegmenter

    return MaskRCNNSegmenter(
        checkpoint, device=device(settings), num_threads=settings.num_threads or None, **kwargs
    )


def person_detector(settings: Settings) -> Any:
    """OpenCV's HOG people detector, or None where opencv is not installed (touching people are
    then not split)."""
    if importlib.util.find_spec("cv2") is None:
        logger.info("opencv is not installed: people are not split by a detector")
        return None
    from fashionlens.models.segmenters.person_detector import HogPersonDetector

    return HogPersonDetector()


# A default backbone whose attributes are better predicted in a space fine-tuned for them, when the
# package ships that space's classifier (`fashionlens train backbone`; see benchmarks/bench_finetune.py)
FINETUNED_ATTRIBUTE_SPACES = {"mobilenet_v2.imagenet": "mobilenet_v2.products"}


def attribute_classifier_space(
    settings: Settings, backbone_id: str, *, allow_finetuned: bool = False
) -> tuple[Path, str]:
    """``(classifier file, the embedding space it was trained in)``: your own (`train attributes`)
    in ``HOME/models`` first, then the one the package ships; an int8 space falls back to its
    fp32 base, whose vectors the shipped classifier was trained on.

    With ``allow_finetuned`` (for callers that embed in the returned space themselves), a default
    backbone without a classifier of your own gets the shipped fine-tuned space's classifier
    (`FINETUNED_ATTRIBUTE_SPACES`), which predicts attributes better than its own heads."""
    from fashionlens.models.artifacts import attribute_classifier_path as own
    from fashionlens.models.registry import parse_model_id
    from fashionlens.models.weights import shipped_path

    def shipped(space: str) -> Path:
        return shipped_path(f"attributes/{space.replace('/', '_')}.pt")

    base, tagged = parse_model_id(backbone_id)
    spaces = [backbone_id] + ([base] if tagged == "onnx-int8" else [])
    for space in spaces:
        if own(settings, space).is_file():
            return own(settings, space), space
    tuned = FINETUNED_ATTRIBUTE_SPACES.get(base) if allow_finetuned else None
    if tuned is not None:
        for path in (own(settings, tuned), shipped(tuned)):
            if path.is_file():
                return path, tuned
    for space in spaces:
        if shipped(space).is_file():
            return shipped(space), space
    return own(settings, backbone_id), backbone_id


def attribute_classifier_path(settings: Settings, backbone_id: str) -> Path:
    return attribute_classifier_space(settings, backbone_id)[0]


def attribute_classifier(settings: Settings, backbone_id: str) -> Any:
    from fashionlens.models.heads.attributes import AttributeClassifier

    return AttributeClassifier.load(attribute_classifier_path(settings, backbone_id))


def backbone_for_model_id(settings: Settings, model_id: str, **kwargs: Any) -> Backbone:
    """The backbone that makes vectors of stored ``model_id``: ``...+onnx-int8`` runs int8; a plain
    id runs on torch or fp32 ONNX (identical vectors), never int8 (whose vectors differ)."""
    from fashionlens.models.registry import parse_model_id

    base, tagged = parse_model_id(model_id)
    if tagged == "onnx-int8":
        return backbone(settings, base, runtime="onnx-int8", **kwargs)
    chosen = resolve_runtime(settings, base) if base in _registered() else "torch"
    if chosen == "onnx-int8":
        chosen = "onnx"
    return backbone(settings, base, runtime=chosen, **kwargs)


def _registered() -> set[str]:
    from fashionlens.models.registry import list_backbones

    return {s.name for s in list_backbones()}


def stored_space(settings: Settings, available: set[str] | list[str], name: str | None = None) -> str:
    """The embedding space a consumer of stored vectors (training, prediction, export, search)
    works in: the settings' backbone on the settings' runtime. Under ``runtime = auto`` a space
    of the same backbone that is already stored wins over one that is not (vectors embedded on
    torch before the default became int8 stay usable)."""
    wanted = backbone_model_id(settings, name)
    if settings.runtime != "auto" or wanted in available:
        return wanted
    base = get_spec(name or settings.backbone).name
    for candidate in (base, f"{base}+onnx-int8"):
        if candidate in available:
            logger.info("runtime auto: using the stored %s vectors", candidate)
            return candidate
    return wanted
