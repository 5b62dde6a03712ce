"""`fashionlens info` and `fashionlens backbones list`."""

from __future__ import annotations

import typer
from rich.table import Table

from fashionlens.cli import common

backbones_app = typer.Typer(help="The backbone registry.", no_args_is_help=True)


def info(ctx: typer.Context) -> None:
    """Where the database is and how many rows each table holds."""
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        catalog = Catalog(settings.db_path, read_only=True)
        table = Table(title=f"catalogue {settings.db_path}")
        table.add_column("table")
        table.add_column("rows", justify="right")
        for name in catalog.table_names():
            table.add_row(name, str(catalog.count(name)))
        common.console.print(table)


@backbones_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Registered backbones, their size and where their weights come from."""
    from fashionlens.models.registry import backbone_runtimes, list_backbones

    with common.errors(ctx):
        table = Table()
        for col in ("name", "dim", "text", "runtimes", "weights"):
            table.add_column(col)
        for spec in list_backbones():
            where = (spec.offline_package and f"pip package {spec.offline_package}") or spec.weights_url or ""
            runtimes = ", ".join(backbone_runtimes(spec.name))
            table.add_row(spec.name, str(spec.dim), "yes" if spec.has_text else "", runtimes, where)
        common.console.print(table)
