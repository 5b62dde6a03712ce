"""`fashionlens colour IMAGE...`: the dominant named colours of images, with their shares."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fashionlens.cli import common


def colour(
    ctx: typer.Context,
    images: list[Path] = typer.Argument(..., help="Image files."),
    k: int = typer.Option(4, help="Colour clusters per image (clusters with the same name merge)."),
    json_out: bool = typer.Option(False, "--json-out", help="Print JSON instead of one line per image."),
) -> None:
    """Name the dominant colours of each image (white studio background ignored), largest share first."""
    from fashionlens.ingest.images import open_rgb
    from fashionlens.models.colour.naming import dominant_colours

    with common.errors(ctx):
        results = [(path, dominant_colours(open_rgb(path), k=k)) for path in images]
        if json_out:
            data = [
                {
                    "image": str(path),
                    "colours": [
                        {"name": c.name, "share": round(c.share, 4), "rgb": list(c.rgb), "hex": c.hex}
                        for c in shares
                    ],
                }
                for path, shares in results
            ]
            # plain text (no markup, no wrapping) so the output pipes into jq
            common.console.print(json.dumps(data, indent=2), markup=False, highlight=False, soft_wrap=True)
            return
        for path, shares in results:
            text = ", ".join(f"{c.name} {c.share:.0%} ({c.hex})" for c in shares)
            common.console.print(f"{path}: {text}", highlight=False, soft_wrap=True)
