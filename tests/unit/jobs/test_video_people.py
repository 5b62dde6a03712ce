"""The video people finders' geometry: cut-out boxes and padded detector crops, on synthetic masks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings
from fashionlens.jobs.video_people import crop_boxes, people_finder
from fashionlens.models.segmenters.people import cutout_on_white, cutout_xyxy


@pytest.mark.parametrize(
    "box",
    [(10, 20, 30, 60), (0, 0, 12, 80), (40, 50, 64, 96), (0, 0, 64, 96)],
    ids=["inside", "top-left edge", "bottom-right edge", "whole image"],
)
def test_cutout_box_is_where_the_cutout_comes_from(box: tuple[int, int, int, int]) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (96, 64, 3), dtype=np.uint8)
    mask = np.zeros((96, 64), bool)
    x1, y1, x2, y2 = box
    mask[y1:y2, x1:x2] = True
    cx1, cy1, cx2, cy2 = cutout_xyxy(mask, 0.1)
    assert 0 <= cx1 <= x1 and 0 <= cy1 <= y1 and x2 <= cx2 <= 64 and y2 <= cy2 <= 96
    cut = cutout_on_white(rgb, mask, 0.1)
    assert cut.shape == (cy2 - cy1, cx2 - cx1, 3)
    inside = mask[cy1:cy2, cx1:cx2]
    assert (cut[inside] == rgb[cy1:cy2, cx1:cx2][inside]).all()
    assert (cut[~inside] == 255).all()


def test_cutout_box_of_an_empty_mask_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="empty mask"):
        cutout_xyxy(np.zeros((8, 8), bool))


def test_detector_crops_are_padded_and_clipped() -> None:
    crops = crop_boxes(np.array([[100, 50, 200, 350], [0, 0, 50, 100]], np.float32), 640, 360)
    (ax1, ay1, ax2, ay2), (bx1, by1, bx2, by2) = crops
    assert (ax1, ay1, ax2, ay2) == (92, 26, 208, 360)  # 8% of 100 x 300 each side; bottom clipped
    assert (bx1, by1) == (0, 0) and bx2 == 54 and by2 == 108


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="boxes, cutouts"):
        people_finder(Settings(home=tmp_path), "masks")
    assert people_finder(Settings(home=tmp_path), "cutouts").mode == "cutouts"
