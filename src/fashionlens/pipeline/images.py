"""Open images for models (EXIF orientation applied, any mode to RGB, clear errors naming the file),
and the font the visual reports draw with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fashionlens.core.errors import InvalidInputError


def open_rgb(path: str | Path):
    """Decode ``path`` to an RGB PIL image (EXIF-rotated; grayscale, CMYK, palette, alpha converted)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as raw:
            im = ImageOps.exif_transpose(raw)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                return Image.alpha_composite(background, rgba).convert("RGB")
            return im.convert("RGB")
    except FileNotFoundError as exc:
        raise InvalidInputError(f"{path}: file not found") from exc
    except UnidentifiedImageError as exc:
        raise InvalidInputError(f"{path}: not an image") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInputError(f"{path}: corrupt or truncated image ({exc})") from exc


def default_font(size: int) -> Any:
    """Pillow's default font at ``size`` px (the fixed bitmap font on a Pillow without FreeType)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):
        return ImageFont.load_default()
