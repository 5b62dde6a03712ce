"""`fashionlens export`: the enriched CSV (default) or any table as CSV/Parquet."""

from __future__ import annotations

from pathlib import Path

import typer

from fashionlens.cli import common


def export(
    ctx: typer.Context,
    out: Path = typer.Option(Path("fashionlens_enriched.csv"), help=".csv or .parquet"),
    table: str | None = typer.Option(
        None, help="Export this table instead (images, labels, annotations, ...)."
    ),
) -> None:
    """Write image_id,source,original_dataset,image_path,feature_row,pred_category,... (+ features .npy)."""
    from fashionlens.analysis.export import export_enriched
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        catalog = Catalog(settings.db_path, read_only=True)
        if table:
            path = catalog.export(table, out)
            common.console.print(f"wrote {catalog.count(table)} rows of {table} to {path}")
            return
        report = export_enriched(catalog, common.model_id(settings, catalog), out)
        common.console.print(
            f"wrote {report.rows} rows to {report.csv_path} (features: {report.features_path})"
        )
