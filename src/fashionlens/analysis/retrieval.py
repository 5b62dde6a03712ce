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

import numpy as np

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.settings import Settings
from fashionlens.store.catalog import Catalog

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
    from fashionlens.models import factory
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
        backbone = factory.backbone(settings, text_model)
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
