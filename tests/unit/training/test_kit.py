"""The training kit: schedule values, atomic checked checkpoints, no code from a crafted file."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from fashionlens.core.errors import InvalidInputError
from fashionlens.training.kit import load_checkpoint, resolve_device, save_checkpoint, warmup_cosine


def test_warmup_then_cosine_known_values() -> None:
    f = warmup_cosine(4, 12)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == pytest.approx(1.0)
    assert f(8) == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))  # half-way: 0.5
    assert f(12) == pytest.approx(0.0) and f(50) == pytest.approx(0.0)
    g = warmup_cosine(10, 20, warmup_start=0.001)
    assert g(0) == pytest.approx(0.001) and g(5) == pytest.approx(0.001 + 0.999 * 0.5)
    assert warmup_cosine(0, 10, floor=0.1)(10) == pytest.approx(0.1)


@dataclass
class Config:
    lr: float = 0.1
    hw: tuple[int, int] = (32, 32)
    out: Path = Path("x.pt")


def test_checkpoint_round_trip_and_config_check(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.ckpt"
    state = {"model": {"w": torch.ones(3)}, "epoch": 2, "losses": [0.5, 0.25]}
    save_checkpoint(path, state, Config())
    loaded = load_checkpoint(path, Config(), ("lr", "hw"))
    assert loaded["epoch"] == 2 and torch.equal(loaded["model"]["w"], torch.ones(3))
    assert loaded["config"] == {"lr": 0.1, "hw": [32, 32], "out": "x.pt"}
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temp file left behind
    with pytest.raises(InvalidInputError, match=r"another config \(lr: checkpoint 0.1 vs now 0.2\)"):
        load_checkpoint(path, Config(lr=0.2), ("lr",))


def test_a_crafted_pickle_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"model": Evil()}))
    with pytest.raises(InvalidInputError, match="not a loadable checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(InvalidInputError, match=r"junk\.pt"):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(InvalidInputError, match="no CUDA GPU"):
        resolve_device("cuda:0")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_factory_checks_the_device(tmp_path: Path) -> None:
    from fashionlens.core.settings import load_settings
    from fashionlens.models import factory

    settings = load_settings({"home": tmp_path, "device": "cuda"})
    with pytest.raises(InvalidInputError, match="no CUDA GPU"):
        factory.backbone(settings)
    with pytest.raises(InvalidInputError, match="no CUDA GPU"):
        factory.unet(settings)
