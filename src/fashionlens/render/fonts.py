"""The font every visual report draws with."""

from __future__ import annotations

from typing import Any


def default_font(size: int) -> Any:
    """Pillow's default font at ``size`` px (the fixed bitmap font on a Pillow without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()
