"""`fashionlens search IMAGE | --text "..."` and `search index | batch | heatmap | eval`.

Anything after ``search`` that is not a sub-command name is a query: ``fashionlens search a.jpg``
runs ``fashionlens search query a.jpg`` (use the explicit form for a file named like a sub-command).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.table import Table
from typer.core import TyperGroup

from fashionlens.cli import common


class _SearchGroup(TyperGroup):
    """A group whose default command is ``query``: ``search IMAGE`` == ``search query IMAGE``."""

    default_command = "query"

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # a (vendored) click Context
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


search_app = typer.Typer(
    cls=_SearchGroup,
    help="Search the catalogue by image or text (top-k with scores and metadata, filters pushed "
    "into the vector query). `search IMAGE` and `search --text ...` run `search query`.",
    no_args_is_help=True,
)

SourceOpt = typer.Option(None, "--source", help="Only images of this source (runway, street, product...).")
SplitOpt = typer.Option(None, "--split", help="Only images of this split (train, valid, test, unsplit).")
CategoryOpt = typer.Option(None, "--category", help="Only this coarse category (predicted, else labelled).")
ColourOpt = typer.Option(None, "--colour", help="Only this colour group (catalogue colour, else predicted).")
BackboneOpt = typer.Option(
    None,
    "--backbone",
    help="Embedding space. Default: mobilenet_v2_minilm.products for text, "
    "the settings' backbone for images.",
)
KOpt = typer.Option(10, "--k", "-k", min=1, help="How many results.")


def _filters(source: str | None, split: str | None, category: str | None, colour: str | None) -> Any:
    from fashionlens.services.search import SearchFilters

    return SearchFilters(source=source, split=split, category=category, colour=colour)


def _model(ctx: typer.Context, backbone: str | None, *, text: bool) -> tuple[Any, str]:
    from fashionlens.services.search import default_model

    cli = common.state(ctx)
    settings = cli.settings()
    explicit = backbone or cli.overrides.get("backbone")  # a global --backbone counts for text too
    from fashionlens.store.catalog import Catalog

    catalog = Catalog(settings.db_path)
    return settings, default_model(settings, text=text, backbone=explicit, catalog=catalog)


def _notes(notes: list[str]) -> None:
    for note in notes:
        common.err_console.print(f"[yellow]{note}[/]", highlight=False, soft_wrap=True)


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        for hit in result.hits:
            typer.echo(json.dumps({"query": result.query, **hit.__dict__}))
        return
    title = f"{result.query} — {result.model_id}, {result.filters.describe()} ({result.method})"
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="--json for full paths",
    )
    table.add_column("rank", justify="right")
    table.add_column("score", justify="right")
    table.add_column("image_id", no_wrap=True, min_width=16)
    for column in ("source", "category", "colour", "article", "file"):
        table.add_column(column, overflow="fold")
    for h in result.hits:
        name = Path(h.image_path).name
        table.add_row(
            str(h.rank), f"{h.score:.4f}", h.image_id, h.source, h.category, h.colour, h.article_type, name
        )
    common.console.print(table)


@search_app.command("query")
def search_query(
    ctx: typer.Context,
    image: str | None = typer.Argument(None, help="Query image file, or the image_id of a catalogued image."),
    text: str | None = typer.Option(None, "--text", "-t", help="Text query (needs a text tower)."),
    k: int = KOpt,
    source: str | None = SourceOpt,
    split: str | None = SplitOpt,
    category: str | None = CategoryOpt,
    colour: str | None = ColourOpt,
    backbone: str | None = BackboneOpt,
    mode: str = typer.Option("auto", help="auto (ANN when indexed and large), exact or ann."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per result instead of a table."),
) -> None:
    """Top-k images closest to IMAGE or --text, with scores and metadata."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.services.search import Searcher
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        if (image is None) == (text is None):
            raise InvalidInputError("give either a query IMAGE or --text, not both and not neither")
        if mode not in ("auto", "exact", "ann"):
            raise InvalidInputError(f"--mode must be auto, exact or ann; got {mode!r}")
        filters = _filters(source, split, category, colour)
        settings, model_id = _model(ctx, backbone, text=text is not None)
        searcher = Searcher(Catalog(settings.db_path), settings, model_id, mode=mode)  # type: ignore[arg-type]
        _notes(searcher.notes)
        if text is not None:
            result = searcher.search_text(text, k, filters)
        else:
            result = searcher.search_image(image or "", k, filters)
        if not result.hits:
            _notes([f"no results: {note}" for note in result.notes])
            return
        _print_result(result, as_json)


@search_app.command("index")
def search_index(
    ctx: typer.Context,
    backbone: str | None = typer.Option(None, "--backbone", help="Embedding space (default: the setting)."),
    ann_threshold: int = typer.Option(5000, min=1, help="Build an ANN index from this many rows."),
    index_type: str = typer.Option("IVF_HNSW_SQ", help="IVF_HNSW_SQ or IVF_PQ."),
    force: bool = typer.Option(False, "--force", help="Rewrite even if nothing changed."),
) -> None:
    """Build or refresh the search table of one embedding space (idempotent)."""
    from fashionlens.jobs.index import build_search_index
    from fashionlens.store.catalog import Catalog
    from fashionlens.store.search_table import AnnConfig

    with common.errors(ctx):
        settings = common.state(ctx).settings(backbone=backbone)
        ann = AnnConfig(threshold=ann_threshold, index_type=index_type)
        info = build_search_index(
            Catalog(settings.db_path), settings, settings.backbone, ann=ann, force=force
        )
        how = info.ann_index or f"exact search (below {ann_threshold} rows)"
        if info.written:
            common.console.print(
                f"indexed {info.rows} images of {info.model_id} in {info.table_name}: {how} "
                f"({info.seconds:.1f}s)"
            )
        else:
            common.console.print(f"{info.table_name} is up to date: {info.rows} images, {how}")


@search_app.command("batch")
def search_batch(
    ctx: typer.Context,
    queries: Path = typer.Argument(
        ...,
        help="A folder of query images, or a list file: one image path, image_id or 'text: ...' per line.",
    ),
    out: Path = typer.Option(Path("search_results.csv"), "--out", "-o", help="Results .csv or .parquet."),
    k: int = KOpt,
    source: str | None = SourceOpt,
    split: str | None = SplitOpt,
    category: str | None = CategoryOpt,
    colour: str | None = ColourOpt,
    backbone: str | None = BackboneOpt,
    save: bool = typer.Option(False, "--save", help="Also upsert the results into the search_results table."),
) -> None:
    """Search every query of a folder or list; write query, rank, image_id, score, path (+ metadata)."""
    from fashionlens.services.search import Searcher
    from fashionlens.services.search_batch import read_queries, save_results, write_results
    from fashionlens.services.search_batch import search_batch as run_batch
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        filters = _filters(source, split, category, colour)
        items = read_queries(queries)
        settings, model_id = _model(ctx, backbone, text=any(q.kind == "text" for q in items))
        catalog = Catalog(settings.db_path)
        searcher = Searcher(catalog, settings, model_id)
        _notes(searcher.notes)
        with common.bar(f"search {model_id}") as progress:
            progress.start(len(items))
            report = run_batch(
                searcher, items, k=k, filters=filters, skip_failures=settings.skip_failures, progress=progress
            )
        write_results(report, out)
        empty = sum(1 for r in report.results if not r.hits)
        common.console.print(
            f"searched {len(report.results)} queries in {report.seconds:.1f}s; "
            f"wrote {len(report.rows())} results to {out}" + (f"; {empty} with no match" if empty else "")
        )
        if empty:
            _notes([next(r.notes[0] for r in report.results if not r.hits)])
        if save:
            n = save_results(catalog, report)
            common.console.print(f"saved {n} results to the search_results table")
        common.print_skipped(report.skipped)


@search_app.command("heatmap")
def search_heatmap(
    ctx: typer.Context,
    items: list[str] = typer.Argument(..., help="Image files and/or catalogued image_ids (2 or more)."),
    out: Path = typer.Option(Path("heatmap.png"), "--out", "-o", help="PNG file to write."),
    backbone: str | None = typer.Option(None, "--backbone", help="Embedding space (default: the setting)."),
    labels: str = typer.Option("auto", help="auto (articleType, else file name), article_type, file or id."),
) -> None:
    """Pairwise cosine-distance heatmap of the given images, saved as PNG."""
    from fashionlens.render.heatmap import distance_heatmap, heatmap_inputs
    from fashionlens.services.search import Searcher
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings, model_id = _model(ctx, backbone, text=False)
        searcher = Searcher(Catalog(settings.db_path), settings, model_id)
        _notes(searcher.notes)
        vectors, names = heatmap_inputs(searcher, items, labels)
        distance_heatmap(vectors, names, out, title=f"cosine distance, {model_id}")
        common.console.print(f"wrote a {len(names)}x{len(names)} distance heatmap to {out}")


@search_app.command("eval")
def search_eval(
    ctx: typer.Context,
    backbone: str | None = typer.Option(None, "--backbone", help="Image backbone (default: the setting)."),
    text_backbone: str = typer.Option(
        "mobilenet_v2_minilm.products", help="Joint image/text space; '' to skip."
    ),
) -> None:
    """Precision@1/5/10 by articleType on the held-out products (image->image and text->image)."""
    from fashionlens.analysis.retrieval import retrieval_precision
    from fashionlens.models.registry import resolve_model_id
    from fashionlens.store.catalog import Catalog

    with common.errors(ctx):
        settings = common.state(ctx).settings(backbone=backbone)
        report = retrieval_precision(
            Catalog(settings.db_path),
            settings,
            image_model=resolve_model_id(settings.backbone),
            text_model=text_backbone or None,
        )
        common.console.print(report.table(), highlight=False, soft_wrap=True)
