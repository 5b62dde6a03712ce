"""Embed every catalogued image with one backbone, idempotently (content hash + model id).

`EmbedStage` is the job's stage object (see `fashionlens.jobs.base`): it selects the images whose
content hash has no vector of this model yet, decodes them with the one image decoder, embeds
them in batches and commits each batch's vectors as it finishes, so an interrupted run keeps what
it did. `embed_catalog` runs it on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.types import Embeddings
from fashionlens.engines.local import run_stage
from fashionlens.ingest.images import DEFAULT_LIMITS, ImageLimits
from fashionlens.jobs.base import Batch, JobReport, Stage, decode_images
from fashionlens.models.registry import Backbone
from fashionlens.store.catalog import Catalog
from fashionlens.store.schemas import embeddings_table_name


@dataclass
class EmbedResults:
    image_ids: tuple[str, ...]
    hashes: list[str]
    vectors: np.ndarray


class EmbedStage(Stage):
    name = "embed"

    def __init__(
        self,
        backbone: Backbone,
        *,
        where: str | None = None,
        batch_size: int = 32,
        limits: ImageLimits = DEFAULT_LIMITS,
    ) -> None:
        self.backbone, self.where, self.batch_size, self.limits = backbone, where, batch_size, limits

    @property
    def model_id(self) -> str:
        return self.backbone.model_id

    def select(self, catalog: Catalog) -> tuple[list[dict[str, Any]], int]:
        images = catalog.read("images", where=self.where, columns=["image_id", "image_path", "content_hash"])
        rows = images.to_pylist()
        done = catalog.embedded_hashes(self.model_id)
        todo = [r for r in rows if r["content_hash"] not in done]
        return todo, len(rows) - len(todo)

    def setup(self) -> None:
        self.backbone.setup()

    def decode(self, rows: list[dict[str, Any]]) -> Batch:
        return decode_images(rows, self.limits)

    def infer(self, batch: Batch) -> EmbedResults:
        return EmbedResults(
            tuple(r["image_id"] for r in batch.rows),
            [r["content_hash"] for r in batch.rows],
            self.backbone.embed(batch.items),
        )

    def write(self, catalog: Catalog, results: EmbedResults) -> dict[str, int]:
        catalog.add_embeddings(Embeddings(results.image_ids, results.vectors, self.model_id), results.hashes)
        return {"embedded": len(results.image_ids)}

    def finish(self, catalog: Catalog) -> None:
        catalog.compact(embeddings_table_name(self.model_id))


class EmbedReport(JobReport):
    @property
    def embedded(self) -> int:
        return self.done

    @property
    def images_per_second(self) -> float:
        return self.items_per_second


def embed_catalog(
    catalog: Catalog,
    backbone: Backbone,
    *,
    batch_size: int = 32,
    where: str | None = None,
    skip_failures: bool = True,
    limits: ImageLimits = DEFAULT_LIMITS,
    progress: Progress = NO_PROGRESS,
    run: Callable[..., JobReport] = run_stage,
) -> EmbedReport:
    """Embed the images (optionally filtered by ``where``) that ``backbone`` has not embedded yet;
    ``run``: the engine (`fashionlens.engines.runner`), this machine by default."""
    stage = EmbedStage(backbone, where=where, batch_size=batch_size, limits=limits)
    report = run(stage, catalog, progress=progress, skip_failures=skip_failures)
    return EmbedReport(**vars(report))
