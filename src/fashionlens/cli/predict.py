"""`fashionlens predict [category|attributes]`: label images with a trained head."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fashionlens.cli import common

predict_app = typer.Typer(
    help="Predict labels for the catalogue (default: category).", invoke_without_command=True
)


def _category(ctx: typer.Context) -> None:
    from fashionlens.jobs.predict import predict_category
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        catalog = Catalog(settings.db_path)
        n = predict_category(catalog, settings, common.model_id(settings, catalog))
        common.console.print(f"predicted the category of {n} images")


@predict_app.callback()
def predict(ctx: typer.Context) -> None:
    """Without a sub-command: predict the coarse category."""
    if ctx.invoked_subcommand is None:
        _category(ctx)


@predict_app.command("category")
def category(ctx: typer.Context) -> None:
    """Coarse garment category of every embedded image."""
    _category(ctx)


@predict_app.command("attributes")
def attributes(
    ctx: typer.Context,
    images: list[Path] | None = typer.Argument(
        None, help="Image files; without any, every embedded catalogue image (stored as predictions)."
    ),
) -> None:
    """Product attributes: JSON for IMAGE files, or the whole catalogue into the predictions table."""
    from fashionlens.jobs.predict_attributes import predict_catalog_attributes
    from fashionlens.services.attributes import predict_attributes_for_images
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        model_id = common.model_id(settings, Catalog(settings.db_path))
        if images:
            records = predict_attributes_for_images(images, settings, model_id)
            out = {str(path): record for path, record in zip(images, records, strict=True)}
            typer.echo(json.dumps(out, indent=2))
            return
        with common.bar("predict attributes") as progress:
            report = predict_catalog_attributes(
                Catalog(settings.db_path), settings, model_id, progress=progress
            )
        common.console.print(
            f"predicted the attributes of {report.predicted} images (tasks attribute:<name>)"
        )
        common.print_skipped(report.skipped)
