"""The trends job: segment the photos of people not segmented yet, then the report (tables,
statistics, plots, HTML) of `fashionlens.analysis.trends`. The CLI, the main job and the server
all run it from here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fashionlens.core.progress import NO_PROGRESS, Progress
from fashionlens.core.settings import Settings
from fashionlens.store import filters

PERSON_SOURCES = ("runway", "street", "video")


@dataclass
class TrendsRun:
    tables: Any  # analysis.trends.analyse.TrendTables
    report: Any  # analysis.trends.report.TrendReport
    segment: Any = None  # jobs.segment.SegmentReport, when photos were segmented first


def run_trends(
    settings: Settings,
    out_dir: Path,
    config: Any = None,
    options: Any = None,
    *,
    segment: bool = True,
    progress: Progress = NO_PROGRESS,
) -> TrendsRun:
    """Segment (garments; no crop vectors, no overlays) the runway, street and video photos that
    have no garments yet, then write the trends report to ``out_dir``."""
    from fashionlens.analysis.trends.report import build_report
    from fashionlens.jobs.segment import SegmentOptions, run_segment
    from fashionlens.store.catalog import Catalog

    seg = None
    if segment:
        where = filters.isin("source", PERSON_SOURCES)
        seg = run_segment(
            settings, SegmentOptions(task="garments", embed=False, overlays=False, where=where), progress
        )
    tables, report = build_report(Catalog(settings.db_path), Path(out_dir), config, options)
    return TrendsRun(tables, report, seg)
