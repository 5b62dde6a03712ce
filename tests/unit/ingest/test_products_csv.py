"""styles.csv parsing edge cases and the articleType -> ModaNet mapping (no images needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.labels import label_maps, modanet_categories
from fashionlens.ingest.products import STYLES_COLUMNS, _parse_styles_csv, product_label, read_styles_csv

HEADER = ",".join(STYLES_COLUMNS)
ROW = "15970,Men,Apparel,Topwear,Shirts,Navy Blue,Fall,2011,Casual,Turtle Check Men Navy Blue Shirt"


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "styles.csv"
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize(
    ("body", "expected_name"),
    [
        (ROW, "Turtle Check Men Navy Blue Shirt"),
        # one unquoted comma (as in the Kaggle file): 11 fields
        (
            "39403,Men,Apparel,Topwear,Shirts,Blue,Summer,2012,Casual,"
            "Ivy League Men Blue, White Checked Shirt",
            "Ivy League Men Blue, White Checked Shirt",
        ),
        # two unquoted commas: 12 fields
        ("1,Women,Apparel,Topwear,Tops,Red,Summer,2012,Casual,Red, White, Blue Top", "Red, White, Blue Top"),
        # a properly quoted comma is not "extra"
        ('2,Women,Apparel,Topwear,Tops,Red,Summer,2012,Casual,"Red, White Top"', "Red, White Top"),
        # trailing comma: empty extra field glued back (harmless)
        ("3,Men,Footwear,Shoes,Heels,Black,Fall,2011,Casual,Black Heels,", "Black Heels,"),
        # empty display name
        ("4,Men,Footwear,Shoes,Heels,Black,Fall,2011,Casual,", ""),
    ],
    ids=["plain", "one-extra-comma", "two-extra-commas", "quoted-comma", "trailing-comma", "empty-name"],
)
def test_display_name_rows(tmp_path: Path, body: str, expected_name: str) -> None:
    rows = read_styles_csv(write(tmp_path, f"{HEADER}\n{body}\n"))
    assert len(rows) == 1
    assert rows[0]["productDisplayName"] == expected_name
    assert set(rows[0]) == set(STYLES_COLUMNS)
    assert rows[0]["usage"] in {"Casual"}  # the columns before the display name did not shift


def test_extra_commas_do_not_shift_columns_after_the_display_name(tmp_path: Path) -> None:
    header = (
        "id,productDisplayName,articleType,gender,masterCategory,subCategory,baseColour,season,year,usage"
    )
    rows = read_styles_csv(
        write(tmp_path, f"{header}\n7,Blue, White Shirt,Shirts,Men,Apparel,Topwear,Blue,Fall,2011,X\n")
    )
    assert rows == [
        {
            "id": "7",
            "productDisplayName": "Blue, White Shirt",
            "articleType": "Shirts",
            "gender": "Men",
            "masterCategory": "Apparel",
            "subCategory": "Topwear",
            "baseColour": "Blue",
            "season": "Fall",
            "year": "2011",
            "usage": "X",
        }
    ]


@pytest.mark.parametrize(
    ("text", "n_rows"),
    [
        (f"{HEADER}\n", 0),
        (f"\ufeff{HEADER}\n{ROW}\n", 1),  # UTF-8 BOM
        (f"{HEADER}\r\n{ROW}\r\n{ROW.replace('15970', '15971')}\r\n", 2),  # CRLF
        (f"\n{HEADER}\n\n{ROW}\n\n", 1),  # blank lines
        (f" {HEADER.replace(',', ' , ')} \n{ROW}\n", 1),  # spaces around header names
    ],
    ids=["header-only", "bom", "crlf", "blank-lines", "spaced-header"],
)
def test_layout_variants(tmp_path: Path, text: str, n_rows: int) -> None:
    rows = read_styles_csv(write(tmp_path, text))
    assert len(rows) == n_rows
    if rows:
        assert rows[0]["id"] == "15970"
        assert rows[0]["articleType"] == "Shirts"


def test_short_row_is_reported_and_others_kept(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\n{ROW}\n5,Men,Apparel\n{ROW.replace('15970', '6')}\n")
    rows, skipped = _parse_styles_csv(path)
    assert [line for line, _ in rows] == [2, 4]
    assert len(skipped) == 1
    assert skipped[0].path == str(path)
    assert "line 3" in skipped[0].reason and "3 fields, expected 10" in skipped[0].reason
    assert [r["id"] for r in read_styles_csv(path)] == ["15970", "6"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty file"),
        ("\n\n  \n", "empty file"),
        (HEADER.replace(",articleType", "") + "\n", "missing required column(s) articleType"),
        (HEADER.replace("id,", "").replace(",season", "") + "\n", "missing required column(s) id, season"),
    ],
    ids=["empty", "blank", "no-articleType", "no-id-no-season"],
)
def test_unusable_file_raises_naming_file(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InvalidInputError) as info:
        read_styles_csv(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_and_non_utf8_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="file not found"):
        read_styles_csv(tmp_path / "nope.csv")
    path = write(tmp_path, f"{HEADER}\n{ROW.replace('Turtle', 'Tørtle')}\n", encoding="latin-1")
    with pytest.raises(InvalidInputError, match="not UTF-8"):
        read_styles_csv(path)


def test_products_map_targets_are_modanet_classes() -> None:
    mapping = label_maps()["products_to_modanet"]
    assert isinstance(mapping, dict)
    assert set(mapping.values()) <= set(modanet_categories())
    assert "products_to_modanet" in str(label_maps()["_doc"])


@pytest.mark.parametrize(
    ("article", "modanet", "coarse"),
    [
        ("Tshirts", ("top",), "other"),  # a top alone is "other" under the coarse rule
        ("Jeans", ("pants",), "bottoms"),
        ("Skirts", ("skirt",), "bottoms"),
        ("Dresses", ("dress",), "dress"),
        ("Jackets", ("outer",), "outerwear"),
        ("Sweaters", ("top",), "other"),
        ("Heels", ("footwear",), "footwear"),
        ("Handbags", ("bag",), "bag"),
        ("Belts", ("belt",), "accessory"),
        ("Ties", ("scarf/tie",), "accessory"),
        ("Caps", ("headwear",), "accessory"),
        ("Watches", (), "other"),
        ("Bra", (), "other"),
        ("Not An Article", (), "other"),
    ],
)
def test_product_label(article: str, modanet: tuple[str, ...], coarse: str) -> None:
    row = dict.fromkeys(STYLES_COLUMNS, "x") | {"id": "42", "articleType": article}
    label = product_label("abc", row)
    assert label.modanet_categories == modanet
    assert label.coarse_category == coarse
    assert label.image_filename == "images/42.jpg"
    assert label.label_source == "products"
    assert label.attributes == row
