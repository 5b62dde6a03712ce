from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fashionlens.core.errors import InvalidInputError, WeightsNotFoundError
from fashionlens.models.backbones.text_tower import Projection
from fashionlens.training.text_tower import captions_for


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [
        (
            {
                "productDisplayName": "Nike Men Blue Tee",
                "articleType": "Tshirts",
                "baseColour": "Navy Blue",
                "gender": "Men",
                "season": "Summer",
                "usage": "Casual",
            },
            [
                "Nike Men Blue Tee",
                "a photo of a navy blue tshirts",
                "tshirts for men",
                "summer casual tshirts",
            ],
        ),
        (
            {
                "productDisplayName": "",
                "articleType": "Watches",
                "baseColour": "NA",
                "gender": "Unisex",
                "season": "",
                "usage": "",
            },
            ["a photo of a watches", "watches for everyone"],
        ),
        ({"productDisplayName": "Only a name"}, ["Only a name"]),
        ({}, []),
    ],
)
def test_captions_for(attrs: dict[str, str], expected: list[str]) -> None:
    assert captions_for(attrs) == expected


def test_projection_roundtrip_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    proj = Projection(rng.normal(size=(6, 4)).astype(np.float32), np.zeros(4, np.float32), {"a": 1})
    x = rng.normal(size=(3, 6)).astype(np.float32)
    y = proj(x)
    assert y.shape == (3, 4) and y.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(y, axis=1), 1.0, rtol=1e-5)
    back = Projection.load(proj.save(tmp_path / "p.npz"))
    np.testing.assert_array_equal(back(x), y)
    assert back.card == {"a": 1}
    with pytest.raises(InvalidInputError, match="expects 6-d"):
        proj(np.ones((1, 5), np.float32))
    with pytest.raises(WeightsNotFoundError, match="fashionlens train text-tower"):
        Projection.load(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(InvalidInputError, match="not a fashionlens projection"):
        Projection.load(tmp_path / "bad.npz")
