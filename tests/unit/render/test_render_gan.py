"""GAN pictures: value mapping, grid layout, plots on Agg without touching the global backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch

from fashionlens.core.errors import InvalidInputError
from fashionlens.render.gan import (
    image_grid,
    interpolation_strip,
    kid_curve_plot,
    loss_plot,
    save_png,
    to_uint8,
)


def test_to_uint8_maps_tanh_range() -> None:
    x = torch.tensor([-1.0, 0.0, 1.0, 2.0]).view(1, 1, 2, 2)
    out = to_uint8(x)
    assert out.shape == (1, 2, 2, 3) and out.dtype == np.uint8
    assert out[0, :, :, 0].ravel().tolist() == [0, 128, 255, 255]
    assert np.array_equal(out[..., 0], out[..., 2])  # grey becomes 3 equal channels
    with pytest.raises(InvalidInputError, match="shape"):
        to_uint8(np.zeros((2, 4, 8, 8)))


def test_grid_layout() -> None:
    images = np.stack([np.full((4, 4, 3), i * 20, np.uint8) for i in range(10)])
    grid = image_grid(images, nrow=4, padding=1)
    assert grid.shape == (3 * 5 + 1, 4 * 5 + 1, 3)  # 3 rows of 4, 1 px padding
    assert (grid[1:5, 1:5] == 0).all() and (grid[6:10, 6:10] == 100).all()  # image 0, image 5
    assert (grid[11:15, 11:15] == 255).all()  # the empty 11th cell is padding
    strip = interpolation_strip(images[:3], padding=0)
    assert strip.shape == (4, 12, 3)


def test_plots_write_pngs_without_touching_the_backend(tmp_path: Path) -> None:
    from PIL import Image

    before = matplotlib.rcParams._get_backend_or_none()  # type: ignore[attr-defined]
    lp = loss_plot([3.0, 2.0, 1.0, 1.5], [1.0, 1.2, 0.8, 0.9], tmp_path / "loss.png", iters_per_epoch=2)
    kp = kid_curve_plot(
        {"cond": [(1, 0.5), (2, 0.2)], "uncond": [(1, 0.6)]}, tmp_path / "kid.png", floor=0.01
    )
    assert matplotlib.rcParams._get_backend_or_none() == before  # type: ignore[attr-defined]
    for path in (lp, kp):
        with Image.open(path) as im:
            assert im.format == "PNG" and im.width > 300


def test_save_png_scales(tmp_path: Path) -> None:
    from PIL import Image

    path = save_png(np.zeros((5, 7, 3), np.uint8), tmp_path / "a" / "x.png", scale=3)
    with Image.open(path) as im:
        assert im.size == (21, 15)
