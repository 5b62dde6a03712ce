"""One generation request: DCGAN images as one PNG (a grid, or an interpolation strip) with
each image's condition names. The server's ``/v1/generate`` calls this; ``fashionlens generate``
writes the same pictures to files.

The grid is `fashionlens.render.gan.image_grid` (``ceil(sqrt(n))`` columns, 2 px of white between
and around the 64x64 images), the strip `interpolation_strip` (one row), then upscaled by
``scale`` with nearest neighbour, so every image is ``64 * scale`` pixels wide in the PNG.
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError

logger = logging.getLogger(__name__)

PADDING = 2  # the grid padding of `image_grid` / `interpolation_strip`, before scaling


@dataclass(frozen=True)
class GeneratedPicture:
    """One PNG of generated images and what each image was conditioned on (grid order)."""

    png: bytes
    width: int
    height: int
    columns: int
    rows: int
    tile: int  # pixels per image side in the PNG (64 * scale)
    padding: int  # pixels between images in the PNG (2 * scale)
    conditions: list[dict[str, str]]  # per image: {"label": ..., "colour": ...} (empty: unconditional)
    label: str | None  # the requested label / colour as the model spells them
    colour: str | None
    model_id: str
    seconds: float


def generator_model_id(generator: Any) -> str:
    """The id a generator file records (``dcgan_cond.products`` for the shipped one)."""
    meta = getattr(generator, "meta", {}) or {}
    return str(meta.get("model_id") or "dcgan")


def resolve_conditions(spec: Any, label: str | None, colour: str | None) -> tuple[str | None, str | None]:
    """``label`` and ``colour`` as ``spec`` spells them (case-insensitive match), or
    `InvalidInputError` naming the value and the classes the model knows."""
    from fashionlens.models.generators.dcgan import class_index

    if label is not None:
        if not spec.labels:
            raise InvalidInputError(f"label {label!r}: this generator is not conditioned on article type")
        label = spec.labels[class_index(spec.labels, label, "label")]
    if colour is not None:
        if not spec.colours:
            raise InvalidInputError(f"colour {colour!r}: this generator is not conditioned on colour")
        colour = spec.colours[class_index(spec.colours, colour, "colour")]
    return label, colour


def png_bytes(image: np.ndarray, scale: int) -> bytes:
    """``uint8 (H, W, 3)`` -> PNG bytes, upscaled ``scale`` times (nearest neighbour)."""
    from PIL import Image

    picture = Image.fromarray(np.asarray(image, np.uint8))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    picture.save(buf, format="PNG")
    return buf.getvalue()


def _strip_condition(
    generator: Any, spec: Any, label: str | None, colour: str | None, seed: int
) -> tuple[str | None, str | None]:
    """The one condition a latent walk of ``seed`` uses: the given ones, the missing ones drawn
    as `DCGANGenerator.interpolate` draws them (after its two latent vectors)."""
    from fashionlens.models.generators.dcgan import sample_conditions

    wanted = {"label": label, "colour": colour}
    if all(wanted[name] is not None for name, _ in spec.attributes):
        return label, colour
    rng = np.random.default_rng(seed)
    rng.standard_normal((2, spec.nz))
    drawn = sample_conditions(spec, generator.joint_counts, 1, label=label, colour=colour, rng=rng)
    names = {name: classes[int(c[0])] for (name, classes), c in zip(spec.attributes, drawn, strict=True)}
    return names.get("label"), names.get("colour")


def generate_picture(
    generator: Any,
    n: int,
    *,
    label: str | None = None,
    colour: str | None = None,
    seed: int = 0,
    interpolate: bool = False,
    scale: int = 1,
) -> GeneratedPicture:
    """``n`` images of ``generator`` (a `DCGANGenerator`) as one PNG.

    A missing ``label`` / ``colour`` is drawn per image from the training frequencies (see
    `DCGANGenerator.generate`). With ``interpolate``, a latent walk of ``max(2, n)`` frames under
    one condition (the frames the CLI's ``--interpolate`` writes for the same seed); the condition
    drawn for it is passed to the generator explicitly, so the names returned are the ones used.
    """
    if n < 1:
        raise InvalidInputError(f"n must be >= 1; got {n}")
    if scale < 1:
        raise InvalidInputError(f"scale must be >= 1; got {scale}")
    from fashionlens.render.gan import image_grid, interpolation_strip

    started = time.perf_counter()
    spec = generator.loaded_spec
    label, colour = resolve_conditions(spec, label, colour)
    attributes = [name for name, _ in spec.attributes]
    if interpolate:
        frames = max(2, n)
        walk_label, walk_colour = _strip_condition(generator, spec, label, colour, seed)
        images = generator.interpolate(frames, label=walk_label, colour=walk_colour, seed=seed)
        grid = interpolation_strip(images, padding=PADDING)
        given = {"label": walk_label, "colour": walk_colour}
        conditions = [{name: str(given[name]) for name in attributes} for _ in range(frames)]
        columns, rows = frames, 1
    else:
        images, names = generator.generate(n, label=label, colour=colour, seed=seed)
        grid = image_grid(images, padding=PADDING)
        conditions = [dict(zip(attributes, row, strict=True)) for row in names]
        columns = int(np.ceil(np.sqrt(n)))
        rows = int(np.ceil(n / columns))
    png = png_bytes(grid, scale)
    height, width = grid.shape[0] * scale, grid.shape[1] * scale
    seconds = time.perf_counter() - started
    logger.debug("generated %d images (%dx%d PNG) in %.3fs", len(images), width, height, seconds)
    return GeneratedPicture(
        png=png,
        width=width,
        height=height,
        columns=columns,
        rows=rows,
        tile=int(images.shape[1]) * scale,
        padding=PADDING * scale,
        conditions=conditions,
        label=label,
        colour=colour,
        model_id=generator_model_id(generator),
        seconds=seconds,
    )
