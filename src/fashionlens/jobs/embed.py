"""Embed every catalogued image with one backbone, idempotently (content hash + model id)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import Embeddings, Skipped
from fashionlens.ingest.images import open_rgb
from fashionlens.models.registry import Backbone
from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import embeddings_table_name

logger = logging.getLogger(__name__)

Progress = Callable[[int], None]  # called with the number of images just finished


@dataclass
class EmbedReport:
    model_id: str
    total: int
    embedded: int = 0
    already_done: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0


def _decode(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any], list[Skipped]]:
    kept, images, skipped = [], [], []
    for row in rows:
        try:
            images.append(open_rgb(row["image_path"]))
            kept.append(row)
        except InvalidInputError as exc:
            skipped.append(Skipped(row["image_path"], str(exc).removeprefix(f"{row['image_path']}: ")))
    return kept, images, skipped


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def embed_catalog(
    catalog: Catalog,
    backbone: Backbone,
    *,
    batch_size: int = 32,
    where: str | None = None,
    skip_failures: bool = True,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
) -> EmbedReport:
    """Embed the images (optionally filtered by ``where``) that ``backbone`` has not embedded yet.

    Decoding of the next batch overlaps the model's work on the current one. An image that cannot
    be decoded is skipped and reported (or raises, with ``skip_failures=False``). Each batch is
    committed as it finishes, so an interrupted run keeps what it did.
    """
    images = catalog.read("images", where=where, columns=["image_id", "image_path", "content_hash"])
    rows = images.to_pylist()
    done = catalog.embedded_hashes(backbone.model_id)
    todo = [r for r in rows if r["content_hash"] not in done]
    report = EmbedReport(backbone.model_id, total=len(rows), already_done=len(rows) - len(todo))
    if on_start:
        on_start(len(todo))
    if not todo:
        return report
    backbone.setup()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        batches = _batches(todo, batch_size)
        pending = pool.submit(_decode, next(batches))
        for nxt in [*batches, None]:
            kept, pil_images, skipped = pending.result()
            if nxt is not None:
                pending = pool.submit(_decode, nxt)
            if skipped and not skip_failures:
                raise InvalidInputError(f"{skipped[0].path}: {skipped[0].reason}")
            report.skipped.extend(skipped)
            if kept:
                vectors = backbone.embed(pil_images)
                catalog.add_embeddings(
                    Embeddings(tuple(r["image_id"] for r in kept), vectors, backbone.model_id),
                    [r["content_hash"] for r in kept],
                )
                report.embedded += len(kept)
            if progress:
                progress(len(kept) + len(skipped))
    report.seconds = time.perf_counter() - start
    catalog.compact(embeddings_table_name(backbone.model_id))
    logger.info(
        "embedded %d images with %s in %.1fs (%.1f img/s); %d already done; %d skipped",
        report.embedded,
        backbone.model_id,
        report.seconds,
        report.images_per_second,
        report.already_done,
        len(report.skipped),
    )
    return report
