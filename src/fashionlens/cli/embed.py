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
    from fashionlens.jobs.embed import embed_catalog
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings(backbone=backbone)
        clauses = [f"{col} = '{val}'" for col, val in (("source", source), ("split", split)) if val]
        model = common.backbone(settings)
        with common.progress_bar(f"embed {model.model_id}") as (on_start, advance):
            report = embed_catalog(
                Catalog(settings.db_path),
                model,
                batch_size=settings.batch_size,
                where=" AND ".join(clauses) or None,
                skip_failures=settings.skip_failures,
                on_start=on_start,
                progress=advance,
            )
        common.console.print(
            f"embedded {report.embedded} images with {report.model_id} "
            f"({report.images_per_second:.1f} img/s); "
            f"{report.already_done} already done; {len(report.skipped)} skipped"
        )
        common.print_skipped(report.skipped)
