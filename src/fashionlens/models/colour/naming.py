"""Dominant colour naming: which of the 11 colour names an image (or a masked region) is made of.

1. Pixels: with a mask, the pixels inside it; without, every pixel except the near-white studio
   background *connected to the image border* (a white garment in the middle is kept). If that
   leaves (almost) nothing, e.g. a white shirt on white, all pixels are used.
2. k-means in CIE Lab (D65) on a seeded subsample; every foreground pixel goes to its nearest centre.
   Without a mask, pixels are weighted by a Gaussian around the image centre (catalogue photos
   centre the product; the face and the jeans of a model sit at the edges).
3. Each centre gets a name: black / grey / white by lightness when its chroma is low, else the name
   of the nearest reference colour by CIE94 (textile setting). The references (several per name:
   navy and sky for blue, beige and khaki for brown...) and the thresholds are data in
   ``core/colour_prototypes.json``, chosen on a tuning split of the product catalogue.
4. Clusters with the same name are merged; names come back sorted by share (the shares sum to 1).

`baseline_colour` is the plain alternative: per-pixel HSV intervals, majority vote.
numpy, scipy and scikit-learn only.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from importlib import resources
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


@dataclass(frozen=True)
class Palette:
    """Named reference colours in Lab and the achromatic / background thresholds."""

    names: tuple[str, ...]  # one per prototype row
    labels: tuple[str, ...]  # e.g. "navy"
    lab: np.ndarray  # (P, 3)
    achromatic: dict[str, float]
    k_l: float
    background: dict[str, float]


@cache
def palette() -> Palette:
    """The reference palette shipped in ``core/colour_prototypes.json``."""
    text = resources.files("fashionlens.core").joinpath("colour_prototypes.json").read_text(encoding="utf-8")
    data = json.loads(text)
    protos: dict[str, dict[str, str]] = data["prototypes"]
    if set(protos) != set(colour_names()):
        raise InvalidInputError(f"colour_prototypes.json: names {sorted(protos)} != {colour_names()}")
    names, labels, rgb = [], [], []
    for name in colour_names():
        for label, hexcode in protos[name].items():
            names.append(name)
            labels.append(label)
            rgb.append(list(bytes.fromhex(hexcode.removeprefix("#"))))
    return Palette(
        tuple(names),
        tuple(labels),
        srgb_to_lab(np.array(rgb)),
        dict(data["achromatic"]),
        float(data["cie94_k_l"]),
        dict(data["background"]),
    )


def cie94(lab: np.ndarray, ref: np.ndarray, k_l: float = 2.0) -> np.ndarray:
    """Squared CIE94 colour difference of ``lab`` from reference colours ``ref`` (broadcast).

    ``k_l = 2`` is the textile setting (lightness differences count half); chroma and hue
    differences are scaled down as the reference's chroma grows (K1 = 0.048, K2 = 0.014).
    """
    d_l = lab[..., 0] - ref[..., 0]
    c1 = np.hypot(ref[..., 1], ref[..., 2])
    d_c = np.hypot(lab[..., 1], lab[..., 2]) - c1
    d_h2 = np.maximum((lab[..., 1] - ref[..., 1]) ** 2 + (lab[..., 2] - ref[..., 2]) ** 2 - d_c**2, 0.0)
    return (d_l / k_l) ** 2 + (d_c / (1 + 0.048 * c1)) ** 2 + d_h2 / (1 + 0.014 * c1) ** 2


def name_lab(lab: np.ndarray) -> list[str]:
    """Name Lab colours ``(N, 3)`` (or one ``(3,)``): achromatic rule first, else nearest prototype.

    Chroma below ``max_chroma`` -> black / grey / white by L*; otherwise the name of the nearest
    prototype by CIE94 (textile ``k_L``).
    """
    lab = np.atleast_2d(np.asarray(lab, dtype=np.float64))
    pal = palette()
    rule = pal.achromatic
    dist = cie94(lab[:, None, :], pal.lab[None, :, :], pal.k_l)
    lightness = lab[:, 0]
    names = np.array(pal.names, dtype=object)[dist.argmin(1)]
    neutral = np.hypot(lab[:, 1], lab[:, 2]) < rule["max_chroma"]
    by_lightness = np.where(
        lightness < rule["black_max_l"], "black", np.where(lightness > rule["white_min_l"], "white", "grey")
    )
    names[neutral] = by_lightness[neutral]
    return [str(n) for n in names]


def to_rgb_array(image: Any) -> np.ndarray:
    """A PIL image (any mode) or an ``(H, W)`` / ``(H, W, 3|4)`` array -> ``uint8 (H, W, 3)``.

    Alpha is composited over white; integer arrays must be in [0, 255], float arrays in [0, 1].
    Files: open them with `fashionlens.ingest.images.open_rgb` (EXIF, modes, clear errors).
    """
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
        logger.debug("background removal left %d of %d pixels; using them all", fg.sum(), h * w)
        return keep_all
    return fg


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
    centre_sigma: float | None = 0.2,
    seed: int = 0,
) -> list[ColourShare]:
    """The named colours of ``image`` (or of the ``mask`` region), largest share first.

    ``image``: PIL image or array (see `to_rgb_array`). ``mask``: ``(H, W)``, nonzero = inside; with
    a mask, ``background`` and ``centre_sigma`` are not used. ``k`` clusters are fitted in Lab on at
    most ``max_pixels`` seeded random pixels; clusters that get the same name are merged.
    ``centre_sigma`` (a fraction of the image side; None = uniform) weights pixels towards the
    centre, so a share is then a centre-weighted share of the foreground.
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
    weights = None
    if mask is None and centre_sigma is not None:
        if centre_sigma <= 0:
            raise InvalidInputError(f"centre_sigma must be > 0 or None; got {centre_sigma}")
        weights = centre_weights(rgb.shape[:2], centre_sigma)[fg]
    centres, counts = _cluster(lab_img[fg], k, max_pixels, seed, weights)
    names = name_lab(centres)
    out = []
    for name in sorted(set(names)):
        idx = [i for i, n in enumerate(names) if n == name]
        lab = np.average(centres[idx], axis=0, weights=counts[idx])
        rgb_mean = tuple(int(v) for v in np.rint(lab_to_srgb(lab)))
        share = float(counts[idx].sum() / counts.sum())
        out.append(ColourShare(name, share, tuple(float(v) for v in lab), rgb_mean))  # type: ignore[arg-type]
    return sorted(out, key=lambda c: (-c.share, c.name))


@cache
def _threadpools() -> Any:
    """The process's BLAS/OpenMP pools, found once (finding them reads /proc/self/maps: ~3 ms, more
    than the k-means of one garment), after sklearn's k-means has loaded its OpenMP."""
    from sklearn.cluster import KMeans  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class _OneThread:
    """k-means on one thread, safe when several threads cluster at once (the segment job's photo
    threads). OpenMP's thread count belongs to the calling thread, so each caller lowers its own.
    BLAS's is process-wide: set and restored by each caller, interleaved callers would restore each
    other's 1 and leave BLAS on one thread for the rest of the process; so the first concurrent
    caller lowers it and the last one restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._blas: Any = None

    @contextmanager
    def __call__(self) -> Iterator[None]:
        pools = _threadpools()
        with self._lock:
            if self._users == 0:
                self._blas = pools.select(user_api="blas").limit(limits=1)
            self._users += 1
        try:
            with pools.select(user_api="openmp").limit(limits=1):
                yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._blas.restore_original_limits()
                    self._blas = None


_one_thread = _OneThread()


def _cluster(
    pixels: np.ndarray, k: int, max_pixels: int, seed: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """k-means centres ``(k', 3)`` and the (weighted) amount of ``pixels`` nearest each (k' <= k)."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    if len(pixels) <= max_pixels and weights is None:
        sample = pixels
    else:
        p = None if weights is None else weights / weights.sum()
        sample = pixels[rng.choice(len(pixels), min(max_pixels, len(pixels)), replace=False, p=p)]
    n_distinct = len(np.unique(np.round(sample, 3), axis=0))
    k_eff = min(k, n_distinct)
    if k_eff == 1:
        return sample.mean(0, keepdims=True), np.array([len(pixels) if weights is None else weights.sum()])
    with _one_thread():  # threads only add start-up cost on a few thousand points
        centres = KMeans(n_clusters=k_eff, n_init=2, random_state=seed).fit(sample).cluster_centers_
    # every foreground pixel to its nearest centre, in chunks to bound memory
    chunks = np.array_split(pixels, max(1, len(pixels) // 65536))
    labels = np.concatenate([((c[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1) for c in chunks])
    counts = np.bincount(labels, weights=weights, minlength=k_eff)
    keep = counts > 0
    return centres[keep], counts[keep]


def centre_weights(shape_hw: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian weight ``(H, W)`` around the image centre; ``sigma`` as a fraction of height/width."""
    h, w = shape_hw
    y = (np.arange(h) + 0.5) / h - 0.5
    x = (np.arange(w) + 0.5) / w - 0.5
    # floored so that sampling with these weights never runs out of non-zero pixels
    return np.maximum(np.exp(-0.5 * ((y[:, None] / sigma) ** 2 + (x[None, :] / sigma) ** 2)), 1e-9)


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
_HUE_NAMES: tuple[tuple[int, str], ...] = ((15, "red"), (40, "orange"), (70, "yellow"), (165, "green"))
_HUE_NAMES += ((255, "blue"), (290, "purple"), (340, "pink"), (360, "red"))


# chosen on the benchmark's tuning split (grid search), like the Lab method's thresholds
BASELINE_THRESHOLDS: dict[str, float] = {
    "black_max_v": 0.25,  # darker -> black
    "grey_max_s": 0.1,  # less saturated -> grey, or white when brighter than white_min_v
    "white_min_v": 0.85,
    "brown_max_v": 0.9,  # dark orange / yellow (hue 15-50) -> brown
    "pink_max_s": 0.5,  # light, desaturated red -> pink
    "pink_min_v": 0.7,
}


def hsv_codes(hsv: np.ndarray) -> np.ndarray:
    """Per-pixel names from HSV intervals, as indices into `colour_names` (the baseline's rule).

    Hue intervals first; then dark orange/yellow -> brown, light desaturated red -> pink; low
    saturation -> grey or white by value; low value -> black.
    """
    t = BASELINE_THRESHOLDS
    code = {name: i for i, name in enumerate(colour_names())}
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    out = np.full(h.shape, code["grey"], dtype=np.int64)
    lo = 0.0
    for hi, name in _HUE_NAMES:
        out[(h >= lo) & (h < hi)] = code[name]
        lo = hi
    out[(h >= 15) & (h < 50) & (v < t["brown_max_v"])] = code["brown"]
    out[(out == code["red"]) & (s < t["pink_max_s"]) & (v > t["pink_min_v"])] = code["pink"]
    grey = s < t["grey_max_s"]
    out[grey] = np.where(v[grey] > t["white_min_v"], code["white"], code["grey"])
    out[v < t["black_max_v"]] = code["black"]
    return out


def baseline_colour(image: Any, mask: Any = None, *, background: Background = "auto") -> str:
    """The HSV-interval baseline: majority name of the foreground pixels (same foreground rule)."""
    rgb = to_rgb_array(image)
    fg = _check_mask(mask, rgb.shape[:2]) if mask is not None else foreground_mask(rgb, background)
    votes = np.bincount(hsv_codes(rgb_to_hsv(rgb[fg])), minlength=len(colour_names()))
    return colour_names()[int(votes.argmax())]
