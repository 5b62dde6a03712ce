"""`fashionlens predict [category]`: label every embedded image with a trained head."""

from __future__ import annotations

import typer

from fashionlens.cli import common

predict_app = typer.Typer(
    help="Predict labels for the catalogue (default: category).", invoke_without_command=True
)


def _category(ctx: typer.Context) -> None:
    from fashionlens.models.registry import get_spec
    from fashionlens.pipeline.category import predict_category
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        n = predict_category(Catalog(settings.db_path), settings, get_spec(settings.backbone).name)
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
