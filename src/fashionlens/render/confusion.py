"""Row-normalised confusion-matrix PNGs."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def save_confusion_png(matrix: np.ndarray, classes: tuple[str, ...], path: Path, title: str) -> Path:
    """Row-normalised confusion matrix (true down, predicted across) with counts in small heads."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k = len(classes)
    rows = matrix.sum(axis=1, keepdims=True)
    norm = matrix / np.maximum(rows, 1)
    size = max(4.0, 0.28 * k + 2.5)
    fig = Figure(figsize=(size, size * 0.9), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    fontsize = 8 if k <= 20 else 6
    ax.set_xticklabels(classes, rotation=90, fontsize=fontsize)
    ax.set_yticklabels(classes, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"{title}\naccuracy {acc:.3f} on {int(matrix.sum())} held-out images", fontsize=10)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                if matrix[i, j]:
                    colour = "white" if norm[i, j] > 0.5 else "black"
                    ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of true class")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
