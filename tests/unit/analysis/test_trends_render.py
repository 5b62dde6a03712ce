"""Trend plots: PNGs drawn without pyplot, colour shares drawn in the colours they name."""

from __future__ import annotations

import io
import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashionlens.analysis.trends import stats
from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import colour_names
from fashionlens.render import trends as render

SRC = Path(__file__).resolve().parents[3] / "src" / "fashionlens"


def _image(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _has(rgb: np.ndarray, hex_colour: str, min_pixels: int = 200) -> bool:
    want = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb.astype(int) - want).sum(axis=2) <= 3).sum()) >= min_pixels


def test_colour_names_map_to_their_own_prototype() -> None:
    named = render.colour_hex()
    prototypes = json.loads((SRC / "core" / "colour_prototypes.json").read_text())["prototypes"]
    assert set(named) == set(colour_names())
    for name in colour_names():
        assert named[name] == prototypes[name].get(name, next(iter(prototypes[name].values())))
    assert named["black"] == "#000000" and named["white"] == "#ffffff"


def test_colour_bars_are_drawn_in_the_colours_they_name() -> None:
    counts = pd.DataFrame({"red": [6, 1], "green": [2, 7]}, index=["street", "product"])
    rgb = _image(render.colour_bars(stats.share_table(counts), title="top colour"))
    named = render.colour_hex()
    assert _has(rgb, named["red"]) and _has(rgb, named["green"])
    assert not _has(rgb, named["purple"])


def test_share_bars_heatmap_and_lines() -> None:
    backend = matplotlib.get_backend()
    counts = pd.DataFrame({"dress": [2, 18], "outerwear": [0, 30]}, index=["runway", "street"])
    shares = stats.share_table(counts)
    bars = _image(render.share_bars(shares, title="category"))
    assert _has(bars, render.CATEGORY_COLOURS[0])  # the first category's segments
    grouped = _image(render.share_bars(shares, stacked=False))
    assert grouped.shape[1] > 0
    heat = _image(render.residual_heatmap(stats.chi_square_independence(counts).residual_frame()))
    assert heat.shape[0] > 100
    over = pd.DataFrame(
        {"group": "product", "period": ["2010", "2011"], "period_order": [0, 1], "category": "dress",
         "count": [3, 5], "share": [0.3, 0.5], "ci_low": [0.1, 0.2], "ci_high": [0.6, 0.8]}
    )  # fmt: skip
    assert _image(render.lines_over_time(over, title="t")).shape[0] > 100
    assert matplotlib.get_backend() == backend  # no global backend change
    with pytest.raises(InvalidInputError, match="lacks columns"):
        render.share_bars(shares.drop(columns="ci_low"))
    with pytest.raises(InvalidInputError, match="no residuals"):
        render.residual_heatmap(pd.DataFrame())
