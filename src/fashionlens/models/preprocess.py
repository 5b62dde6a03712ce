"""Image -> model input, driven by a `BackboneSpec` (resize shorter side, center crop, normalise).

Pure PIL + numpy (no torch), so it can run in worker threads or processes. Any PIL mode is
accepted: L, LA, P (with or without transparency), RGBA, CMYK, I;16, I, F, 1, YCbCr...; alpha is
composited on white (product shots are on white). EXIF orientation is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from fashionlens.core.errors import InvalidInputError

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
}


def to_rgb(image: Any) -> Image.Image:
    """Return an RGB PIL image from a PIL image of any mode, an HxW[xC] uint8 array, or a path."""
    if isinstance(image, (str, Path)):
        try:
            with Image.open(image) as im:
                im.load()
                image = im.copy() if im.mode != "P" else im.convert("RGBA")
        except (OSError, Image.DecompressionBombError) as exc:
            raise InvalidInputError(f"{image}: cannot read image ({exc})") from exc
    elif isinstance(image, np.ndarray):
        arr = image
        if arr.dtype != np.uint8:
            raise InvalidInputError(f"image array: expected dtype uint8; got {arr.dtype}")
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[:, :, 0]
        if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
            raise InvalidInputError(f"image array: expected HxW, HxWx3 or HxWx4; got shape {arr.shape}")
        image = Image.fromarray(arr)
    if not isinstance(image, Image.Image):
        raise InvalidInputError(f"expected a PIL image, uint8 array or path; got {type(image).__name__}")
    if image.size[0] < 1 or image.size[1] < 1:
        raise InvalidInputError(f"image has an empty size {image.size}")

    try:
        if image.getexif().get(0x0112, 1) != 1:  # EXIF orientation
            image = ImageOps.exif_transpose(image)
    except Exception:  # broken EXIF never blocks embedding
        pass
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


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
