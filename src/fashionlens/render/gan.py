"""GAN pictures: sample grids, the G/D loss plot, a latent interpolation strip, the KID curve.

Grids and strips are pure numpy + Pillow. Plots draw on matplotlib's Agg canvas directly
(``Figure`` + ``FigureCanvasAgg``), so no global backend is touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionlens.core.errors import InvalidInputError


def to_uint8(images: Any) -> np.ndarray:
    """Generator output ``float (N, C, H, W)`` in ``[-1, 1]`` (tensor or array) -> ``uint8 (N, H, W, 3)``."""
    a = images.detach().float().cpu().numpy() if hasattr(images, "detach") else np.asarray(images, np.float32)
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise InvalidInputError(f"expected images (N, 1|3, H, W); got shape {a.shape}")
    a = np.clip((a + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)
    if a.shape[-1] == 1:
        a = np.repeat(a, 3, axis=-1)
    return np.ascontiguousarray(a)


def image_grid(images: Any, *, nrow: int | None = None, padding: int = 2, pad_value: int = 255) -> np.ndarray:
    """``uint8 (N, H, W, 3)`` -> one ``uint8`` grid image, ``nrow`` images per row (default ~sqrt N)."""
    a = np.asarray(images)
    if a.dtype != np.uint8 or a.ndim != 4 or a.shape[-1] != 3 or len(a) == 0:
        raise InvalidInputError(f"expected uint8 images (N >= 1, H, W, 3); got {a.dtype} {a.shape}")
    n, h, w, _ = a.shape
    cols = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding, 3), pad_value, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = padding + r * (h + padding), padding + c * (w + padding)
        grid[y : y + h, x : x + w] = a[i]
    return grid


def labelled_grid(
    images: Any, row_labels: Sequence[str], *, nrow: int, scale: int = 1, label_width: int = 110
) -> np.ndarray:
    """`image_grid` with one text label left of each row (the conditional classes)."""
    from PIL import Image, ImageDraw

    from fashionlens.render.fonts import default_font

    grid = image_grid(images, nrow=nrow)
    if scale > 1:
        grid = np.asarray(
            Image.fromarray(grid).resize(
                (grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST
            )
        )
    rows = int(np.ceil(len(images) / nrow))
    canvas = Image.new("RGB", (grid.shape[1] + label_width, grid.shape[0]), "white")
    canvas.paste(Image.fromarray(grid), (label_width, 0))
    draw = ImageDraw.Draw(canvas)
    font = default_font(12)
    row_h = grid.shape[0] / max(rows, 1)
    for r, text in enumerate(row_labels[:rows]):
        draw.text((4, int(r * row_h + row_h / 2 - 6)), str(text)[:18], fill="black", font=font)
    return np.asarray(canvas)


def save_png(image: np.ndarray, path: Path, *, scale: int = 1) -> Path:
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.asarray(image, np.uint8))
    if scale > 1:
        im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    im.save(path)
    return path


def _figure(size: tuple[float, float]) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def loss_plot(
    g_losses: Sequence[float], d_losses: Sequence[float], path: Path, *, iters_per_epoch: int = 0
) -> Path:
    """The tutorial's figure: generator and discriminator loss per training iteration."""
    fig, ax = _figure((10, 5))
    ax.set_title("Generator and Discriminator Loss During Training")
    ax.plot(list(g_losses), label="G", linewidth=0.8)
    ax.plot(list(d_losses), label="D", linewidth=0.8)
    if iters_per_epoch > 0 and len(g_losses) > iters_per_epoch:
        for e in range(iters_per_epoch, len(g_losses), iters_per_epoch):
            ax.axvline(e, color="0.85", linewidth=0.5, zorder=0)
    ax.set_xlabel("iterations")
    ax.set_ylabel("Loss")
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def kid_curve_plot(
    curves: dict[str, Sequence[tuple[int, float]]], path: Path, *, floor: float | None = None
) -> Path:
    """KID per epoch, one line per run (``{name: [(epoch, kid), ...]}``); the real-vs-real floor dashed."""
    fig, ax = _figure((7, 4))
    for name, points in curves.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
    if floor is not None:
        ax.axhline(floor, color="0.4", linestyle="--", linewidth=1, label="real vs real")
    ax.set_ylim(bottom=min(0.0, floor or 0.0))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel("epoch")
    ax.set_ylabel("KID (MobileNetV2 features)")
    ax.legend()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    return path


def interpolation_strip(images: Any, *, padding: int = 2) -> np.ndarray:
    """Frames of a latent interpolation side by side (one row)."""
    a = np.asarray(images)
    return image_grid(a, nrow=len(a), padding=padding)
