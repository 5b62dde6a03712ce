"""The main job: ingest -> embed -> train the category probe -> predict -> export the enriched CSV
-> (on the default data) the runway/street/catalogue trends report.

With no paths it runs on real data that a fresh machine has: Fashion-MNIST (the Debian package
`dataset-fashion-mnist`) and the sample shipped in the package (60 Clothing Co-Parsing street
photos and 60 CC0 garment photos, `fashionlens.datasets`), so it compares street with catalogue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashionlens.analysis.export import ExportReport, export_enriched
from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.core.types import SOURCES
from fashionlens.ingest.images import ImageLimits
from fashionlens.jobs.embed import EmbedReport, embed_catalog
from fashionlens.jobs.ingest import IngestReport, ingest
from fashionlens.jobs.predict import predict_category
from fashionlens.models import factory
from fashionlens.store.catalog import Catalog
from fashionlens.training.category import CategoryReport, train_category

logger = logging.getLogger(__name__)


@dataclass
class RunReport:
    ingests: list[IngestReport]
    embed: EmbedReport
    category: CategoryReport
    predicted: int
    export: ExportReport
    trends: Any = None  # jobs.trends.TrendsRun, when the report was written


def parse_source_path(spec: Path | str) -> tuple[str | None, Path]:
    """``"runway=path"`` -> ``("runway", Path("path"))``; a plain path has no source."""
    text = str(spec)
    prefix, sep, rest = text.partition("=")
    if sep and prefix in SOURCES and rest:
        return prefix, Path(rest)
    return None, Path(text)


def run_main_job(
    settings: Settings,
    paths: Sequence[Path | str] = (),
    *,
    out_csv: Path | None = None,
    limit: int | None = None,
    per_class: int = 100,
    train_source: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    progress: Progress = NO_PROGRESS,
    sample: bool = True,
    trends_dir: Path | None = None,
    trends_progress: Progress = NO_PROGRESS,
) -> RunReport:
    """Run steps 1-5 on ``paths`` (format auto-detected), or on Fashion-MNIST when none are given.

    A path may carry its source: ``runway=shows/coco.json`` (default: the format's usual source).
    """
    catalog = Catalog(settings.db_path)
    stage = on_stage or (lambda name: logger.info("%s", name))
    ingests = []
    if paths:
        for spec in paths:
            source, path = parse_source_path(spec)
            stage(f"ingest {path}")
            ingests.append(ingest(catalog, path, "auto", settings, limit=limit, source=source))
    else:
        stage("ingest fashion-mnist (the embedded default)")
        ingests.append(ingest(catalog, None, "fashion-mnist", settings, per_class=per_class))
        if sample:
            from fashionlens.datasets import sample_dataset_paths

            for spec in sample_dataset_paths().run_paths():
                source, path = parse_source_path(spec)
                stage(f"ingest the shipped sample {path.name} ({source})")
                ingests.append(ingest(catalog, path, "coco", settings, source=source))
    backbone = factory.backbone(settings)
    stage(f"embed with {backbone.model_id}")
    embed = embed_catalog(
        catalog,
        backbone,
        batch_size=settings.batch_size,
        skip_failures=settings.skip_failures,
        limits=ImageLimits.from_settings(settings),
        progress=progress,
    )
    stage("train category")
    category = train_category(catalog, settings, backbone.model_id, source=train_source)
    stage("predict category")
    predicted = predict_category(catalog, settings, backbone.model_id)
    stage("export")
    out_csv = out_csv or settings.home / "exports" / "fashionlens_enriched.csv"
    export = export_enriched(catalog, backbone.model_id, out_csv)
    report = RunReport(ingests, embed, category, predicted, export)
    if trends_dir is not None or (not paths and sample):
        from fashionlens.jobs.trends import run_trends

        stage("segment people and write the trends report")
        report.trends = run_trends(
            settings, trends_dir or out_csv.parent / "trends", progress=trends_progress
        )
    return report
