"""`fashionlens embed`: embed every catalogued image not yet embedded by the backbone."""

from __future__ import annotations

import typer

from fashionlens.cli import common


def embed(
    ctx: typer.Context,
    backbone: str | None = typer.Option(None, help="Backbone id (default: the setting)."),
    source: str | None = typer.Option(None, help="Only images of this source."),
    split: str | None = typer.Option(None, help="Only images of this split."),
) -> None:
    """Extract L2-normalised embeddings for the catalogue (idempotent by content hash + model id)."""
    from fashionlens import engines
    from fashionlens.jobs.embed import embed_catalog
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings(backbone=backbone)
        model = common.backbone(settings)
        with common.bar(f"embed {model.model_id}") as progress:
            report = embed_catalog(
                Catalog(settings.db_path),
                model,
                batch_size=settings.batch_size,
                where=common.catalogue_filter(source=source, split=split),
                skip_failures=settings.skip_failures,
                limits=common.image_limits(settings),
                progress=progress,
                run=engines.runner(settings),
            )
        common.console.print(
            f"embedded {report.embedded} images with {report.model_id} "
            f"({report.images_per_second:.1f} img/s); "
            f"{report.already_done} already done; {len(report.skipped)} skipped",
            highlight=False,
            soft_wrap=True,
        )
        common.print_skipped(report.skipped)
