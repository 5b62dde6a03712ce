"""`fashionlens zero-shot IMAGE... --labels ...`: label images from text, without training."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fashionlens.cli import common


def zero_shot(
    ctx: typer.Context,
    images: list[Path] = typer.Argument(..., help="Image files."),
    labels: str = typer.Option(..., help="Comma-separated labels, e.g. 'dress,jeans,sneakers'."),
    template: str = typer.Option("a photo of a {label}", help="Prompt with {label}."),
    backbone: str = typer.Option("mobilenet_v2_minilm.products", help="A backbone with a text tower."),
    top: int = typer.Option(3, help="How many labels to print per image."),
) -> None:
    """Score each image against one prompt per label; print the best labels as JSON lines."""
    from fashionlens.core.errors import InvalidInputError
    from fashionlens.ingest.images import open_rgb
    from fashionlens.models import factory

    with common.errors(ctx):
        names = [label.strip() for label in labels.split(",") if label.strip()]
        if len(names) < 2:
            raise InvalidInputError(f"--labels needs at least two labels; got {names}")
        if "{label}" not in template:
            raise InvalidInputError(f"--template must contain {{label}}; got {template!r}")
        settings = common.state(ctx).settings()
        model = factory.backbone(settings, backbone)
        if not model.has_text:
            raise InvalidInputError(f"backbone {backbone} has no text tower")
        text = model.embed_text([template.format(label=n) for n in names])
        for path in images:
            vector = model.embed([open_rgb(path)])
            scores = (vector @ text.T)[0]
            order = scores.argsort()[::-1][:top]
            best = {names[i]: round(float(scores[i]), 4) for i in order}
            common.console.print_json(json.dumps({"image": str(path), "labels": best}))
