"""Pairwise cosine-distance heatmaps of images or catalogued image ids."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.services.search import Searcher
from fashionlens.store.search_table import sql_literal

logger = logging.getLogger(__name__)

HEATMAP_LABELS = ("auto", "article_type", "file", "id")


def heatmap_inputs(
    searcher: Searcher, items: Sequence[str | Path], label_by: str = "auto"
) -> tuple[np.ndarray, list[str]]:
    """Vectors and labels of image files / catalogued image ids for `search_report.distance_heatmap`.

    ``label_by``: ``auto`` (articleType when the catalogue knows it, else the file name),
    ``article_type``, ``file`` or ``id``.
    """
    from fashionlens.ingest.base import content_hash, image_id_from_hash, read_bytes

    if label_by not in HEATMAP_LABELS:
        raise InvalidInputError(f"labels must be one of {', '.join(HEATMAP_LABELS)}; got {label_by!r}")
    vectors, kinds = searcher.image_vectors(items)
    ids = [
        str(item) if kind == "image_id" else image_id_from_hash(content_hash(read_bytes(Path(item))))
        for item, kind in zip(items, kinds, strict=True)
    ]
    where = f"image_id IN ({', '.join(sql_literal(i) for i in ids)})"
    meta = {
        r["image_id"]: r
        for r in searcher.catalog.read(
            searcher.table_name, where=where, columns=["image_id", "article_type", "image_path"]
        ).to_pylist()
    }
    labels = []
    for item, image_id in zip(items, ids, strict=True):
        row = meta.get(image_id, {})
        name = Path(row.get("image_path") or str(item)).name
        article = row.get("article_type") or ""
        labels.append(
            {"auto": article or name, "article_type": article or "?", "file": name, "id": image_id}[label_by]
        )
    return np.stack([v for v in vectors if v is not None]), labels


def cosine_distances(vectors: np.ndarray) -> np.ndarray:
    """Pairwise ``1 - cos`` of L2-normalised rows, in [0, 2]."""
    v = np.asarray(vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    return np.clip(1.0 - v @ v.T, 0.0, 2.0)


def distance_heatmap(
    vectors: np.ndarray, labels: Sequence[str], out: Path, *, title: str = "cosine distance"
) -> Path:
    """Save the pairwise cosine-distance matrix of ``vectors`` as a PNG heatmap labelled ``labels``."""
    if len(vectors) < 2:
        raise InvalidInputError(f"a heatmap needs at least 2 images; got {len(vectors)}")
    if len(labels) != len(vectors):
        raise InvalidInputError(f"expected {len(vectors)} labels; got {len(labels)}")
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise InvalidInputError(f"{out}: the heatmap is written as PNG; use a .png file name")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dist = cosine_distances(vectors)
    n = len(labels)
    size = min(4 + 0.45 * n, 30)
    fig = Figure(figsize=(size + 1.5, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(dist, cmap="viridis", vmin=0.0, vmax=max(float(dist.max()), 1e-6))
    ax.set_xticks(range(n), labels=list(labels), rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels=list(labels), fontsize=8)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                colour = "white" if dist[i, j] < 0.6 * dist.max() else "black"
                ax.text(j, i, f"{dist[i, j]:.2f}", ha="center", va="center", fontsize=6, color=colour)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="1 - cosine similarity")
    ax.set_title(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    logger.info("wrote a %dx%d distance heatmap to %s", n, n, out)
    return out
