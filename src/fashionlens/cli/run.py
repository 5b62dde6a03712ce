"""`fashionlens run [PATH...]`: the main job, end to end."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fashionlens.cli import common


def run(
    ctx: typer.Context,
    paths: list[Path] | None = typer.Argument(
        None,
        help="Datasets (format auto-detected). None: Fashion-MNIST plus the shipped street/garment sample.",
    ),
    out: Path = typer.Option(Path("fashionlens_enriched.csv"), help="The enriched CSV to write."),
    limit: int | None = typer.Option(None, help="Read at most this many images per dataset."),
    per_class: int = typer.Option(100, help="Fashion-MNIST default: images per class and split."),
    train_source: str | None = typer.Option(None, help="Train the category probe only on this source."),
    sample: bool = typer.Option(
        True, "--sample/--no-sample", help="Default data: also the shipped street and garment photos."
    ),
    trends: Path | None = typer.Option(
        None, help="Write the trends report here (default data: ./trends; with PATHs: only if given)."
    ),
) -> None:
    """Ingest -> embed -> train category -> predict -> export the enriched CSV (-> trends report)."""
    from fashionlens.ingest.base import probe_progress
    from fashionlens.jobs.run import run_main_job

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        with (
            common.progress_bars("read images", "embed", "segment people") as bars,
            probe_progress(bars[0][1]),
        ):
            report = run_main_job(
                settings,
                paths or [],
                out_csv=out,
                limit=limit,
                per_class=per_class,
                train_source=train_source,
                on_stage=lambda s: common.err_console.log(s),
                progress=common.BarProgress(*bars[1]),
                sample=sample,
                trends_dir=trends,
                trends_progress=common.BarProgress(*bars[2]),
            )
        for ing in report.ingests:
            common.console.print(
                f"ingested {ing.path} ({ing.format}): {ing.written.images} images, "
                f"{ing.written.labels} labels, {len(ing.result.skipped)} skipped"
            )
            common.print_skipped(ing.result.skipped)
        e = report.embed
        common.console.print(
            f"embedded {e.embedded} with {e.model_id} ({e.images_per_second:.1f} img/s), "
            f"{e.already_done} already done"
        )
        c = report.category
        common.console.print(
            f"category probe ({c.split_method}): held-out accuracy {c.accuracy:.3f}, "
            f"macro-F1 {c.macro_f1:.3f} on {c.n_test} images"
        )
        table = Table(title="predicted category share by source")
        table.add_column("source")
        table.add_column("category shares")
        for source, shares in report.export.category_share.items():
            table.add_row(
                source, ", ".join(f"{k} {v:.0%}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))
            )
        common.console.print(table)
        common.console.print(f"wrote {report.export.rows} rows to {report.export.csv_path}")
        if report.trends is not None:
            chi = report.trends.tables.chi_square
            if chi is not None:
                common.console.print(
                    f"trends: chi-square {chi.statistic:.2f}, dof {chi.dof}, p = {chi.p_value:.3g}, "
                    f"Cramér's V {chi.cramers_v:.3f}",
                    highlight=False,
                )
            common.console.print(f"trends report: {report.trends.report.html_path}", highlight=False)
