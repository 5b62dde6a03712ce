"""How good search is, and what it sees: precision@k by articleType, cosine-distance heatmaps.

`retrieval_precision` uses THE held-out products split (`stratified_split(articleType, 0.2, 0)`,
the one the text tower never trained on):

* image -> image: every held-out product is a query; the gallery is every other embedded product
  (the query itself excluded); a hit is a product of the query's articleType;
* text -> image: one query ``"a photo of a {articleType}"`` per articleType with at least
  ``min_text_class`` held-out products; the gallery is the held-out products.

Ranking is exact (numpy), i.e. what the search table returns in exact mode.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings
from fashionlens.services.search import Searcher
from fashionlens.store.catalog import Catalog
from fashionlens.store.search_table import sql_literal

logger = logging.getLogger(__name__)

KS = (1, 5, 10)
TEXT_TEMPLATE = "a photo of a {label}"


def precision_at_k(
    queries: np.ndarray,
    query_labels: Sequence[str | None],
    gallery: np.ndarray,
    gallery_labels: Sequence[str | None],
    ks: Sequence[int] = KS,
    exclude: Sequence[int] | np.ndarray | None = None,
    block: int = 512,
) -> dict[int, float]:
    """Mean share of the top-k gallery items (cosine) that carry the query's label.

    ``exclude[i]``: a gallery index query ``i`` must not retrieve (itself), or -1.
    """
    if len(queries) == 0:
        raise InvalidInputError("precision@k needs at least one query")
    kmax = max(ks)
    if kmax > len(gallery) - (1 if exclude is not None else 0):
        raise InvalidInputError(f"gallery of {len(gallery)} is too small for precision@{kmax}")
    g_labels = np.asarray([g if g is not None else "\x00none" for g in gallery_labels], dtype=object)
    hits = {k: 0.0 for k in ks}
    for start in range(0, len(queries), block):
        sims = queries[start : start + block] @ gallery.T
        if exclude is not None:
            rows = np.arange(sims.shape[0])
            cols = np.asarray(exclude[start : start + block])
            ok = cols >= 0
            sims[rows[ok], cols[ok]] = -np.inf
        top = np.argpartition(-sims, kmax - 1, axis=1)[:, :kmax]
        order = np.take_along_axis(sims, top, axis=1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)
        match = g_labels[top] == np.asarray(query_labels[start : start + block], dtype=object)[:, None]
        for k in ks:
            hits[k] += float(match[:, :k].mean(axis=1).sum())
    return {k: hits[k] / len(queries) for k in ks}


@dataclass
class RetrievalReport:
    n_queries: int
    n_gallery: int
    image_to_image: dict[int, float]
    joint_image_to_image: dict[int, float] = field(default_factory=dict)
    text_to_image: dict[int, float] = field(default_factory=dict)
    n_text_queries: int = 0
    n_text_gallery: int = 0
    seconds: float = 0.0
    image_model: str = ""
    text_model: str = ""

    def table(self) -> str:
        ks = sorted(self.image_to_image)
        head = f"{'retrieval, hit = same articleType':<72}" + "".join(f"{f'P@{k}':>7}" for k in ks)
        lines = [head]

        def line(name: str, values: dict[int, float]) -> None:
            if values:
                lines.append(f"{name:<72}" + "".join(f"{values[k]:>7.3f}" for k in ks))

        gallery = f"{self.n_queries} queries, gallery {self.n_gallery - 1}"
        line(f"image->image {self.image_model} ({gallery})", self.image_to_image)
        line(f"image->image {self.text_model} ({gallery})", self.joint_image_to_image)
        text = f"{self.n_text_queries} queries, gallery {self.n_text_gallery}"
        line(f"text->image {self.text_model} ({text})", self.text_to_image)
        return "\n".join(lines)


def retrieval_precision(
    catalog: Catalog,
    settings: Settings,
    *,
    ks: Sequence[int] = KS,
    image_model: str = "mobilenet_v2.imagenet",
    text_model: str | None = "mobilenet_v2_minilm.products",
    min_text_class: int = 10,
) -> RetrievalReport:
    """Precision@k by articleType on the held-out products (see the module docstring)."""
    from fashionlens.models.registry import create_backbone
    from fashionlens.training.attributes import load_attribute_data, stratified_split

    start = time.perf_counter()
    data = load_attribute_data(catalog, image_model, ("articleType",))
    labels = data.labels["articleType"]
    has_label = np.asarray([lab is not None for lab in labels], dtype=bool)
    _, held = stratified_split(labels, 0.2, 0)
    held = np.asarray([i for i in held if has_label[i]], dtype=int)
    q_labels = [labels[i] for i in held]
    report = RetrievalReport(
        len(held), len(data), precision_at_k(data.vectors[held], q_labels, data.vectors, labels, ks, held)
    )
    report.image_model = image_model
    if text_model:
        backbone = create_backbone(text_model, device=settings.device, weights_dir=settings.weights_dir)
        joint = backbone.project(data.vectors)  # type: ignore[attr-defined]
        report.text_model = text_model
        report.joint_image_to_image = precision_at_k(joint[held], q_labels, joint, labels, ks, held)
        counts = Counter(q_labels)
        classes = sorted(c for c, n in counts.items() if c and n >= min_text_class)
        if classes:
            text = backbone.embed_text([TEXT_TEMPLATE.format(label=c.lower()) for c in classes])
            report.text_to_image = precision_at_k(text, classes, joint[held], q_labels, ks)
            report.n_text_queries, report.n_text_gallery = len(classes), len(held)
        else:
            logger.warning(
                "no articleType has %d held-out products; text->image not measured", min_text_class
            )
    report.seconds = time.perf_counter() - start
    return report


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dist = cosine_distances(vectors)
    n = len(labels)
    size = min(4 + 0.45 * n, 30)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    try:
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
    finally:
        plt.close(fig)
    logger.info("wrote a %dx%d distance heatmap to %s", n, n, out)
    return out
