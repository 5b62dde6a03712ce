"""ONNX Runtime path on the real shipped MobileNetV2 weights and real photos (offline).

One ONNX cache is shared by the module (export ~3 s, int8 build ~5 s); tests that damage the
cache use their own.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.models.backbones import onnx_runtime as ox
from fashionlens.models.backbones.torchvision_cnn import TorchvisionCNN
from fashionlens.models.registry import create_backbone
from fashionlens.store.schemas import embeddings_table_name

NAME = "mobilenet_v2.imagenet"
# Measured (benchmarks/bench_onnx.py, 7,671 product photos vs torch): int8 mean cosine 0.987,
# min 0.95. The bounds leave room for other photos and onnxruntime versions.
INT8_MEAN_COS, INT8_MIN_COS = 0.97, 0.90


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> list[Image.Image]:
    """12 product photos (224x224 catalogue shots) and 4 street photos (~550x825)."""
    products = sorted((shared_data / "products" / "images").glob("*.jpg"))[100:1300:100]
    street = sorted((shared_data / "ccp" / "photos").glob("*.jpg"))[:4]
    out = []
    for p in [*products, *street]:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    assert len(out) == 16
    return out


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx_home")


@pytest.fixture
def shared_cache(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FASHIONLENS_HOME", str(module_home))
    return module_home / "cache" / "onnx" / NAME


@pytest.fixture(scope="module")
def torch_vectors(photos: list[Image.Image]) -> np.ndarray:
    return create_backbone(NAME).embed(photos)


def _onnx(runtime: str = "onnx", **kwargs: object) -> TorchvisionCNN:
    backbone = create_backbone(NAME, runtime=runtime, **kwargs)
    assert isinstance(backbone, TorchvisionCNN)
    return backbone


def test_fp32_matches_torch_and_keeps_its_id(
    shared_cache: Path, photos: list[Image.Image], torch_vectors: np.ndarray
) -> None:
    backbone = _onnx()
    vectors = backbone.embed(photos)
    assert backbone.onnx_path is not None and backbone.onnx_path.parent == shared_cache
    assert vectors.dtype == np.float32 and vectors.shape == (16, 1280)
    assert float((vectors * torch_vectors).sum(axis=1).min()) > 0.9999
    assert float(np.abs(vectors - torch_vectors).max()) < 1e-5
    assert backbone.model_id == NAME  # fp32 ONNX shares torch's embedding space
    torch_logits = create_backbone(NAME).logits(photos[:4])  # type: ignore[attr-defined]
    np.testing.assert_array_equal(backbone.logits(photos[:4]).argmax(1), torch_logits.argmax(1))


def test_int8_stays_close_with_its_own_id(
    shared_cache: Path, photos: list[Image.Image], torch_vectors: np.ndarray
) -> None:
    backbone = _onnx("onnx-int8")  # the shipped calibration ranges
    vectors = backbone.embed(photos)
    cos = (vectors * torch_vectors).sum(axis=1)
    assert float(cos.mean()) > INT8_MEAN_COS and float(cos.min()) > INT8_MIN_COS, cos
    assert float(np.abs(vectors - torch_vectors).max()) > 1e-4  # really int8, not the fp32 file
    assert backbone.model_id == f"{NAME}+onnx-int8"
    assert embeddings_table_name(backbone.model_id) != embeddings_table_name(NAME)
    assert backbone.onnx_path is not None and ".int8-" in backbone.onnx_path.name
    (fp32,) = shared_cache.glob("*.fp32.onnx")
    assert backbone.onnx_path.stat().st_size < 0.7 * fp32.stat().st_size


def test_second_setup_reuses_the_cache(
    shared_cache: Path, photos: list[Image.Image], monkeypatch: pytest.MonkeyPatch
) -> None:
    for runtime in ("onnx", "onnx-int8"):
        _onnx(runtime).setup()
    files = sorted(shared_cache.glob("*.onnx"))
    assert len(files) == 2
    before = {p: p.stat().st_mtime_ns for p in files}

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached model was rebuilt")

    monkeypatch.setattr(ox, "export_fp32", no_rebuild)
    monkeypatch.setattr(ox, "build_int8", no_rebuild)
    for runtime in ("onnx", "onnx-int8"):
        _onnx(runtime).embed(photos[:2])
    assert {p: p.stat().st_mtime_ns for p in files} == before


@pytest.mark.parametrize("damage", ["truncate", "garbage-with-matching-record"])
def test_corrupt_cache_is_detected_and_rebuilt(
    damage: str, photos: list[Image.Image], torch_vectors: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    first = _onnx()
    first.setup()
    path = first.onnx_path
    assert path is not None
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:  # a record that matches the garbage: only onnxruntime can tell
        path.write_bytes(b"not an onnx model" * 100)
        meta = path.with_name(path.name + ".json")
        record = json.loads(meta.read_text())
        record.update(size=path.stat().st_size, sha256=ox.file_sha256(path))
        meta.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="fashionlens.models.backbones.onnx_runtime"):
        again = _onnx()
        vectors = again.embed(photos[:4])
    assert "unusable" in caplog.text and "rebuilding" in caplog.text
    assert ox.cached_model_problem(path) is None
    assert float((vectors * torch_vectors[:4]).sum(axis=1).min()) > 0.9999


def test_unbuildable_model_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_export(*args: object, **kwargs: object) -> None:
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(ox, "export_fp32", broken_export)
    with pytest.raises(ox.OnnxModelError, match=r"cannot build the fp32 ONNX model of .*exporter exploded"):
        _onnx().setup()


def test_own_calibration_images(
    shared_cache: Path, shared_data: Path, photos: list[Image.Image], torch_vectors: np.ndarray
) -> None:
    calibration = sorted((shared_data / "clothing" / "validation").rglob("*.jpg"))[::12]
    backbone = _onnx("onnx-int8", calibration=calibration)
    vectors = backbone.embed(photos)
    assert backbone.model_id.startswith(f"{NAME}+onnx-int8-")
    assert float((vectors * torch_vectors).sum(axis=1).mean()) > INT8_MEAN_COS - 0.02
    assert backbone.onnx_path is not None
    mtime = backbone.onnx_path.stat().st_mtime_ns
    _onnx("onnx-int8", calibration=calibration).setup()
    assert backbone.onnx_path.stat().st_mtime_ns == mtime
