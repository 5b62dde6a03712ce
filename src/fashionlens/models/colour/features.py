"""A cheap colour descriptor for the colour head: a Lab histogram of the non-background pixels.

ImageNet CNN features are trained to be fairly colour-invariant, so the attribute classifier's
colour head also sees this hand-made descriptor (numpy only):

1. the image is shrunk to 64x64 (colour statistics do not need detail);
2. background = pixels within ``BACKGROUND_DELTA_E`` (CIE76 Lab distance) of the median border
   colour (catalogue shots are on a plain, usually white, background). If less than 3% of the
   image is left, every pixel counts (a white shirt on white);
3. a joint histogram of the kept pixels over L (4 bins) x a (7 bins) x b (7 bins); the a/b bins
   are narrow near neutral and wide at high chroma, so greys, beiges and saturated colours separate;
4. the histogram is normalised to sum 1 and square-rooted (Hellinger), then concatenated with
   the mean Lab of the kept pixels scaled to about [-1, 1].

``DIM`` = 4*7*7 + 3 = 199 features. Versioned by `FEATURE_ID`: change anything above, bump it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.types import Skipped

logger = logging.getLogger(__name__)

FEATURE_ID = "lab-hist-4x7x7-v1"
SIZE = 64
BACKGROUND_DELTA_E = 10.0
MIN_FOREGROUND = 0.03
L_EDGES = np.array([25.0, 50.0, 75.0])
AB_EDGES = np.array([-40.0, -20.0, -7.0, 7.0, 20.0, 40.0])
N_BINS = (len(L_EDGES) + 1) * (len(AB_EDGES) + 1) ** 2
DIM = N_BINS + 3

# sRGB (D65) -> XYZ
_M = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``uint8 (..., 3)`` sRGB -> ``float32 (..., 3)`` CIE Lab (D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (linear @ _M.T) / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)
    return lab.astype(np.float32)


def foreground_mask(lab: np.ndarray) -> np.ndarray:
    """``bool (H, W)``: pixels that differ from the median border colour (see module doc)."""
    border = np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])
    background = np.median(border, axis=0)
    mask = np.linalg.norm(lab - background, axis=-1) > BACKGROUND_DELTA_E
    if mask.mean() < MIN_FOREGROUND:
        return np.ones(mask.shape, dtype=bool)
    return mask


def colour_descriptor(image: Any) -> np.ndarray:
    """One RGB PIL image -> ``float32 (DIM,)``."""
    from PIL import Image

    small = np.asarray(image.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BILINEAR))
    lab = rgb_to_lab(small)
    pixels = lab[foreground_mask(lab)]
    li = np.digitize(pixels[:, 0], L_EDGES)
    ai = np.digitize(pixels[:, 1], AB_EDGES)
    bi = np.digitize(pixels[:, 2], AB_EDGES)
    nab = len(AB_EDGES) + 1
    hist = np.bincount((li * nab + ai) * nab + bi, minlength=N_BINS).astype(np.float64)
    hist = np.sqrt(hist / max(hist.sum(), 1.0))
    mean = pixels.mean(axis=0) / np.array([50.0, 50.0, 50.0]) - np.array([1.0, 0.0, 0.0])
    return np.concatenate([hist, mean]).astype(np.float32)


def colour_descriptors(
    paths: Sequence[str | Path],
    keys: Sequence[str] | None = None,
    cache_file: Path | None = None,
    progress: Progress = NO_PROGRESS,
    skipped: list[Skipped] | None = None,
) -> np.ndarray:
    """``float32 (N, DIM)`` for image files, cached in ``cache_file`` (npz) by ``keys``
    (content hashes) when given. An unreadable file raises `InvalidInputError` naming it, unless
    a ``skipped`` list is given: then it is appended there and its row is NaN."""
    from fashionlens.ingest.images import open_rgb

    if keys is not None and len(keys) != len(paths):
        raise InvalidInputError(f"expected {len(paths)} cache keys; got {len(keys)}")
    cached: dict[str, np.ndarray] = {}
    if cache_file is not None and keys is not None and cache_file.is_file():
        try:
            with np.load(cache_file, allow_pickle=False) as data:
                if str(data["feature_id"]) == FEATURE_ID:
                    cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
        except (OSError, ValueError, KeyError) as exc:
            logger.warning("ignoring unreadable colour cache %s (%s)", cache_file, exc)
    out = np.empty((len(paths), DIM), dtype=np.float32)
    computed = 0
    for i, path in enumerate(paths):
        key = keys[i] if keys is not None else None
        if key is not None and key in cached:
            out[i] = cached[key]
        else:
            try:
                out[i] = colour_descriptor(open_rgb(path))
                computed += 1
                if key is not None:
                    cached[key] = out[i]
            except InvalidInputError as exc:
                if skipped is None:
                    raise
                skipped.append(Skipped(str(path), str(exc).removeprefix(f"{path}: ")))
                out[i] = np.nan
        if (i + 1) % 256 == 0:
            progress.advance(256)
    if len(paths) % 256:
        progress.advance(len(paths) % 256)
    if cache_file is not None and keys is not None and computed:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(cache_file.stem + ".tmp.npz")
        names = sorted(cached)
        np.savez(
            tmp,
            feature_id=np.asarray(FEATURE_ID),
            keys=np.asarray(names),
            vectors=np.stack([cached[k] for k in names]).astype(np.float32),
        )
        tmp.replace(cache_file)
        logger.info("colour descriptors: %d computed, %d from cache", computed, len(paths) - computed)
    return out


def colour_features_for(
    paths: Sequence[str],
    hashes: Sequence[str] | None,
    cache_dir: Path,
    skipped: list[Skipped] | None = None,
) -> np.ndarray:
    """Colour descriptors of image files, cached under ``cache_dir/attributes`` by content hash.
    With a ``skipped`` list, an unreadable file is listed there and its row is NaN."""
    cache = cache_dir / "attributes" / f"{FEATURE_ID}.npz" if hashes is not None else None
    return colour_descriptors(paths, hashes, cache, skipped=skipped)
