"""Dominant colour naming: which of the 11 colour names an image (or a masked region) is made of.

1. Pixels: with a mask, the pixels inside it; without, every pixel except the near-white studio
   background *connected to the image border* (a white garment in the middle is kept). If that
   leaves (almost) nothing, e.g. a white shirt on white, all pixels are used.
2. k-means in CIE Lab (D65) on a seeded subsample; every foreground pixel goes to its nearest centre.
3. Each centre gets a name: black / grey / white by lightness when its chroma is low, else the name
   of the nearest reference colour in Lab. The references (several per name: navy and sky for blue,
   beige and khaki for brown...) and the thresholds are data in ``core/colour_prototypes.json``.
4. Clusters with the same name are merged; names come back sorted by share (the shares sum to 1).

`baseline_colour` is the plain alternative: per-pixel HSV intervals, majority vote.
numpy, scipy and scikit-learn only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import colour_names

logger = logging.getLogger(__name__)

Background = Literal["auto", "white", "none"]
BACKGROUNDS: tuple[str, ...] = ("auto", "white", "none")

# sRGB (linear) -> XYZ, D65 white, IEC 61966-2-1
_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_EPS = (6 / 29) ** 3
_MIN_FOREGROUND = 0.005  # below this share of the image the background removal is undone


# -- colour spaces ---------------------------------------------------------------------------------


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 255] (``(..., 3)``, any numeric dtype) -> CIE L*a*b* (D65), float64.

    L* is in [0, 100]; white ``(255, 255, 255)`` is ``(100, 0, 0)``.
    """
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    if c.shape[-1:] != (3,):
        raise InvalidInputError(f"srgb_to_lab expects (..., 3) values; got shape {c.shape}")
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _RGB_TO_XYZ.T / WHITE_D65
    f = np.where(xyz > _EPS, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1
    )


def lab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) ``(..., 3)`` -> sRGB in [0, 255] (float64, clipped to the gamut)."""
    lab = np.asarray(lab, dtype=np.float64)
    if lab.shape[-1:] != (3,):
        raise InvalidInputError(f"lab_to_srgb expects (..., 3) values; got shape {lab.shape}")
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    xyz = np.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * WHITE_D65
    linear = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
    c = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(c * 255.0, 0.0, 255.0)


# -- reference palette (data) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Palette:
    """Named reference colours in Lab and the achromatic / background thresholds."""

    names: tuple[str, ...]  # one per prototype row
    labels: tuple[str, ...]  # e.g. "navy"
    lab: np.ndarray  # (P, 3)
    achromatic: dict[str, float]
    background: dict[str, float]


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    v = value.lstrip("#")
    if len(v) != 6:
        raise InvalidInputError(f"colour_prototypes.json: expected #rrggbb; got {value!r}")
    return int(v[0:2], 16), int(v[2:4], 16), int(v[4:6], 16)


@cache
def palette() -> Palette:
    """The reference palette shipped in ``core/colour_prototypes.json``."""
    text = resources.files("fashionlens.core").joinpath("colour_prototypes.json").read_text(encoding="utf-8")
    data = json.loads(text)
    protos: dict[str, dict[str, str]] = data["prototypes"]
    unknown = set(protos) ^ set(colour_names())
    if unknown:
        raise InvalidInputError(
            f"colour_prototypes.json: names differ from colour_names(): {sorted(unknown)}"
        )
    names, labels, rgb = [], [], []
    for name in colour_names():
        for label, hexcode in protos[name].items():
            names.append(name)
            labels.append(label)
            rgb.append(_hex_to_rgb(hexcode))
    return Palette(
        tuple(names),
        tuple(labels),
        srgb_to_lab(np.array(rgb)),
        dict(data["achromatic"]),
        dict(data["background"]),
    )


def name_lab(lab: np.ndarray) -> list[str]:
    """Name Lab colours ``(N, 3)`` (or one ``(3,)``): achromatic rule first, else nearest prototype."""
    lab = np.atleast_2d(np.asarray(lab, dtype=np.float64))
    pal = palette()
    rule = pal.achromatic
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    dist = ((lab[:, None, :] - pal.lab[None, :, :]) ** 2).sum(-1)
    nearest = [pal.names[i] for i in dist.argmin(1)]
    out = []
    for (lightness, _, _), c, near in zip(lab, chroma, nearest, strict=True):
        if c < rule["max_chroma"]:
            if lightness < rule["black_max_l"]:
                near = "black"
            elif lightness > rule["white_min_l"]:
                near = "white"
            else:
                near = "grey"
        out.append(near)
    return out


# -- input -----------------------------------------------------------------------------------------


def to_rgb_array(image: Any) -> np.ndarray:
    """A PIL image (any mode), an ``(H, W)`` / ``(H, W, 3|4)`` array or a path -> ``uint8 (H, W, 3)``.

    Alpha is composited over white; integer arrays must be in [0, 255], float arrays in [0, 1].
    """
    if isinstance(image, str | Path):
        from fashionlens.pipeline.images import open_rgb

        image = open_rgb(image)
    if hasattr(image, "mode") and hasattr(image, "convert"):  # PIL, imported lazily
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            image = image.convert("RGBA")
        elif image.mode != "RGB":
            image = image.convert("RGB")
    arr = np.asarray(image)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise InvalidInputError(f"image must hold numbers; got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise InvalidInputError(f"image must be (H, W), (H, W, 3) or (H, W, 4); got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidInputError(f"image is empty: shape {arr.shape}")
    x = arr.astype(np.float64)
    if not np.isfinite(x).all():
        raise InvalidInputError("image contains NaN or inf")
    top = 1.0 if np.issubdtype(arr.dtype, np.floating) else 255.0
    if x.min() < 0 or x.max() > top:
        raise InvalidInputError(
            f"{arr.dtype} image values must be in [0, {top:g}]; got [{x.min()}, {x.max()}]"
        )
    x = x / top
    if x.shape[2] == 4:  # straight alpha over white
        alpha = x[..., 3:]
        x = x[..., :3] * alpha + (1.0 - alpha)
    return np.rint(x * 255.0).astype(np.uint8)


def _check_mask(mask: Any, shape_hw: tuple[int, int]) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[..., 0]
    if m.shape != shape_hw:
        raise InvalidInputError(f"mask shape {m.shape} does not match the image: expected {shape_hw}")
    m = m.astype(bool)
    if not m.any():
        raise InvalidInputError("mask selects no pixels")
    return m


def foreground_mask(
    rgb: np.ndarray, background: Background = "auto", *, lab: np.ndarray | None = None
) -> np.ndarray:
    """Pixels that are not studio background: ``bool (H, W)``.

    ``white`` removes near-white pixels connected to the border (then shaves a ``shave_px`` halo);
    ``auto`` does that only when at least ``border_share`` of the border is near-white (a studio
    shot), else keeps everything, as ``none`` does. If less than 0.5% of the image is left, all of
    it is kept (a white object on white is white).
    """
    from scipy import ndimage

    if background not in BACKGROUNDS:
        raise InvalidInputError(f"background must be one of {', '.join(BACKGROUNDS)}; got {background!r}")
    h, w = rgb.shape[:2]
    keep_all = np.ones((h, w), dtype=bool)
    if background == "none":
        return keep_all
    rule = palette().background
    lab = srgb_to_lab(rgb) if lab is None else lab
    white = (lab[..., 0] >= rule["min_l"]) & (np.hypot(lab[..., 1], lab[..., 2]) <= rule["max_chroma"])
    border = np.concatenate([white[0], white[-1], white[1:-1, 0], white[1:-1, -1]])
    if background == "auto" and border.mean() < rule["border_share"]:
        return keep_all
    components, _ = ndimage.label(white)
    touching = np.unique(np.concatenate([components[0], components[-1], components[:, 0], components[:, -1]]))
    bg = np.isin(components, touching[touching > 0])
    shave = int(rule["shave_px"])
    if shave > 0:
        bg = ndimage.binary_dilation(bg, iterations=shave)
    fg = ~bg
    if fg.sum() < max(1.0, _MIN_FOREGROUND * h * w):
        return keep_all
    return fg


# -- dominant colours ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColourShare:
    """One named colour of an image: its share of the (foreground) pixels and its mean colour."""

    name: str
    share: float
    lab: tuple[float, float, float]
    rgb: tuple[int, int, int]

    def __post_init__(self) -> None:
        if self.name not in colour_names():
            raise InvalidInputError(
                f"colour name must be one of {', '.join(colour_names())}; got {self.name!r}"
            )
        if not 0.0 <= self.share <= 1.0:
            raise InvalidInputError(f"share must be in [0, 1]; got {self.share}")

    @property
    def hex(self) -> str:
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


def dominant_colours(
    image: Any,
    mask: Any = None,
    *,
    k: int = 4,
    max_pixels: int = 4096,
    background: Background = "auto",
    seed: int = 0,
) -> list[ColourShare]:
    """The named colours of ``image`` (or of the ``mask`` region), largest share first.

    ``image``: PIL image, array or path (see `to_rgb_array`). ``mask``: ``(H, W)``, nonzero = inside;
    with a mask, ``background`` is not used. ``k`` clusters are fitted in Lab on at most
    ``max_pixels`` seeded random pixels; clusters that get the same name are merged.
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise InvalidInputError(f"k must be a positive integer; got {k!r}")
    if max_pixels < 1:
        raise InvalidInputError(f"max_pixels must be >= 1; got {max_pixels}")
    rgb = to_rgb_array(image)
    lab_img = srgb_to_lab(rgb)
    if mask is not None:
        fg = _check_mask(mask, rgb.shape[:2])
    else:
        fg = foreground_mask(rgb, background, lab=lab_img)
    pixels = lab_img[fg]
    centres, counts = _cluster(pixels, k, max_pixels, seed)
    names = name_lab(centres)
    total = counts.sum()
    out = []
    for name in sorted(set(names)):
        idx = [i for i, n in enumerate(names) if n == name]
        weight = counts[idx].astype(np.float64)
        lab = (centres[idx] * weight[:, None]).sum(0) / weight.sum()
        rgb_mean = np.rint(lab_to_srgb(lab)).astype(int)
        out.append(
            ColourShare(
                name,
                float(weight.sum() / total),
                (float(lab[0]), float(lab[1]), float(lab[2])),
                (int(rgb_mean[0]), int(rgb_mean[1]), int(rgb_mean[2])),
            )
        )
    out.sort(key=lambda c: (-c.share, c.name))
    return out


def _cluster(pixels: np.ndarray, k: int, max_pixels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """k-means centres ``(k', 3)`` and how many of ``pixels`` fall nearest each (k' <= k)."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    sample = (
        pixels if len(pixels) <= max_pixels else pixels[rng.choice(len(pixels), max_pixels, replace=False)]
    )
    n_distinct = len(np.unique(np.round(sample, 3), axis=0))
    k_eff = min(k, n_distinct)
    if k_eff == 1:
        return sample.mean(0, keepdims=True), np.array([len(pixels)])
    km = KMeans(n_clusters=k_eff, n_init=2, random_state=seed).fit(sample)
    centres = km.cluster_centers_
    # every foreground pixel to its nearest centre, in chunks to bound memory
    labels = np.concatenate(
        [
            ((chunk[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
            for chunk in np.array_split(pixels, max(1, len(pixels) // 65536))
        ]
    )
    counts = np.bincount(labels, minlength=k_eff)
    keep = counts > 0
    return centres[keep], counts[keep]


# -- baseline --------------------------------------------------------------------------------------


def rgb_to_hsv(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 255] ``(..., 3)`` -> HSV with hue in degrees [0, 360), saturation and value in [0, 1]."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    v = c.max(-1)
    delta = v - c.min(-1)
    s = np.where(v > 0, delta / np.where(v > 0, v, 1), 0.0)
    r, g, b = c[..., 0], c[..., 1], c[..., 2]
    d = np.where(delta > 0, delta, 1.0)
    h = np.where(v == r, ((g - b) / d) % 6, np.where(v == g, (b - r) / d + 2, (r - g) / d + 4)) * 60.0
    return np.stack([np.where(delta > 0, h, 0.0) % 360.0, s, v], axis=-1)


# hue interval upper bounds (degrees) -> name, for saturated pixels
_HUE_NAMES = (
    (15, "red"),
    (40, "orange"),
    (70, "yellow"),
    (165, "green"),
    (255, "blue"),
    (290, "purple"),
    (340, "pink"),
    (360, "red"),
)


def hsv_names(hsv: np.ndarray) -> np.ndarray:
    """Per-pixel names from HSV intervals (the baseline's rule): value, then saturation, then hue."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    names = np.full(h.shape, "grey", dtype=object)
    lo = 0.0
    for hi, name in _HUE_NAMES:
        names[(h >= lo) & (h < hi)] = name
        lo = hi
    warm = (h >= 15) & (h < 50)
    names[warm & (v < 0.6)] = "brown"  # dark orange / yellow
    names[(names == "red") & (s < 0.5) & (v > 0.7)] = "pink"  # light, desaturated red
    grey = s < 0.2
    names[grey] = "grey"
    names[grey & (v > 0.85)] = "white"
    names[v < 0.2] = "black"
    return names


def baseline_colour(image: Any, mask: Any = None, *, background: Background = "auto") -> str:
    """The HSV-interval baseline: majority name of the foreground pixels (same foreground rule)."""
    rgb = to_rgb_array(image)
    fg = _check_mask(mask, rgb.shape[:2]) if mask is not None else foreground_mask(rgb, background)
    names, counts = np.unique(hsv_names(rgb_to_hsv(rgb[fg])), return_counts=True)
    return str(names[counts.argmax()])
