"""The products reader on the real shared catalogue (7,671 rows), plus bad input built from real files."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from fashionlens.core.errors import InvalidInputError
from fashionlens.core.types import IngestResult
from fashionlens.ingest.products import STYLES_COLUMNS, read_products, read_styles_csv

N_ROWS = 7671
N_DUPLICATE_PHOTOS = 74  # photos listed twice under two ids (identical bytes)
# measured on the shared copy with products_to_modanet; a top alone is "other" under the coarse rule
EXPECTED_COARSE = {
    "other": 4098,
    "footwear": 1695,
    "bag": 612,
    "accessory": 581,
    "bottoms": 474,
    "outerwear": 118,
    "dress": 19,
}


@pytest.fixture(scope="module")
def products(shared_data: Path) -> IngestResult:
    """One full read per module: it probes all 7,671 photos (~3 s)."""
    return read_products(shared_data / "products")


def test_styles_csv_is_parsed_whole(shared_data: Path) -> None:
    rows = read_styles_csv(shared_data / "products" / "styles.csv")
    assert len(rows) == N_ROWS
    assert all(list(r) == list(STYLES_COLUMNS) for r in rows)
    assert all(r["id"].isdigit() and r["articleType"] and r["productDisplayName"] for r in rows)
    # the shared copy has no row with an unquoted comma (checked with a raw split); see the test below
    raw = (shared_data / "products" / "styles.csv").read_text(encoding="utf-8").splitlines()
    assert sum(1 for line in raw if line.count(",") != 9) == 0


def test_full_read(products: IngestResult) -> None:
    assert len(products.images) == N_ROWS - N_DUPLICATE_PHOTOS
    assert len(products.labels) == len(products.images)
    assert len(products.skipped) == N_DUPLICATE_PHOTOS
    assert all("same image bytes as images/" in s.reason for s in products.skipped)
    assert len({r.image_id for r in products.images}) == len(products.images)
    assert {(r.width, r.height) for r in products.images} == {(224, 224)}
    assert {(r.source, r.original_dataset, r.split) for r in products.images} == {
        ("product", "products", "unsplit")
    }
    for record, label in zip(products.images, products.labels, strict=True):
        assert record.image_id == label.image_id
        assert Path(record.image_path).name == Path(label.image_filename).name
        assert label.image_filename == f"images/{label.attributes['id']}.jpg"
        assert list(label.attributes) == list(STYLES_COLUMNS)


def test_coarse_distribution(products: IngestResult) -> None:
    assert dict(Counter(lab.coarse_category for lab in products.labels)) == EXPECTED_COARSE
    by_master = Counter((lab.attributes["masterCategory"], lab.coarse_category) for lab in products.labels)
    # every shoe, sandal and flip-flop maps to footwear, and nothing else does
    assert by_master[("Footwear", "footwear")] == EXPECTED_COARSE["footwear"]
    unmapped = {lab.attributes["articleType"] for lab in products.labels if not lab.modanet_categories}
    assert {"Watches", "Socks", "Bra", "Deodorant"} <= unmapped
    assert not unmapped & {"Tshirts", "Shirts", "Jeans", "Dresses", "Jackets", "Heels", "Handbags", "Belts"}


def test_rows_with_extra_commas_from_real_rows(tmp_path: Path, shared_data: Path) -> None:
    """Give real rows unquoted commas in the display name (as in the Kaggle original) and re-read them."""
    src = shared_data / "products"
    lines = (src / "styles.csv").read_text(encoding="utf-8").splitlines()[:21]
    broken = [lines[0]]
    for i, line in enumerate(lines[1:], start=1):
        *fields, name = line.split(",", 9)
        broken.append(",".join([*fields, name.replace(" ", ", ", 1 + i % 2)]))  # 1 or 2 extra commas
    n_extra = sum(1 for line in broken[1:] if line.count(",") > 9)
    assert n_extra == 20
    root = tmp_path / "products"
    root.mkdir()
    (root / "styles.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    (root / "images").symlink_to(src / "images")

    result = read_products(root)
    reference = read_products(src, limit=20)
    assert not result.skipped
    assert [r.image_id for r in result.images] == [r.image_id for r in reference.images]
    for got, want, line in zip(result.labels, reference.labels, broken[1:], strict=True):
        name = got.attributes.pop("productDisplayName")
        assert name.replace(", ", " ") == want.attributes.pop("productDisplayName")
        assert name == line.split(",", 9)[9]  # everything after the 9th comma
        assert got == want  # all other columns, ModaNet classes and coarse category unchanged


def real_rows(shared_data: Path, n: int) -> list[str]:
    return (shared_data / "products" / "styles.csv").read_text(encoding="utf-8").splitlines()[: n + 1]


def test_missing_article_type_column(tmp_path: Path, shared_data: Path) -> None:
    lines = [
        ",".join(f for j, f in enumerate(line.split(",")) if j != 4) for line in real_rows(shared_data, 3)
    ]
    root = tmp_path / "products"
    root.mkdir()
    (root / "styles.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidInputError) as info:
        read_products(root)
    assert str(root / "styles.csv") in str(info.value)
    assert "articleType" in str(info.value)


def test_bad_rows_are_skipped_and_good_rows_kept(tmp_path: Path, shared_data: Path) -> None:
    lines = real_rows(shared_data, 6)
    ids = [line.split(",", 1)[0] for line in lines[1:]]
    root = tmp_path / "products"
    (root / "images").mkdir(parents=True)
    for pid in ids:
        shutil.copy(shared_data / "products" / "images" / f"{pid}.jpg", root / "images")
    (root / "images" / f"{ids[0]}.jpg").unlink()  # missing image
    truncated = root / "images" / f"{ids[1]}.jpg"
    truncated.write_bytes(truncated.read_bytes()[:2000])
    (root / "images" / f"{ids[2]}.jpg").write_text("not an image at all")
    (root / "images" / f"{ids[3]}.jpg").write_bytes(b"")
    rows = [*lines, lines[5].replace(ids[4], "12x", 1), lines[6]]  # non-integer id, repeated id
    (root / "styles.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")

    result = read_products(root)
    assert [lab.attributes["id"] for lab in result.labels] == ids[4:6]
    reasons = {Path(s.path).name: s.reason for s in result.skipped if s.path.endswith(".jpg")}
    assert reasons == {
        f"{ids[0]}.jpg": "file not found",
        f"{ids[1]}.jpg": reasons[f"{ids[1]}.jpg"],
        f"{ids[2]}.jpg": "not an image",
        f"{ids[3]}.jpg": "empty file",
    }
    assert reasons[f"{ids[1]}.jpg"].startswith("corrupt or truncated image")
    csv_reasons = sorted(s.reason for s in result.skipped if s.path == str(root / "styles.csv"))
    assert csv_reasons == [
        "line 8: non-integer id '12x'",
        f"line 9: id {ids[5]} listed more than once; first row kept",
    ]


def test_limit_reads_first_rows(shared_data: Path) -> None:
    result = read_products(shared_data / "products", limit=5, split="train")
    assert len(result.images) == 5
    assert [lab.attributes["id"] for lab in result.labels] == [
        r["id"] for r in read_styles_csv(shared_data / "products" / "styles.csv")[:5]
    ]
    assert {r.split for r in result.images} == {"train"}


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a directory"):
        read_products(tmp_path / "nope")
    with pytest.raises(InvalidInputError, match=r"styles\.csv: file not found"):
        read_products(tmp_path)
