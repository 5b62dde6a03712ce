"""Where trained artefacts live, so every front end finds them without flags.

A model the user trains (`fashionlens train ...`) is written under ``HOME/models/<kind>/`` and is
found there by the CLI, the server and the jobs alike; where the package ships a trained
default (the text tower's projection, the attribute classifier), that is the fallback.
"""

from __future__ import annotations

from pathlib import Path

from fashionlens.core.settings import Settings


def _slug(model_id: str) -> str:
    return model_id.replace("/", "_")


def category_probe_path(settings: Settings, backbone_id: str) -> Path:
    """The coarse-category probe trained on ``backbone_id`` vectors (JSON + npz, never pickle)."""
    return settings.models_dir / "category" / f"{_slug(backbone_id)}.npz"


def attribute_classifier_dir(settings: Settings, backbone_id: str) -> Path:
    return settings.models_dir / "attributes" / _slug(backbone_id)


def attribute_classifier_path(settings: Settings, backbone_id: str) -> Path:
    return attribute_classifier_dir(settings, backbone_id) / "attributes.pt"


def text_projection_path(settings: Settings, weights_file: str) -> Path:
    return settings.models_dir / "text_tower" / weights_file
