"""What every command shares: settings from the context, progress bars, one-line errors."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from fashionlens.core.errors import FashionlensError, exit_code
from fashionlens.core.settings import Settings, load_settings
from fashionlens.core.types import Skipped

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    overrides: dict[str, Any]
    debug: bool = False

    def settings(self, **more: Any) -> Settings:
        return load_settings({**self.overrides, **{k: v for k, v in more.items() if v is not None}})


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, CliState) else CliState({})


@contextlib.contextmanager
def errors(ctx: typer.Context) -> Iterator[None]:
    """Turn library errors into one clear line and exit code 1 (a traceback only with --debug)."""
    debug = state(ctx).debug
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except FashionlensError as exc:
        if debug:
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exit_code(exc)) from None
    except Exception as exc:
        if debug:
            raise
        err_console.print(
            f"[bold red]error:[/] {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


Callbacks = tuple[Callable[[int], None], Callable[[int], None]]


@contextlib.contextmanager
def progress_bars(*descriptions: str) -> Iterator[list[Callbacks]]:
    """One Rich progress bar per description on stderr; yields ``(on_start(total), advance(n))`` each."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console) as progress:
        out: list[Callbacks] = []
        for description in descriptions:
            task = progress.add_task(description, total=None)

            def on_start(total: int, task: TaskID = task) -> None:
                progress.update(task, total=total)

            def advance(n: int, task: TaskID = task) -> None:
                progress.advance(task, n)

            out.append((on_start, advance))
        yield out


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callbacks]:
    with progress_bars(description) as bars:
        yield bars[0]


class BarProgress:
    """`fashionlens.core.progress.Progress` on a Rich bar."""

    def __init__(self, on_start: Callable[[int], None], advance: Callable[[int], None]) -> None:
        self._on_start, self._advance = on_start, advance

    def start(self, total: int | None, what: str = "") -> None:
        if total is not None:
            self._on_start(total)

    def advance(self, n: int = 1) -> None:
        self._advance(n)


@contextlib.contextmanager
def bar(description: str) -> Iterator[BarProgress]:
    """One Rich bar as a `Progress` object, the protocol every job and training loop reports to."""
    with progress_bar(description) as (on_start, advance):
        yield BarProgress(on_start, advance)


def print_skipped(skipped: list[Skipped], limit: int = 10) -> None:
    if not skipped:
        return
    err_console.print(f"[yellow]skipped {len(skipped)}:[/]")
    for item in skipped[:limit]:
        err_console.print(f"  {item.path}: {item.reason}", highlight=False, soft_wrap=True)
    if len(skipped) > limit:
        err_console.print(f"  ... and {len(skipped) - limit} more")


def setup_logging(verbose: int) -> None:
    from rich.logging import RichHandler

    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = RichHandler(console=err_console, show_path=False, rich_tracebacks=False)
    logging.basicConfig(level=level, handlers=[handler], format="%(message)s", force=True)
    # a skipped file is reported once in the summary; per-file warnings only with -v
    logging.getLogger("fashionlens.ingest").setLevel(level if verbose > 0 else logging.ERROR)


def catalogue_filter(
    *, source: str | None = None, split: str | None = None, where: str | None = None
) -> str | None:
    """A WHERE clause on the images table from checked values (``where`` is raw SQL, by design)."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.core.types import SOURCES, SPLITS
    from fashionlens.store.search_table import where_clause

    if source is not None and source not in SOURCES:
        raise InvalidInputError(f"--source must be one of {', '.join(SOURCES)}; got {source!r}")
    if split is not None and split not in SPLITS:
        raise InvalidInputError(f"--split must be one of {', '.join(SPLITS)}; got {split!r}")
    clause = where_clause({"source": source, "split": split})
    if where:
        clause = f"({clause}) AND ({where})" if clause else f"({where})"
    return clause


def image_limits(settings: Settings) -> Any:
    from fashionlens.ingest.images import ImageLimits

    return ImageLimits.from_settings(settings)


def model_id(settings: Settings, catalog: Any = None) -> str:
    """The stored model id of the settings' backbone on the settings' runtime (with a catalogue:
    under ``runtime = auto``, the space of this backbone that is already stored)."""
    from fashionlens.models import factory

    if catalog is None:
        return factory.backbone_model_id(settings)
    return factory.stored_space(settings, catalog.embedding_models())


def stored_backbone(settings: Settings, catalog: Any) -> Any:
    """The backbone whose vectors are stored in ``catalog`` for the settings (see `model_id`)."""
    from fashionlens.models import factory

    return factory.backbone_for_model_id(settings, model_id(settings, catalog))


def backbone(settings: Settings) -> Any:
    """The settings' backbone (weights not loaded yet) on the settings' device and runtime."""
    from fashionlens.models import factory

    return factory.backbone(settings)
