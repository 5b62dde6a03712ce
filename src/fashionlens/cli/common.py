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

from fashionlens.core.errors import FashionlensError
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
        raise typer.Exit(1) from None
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


def model_id(settings: Settings) -> str:
    """The stored model id of the settings' backbone on the settings' runtime."""
    from fashionlens.models.registry import stored_model_id

    return stored_model_id(settings.backbone, settings.runtime, weights_dir=settings.weights_dir)


def backbone(settings: Settings) -> Any:
    """The settings' backbone (weights not loaded yet) on the settings' device and runtime."""
    from fashionlens.models.registry import create_backbone

    return create_backbone(
        settings.backbone, device=settings.device, weights_dir=settings.weights_dir, runtime=settings.runtime
    )
