"""Overlay PNGs of segmentation results: garment masks tinted by category, people outlined, labels."""

from __future__ import annotations

from typing import Any

import numpy as np

from fashionlens.core.labels import modanet_categories
from fashionlens.core.segmentation import GarmentInstances, People
from fashionlens.render.fonts import default_font

# One colour per ModaNet category (tab20-like, fixed so overlays compare across photos).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138),
)  # fmt: skip
PERSON_RGB = (255, 255, 0)


def category_colour(category: str) -> tuple[int, int, int]:
    return PALETTE[modanet_categories().index(category) % len(PALETTE)]


def _outline(mask: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    return mask & ~ndimage.binary_erosion(mask, iterations=2)


def render_overlay(rgb: np.ndarray, people: People, garments: GarmentInstances | None = None) -> Any:
    """A PIL image: the photo with garments tinted (alpha 0.5) and boxed with ``category score``,
    and each person outlined in yellow with ``person i``."""
    from PIL import Image, ImageDraw

    out = np.asarray(rgb, dtype=np.float32).copy()
    if garments is not None:
        for mask, cat in zip(garments.masks, garments.categories, strict=True):
            out[mask] = 0.5 * out[mask] + 0.5 * np.asarray(category_colour(cat), np.float32)
    for mask in people.masks:
        out[_outline(mask)] = PERSON_RGB
    image = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    size = max(10, round(min(image.size) / 40))
    font = default_font(size)
    for i, box in enumerate(people.xyxy):
        draw.text((float(box[0]) + 2, float(box[1]) + 2), f"person {i}", fill=PERSON_RGB, font=font)
    if garments is not None:
        for box, cat, score in zip(garments.xyxy, garments.categories, garments.scores, strict=True):
            colour = category_colour(cat)
            draw.rectangle([float(v) for v in box], outline=colour, width=2)
            label = f"{cat} {score:.2f}"
            x, y = float(box[0]), max(0.0, float(box[1]) - size - 2)
            tw = draw.textlength(label, font=font)
            draw.rectangle([x, y, x + tw + 4, y + size + 2], fill=colour)
            draw.text((x + 2, y), label, fill=(255, 255, 255), font=font)
    return image
