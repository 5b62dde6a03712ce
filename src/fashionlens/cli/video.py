"""`fashionlens video FILE`: find the people in a video and their most similar catalogue images."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli import common


def video(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="Video file (anything OpenCV decodes: mp4, avi, mov...)."),
    every: int = typer.Option(30, "--every", min=1, help="Process every Nth frame."),
    k: int = typer.Option(5, "--k", "-k", min=1, help="Catalogue matches per person."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Report folder: a PNG per sampled frame, matches.json, matches.csv "
        "(default: ./<video name>-matches).",
    ),
    source: str | None = typer.Option(None, help="Only match catalogue images of this source, e.g. product."),
    backbone: str | None = typer.Option(None, help="Backbone id (default: the setting)."),
    mode: str = typer.Option(
        "boxes",
        "--mode",
        help="boxes: detector boxes with their background, matched against every catalogue image; "
        "cutouts: people cut out on white by the U-Net, matched against the person crops of "
        "`fashionlens segment people` (then `fashionlens embed`).",
    ),
) -> None:
    """Detect people every N frames, match each one to the catalogue, and write a visual report."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.core.types import SOURCES
    from fashionlens.jobs.video import match_video
    from fashionlens.jobs.video_people import MODES, people_finder
    from fashionlens.render.video import write_video_report
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        if source is not None and source not in SOURCES:
            raise InvalidInputError(f"--source must be one of {', '.join(SOURCES)}; got {source!r}")
        if mode not in MODES:
            raise InvalidInputError(f"--mode must be one of {', '.join(MODES)}; got {mode!r}")
        settings = common.state(ctx).settings(backbone=backbone)
        catalog = Catalog(settings.db_path)
        model = common.stored_backbone(settings, catalog)
        with common.bar(f"video {file.name}") as progress:
            report = match_video(
                catalog,
                model,
                file,
                every=every,
                k=k,
                where=common.catalogue_filter(source=source),
                people=people_finder(settings, mode),
                settings=settings,
                progress=progress,
            )
        target = out or Path(f"{file.stem}-matches")
        with common.bar("write report") as progress:
            progress.start(len(report.frames))
            files = write_video_report(report, target, progress=progress)
        for note in report.notes:
            common.err_console.print(f"[yellow]{note}[/]", highlight=False, soft_wrap=True)
        t = report.timings
        common.console.print(
            f"{len(report.frames)} sampled frames (every {every}), {report.people} people "
            f"({report.mode}), top-{k} matches from {report.model_id}: "
            f"{report.frames_per_second:.2f} frames/s "
            f"(decode {t.decode:.1f}s, detect {t.detect:.1f}s, embed {t.embed:.1f}s, "
            f"search {t.search:.1f}s)",
            highlight=False,
            soft_wrap=True,
        )
        common.console.print(
            f"report: {files.out_dir} ({len(files.frame_pngs)} PNGs, {files.json_path.name}, "
            f"{files.csv_path.name})",
            highlight=False,
            soft_wrap=True,
        )
