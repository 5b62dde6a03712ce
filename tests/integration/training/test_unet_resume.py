"""U-Net training resumes where its checkpoint stopped, refuses another config, and never runs
code from a crafted checkpoint (weights_only)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionlens.core.errors import InvalidInputError
from fashionlens.training.kit import load_checkpoint
from fashionlens.training.unet import train_unet

SMALL = {"input_hw": (96, 64), "batch_size": 4, "fraction": 0.01, "evaluate": False, "num_threads": 1}


def test_resume_continues_the_same_run(shared_data: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    out = tmp_path / "unet.pt"
    first = train_unet(shared_data / "ccp", out, epochs=2, **SMALL)  # type: ignore[arg-type]
    ckpt = Path(first.checkpoint_path)
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 2 and len(state["epoch_losses"]) == 2
    again = train_unet(shared_data / "ccp", out, epochs=3, resume=ckpt, **SMALL)  # type: ignore[arg-type]
    assert again.start_epoch == 2 and len(again.epoch_losses) == 3
    assert again.epoch_losses[:2] == first.epoch_losses  # the first two epochs are not re-run
    assert load_checkpoint(ckpt)["epoch"] == 3

    with pytest.raises(InvalidInputError, match=r"another config.*lr"):
        train_unet(shared_data / "ccp", out, epochs=4, resume=ckpt, lr=0.5, **SMALL)  # type: ignore[arg-type]


def test_a_crafted_checkpoint_runs_nothing(shared_data: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (Path.touch, (marker,))

    bad = tmp_path / "evil.ckpt"
    with bad.open("wb") as fh:
        pickle.dump({"model": Evil()}, fh)
    with pytest.raises(InvalidInputError, match="not a loadable checkpoint"):
        train_unet(shared_data / "ccp", tmp_path / "u.pt", epochs=1, resume=bad, **SMALL)  # type: ignore[arg-type]
    assert not marker.exists()


def test_balanced_loss_from_the_shipped_weights(shared_data: Path, tmp_path: Path) -> None:
    """A warm start keeps what the shipped model knows: its first epoch's loss is far below a cold start's."""
    torch.manual_seed(0)
    common = {**SMALL, "input_hw": (336, 224), "loss": "balanced"}
    warm = train_unet(shared_data / "ccp", tmp_path / "w.pt", epochs=1, init="shipped", **common)  # type: ignore[arg-type]
    cold = train_unet(shared_data / "ccp", tmp_path / "c.pt", epochs=1, **common)  # type: ignore[arg-type]
    assert warm.epoch_losses[0] < 0.8 * cold.epoch_losses[0]
    assert load_checkpoint(Path(warm.checkpoint_path))["config"]["loss"] == "balanced"
    with pytest.raises(InvalidInputError, match="loss must be"):
        train_unet(shared_data / "ccp", tmp_path / "x.pt", epochs=1, loss="focal", **SMALL)  # type: ignore[arg-type]


def test_rare_class_sampling_and_zoom_crops_train_and_are_recorded(shared_data: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    options = {**SMALL, "fraction": 0.02, "sampling": "repeat_factor", "zoom_crops": 0.5}
    report = train_unet(shared_data / "ccp", tmp_path / "r.pt", epochs=1, **options)  # type: ignore[arg-type]
    assert np.isfinite(report.epoch_losses).all()
    config = load_checkpoint(Path(report.checkpoint_path))["config"]
    recorded = (config["sampling"], config["repeat_threshold"], config["zoom_crops"], config["zoom_rarity"])
    assert recorded == ("repeat_factor", 0.3, 0.5, "pixels")
    with pytest.raises(InvalidInputError, match="sampling must be"):
        train_unet(shared_data / "ccp", tmp_path / "x.pt", epochs=1, sampling="balanced", **SMALL)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="zoom_crops"):
        train_unet(shared_data / "ccp", tmp_path / "x.pt", epochs=1, zoom_crops=1.5, **SMALL)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="zoom_rarity"):
        train_unet(shared_data / "ccp", tmp_path / "x.pt", epochs=1, zoom_rarity="area", **SMALL)  # type: ignore[arg-type]
