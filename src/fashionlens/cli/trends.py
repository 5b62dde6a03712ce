"""`fashionlens trends`: runway vs street vs catalogue shares with statistics, plots and a report."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from fashionlens.cli import common


def trends(
    ctx: typer.Context,
    by: str = typer.Option("source", help="Group by: source | season | year | designer | dataset."),
    signal: str = typer.Option(
        "category", help="Compare: category | garment | colour | articleType | silhouette."
    ),
    out: Path = typer.Option(Path("trends"), help="Folder for report.html, the CSV tables and the PNGs."),
    garment: str = typer.Option("top", help="With --signal colour: the garment class compared, or 'any'."),
    category_from: str = typer.Option(
        "auto", help="How a unit's category is measured: auto | garments | probe | label."
    ),
    correction: str = typer.Option("holm", help="Multiple-comparison correction: holm | bh | none."),
    alpha: float = typer.Option(0.05, help="Significance level after correction."),
    seasonal: bool = typer.Option(False, "--seasonal", help="Time periods are year + season."),
    min_period_n: int = typer.Option(10, min=1, help="Leave out periods with fewer units."),
    segment: bool = typer.Option(
        True,
        "--segment/--no-segment",
        help="First segment the garments of runway, street and video photos not segmented yet (U-Net).",
    ),
) -> None:
    """Shares per group with Wilson intervals, chi-square + Cramér's V, corrected pairwise tests,
    adoption gaps (runway -> street), share over time with a held-out forecast; HTML + CSV + PNG."""
    from fashionlens.analysis.trends.analyse import TrendConfig
    from fashionlens.analysis.trends.signals import SignalOptions
    from fashionlens.jobs.trends import run_trends

    with common.errors(ctx):
        config = TrendConfig(
            by=by,
            signal=signal,
            garment=garment,
            correction=correction,
            alpha=alpha,
            seasonal=seasonal,
            min_period_n=min_period_n,
        )
        options = SignalOptions(category_from=category_from)
        settings = common.state(ctx).settings()
        with common.bar("segment garments") as progress:
            run = run_trends(settings, out, config, options, segment=segment, progress=progress)
        tables, report = run.tables, run.report
        if run.segment is not None:
            if run.segment.done:
                common.err_console.print(
                    f"segmented {run.segment.done} photos ({run.segment.garments} garments, "
                    f"{run.segment.people} people)",
                    highlight=False,
                )
            common.print_skipped(run.segment.skipped)
        table = Table(title=f"{tables.signal_label} by {by} (95% Wilson interval)")
        table.add_column(by)
        table.add_column("n", justify="right")
        table.add_column("shares")
        for group, part in tables.shares.groupby("group", sort=False) if not tables.shares.empty else []:
            top = part.sort_values("share", ascending=False).head(6)
            shares = ", ".join(
                f"{r.category} {r.share:.0%} [{r.ci_low:.0%}-{r.ci_high:.0%}]" for r in top.itertuples()
            )
            table.add_row(str(group), str(int(part["n"].iloc[0])), shares)
        common.console.print(table)
        chi = tables.chi_square
        if chi is not None:
            verdict = "groups differ" if chi.p_value < alpha else "not significant"
            common.console.print(
                f"chi-square ({chi.method}) {chi.statistic:.2f}, dof {chi.dof}, p = {chi.p_value:.3g}, "
                f"Cramér's V {chi.cramers_v:.3f}: {verdict}",
                highlight=False,
            )
        for note in tables.notes:
            common.err_console.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
        common.console.print(
            f"wrote {report.html_path}, {len(report.tables)} tables and {len(report.plots)} plots to "
            f"{report.out_dir}",
            highlight=False,
            soft_wrap=True,
        )
