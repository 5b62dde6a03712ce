"""`fashionlens doctor [--repair]`: duplicate keys, dangling rows and stale search tables."""

from __future__ import annotations

import typer
from rich.table import Table

from fashionlens.cli import common


def doctor(
    ctx: typer.Context,
    repair: bool = typer.Option(
        False,
        "--repair",
        help="Remove duplicates (the newest row stays) and dangling rows, one commit per table.",
    ),
) -> None:
    """Check the catalogue: duplicate keys, rows whose image is gone, stale search tables.

    Without --repair it only reads (a read-only home works). Exit code 1 while duplicates,
    dangling rows or unreadable tables remain.
    """
    from fashionlens.store.catalog import Catalog
    from fashionlens.store.doctor import check_home, repair_home

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        catalog = Catalog(settings.db_path, read_only=not repair)
        report = repair_home(catalog) if repair else check_home(catalog)
        for name, rows in sorted(report.removed.items()):
            common.console.print(f"repaired {name}: removed {rows} rows")
        for name in report.declared_keys:
            common.console.print(f"declared the key of {name}: its inserts are now checked at commit")
        if report.findings:
            table = Table(title=f"catalogue {report.db_path}")
            for column in ("table", "problem", "rows", "detail", "e.g."):
                table.add_column(column)
            for f in report.findings:
                kind = f"[red]{f.kind}[/]" if f.is_error else f"[yellow]{f.kind}[/]"
                table.add_row(f.table, kind, str(f.rows or ""), f.detail, ", ".join(f.examples))
            common.console.print(table)
        errors = sum(f.is_error for f in report.findings)
        warnings = len(report.findings) - errors
        common.console.print(
            f"{len(report.tables)} tables checked: {errors} problems, {warnings} warnings"
            + ("" if report.ok or repair else "; run `fashionlens doctor --repair` to fix them")
        )
        if not report.ok:
            raise typer.Exit(1)
