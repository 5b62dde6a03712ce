"""Outfits read from real CCP photos: garments from pixel maps (with colours) and from tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import CountingProgress
from fashionlens.store.wardrobe import ROLES
from fashionlens.training.outfits import outfits_from_json, outfits_to_json, read_ccp_outfits


def test_pixel_and_tag_outfits(shared_data: Path) -> None:
    progress = CountingProgress()
    outfits = read_ccp_outfits(
        shared_data / "ccp", stems=["0001", "0002", "0003", "1005", "1006"], progress=progress
    )
    assert progress.total == 5 and progress.done == 5
    by_source = {o.source for o in outfits}
    assert by_source == {"pixel", "tags"}
    for o in outfits:
        assert len(o.garments) >= 2
        for g in o.garments:
            assert g.role in ROLES and g.label
            if o.source == "pixel":
                assert g.colour and g.lab is not None and 0 <= g.lab[0] <= 100
            else:
                assert g.colour == "" and g.lab is None
    assert outfits_from_json(outfits_to_json(outfits)) == outfits


def test_not_ccp(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    with pytest.raises(InvalidInputError):
        read_ccp_outfits(tmp_path)
