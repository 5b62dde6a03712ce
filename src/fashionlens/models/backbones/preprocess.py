"""Image -> model input, driven by a `BackboneSpec` (resize shorter side, center crop, normalise).

Pure PIL + numpy (no torch), so it can run in worker threads or processes. Any PIL mode is
accepted: L, LA, P (with or without transparency), RGBA, CMYK, I;16, I, F, 1, YCbCr...; alpha is
composited on white (product shots are on white). EXIF orientation is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from fashionlens.core.errors import InvalidInputError
from fashionlens.ingest.images import to_rgb

__all__ = ["preprocess_uint8", "resize_center_crop", "to_rgb"]

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def resize_center_crop(
    image: Image.Image, resize_size: int, crop_size: int, interpolation: str = "bilinear"
) -> Image.Image:
    """Resize the shorter side to ``resize_size`` and take the central ``crop_size`` square.

    Pixel-identical to torchvision's ``Resize(resize_size)`` + ``CenterCrop(crop_size)`` on PIL
    images. Only for extreme aspect ratios (long > 4x short) the crop box is cut from the original
    first, so a 1x4000 strip does not blow up into a 256x1_000_000 intermediate.
    """
    resample = _RESAMPLE[interpolation]
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    if long > 4 * short:
        scale = resize_size / short
        box_w, box_h = min(w, crop_size / scale), min(h, crop_size / scale)
        left, top = (w - box_w) / 2.0, (h - box_h) / 2.0
        out_w = max(1, min(crop_size, round(box_w * scale)))
        out_h = max(1, min(crop_size, round(box_h * scale)))
        image = image.resize((out_w, out_h), resample, box=(left, top, left + box_w, top + box_h))
    else:
        new_short, new_long = resize_size, int(resize_size * long / short)
        new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
        if (new_w, new_h) != (w, h):
            image = image.resize((new_w, new_h), resample)
    w, h = image.size
    if (w, h) == (crop_size, crop_size):
        return image
    if w < crop_size or h < crop_size:  # pad like torchvision's CenterCrop
        canvas = Image.new("RGB", (max(w, crop_size), max(h, crop_size)))
        canvas.paste(image, ((canvas.width - w) // 2, (canvas.height - h) // 2))
        image, (w, h) = canvas, canvas.size
    left = round((w - crop_size) / 2.0)
    top = round((h - crop_size) / 2.0)
    return image.crop((left, top, left + crop_size, top + crop_size))


def preprocess_uint8(
    images: Sequence[Any], resize_size: int, crop_size: int, interpolation: str = "bilinear"
) -> np.ndarray:
    """Images -> ``uint8 (N, crop, crop, 3)`` (NHWC; normalisation happens on the tensor)."""
    out = np.empty((len(images), crop_size, crop_size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        try:
            rgb = to_rgb(image)
        except InvalidInputError as exc:
            raise InvalidInputError(f"image {i}: {exc}") from exc
        out[i] = np.asarray(resize_center_crop(rgb, resize_size, crop_size, interpolation))
    return out
