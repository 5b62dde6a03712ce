"""Root of the `fashionlens` command: global options, then one sub-app per command group."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from fashionlens import __version__
from fashionlens.cli import common
from fashionlens.cli.colour import colour
from fashionlens.cli.doctor import doctor
from fashionlens.cli.embed import embed
from fashionlens.cli.export import export
from fashionlens.cli.generate import generate, train_gan
from fashionlens.cli.info import backbones_app, info
from fashionlens.cli.ingest import ingest_app
from fashionlens.cli.predict import predict_app
from fashionlens.cli.run import run
from fashionlens.cli.search import search_app
from fashionlens.cli.segment import segment_app
from fashionlens.cli.serve import serve
from fashionlens.cli.train import train_app
from fashionlens.cli.trends import trends
from fashionlens.cli.video import video
from fashionlens.cli.wardrobe import wardrobe_app
from fashionlens.cli.zeroshot import zero_shot

app = typer.Typer(
    name="fashionlens",
    help="Turn fashion images into structured, searchable fashion data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        common.console.print(f"fashionlens {__version__}")
        raise typer.Exit()


RAY_COMMANDS = frozenset({"embed", "segment"})  # the jobs an engine other than local runs


@app.callback()
def root(
    ctx: typer.Context,
    home: Path | None = typer.Option(None, help="Database and model cache folder [env FASHIONLENS_HOME]."),
    backbone: str | None = typer.Option(None, help="Embedding backbone id, e.g. mobilenet_v2.imagenet."),
    batch_size: int | None = typer.Option(None, help="Images per model batch."),
    weights_dir: Path | None = typer.Option(None, help="Folder holding pretrained weight files."),
    runtime: str | None = typer.Option(
        None, help="CNN inference runtime: torch, onnx or onnx-int8 [env FASHIONLENS_RUNTIME]."
    ),
    engine: str | None = typer.Option(
        None, help="Who runs batch jobs (embed, segment): local or ray [env FASHIONLENS_ENGINE]."
    ),
    ray_address: str | None = typer.Option(
        None, help="Ray cluster for --engine ray, e.g. ray://head:10001 [env RAY_ADDRESS]; none: a local Ray."
    ),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="-v info, -vv debug logging."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    common.setup_logging(verbose)
    ctx.obj = common.CliState(
        {
            "home": home,
            "backbone": backbone,
            "batch_size": batch_size,
            "weights_dir": weights_dir,
            "runtime": runtime,
            "engine": engine,
            "ray_address": ray_address,
        },
        debug=debug,
    )
    chosen = engine or os.environ.get("FASHIONLENS_ENGINE")
    if chosen and chosen != "local" and ctx.invoked_subcommand not in RAY_COMMANDS:
        typer.echo(
            f"note: --engine {chosen} runs {' and '.join(sorted(RAY_COMMANDS))}; "
            f"`{ctx.invoked_subcommand}` runs on this machine",
            err=True,
        )


app.add_typer(ingest_app, name="ingest")
app.command()(embed)
app.add_typer(train_app, name="train")
train_app.command("gan")(train_gan)
app.add_typer(predict_app, name="predict")
app.command()(export)
app.command()(run)
app.command()(generate)
app.command()(info)
app.command()(doctor)
app.add_typer(backbones_app, name="backbones")
app.add_typer(search_app, name="search")
app.command("zero-shot")(zero_shot)
app.command()(colour)
app.command()(video)
app.command()(serve)
app.add_typer(segment_app, name="segment")
app.command()(trends)
app.add_typer(wardrobe_app, name="wardrobe")


def main() -> None:
    app(prog_name="fashionlens")
