"""`fashionlens train ...`: fit heads on stored embeddings."""

from __future__ import annotations

import typer

from fashionlens.cli import common

train_app = typer.Typer(help="Train classifiers on stored embeddings.", no_args_is_help=True)


@train_app.command("category")
def category(
    ctx: typer.Context,
    source: str | None = typer.Option(
        None, help="Train only on labelled images of this source (e.g. street)."
    ),
    test_size: float = typer.Option(0.2, help="Held-out fraction when the data has no train/test split."),
    seed: int = typer.Option(0),
    c: float = typer.Option(1.0, "--C", help="Inverse regularisation strength."),
) -> None:
    """Coarse garment category (dress, outerwear, top+bottom, ...) by logistic regression."""
    from fashionlens.models.registry import get_spec
    from fashionlens.pipeline.category import train_category
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        model_id = get_spec(settings.backbone).name
        report = train_category(
            Catalog(settings.db_path), settings, model_id, source=source, test_size=test_size, seed=seed, C=c
        )
        common.console.print(
            f"{report.classifier_id}: {report.split_method}; train {report.n_train}, test {report.n_test}"
        )
        common.console.print(report.report_text, highlight=False)
        common.console.print(
            f"held-out accuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}; "
            f"saved {report.classifier_path}"
        )
