"""`fashionlens wardrobe ...` end to end: the seed's wardrobe.json, real photos, edits and conflicts,
outfits, the wear log, undo, export, gaps, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from fashionlens.cli.app import app

runner = CliRunner()
SEED = [
    {"id": 1, "type": "t-shirt", "color": "blue", "size": "M", "material": "cotton", "style": "casual"},
    {"id": 2, "type": "dress", "color": "black", "size": "S", "material": "silk", "style": "formal"},
]


def invoke(*args: str):
    return runner.invoke(app, ["wardrobe", *args])


def test_wardrobe_cli(shared_data: Path, tmp_path: Path) -> None:
    seed = tmp_path / "wardrobe.json"
    seed.write_text(json.dumps(SEED))
    r = invoke("import", str(seed))
    assert r.exit_code == 0 and "2 new" in r.output, r.output
    assert "0 new, 0 updated" in invoke("import", str(seed)).output

    photo = shared_data / "ccp" / "photos" / "0005.jpg"
    r = invoke("add", str(photo))
    assert r.exit_code == 0 and "new" in r.output, r.output
    again = invoke("add", str(photo))
    assert "already in the wardrobe" in again.output
    shoes = sorted((shared_data / "clothing" / "validation" / "shoes").glob("*.jpg"))[0]
    assert invoke("add", str(shoes), "--single", "--category", "shoes").exit_code == 0

    listed = json.loads(invoke("list", "--json-out").output)
    assert len(listed) >= 5 and {"seed-1", "seed-2"} <= {i["item_id"] for i in listed}
    assert len(json.loads(invoke("list", "--role", "footwear", "--json-out").output)) >= 1

    r = invoke("edit", "seed-1", "--set", "brand=Uniqlo", "--set", "price=30", "--version", "1")
    assert r.exit_code == 0 and "(v2)" in r.output, r.output
    stale = invoke("edit", "seed-1", "--set", "brand=Zara", "--version", "1")
    assert stale.exit_code == 6 and "someone changed it first" in stale.output
    bad = invoke("edit", "seed-1", "--set", "colour=mauve")
    assert bad.exit_code == 1 and "unknown colour" in bad.output and "Traceback" not in bad.output
    shown = json.loads(invoke("show", "seed-1").output)
    assert shown["brand"] == "Uniqlo" and shown["price"] == 30.0 and "embedding" not in shown

    r = invoke("outfits", "--n", "2", "--save", "--json-out")
    assert r.exit_code == 0, r.output
    outfits = json.loads(r.output)
    assert outfits and all("outfit_id" in o and o["reasons"] for o in outfits)
    r = invoke("wear", outfits[0]["outfit_id"], "--date", "2024-03-01")
    assert r.exit_code == 0 and "logged outfit" in r.output
    r = invoke("wear", "seed-1", "--date", "2024-03-02")
    assert "seed-1  worn" in r.output
    assert "seed-1" in invoke("wear", "--not-worn", "30").output
    assert "missing" in invoke("wear", "missing").output

    r = invoke("undo")
    assert r.exit_code == 0 and "undid: wear" in r.output
    history = invoke("undo", "--list").output
    assert "import" in history and "undone" in history

    out = tmp_path / "seed_out.json"
    assert invoke("export", str(out), "--format", "seed").exit_code == 0
    exported = json.loads(out.read_text())
    assert exported[1] == SEED[1] and exported[0]["brand"] == "Uniqlo"
    assert invoke("gaps", "--season", "winter").exit_code == 0

    assert invoke("remove", "seed-2").exit_code == 0
    missing = invoke("show", "seed-2")
    assert missing.exit_code == 1 and "no wardrobe item" in missing.output
    assert "undid: remove" in invoke("undo").output
    assert invoke("show", "seed-2").exit_code == 0

    no_catalogue = invoke("shop", listed[-1]["item_id"])
    assert no_catalogue.exit_code != 0 and "error" in no_catalogue.output
