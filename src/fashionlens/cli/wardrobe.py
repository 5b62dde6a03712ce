"""`fashionlens wardrobe ...`: your clothes from photos, kept safe, put together into outfits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fashionlens.cli import common

wardrobe_app = typer.Typer(
    help="Digitise your wardrobe from photos, edit it, undo, and build outfits.", no_args_is_help=True
)


def _wardrobe(ctx: typer.Context) -> Any:
    from fashionlens.services.wardrobe import Wardrobe

    return Wardrobe(common.state(ctx).settings())


def _print_json(data: Any) -> None:
    common.console.print(
        json.dumps(data, indent=2, default=str), markup=False, highlight=False, soft_wrap=True
    )


def _line(item: Any) -> str:
    colours = "/".join(c["name"] for c in item.colours) or "-"
    extra = f" {item.brand}" if item.brand else ""
    return (
        f"{item.item_id}  {item.status:<8} {item.role or '-':<9} {item.category or '-':<10} {colours:<14} "
        f"{item.label()}{extra}  (v{item.version})"
    )


def _say(text: str) -> None:
    common.console.print(text, highlight=False, soft_wrap=True, markup=False)


@wardrobe_app.command("add")
def add(
    ctx: typer.Context,
    photos: list[Path] = typer.Argument(..., help="Photos of you or of garments."),
    single: bool = typer.Option(False, "--single", help="Each photo shows one garment (flat lay, hanger)."),
    category: str = typer.Option("", help="With --single: the garment's class or type (t-shirt, jeans...)."),
    rerun: bool = typer.Option(False, "--rerun", help="Re-run the models on photos already added."),
) -> None:
    """One item per garment found in each photo; the same photo twice adds nothing."""
    with common.errors(ctx):
        w = _wardrobe(ctx)
        with common.bar("photos") as progress:
            report = w.add(photos, single=single, category=category, rerun=rerun, progress=progress)
        for photo in report.photos:
            if photo.already and not photo.items and not photo.updated:
                _say(f"{photo.path}: already in the wardrobe as {', '.join(photo.already)}")
                continue
            _say(f"{photo.path}: {len(photo.items)} new, {len(photo.updated)} refreshed")
            for item in [*photo.items, *photo.updated]:
                _say(f"  {_line(item)}")
            for d in photo.duplicates:
                common.err_console.print(f"[yellow]warning:[/] {d.message} (similarity {d.similarity:.2f})")
        common.print_skipped(report.skipped)
        if report.skipped and not report.photos:
            raise typer.Exit(1)


@wardrobe_app.command("list")
def list_items(
    ctx: typer.Context,
    status: str | None = typer.Option(None, help="closet, wishlist or gone."),
    role: str | None = typer.Option(None, help="top, bottom, dress, outerwear, footwear, bag, accessory."),
    category: str | None = typer.Option(None, help="Garment class (top, pants, dress...)."),
    colour: str | None = typer.Option(None, help="Colour name."),
    season: str | None = typer.Option(None),
    tag: str | None = typer.Option(None),
    json_out: bool = typer.Option(False, "--json-out", help="Print JSON."),
) -> None:
    """Your items, oldest first."""
    with common.errors(ctx):
        items = _wardrobe(ctx).list_items(
            status=status, role=role, category=category, colour=colour, season=season, tag=tag
        )
        if json_out:
            _print_json([i.to_dict() for i in items])
            return
        for item in items:
            _say(_line(item))
        common.err_console.print(f"{len(items)} items")


@wardrobe_app.command("show")
def show(ctx: typer.Context, item_id: str = typer.Argument(...)) -> None:
    """Every field of one item (JSON; the mask and the vector left out)."""
    with common.errors(ctx):
        w = _wardrobe(ctx)
        data = w.get(item_id).to_dict()
        stats = w.wear_stats().get(item_id)
        if stats is not None:
            data["times_worn"], data["last_worn"] = stats.times_worn, stats.last_worn
            data["cost_per_wear"] = stats.cost_per_wear
        _print_json(data)


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    from fashionlens.core.errors import InvalidInputError

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--set expects FIELD=VALUE; got {pair!r}")
        out[key.strip()] = value
    return out


@wardrobe_app.command("edit")
def edit(
    ctx: typer.Context,
    item_id: str = typer.Argument(...),
    sets: list[str] = typer.Option(
        [], "--set", help="FIELD=VALUE (name, category, colours, brand, price...)."
    ),
    mask: Path | None = typer.Option(None, help="A JSON file with the new mask (COCO RLE over the photo)."),
    version: int | None = typer.Option(None, help="The version you edit; a newer one stored is a conflict."),
) -> None:
    """Change fields of an item (fields you set are never overwritten by a --rerun)."""
    from fashionlens.core.errors import InvalidInputError

    with common.errors(ctx):
        changes = _parse_sets(sets)
        if mask is not None:
            try:
                changes["mask"] = json.loads(mask.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InvalidInputError(f"{mask}: not a readable JSON mask ({exc})") from exc
        if not changes:
            raise InvalidInputError("nothing to change: give --set FIELD=VALUE or --mask FILE")
        item = _wardrobe(ctx).edit(item_id, changes, expected_version=version)
        _say(_line(item))


@wardrobe_app.command("remove")
def remove(
    ctx: typer.Context,
    item_id: str = typer.Argument(...),
    version: int | None = typer.Option(
        None, help="The version you remove; a newer one stored is a conflict."
    ),
) -> None:
    """Delete an item (`wardrobe undo` brings it back; to keep it as given away: --set status=gone)."""
    with common.errors(ctx):
        _wardrobe(ctx).remove(item_id, expected_version=version)
        _say(f"removed {item_id}")


@wardrobe_app.command("undo")
def undo(
    ctx: typer.Context, list_: bool = typer.Option(False, "--list", help="Show the recent changes instead.")
) -> None:
    """Revert the newest change (add, edit, remove, import, outfit, wear...)."""
    with common.errors(ctx):
        w = _wardrobe(ctx)
        if list_:
            for c in w.history(30):
                what = f"undo of {c.undo_of}" if c.undo_of else c.summary
                _say(f"{c.seq:>4} {c.at[:19]} {c.action:<12} {c.state:<11} {c.table:<18} {what}")
            return
        applied = w.undo()
        if applied is None:
            _say("nothing to undo")
            return
        _say(f"undid: {applied.summary.removeprefix('undo ')}")


@wardrobe_app.command("export")
def export(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="JSON file to write."),
    fmt: str = typer.Option("full", "--format", help="full (everything) or seed (the seed's item list)."),
) -> None:
    """Write the wardrobe to JSON."""
    with common.errors(ctx):
        n = _wardrobe(ctx).export(path, fmt=fmt)
        _say(f"wrote {n} items to {path}")


@wardrobe_app.command("import")
def import_(ctx: typer.Context, path: Path = typer.Argument(..., help="A wardrobe.json.")) -> None:
    """Read a wardrobe.json (the seed's item list, or a `wardrobe export`); twice changes nothing."""
    with common.errors(ctx):
        applied = _wardrobe(ctx).import_(path)
        created = sum(len(a.created) for a in applied)
        updated = sum(len(a.updated) for a in applied)
        _say(f"{path}: {created} new, {updated} updated")


@wardrobe_app.command("outfits")
def outfits(
    ctx: typer.Context,
    season: str | None = typer.Option(None, help="spring, summer, autumn or winter."),
    occasion: str | None = typer.Option(None, help="casual, work, party, formal, sport..."),
    with_items: list[str] = typer.Option([], "--with", help="An item every outfit must include."),
    n: int = typer.Option(5, "--n", help="How many outfits."),
    save: bool = typer.Option(False, "--save", help="Save them (so `wardrobe wear OUTFIT` can log them)."),
    json_out: bool = typer.Option(False, "--json-out", help="Print JSON."),
) -> None:
    """Complete outfits from your closet, best first, with the reasons for each score."""
    from fashionlens.services.outfits import OutfitRequest

    with common.errors(ctx):
        w = _wardrobe(ctx)
        request = OutfitRequest(season=season, occasion=occasion, with_items=tuple(with_items), n=n)
        found = w.outfits(request)
        saved = []
        if save:
            for s in found:
                saved.append(
                    w.save_outfit(
                        s.slots,
                        season=season or "",
                        occasion=occasion or "",
                        score=s.score,
                        reasons=s.reasons,
                    ).outfit_id
                )
        if json_out:
            _print_json(
                [{**s.to_dict(), **({"outfit_id": saved[i]} if saved else {})} for i, s in enumerate(found)]
            )
            return
        if not found:
            _say("no complete outfit: see `fashionlens wardrobe gaps`")
        for i, s in enumerate(found):
            head = f"{i + 1}. score {s.score:.2f}" + (f"  saved as {saved[i]}" if saved else "")
            _say(head)
            for role, piece in s.pieces.items():
                _say(f"   {role:<10} {piece.item_id}  {piece.name}")
            _say("   " + "; ".join(s.reasons))


@wardrobe_app.command("wear")
def wear(
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="An item or a saved outfit; none: show the stats."),
    date: str | None = typer.Option(None, "--date", help="YYYY-MM-DD (default today)."),
    not_worn: int | None = typer.Option(None, "--not-worn", help="List closet items not worn in N days."),
) -> None:
    """Log what you wore; times worn, cost per wear, and what you have not worn lately."""
    with common.errors(ctx):
        w = _wardrobe(ctx)
        if target:
            row = w.wear(target, date)
            _say(f"logged {row['kind']} {target} on {row['worn_on']}")
        stats = w.wear_stats()
        if not_worn is not None:
            for item in w.not_worn(not_worn):
                last = stats[item.item_id].last_worn or "never"
                _say(f"{item.item_id}  {item.label()}  last worn {last}")
            return
        shown = [w.get(target).item_id] if target and target in stats else list(stats)
        for item_id in shown:
            s = stats[item_id]
            cpw = f"{s.cost_per_wear:.2f}" if s.cost_per_wear is not None else "-"
            _say(f"{item_id}  worn {s.times_worn}x  last {s.last_worn or 'never'}  cost per wear {cpw}")


@wardrobe_app.command("shop")
def shop(
    ctx: typer.Context,
    item_id: str = typer.Argument(...),
    k: int = typer.Option(10, help="How many catalogue images."),
    source: str | None = typer.Option("product", help="Catalogue source to search (product, street...)."),
    json_out: bool = typer.Option(False, "--json-out", help="Print JSON."),
) -> None:
    """Catalogue products most like one of your items (run `ingest products` and `embed` first)."""
    from fashionlens.services.search import SearchFilters

    with common.errors(ctx):
        result = _wardrobe(ctx).shop(item_id, k=k, filters=SearchFilters(source=source or None))
        if json_out:
            _print_json([h.__dict__ for h in result.hits])
            return
        for h in result.hits:
            _say(f"{h.rank:>2}. {h.score:.3f}  {h.image_id}  {h.article_type or h.category}  {h.image_path}")
        for note in result.notes:
            common.err_console.print(f"[yellow]{note}[/]")


@wardrobe_app.command("gaps")
def gaps(
    ctx: typer.Context, season: str | None = typer.Option(None, help="spring, summer, autumn or winter.")
) -> None:
    """Roles and colours no outfit can fill now."""
    with common.errors(ctx):
        found = _wardrobe(ctx).gaps(season)
        if not found:
            _say("no gaps: every piece has a good outfit")
        for g in found:
            _say(f"{g['role']}: {g['reason']}; try {', '.join(g['colours'])}")
