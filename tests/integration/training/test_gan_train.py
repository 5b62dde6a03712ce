"""A real (tiny) DCGAN run on catalogue products: outputs every epoch, exact resume, checked config."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from fashionlens.core.errors import InvalidInputError
from fashionlens.models.generators.dcgan import DCGANGenerator
from fashionlens.training.gan import GANConfig, load_gan_data, train_gan


@pytest.fixture(scope="module")
def products_256(shared_data: Path):  # type: ignore[no-untyped-def]
    cfg = GANConfig(data_root=str(shared_data / "products"), max_images=256)
    return load_gan_data(cfg)


def test_products_become_64px_with_a_fixed_held_out_set(products_256) -> None:  # type: ignore[no-untyped-def]
    data = products_256
    assert data.images.shape == (len(data), 64, 64, 3) and len(data) >= 250
    assert 10 <= len(data.heldout_idx) <= 45  # ~10% by crc32 of the product id
    assert not set(data.train_idx) & set(data.heldout_idx)
    # catalogue photos are on white: the corners of most images are near-white
    corners = data.images[:, [0, 0, -1, -1], [0, -1, 0, -1]].mean(axis=(1, 2))
    assert np.median(corners) > 230
    assert "Tshirts" in data.labels and "black" in data.colours


def test_one_epoch_then_resume_is_the_same_as_two(products_256, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg = GANConfig(
        data_root="products-256",
        out_dir=tmp_path / "a",
        epochs=1,
        conditional="label+colour",
        kid_n=32,
        threads=1,
    )
    first = train_gan(cfg, data=products_256)
    out = cfg.out_dir
    assert first.epochs_run == 1 and first.checkpoint.is_file()
    assert (out / "samples" / "epoch_001.png").is_file() and (out / "losses.png").is_file()
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 1 and np.isfinite(history[0]["kid"]) and history[0]["loss_g"] > 0
    assert first.kid_curve and first.kid_curve[0][0] == 1

    with pytest.raises(InvalidInputError, match="resume"):
        train_gan(cfg, data=products_256)  # a checkpoint is there: never overwritten silently
    with pytest.raises(InvalidInputError, match="lr"):
        train_gan(replace(cfg, epochs=2, resume=True, lr=1e-3), data=products_256)

    resumed = train_gan(replace(cfg, epochs=2, resume=True), data=products_256)
    assert resumed.epochs_run == 2 and (out / "samples" / "epoch_002.png").is_file()
    assert len(json.loads((out / "history.json").read_text())) == 2

    straight = train_gan(replace(cfg, out_dir=tmp_path / "b", epochs=2, kid_n=0), data=products_256)
    a = torch.load(resumed.checkpoint, weights_only=True)["G"]
    b = torch.load(straight.checkpoint, weights_only=True)["G"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)

    # the exported fp16 generator samples each article type it learned
    gen = DCGANGenerator(resumed.generator_path)
    images, names = gen.generate(8, label="Tshirts", colour="black", seed=0)
    assert images.shape == (8, 64, 64, 3) and all(n == ("Tshirts", "black") for n in names)
    assert resumed.generator_path.stat().st_size < 10_000_000


def test_fashion_mnist_trains_a_grey_generator(tmp_path: Path) -> None:
    cfg = GANConfig(
        data="fashion-mnist", out_dir=tmp_path, epochs=1, max_images=96, conditional="label", kid_n=0
    )
    data = load_gan_data(cfg)
    assert data.images.shape[1:] == (64, 64, 1) and data.source == "fashion-mnist"
    assert data.held_out.sum() == 16 and all(
        k.startswith("t10k/") for k in np.array(data.keys)[data.held_out]
    )
    assert "Ankle boot" in data.labels
    report = train_gan(cfg, data=data)
    images, names = DCGANGenerator(report.generator_path).generate(4, label="Ankle boot")
    assert images.shape == (4, 64, 64, 3) and names[0] == ("Ankle boot",)
    assert np.array_equal(images[..., 0], images[..., 2])  # grey


def test_a_folder_of_images_labels_from_subfolders(shared_data: Path, tmp_path: Path) -> None:
    cfg = GANConfig(data=str(shared_data / "clothing" / "validation"), out_dir=tmp_path, max_images=60)
    data = load_gan_data(cfg)
    assert len(data) == 60 and data.images.shape[1:] == (64, 64, 3) and data.source == "folder"
    assert set(data.labels) <= {"dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts",
                                "skirt", "t-shirt"}  # fmt: skip
    with pytest.raises(InvalidInputError, match="colours"):
        train_gan(
            GANConfig(data=cfg.data, out_dir=tmp_path / "c", conditional="colour", max_images=60), data=data
        )
