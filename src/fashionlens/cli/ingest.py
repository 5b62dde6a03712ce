"""`fashionlens ingest <format> PATH`: read a dataset into the catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from fashionlens.cli import common

ingest_app = typer.Typer(help="Read datasets into the catalogue (idempotent).", no_args_is_help=True)

SOURCE_HELP = "runway | street | product | wardrobe | video"
OUTSIDE = typer.Option(
    False, "--allow-outside-root", help="Follow symlinks and file names that lead out of the dataset folder."
)


def _ingest(ctx: typer.Context, path: Path | None, fmt: str, **kwargs: Any) -> None:
    from fashionlens.ingest.base import probe_progress
    from fashionlens.jobs.ingest import ingest
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings()
        with common.progress_bar(f"read {path or fmt}") as (_, advance), probe_progress(advance):
            report = ingest(Catalog(settings.db_path), path, fmt, settings, **kwargs)
        print_ingest(report)


def print_ingest(report: Any) -> None:
    table = Table(title=f"ingest {report.format}: {report.path}", show_header=True)
    for col in ("images", "new", "annotations", "labels", "skipped"):
        table.add_column(col, justify="right")
    w = report.written
    table.add_row(
        str(w.images), str(w.new_images), str(w.annotations), str(w.labels), str(len(report.result.skipped))
    )
    common.console.print(table)
    common.print_skipped(report.result.skipped)


@ingest_app.command("auto")
def auto(
    ctx: typer.Context,
    path: Path,
    source: str | None = typer.Option(None, help=SOURCE_HELP),
    limit: int | None = typer.Option(None, help="Read at most this many images."),
) -> None:
    """Detect the format of PATH and ingest it."""
    _ingest(ctx, path, "auto", source=source, limit=limit)


@ingest_app.command("folder")
def folder(
    ctx: typer.Context,
    path: Path,
    source: str = typer.Option("wardrobe", help=SOURCE_HELP),
    dataset: str | None = typer.Option(None, help="Dataset name (default: the folder name)."),
    labels_from_subfolders: bool = typer.Option(False, help="First sub-folder name is the label."),
    label_scheme: str | None = typer.Option(None, help="Map labels to ModaNet, e.g. 'clothing'."),
    allow_outside_root: bool = OUTSIDE,
) -> None:
    """An image folder (optionally one sub-folder per label, or train/valid/test splits)."""
    _ingest(
        ctx,
        path,
        "folder",
        source=source,
        dataset=dataset,
        labels_from_subfolders=labels_from_subfolders,
        label_scheme=label_scheme,
        allow_outside_root=allow_outside_root,
    )


@ingest_app.command("coco")
def coco(
    ctx: typer.Context,
    annotations: Path,
    images_dir: Path | None = typer.Option(None, "--images"),
    source: str | None = typer.Option(
        None, help=SOURCE_HELP + " (default: runway for Fashionpedia, else street)"
    ),
    dataset: str | None = None,
    label_scheme: str | None = typer.Option(None, help="e.g. modanet, deepfashion2"),
    allow_outside_root: bool = OUTSIDE,
) -> None:
    """A COCO annotations .json (images beside it, or in --images)."""
    _ingest(
        ctx,
        annotations,
        "coco",
        source=source,
        dataset=dataset,
        images_dir=images_dir,
        label_scheme=label_scheme,
        allow_outside_root=allow_outside_root,
    )


@ingest_app.command("roboflow")
def roboflow(ctx: typer.Context, path: Path, source: str = typer.Option("runway", help=SOURCE_HELP)) -> None:
    """A Roboflow COCO export: train/ valid/ test/ each with _annotations.coco.json."""
    _ingest(ctx, path, "roboflow", source=source)


@ingest_app.command("modanet")
def modanet(
    ctx: typer.Context, annotations: Path, images_dir: Path | None = typer.Option(None, "--images")
) -> None:
    """ModaNet instances_*.json (photos optional: labels are kept without them)."""
    _ingest(ctx, annotations, "modanet", images_dir=images_dir)


@ingest_app.command("deepfashion2")
def deepfashion2(
    ctx: typer.Context, path: Path, source: str = typer.Option("street", help=SOURCE_HELP)
) -> None:
    """DeepFashion2 per-image JSON: PATH/image/*.jpg + PATH/annos/*.json."""
    _ingest(ctx, path, "deepfashion2", source=source)


@ingest_app.command("products")
def products(
    ctx: typer.Context,
    path: Path,
    limit: int | None = None,
    source: str = typer.Option("product", help=SOURCE_HELP),
    allow_outside_root: bool = OUTSIDE,
) -> None:
    """A product catalogue: PATH/styles.csv + PATH/images/<id>.jpg."""
    _ingest(ctx, path, "products", source=source, limit=limit, allow_outside_root=allow_outside_root)


@ingest_app.command("ccp")
def ccp(
    ctx: typer.Context,
    path: Path,
    limit: int | None = None,
    source: str = typer.Option("street", help=SOURCE_HELP),
) -> None:
    """Clothing Co-Parsing: PATH/photos, PATH/annotations, PATH/label_list.mat."""
    _ingest(ctx, path, "ccp", source=source, limit=limit)


@ingest_app.command("fashion-mnist")
def fashion_mnist(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None),
    per_class: int = typer.Option(100, help="Images per class and split."),
) -> None:
    """Fashion-MNIST from the Debian package dataset-fashion-mnist (or PATH to its idx files)."""
    _ingest(ctx, path, "fashion-mnist", per_class=per_class)


@ingest_app.command("video")
def video(
    ctx: typer.Context,
    path: Path,
    every: int = typer.Option(30, help="Keep every Nth frame."),
    source: str = typer.Option("video", help=SOURCE_HELP),
) -> None:
    """Sampled frames of a video file, saved as images under FASHIONLENS_HOME/datasets/video."""
    _ingest(ctx, path, "video", source=source, every=every)
