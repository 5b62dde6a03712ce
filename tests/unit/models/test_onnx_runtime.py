"""The ONNX runtime path without real weights: selection, ids, errors, cache checks, random-init export."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fashionlens.core.errors import InvalidInputError, MissingDependencyError
from fashionlens.models.backbones import onnx_runtime as ox
from fashionlens.models.backbones.torchvision_cnn import SPECS, TorchvisionCNN
from fashionlens.models.registry import backbone_runtimes, create_backbone, parse_model_id


def test_import_is_cheap() -> None:
    code = (
        "import sys, fashionlens.models.backbones.onnx_runtime\n"
        "heavy = {'torch', 'onnx', 'onnxruntime'} & set(sys.modules)\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_onnxruntime_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` raise ImportError
    backbone = create_backbone("mobilenet_v2.imagenet", runtime="onnx", weights=None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'fashionlens\[onnx\]'"):
        backbone.setup()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"runtime": "tensorrt"}, "runtime must be one of torch, onnx, onnx-int8"),
        ({"runtime": "onnx", "device": "cuda"}, "runs on the CPU"),
        ({"runtime": "onnx", "calibration": ["a.jpg"]}, "only apply to runtime onnx-int8"),
    ],
)
def test_bad_runtime_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        create_backbone("mobilenet_v2.imagenet", **kwargs)


def test_backbone_without_onnx_runs_on_torch_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        backbone = create_backbone("clip-vit-b32.openai", runtime="onnx-int8", weights=None)
    assert backbone.runtime == "torch"
    assert backbone.model_id == "clip-vit-b32.openai+random-init"  # nothing claims int8
    assert "no onnx-int8 runtime" in caplog.text
    assert backbone_runtimes("clip-vit-b32.openai") == ("torch",)
    assert backbone_runtimes("mobilenet_v2.imagenet") == ("torch", "onnx", "onnx-int8")


@pytest.mark.parametrize(
    ("runtime", "model_id"),
    [
        ("torch", "mobilenet_v2.imagenet"),
        ("onnx", "mobilenet_v2.imagenet"),  # same vectors as torch, same embedding space
        ("onnx-int8", "mobilenet_v2.imagenet+onnx-int8"),
    ],
)
def test_model_id_per_runtime(runtime: str, model_id: str) -> None:
    backbone = create_backbone("mobilenet_v2.imagenet", runtime=runtime)
    assert backbone.model_id == model_id
    assert parse_model_id(model_id) == (
        "mobilenet_v2.imagenet",
        "onnx-int8" if "int8" in model_id else "torch",
    )


def test_own_calibration_gets_its_own_id(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (40, 30), (60 * i, 20, 200)).save(tmp_path / f"{i}.png")
    a = create_backbone("mobilenet_v2.imagenet", runtime="onnx-int8", calibration=tmp_path)
    b = create_backbone("mobilenet_v2.imagenet", runtime="onnx-int8", calibration=sorted(tmp_path.iterdir()))
    assert a.model_id == b.model_id  # keyed by content, not by how the images were given
    assert re.fullmatch(r"mobilenet_v2\.imagenet\+onnx-int8-[0-9a-f]{8}", a.model_id), a.model_id
    assert parse_model_id(a.model_id) == ("mobilenet_v2.imagenet", "onnx-int8")
    (tmp_path / "0.png").write_bytes((tmp_path / "1.png").read_bytes())
    c = create_backbone("mobilenet_v2.imagenet", runtime="onnx-int8", calibration=tmp_path)
    assert c.model_id != a.model_id


@pytest.mark.parametrize(
    ("model_id", "parsed"),
    [
        ("resnet50.imagenet", ("resnet50.imagenet", "torch")),
        ("resnet50.imagenet+random-init+onnx-int8", ("resnet50.imagenet+random-init", "onnx-int8")),
        ("resnet50.imagenet+onnx-int8-0a1b2c3d", ("resnet50.imagenet", "onnx-int8")),
        ("resnet50.imagenet+onnx-int8x", ("resnet50.imagenet+onnx-int8x", "torch")),
    ],
)
def test_parse_model_id(model_id: str, parsed: tuple[str, str]) -> None:
    assert parse_model_id(model_id) == parsed


def test_int8_without_calibration_for_unshipped_weights_says_what_to_pass() -> None:
    backbone = create_backbone("mobilenet_v2.imagenet", runtime="onnx-int8", weights=None)
    with pytest.raises(InvalidInputError, match=r"pass calibration="):
        backbone.setup()


def _write(path: Path, data: bytes, meta: dict | None = None) -> None:
    path.write_bytes(data)
    if meta is not None:
        path.with_name(path.name + ".json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("ok", None),
        ("missing", "missing"),
        ("no-record", "missing or unreadable"),
        ("truncated", "truncated or altered"),
        ("altered", "sha256 differs"),
    ],
)
def test_cached_model_problem(tmp_path: Path, case: str, problem: str | None) -> None:
    path = tmp_path / "m.onnx"
    data = b"0123456789" * 10
    sha = __import__("hashlib").sha256(data).hexdigest()
    if case != "missing":
        _write(path, data, None if case == "no-record" else {"size": len(data), "sha256": sha})
    if case == "truncated":
        path.write_bytes(data[:50])
    if case == "altered":
        path.write_bytes(data[::-1])
    found = ox.cached_model_problem(path)
    assert found is None if problem is None else problem in (found or "")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_random_init_export_matches_torch(spec, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Registry-wide smoke test: every torchvision backbone exports and runs in ONNX Runtime."""
    torch_bb = create_backbone(spec.name, weights=None)
    onnx_bb = create_backbone(spec.name, weights=None, runtime="onnx")
    assert isinstance(onnx_bb, TorchvisionCNN)
    images = [Image.new("RGB", (64, 48), (200, 30, 30)), Image.new("L", (300, 200), 90)]
    a, b = torch_bb.embed(images), onnx_bb.embed(images)
    assert onnx_bb.model_id == torch_bb.model_id == f"{spec.name}+random-init"
    assert b.shape == (2, spec.dim) and b.dtype == np.float32
    assert float((a * b).sum(axis=1).min()) > 0.9999
    assert onnx_bb.onnx_path is not None and onnx_bb.onnx_path.name.startswith("random-init-opset17")
